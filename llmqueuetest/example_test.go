package llmqueuetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/llmqueuetest"
)

// apiError is what a provider client might return.
type apiError struct{ status int }

func (e *apiError) Error() string { return fmt.Sprintf("provider answered %d", e.status) }

// chat stands in for a processor that calls a provider: here every call
// fails with the status in the payload.
type chat struct{}

func (chat) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var p struct{ Status int }
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, llmqueue.Permanent(err)
	}
	if p.Status == http.StatusOK {
		return &llmqueue.Result{Output: []byte(`"hello"`), Usage: llmqueue.Usage{InputTokens: 12, OutputTokens: 2}}, nil
	}
	return nil, &apiError{status: p.Status}
}

// ClassifyError tells the queue what the provider's status means.
func (chat) ClassifyError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.status {
		case http.StatusBadRequest, http.StatusUnauthorized:
			return llmqueue.Permanent(err)
		case http.StatusTooManyRequests:
			return llmqueue.RateLimited(30*time.Second, err)
		}
	}
	return nil // anything else: retried with backoff
}

// ProcessOnce shows what the queue does with each of a processor's
// outcomes, its ErrorClassifier included.
func ExampleProcessOnce() {
	ctx := context.Background()
	for _, status := range []int{200, 400, 429, 503} {
		a, err := llmqueuetest.ProcessOnce(ctx, chat{}, llmqueue.NewRequest(fmt.Sprintf(`{"status":%d}`, status)))
		if err != nil {
			fmt.Println(err)
			return
		}
		var perm *llmqueue.PermanentError
		var limited *llmqueue.RateLimitedError
		switch {
		case a.Err == nil:
			fmt.Printf("%d: %s, output %s, %d tokens\n", status, a.Request.Status, a.Result.Output, a.Result.Usage.Total())
		case errors.As(a.Err, &perm):
			fmt.Printf("%d: %s at once: %v\n", status, a.Request.Status, a.Err)
		case errors.As(a.Err, &limited):
			fmt.Printf("%d: %s again, every worker waits %s\n", status, a.Request.Status, limited.RetryAfter)
		default:
			fmt.Printf("%d: %s: %v\n", status, a.Request.Status, a.Err)
		}
	}
	// Output:
	// 200: completed, output "hello", 14 tokens
	// 400: dead at once: permanent: provider answered 400
	// 429: queued again, every worker waits 30s
	// 503: retrying: provider answered 503
}
