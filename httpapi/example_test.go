package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/httpapi"
)

// The handler serves a namespace's queue over HTTP: queue a request with a
// POST, read it back with a GET. Workers in other processes run it.
func ExampleNew() {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: "api"})
	if err != nil {
		panic(err)
	}
	defer qm.Close()

	srv := httptest.NewServer(httpapi.New(qm))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v1/queue/requests", "application/json",
		strings.NewReader(`{"id":"r1","payload":{"prompt":"hi"},"estimated_tokens":100}`))
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))

	resp, err = http.Get(srv.URL + "/v1/queue/requests/r1")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 201 {"id":"r1","status":"queued","priority":"low"}
	// 200
}
