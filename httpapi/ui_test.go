package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUI_ServesEmbeddedFiles(t *testing.T) {
	e := newEnv(t, config{})
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/v1/queue/ui/", "text/html; charset=utf-8", `<script src="app.js"`},
		{"/v1/queue/ui/app.js", "text/javascript; charset=utf-8", `"use strict"`},
		{"/v1/queue/ui/style.css", "text/css; charset=utf-8", ".tiles"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			status, h, b := e.do(http.MethodGet, tc.path, "")
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, tc.ctype, h.Get("Content-Type"))
			require.Contains(t, string(b), tc.contains)
			require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		})
	}
	e.expectError(http.MethodGet, "/v1/queue/ui/secrets.txt", "", http.StatusNotFound, "not_found")
	e.expectError(http.MethodGet, "/v1/queue/ui/index.html/x", "", http.StatusNotFound, "not_found")
	e.expectError(http.MethodPost, "/v1/queue/ui/", "", http.StatusMethodNotAllowed, "method_not_allowed")

	// Without the slash: a relative redirect, so a proxy's prefix is kept.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.srv.URL + "/v1/queue/ui")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	require.Equal(t, "ui/", resp.Header.Get("Location"))
}

func TestIsDashboardAsset(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodGet, "/v1/queue/ui", true},
		{http.MethodGet, "/v1/queue/ui/", true},
		{http.MethodHead, "/v1/queue/ui/app.js", true},
		{http.MethodGet, "/v1/queue/ui/style.css", true},
		{http.MethodGet, "/v1/queue/ui/other.js", false},
		{http.MethodPost, "/v1/queue/ui/", false},
		{http.MethodGet, "/v1/queue/metrics.json", false},
		{http.MethodGet, "/v1/queue/app.js", false},
		{http.MethodGet, "/v1/queue/uix", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			require.Equal(t, tc.want, IsDashboardAsset(httptest.NewRequest(tc.method, tc.path, nil)))
		})
	}
}

// TestUI_AuthHookSeesTheDashboard: the page goes through the same hook as
// the API; a bearer-token hook lets the static files through with
// IsDashboardAsset and still guards every API route the page calls.
func TestUI_AuthHookSeesTheDashboard(t *testing.T) {
	bearer := func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer good" {
			return errors.New("no token")
		}
		return nil
	}
	strict := newEnv(t, config{api: []Option{WithAuth(bearer)}})
	strict.expectError(http.MethodGet, "/v1/queue/ui/", "", http.StatusUnauthorized, "unauthorized")
	status, _, _ := strict.do(http.MethodGet, "/v1/queue/ui/", "", "Authorization", "Bearer good")
	require.Equal(t, http.StatusOK, status)

	open := newEnv(t, config{api: []Option{WithAuth(func(r *http.Request) error {
		if IsDashboardAsset(r) {
			return nil
		}
		return bearer(r)
	})}})
	for _, p := range []string{"/v1/queue/ui/", "/v1/queue/ui/app.js", "/v1/queue/ui/style.css"} {
		status, _, _ := open.do(http.MethodGet, p, "")
		require.Equal(t, http.StatusOK, status, p)
	}
	for _, p := range []string{"/v1/queue/metrics.json", "/v1/queue/requests?state=dead", "/v1/queue/workers"} {
		open.expectError(http.MethodGet, p, "", http.StatusUnauthorized, "unauthorized")
	}
	open.expectError(http.MethodPost, "/v1/queue/requests/x/requeue", "", http.StatusUnauthorized, "unauthorized")
	require.False(t, strings.Contains(open.logs.String(), "good"))
}
