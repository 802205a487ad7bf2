package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.1 document of every route, served at
// GET /v1/queue/openapi.json. TestOpenAPI_DocumentsEveryRoute keeps it
// and the route table in step.
//
//go:embed openapi.json
var openAPIDoc []byte

func (h *handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDoc) // a failed write means the client went away
}
