package providertest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestArrival_SentHeaderCountsOnlyWhenPlausible(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		sent   string
		before bool // arrival is the header's time, earlier than handler entry
	}{
		{"no header", "", false},
		{"200 ms earlier", strconv.FormatInt(now.Add(-200*time.Millisecond).UnixNano(), 10), true},
		{"in the future", strconv.FormatInt(now.Add(time.Hour).UnixNano(), 10), false},
		{"more than a second earlier", strconv.FormatInt(now.Add(-2*time.Second).UnixNano(), 10), false},
		{"not a number", "soon", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got time.Time
			h := stampArrival(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = arrival(r) }))
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.sent != "" {
				r.Header.Set(SentHeader, tc.sent)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if tc.before != got.Before(now) {
				t.Fatalf("arrival %v, test start %v: want before = %v", got, now, tc.before)
			}
		})
	}
}

func TestStampSent_SetsTheHeaderOnEveryRequest(t *testing.T) {
	var seen []string
	srv := newArrivalServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get(SentHeader))
	}))
	defer srv.Close()
	c := StampSent()
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	for _, v := range seen {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || time.Since(time.Unix(0, n)) > time.Minute {
			t.Fatalf("header %q", v)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("%d requests seen", len(seen))
	}
}
