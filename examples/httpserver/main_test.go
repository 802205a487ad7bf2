package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRun_ServesTheAPIAndShutsDownOnCancel(t *testing.T) {
	t.Setenv("REDIS_URL", "") // embedded miniredis
	t.Setenv("REDIS_HOST", "")
	t.Setenv("API_TOKEN", "t0ken")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- run(ctx, options{addr: "127.0.0.1:0"}, logger, func(a net.Addr) { addrs <- a }) }()

	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	post := func(auth string) int {
		req, err := http.NewRequest(http.MethodPost, base+"/v1/queue/requests", strings.NewReader(`{"payload": {"q": 1}}`))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post(""))
	require.Equal(t, http.StatusCreated, post("Bearer t0ken"))

	// Health needs no token; with no worker running it says 503.
	resp, err := http.Get(base + "/v1/queue/health")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestRun_WarnsWhenServingWithoutAuth is issue 9 item 14's regression
// test: without API_TOKEN the API is open to anyone who reaches it, and the
// server must say so at start; with it, it must not.
func TestRun_WarnsWhenServingWithoutAuth(t *testing.T) {
	for token, warned := range map[string]bool{"": true, "t0ken": false} {
		t.Run("API_TOKEN="+token, func(t *testing.T) {
			t.Setenv("REDIS_URL", "") // embedded miniredis
			t.Setenv("REDIS_HOST", "")
			t.Setenv("API_TOKEN", token)
			var logs lockedBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ready := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- run(ctx, options{addr: "127.0.0.1:0"}, logger, func(net.Addr) { close(ready) }) }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("run returned early: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("server did not start")
			}
			const warning = "API_TOKEN is not set: the API has no authentication"
			if warned {
				require.Contains(t, logs.String(), "level=WARN msg=\""+warning, logs.String())
			} else {
				require.NotContains(t, logs.String(), warning)
			}
			cancel()
			require.NoError(t, <-done)
		})
	}
}

// TestRun_DemoShowsWorkOnTheDashboard: with -demo a person who opens the
// dashboard sees work move: the page loads without the token (its files
// hold no data), the API still wants it, and requests complete.
func TestRun_DemoShowsWorkOnTheDashboard(t *testing.T) {
	t.Setenv("REDIS_URL", "") // embedded miniredis
	t.Setenv("REDIS_HOST", "")
	t.Setenv("API_TOKEN", "t0ken")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- run(ctx, options{addr: "127.0.0.1:0", demo: true}, logger, func(a net.Addr) { addrs <- a })
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	get := func(path, auth string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	status, page := get("/v1/queue/ui/", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(page), "app.js")
	status, _ = get("/v1/queue/metrics.json", "")
	require.Equal(t, http.StatusUnauthorized, status)

	var m struct {
		TotalCompleted int64 `json:"total_completed"`
		Dimensions     []struct {
			Usable int64 `json:"usable"`
		} `json:"dimensions"`
	}
	require.Eventually(t, func() bool {
		status, b := get("/v1/queue/metrics.json", "Bearer t0ken")
		return status == http.StatusOK && json.Unmarshal(b, &m) == nil && m.TotalCompleted > 0
	}, 15*time.Second, 100*time.Millisecond, "no demo request completed")
	limited := 0
	for _, d := range m.Dimensions {
		if d.Usable > 0 {
			limited++
		}
	}
	require.Positive(t, limited, "-demo sets a budget for the chart")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// lockedBuffer is a bytes.Buffer that the program's goroutines write while
// the test reads it. (Local, so this example copies out of the repository.)
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
