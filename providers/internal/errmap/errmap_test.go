package errmap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
)

func TestStatus_Table(t *testing.T) {
	base := errors.New("sdk error")
	cases := []struct {
		status int
		target any
		kind   error
	}{
		{429, new(*llmqueue.RateLimitedError), providers.ErrRateLimited},
		{401, new(*llmqueue.PermanentError), providers.ErrAuth},
		{403, new(*llmqueue.PermanentError), providers.ErrAuth},
		{400, new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{404, new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{413, new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{422, new(*llmqueue.PermanentError), providers.ErrBadRequest},
		{408, new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{409, new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{500, new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{529, new(*llmqueue.RetryableError), providers.ErrUnavailable},
		{302, new(*llmqueue.RetryableError), providers.ErrUnavailable},
	}
	for _, c := range cases {
		err := Status("p", c.status, nil, base)
		assert.ErrorAs(t, err, c.target, "status %d", c.status)
		assert.ErrorIs(t, err, c.kind, "status %d", c.status)
		assert.ErrorIs(t, err, base, "status %d keeps the SDK error", c.status)
	}
}

func TestStatus_WaitsFromHeaders(t *testing.T) {
	var rl *llmqueue.RateLimitedError
	err := Status("p", 429, http.Header{"Retry-After": {"3"}}, errors.New("x"))
	assert.ErrorAs(t, err, &rl)
	assert.Equal(t, 3*time.Second, rl.RetryAfter)

	var re *llmqueue.RetryableError
	err = Status("p", 503, http.Header{"Retry-After-Ms": {"40"}}, errors.New("x"))
	assert.ErrorAs(t, err, &re)
	assert.Equal(t, 40*time.Millisecond, re.After)

	err = Status("p", 500, http.Header{"X-Ratelimit-Reset-Tokens": {"45s"}}, errors.New("x"))
	assert.ErrorAs(t, err, &re)
	assert.Zero(t, re.After, "reset headers say when the budget refills, not when to retry a 500")
}

func TestRateLimited_CarriesHeaderInfo(t *testing.T) {
	base := errors.New("sdk error")
	cases := []struct {
		name     string
		h        http.Header
		wait     time.Duration
		wantInfo *llmqueue.RateLimitInfo
	}{
		{"no headers", nil, 0, nil},
		{"retry-after only", http.Header{"Retry-After": {"2"}}, 2 * time.Second, nil},
		{"openai 429", http.Header{
			"Retry-After-Ms":                 {"1500"},
			"X-Ratelimit-Limit-Tokens":       {"30000"},
			"X-Ratelimit-Limit-Requests":     {"500"},
			"X-Ratelimit-Remaining-Tokens":   {"0"},
			"X-Ratelimit-Remaining-Requests": {"499"},
			"X-Ratelimit-Reset-Tokens":       {"1.5s"},
			"X-Ratelimit-Reset-Requests":     {"120ms"},
		}, 1500 * time.Millisecond, &llmqueue.RateLimitInfo{
			LimitTokens: 30000, LimitRequests: 500, RemainingTokens: 0, RemainingRequests: 499,
			ResetTokens: 1500 * time.Millisecond, ResetRequests: 120 * time.Millisecond,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := RateLimited("p", c.h, base)
			var rl *llmqueue.RateLimitedError
			require.ErrorAs(t, err, &rl)
			assert.Equal(t, c.wait, rl.RetryAfter)
			assert.Equal(t, c.wantInfo, rl.Info)
			assert.ErrorIs(t, err, providers.ErrRateLimited, "the sentinel stays in the chain")
			assert.ErrorIs(t, err, base, "the SDK error stays in the chain")
		})
	}
}

func TestTransport(t *testing.T) {
	bg := context.Background()

	canceled, cancel := context.WithCancel(bg)
	cancel()
	err, ok := Transport("p", canceled, canceled, context.Canceled)
	assert.True(t, ok)
	assert.ErrorIs(t, err, context.Canceled)
	var re *llmqueue.RetryableError
	assert.False(t, errors.As(err, &re), "a canceled job is the queue's business")

	call, cancelCall := context.WithTimeout(bg, time.Nanosecond)
	defer cancelCall()
	<-call.Done()
	err, ok = Transport("p", bg, call, context.DeadlineExceeded)
	assert.True(t, ok)
	assert.ErrorAs(t, err, &re, "per-call timeout")

	for _, e := range []error{
		&net.OpError{Op: "dial", Err: errors.New("refused")},
		io.ErrUnexpectedEOF,
	} {
		err, ok = Transport("p", bg, bg, e)
		assert.True(t, ok)
		assert.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, providers.ErrUnavailable)
	}

	_, ok = Transport("p", bg, bg, errors.New("something else"))
	assert.False(t, ok)
}
