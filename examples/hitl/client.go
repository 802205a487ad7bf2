package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// client is the little HTTP client a web front end or review UI would use
// to talk to the queue's API.
type client struct {
	base string
	http *http.Client
}

// created is the answer to POST /v1/queue/requests.
type created struct {
	ID       string            `json:"id"`
	Status   llmqueue.Status   `json:"status"`
	Priority llmqueue.Priority `json:"priority"`
}

// create queues a request; body is the JSON of POST /v1/queue/requests.
func (c *client) create(ctx context.Context, body string) (*created, error) {
	var r created
	if err := c.do(ctx, http.MethodPost, "/v1/queue/requests", body, http.StatusCreated, &r); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return &r, nil
}

// status reads a request's status.
func (c *client) status(ctx context.Context, id string) (*llmqueue.RequestStatus, error) {
	var st llmqueue.RequestStatus
	if err := c.do(ctx, http.MethodGet, "/v1/queue/requests/"+id, "", http.StatusOK, &st); err != nil {
		return nil, fmt.Errorf("status %s: %w", id, err)
	}
	return &st, nil
}

// resume resumes a suspended request; body is {"input": ...}.
func (c *client) resume(ctx context.Context, id, body string) (*llmqueue.RequestStatus, error) {
	var st llmqueue.RequestStatus
	if err := c.do(ctx, http.MethodPost, "/v1/queue/requests/"+id+"/resume", body, http.StatusOK, &st); err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	return &st, nil
}

// waitFor polls the request's status until it is want, or fails when it
// ends in another terminal status or ctx ends.
func (c *client) waitFor(ctx context.Context, id string, want llmqueue.Status) (*llmqueue.RequestStatus, error) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.status(ctx, id)
		if err != nil {
			return nil, err
		}
		if st.Status == want {
			return st, nil
		}
		if st.Status.Terminal() {
			return nil, fmt.Errorf("request %s ended %s (%s) before it was %s", id, st.Status, st.Error, want)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to be %s: %w", id, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// do sends one request and decodes a JSON answer with the wanted status;
// any other status is an error carrying the API's error body.
func (c *client) do(ctx context.Context, method, path, body string, want int, dst any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
