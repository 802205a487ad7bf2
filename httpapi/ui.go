package httpapi

import (
	"embed"
	"net/http"
	"strings"
)

// DashboardPath is where the handler serves its live web dashboard: a
// page of plain HTML, CSS and JavaScript, embedded in the binary, that
// polls the JSON routes (metrics.json, requests, workers) and calls them
// for its requeue, cancel and resume buttons.
const DashboardPath = "/v1/queue/ui/"

//go:embed ui/index.html ui/app.js ui/style.css
var uiFiles embed.FS

// uiAssets maps the files under DashboardPath to their content types.
var uiAssets = map[string]string{
	"app.js":    "text/javascript; charset=utf-8",
	"style.css": "text/css; charset=utf-8",
}

// uiCSP allows the page its own files and API and nothing else: no inline
// script, no other origin (the page works offline).
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// IsDashboardAsset reports whether r asks for one of the dashboard's
// static files (a GET or HEAD of /v1/queue/ui, /v1/queue/ui/ or a file
// under it). They hold no queue data: the page reads everything through
// the API. A browser sends no bearer token when it loads a page, so an
// auth hook that takes one lets these requests through and the page sends
// the token it is given with every API call:
//
//	httpapi.WithAuth(func(r *http.Request) error {
//		if httpapi.IsDashboardAsset(r) {
//			return nil
//		}
//		return checkBearer(r)
//	})
//
// A hook that authenticates with cookies or Basic auth, which browsers do
// send, can keep the page behind it.
func IsDashboardAsset(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	if p == strings.TrimSuffix(DashboardPath, "/") || p == DashboardPath {
		return true
	}
	_, ok := uiAssets[strings.TrimPrefix(p, DashboardPath)]
	return ok && strings.HasPrefix(p, DashboardPath)
}

// uiRedirect sends /v1/queue/ui to /v1/queue/ui/, relative to the request
// so it works behind a proxy that mounts the API under another prefix.
func (h *handler) uiRedirect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", "ui/")
	w.WriteHeader(http.StatusMovedPermanently)
}

func (h *handler) uiIndex(w http.ResponseWriter, r *http.Request) {
	h.serveUI(w, r, "index.html", "text/html; charset=utf-8")
}

func (h *handler) uiAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("asset")
	ctype, ok := uiAssets[name]
	if !ok {
		h.fail(w, r, &apiError{status: http.StatusNotFound, code: "not_found", msg: "no such dashboard file"})
		return
	}
	h.serveUI(w, r, name, ctype)
}

func (h *handler) serveUI(w http.ResponseWriter, r *http.Request, name, ctype string) {
	b, err := uiFiles.ReadFile("ui/" + name)
	if err != nil { // cannot happen: the files are embedded
		h.fail(w, r, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "internal error", cause: err})
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", uiCSP)
	_, _ = w.Write(b) // a failed write means the client went away
}
