package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/stretchr/testify/require"
)

// openAPIDocument is the part of the OpenAPI document the tests read.
type openAPIDocument struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string            `json:"operationId"`
	Parameters  []json.RawMessage `json:"parameters"`
	Responses   map[string]any    `json:"responses"`
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// docPath turns a route's ServeMux path into its OpenAPI path.
func docPath(muxPath string) string { return strings.TrimSuffix(muxPath, "{$}") }

// TestOpenAPI_DocumentsEveryRoute: every route of the table New registers
// is in the served document with its method, and every operation of the
// document reaches the handler's route of the same method and path.
func TestOpenAPI_DocumentsEveryRoute(t *testing.T) {
	k := llmqueuetest.New(t, nil)
	h := New(k.Manager).(*handler)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	var doc openAPIDocument
	require.NoError(t, json.Unmarshal(get(t, srv.URL+"/v1/queue/openapi.json"), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi %q", doc.OpenAPI)

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			t.Run(strings.ToUpper(method)+" "+path, func(t *testing.T) {
				require.NotEmpty(t, op.OperationID)
				require.NotEmpty(t, op.Responses)
				// The handler serves it: fill the path's parameters and
				// ask the mux which route answers.
				url := pathParam.ReplaceAllStringFunc(path, func(p string) string {
					if p == "{asset}" {
						return "app.js"
					}
					return "x1"
				})
				req := httptest.NewRequest(strings.ToUpper(method), url, nil)
				_, pattern := h.mux.Handler(req)
				require.NotEmpty(t, pattern, "no route serves %s %s", method, url)
				m, p, _ := strings.Cut(pattern, " ")
				require.Equal(t, strings.ToUpper(method), m)
				require.Equal(t, path, docPath(p))
				// Each {name} of the path is a declared parameter.
				for _, name := range pathParam.FindAllStringSubmatch(path, -1) {
					require.True(t, declares(doc, op, name[1]), "%s %s: parameter %s is not declared", method, path, name[1])
				}
			})
		}
	}

	var served []string
	for _, rt := range h.routes() {
		key := rt.method + " " + docPath(rt.path)
		served = append(served, key)
		require.True(t, documented[key], "route %s is not in openapi.json", key)
	}
	for key := range documented {
		require.True(t, slices.Contains(served, key), "openapi.json documents %s, which is not in the route table", key)
	}
	require.Len(t, documented, len(served))
}

// declares reports whether op declares path parameter name, inline or as
// the shared #/components/parameters/id.
func declares(doc openAPIDocument, op openAPIOperation, name string) bool {
	for _, raw := range op.Parameters {
		var p struct {
			Ref  string `json:"$ref"`
			Name string `json:"name"`
			In   string `json:"in"`
		}
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		if (p.Name == name && p.In == "path") || p.Ref == "#/components/parameters/"+name {
			return true
		}
	}
	return false
}

func TestOpenAPI_ServedAsJSON(t *testing.T) {
	e := newEnv(t, config{})
	status, h, b := e.do(http.MethodGet, "/v1/queue/openapi.json", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.True(t, json.Valid(b))
}
