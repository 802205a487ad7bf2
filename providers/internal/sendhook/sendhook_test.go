package sendhook

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type countingDoer struct{ n int }

func (c *countingDoer) Do(*http.Request) (*http.Response, error) {
	c.n++
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody}, nil
}

// Outside a queue's job BeforeSend does nothing, so the wrapped client
// behaves exactly like the one it wraps.
func TestWrap_PassesThrough(t *testing.T) {
	next := &countingDoer{}
	req := httptest.NewRequest(http.MethodPost, "http://example.invalid/v1", nil)
	resp, err := Wrap(next).Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent || next.n != 1 {
		t.Fatalf("Do = %v, %v after %d calls", resp, err, next.n)
	}
	if Wrap(nil).(hooked).next != http.DefaultClient {
		t.Fatal("a nil client is not http.DefaultClient")
	}
}
