package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
)

// newProcessor returns the stand-in processor called name. Both answer
// {"pid": P, "attempt": A, ...}, so a request's stored result names the
// process and attempt whose ack was accepted.
func newProcessor(name string) (llmqueue.Processor, error) {
	switch name {
	case "echo":
		return llmqueue.ProcessorFunc(echo), nil
	case "sleep":
		return llmqueue.ProcessorFunc(sleep), nil
	}
	return nil, fmt.Errorf("unknown processor %q: want echo or sleep", name)
}

// echo answers with the payload it was given.
func echo(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	return output(map[string]any{"pid": os.Getpid(), "attempt": job.Attempt, "echo": job.Payload})
}

// sleepPayload is what the sleep processor reads from a payload.
type sleepPayload struct {
	SleepMS int64 `json:"sleep_ms"`
}

// sleep waits for the payload's sleep_ms, or until ctx ends (timeout,
// cancel, or shutdown past the grace period), like a slow LLM call.
func sleep(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var p sleepPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return nil, llmqueue.Permanent(fmt.Errorf("sleep: payload: %w", err))
	}
	if p.SleepMS < 0 {
		return nil, llmqueue.Permanent(fmt.Errorf("sleep: negative sleep_ms %d", p.SleepMS))
	}
	t := time.NewTimer(time.Duration(p.SleepMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep: interrupted: %w", context.Cause(ctx))
	case <-t.C:
	}
	return output(map[string]any{"pid": os.Getpid(), "attempt": job.Attempt, "slept_ms": p.SleepMS})
}

func output(v any) (*llmqueue.Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	return &llmqueue.Result{Output: b}, nil
}

// recorder appends one line "id attempt pid" per successful processor
// run to a file. Tests compare it with the queue's state: a run is
// recorded before its ack, so a run whose ack was rejected (stale lease)
// or never sent (the process died) is recorded too, and the file shows
// at-least-once execution while the queue shows exactly-once completion.
type recorder struct {
	mu  sync.Mutex
	f   *os.File
	pid string
}

// openRecorder opens path for appending, creating it if needed.
func openRecorder(path string) (*recorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &recorder{f: f, pid: strconv.Itoa(os.Getpid())}, nil
}

// wrap is middleware: it records every run of next that succeeds. A line
// goes out in one write(2) on an O_APPEND file, so a SIGKILL never leaves
// half a line behind.
func (r *recorder) wrap(next llmqueue.Processor) llmqueue.Processor {
	return llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		res, err := next.Process(ctx, job)
		if err != nil {
			return res, err
		}
		line := job.ID + " " + strconv.Itoa(job.Attempt) + " " + r.pid + "\n"
		r.mu.Lock()
		_, werr := r.f.WriteString(line)
		r.mu.Unlock()
		if werr != nil {
			// Without the record the run proves nothing: let it run again.
			return nil, fmt.Errorf("record %s: %w", job.ID, werr)
		}
		return res, nil
	})
}

// Close closes the file.
func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.f.Sync(), r.f.Close())
}
