package llmqueuetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/llmqueuetest"
)

// This file shows a user's test: summarizer is code built on llmqueue (it
// queues a request and waits for it), fakeModel stands in for the LLM.

type summarizer struct{ qm *llmqueue.QueueManager }

func (s summarizer) Summarize(ctx context.Context, text string) (string, error) {
	id, err := s.qm.Add(ctx, llmqueue.NewRequest(map[string]string{"text": text}))
	if err != nil {
		return "", err
	}
	st, err := s.qm.Wait(ctx, id)
	if err != nil {
		return "", err
	}
	if st.Status != llmqueue.StatusCompleted {
		return "", fmt.Errorf("summary %s: %s", st.Status, st.Error)
	}
	var out string
	return out, json.Unmarshal(st.Result, &out)
}

var fakeModel = llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var in struct{ Text string }
	if err := json.Unmarshal(job.Payload, &in); err != nil {
		return nil, llmqueue.Permanent(err)
	}
	first, _, _ := strings.Cut(in.Text, ".")
	out, _ := json.Marshal(first + ".")
	return &llmqueue.Result{Output: out, Usage: llmqueue.Usage{InputTokens: 10, OutputTokens: 3}}, nil
})

func TestSummarizer_ReturnsTheFirstSentence(t *testing.T) {
	k := llmqueuetest.New(t, fakeModel) // embedded Redis, manager, worker; stopped at cleanup
	s := summarizer{qm: k.Manager}

	got, err := s.Summarize(t.Context(), "Queues smooth bursts. They also survive crashes.")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Queues smooth bursts." {
		t.Errorf("Summarize = %q", got)
	}

	// The kit's own helpers queue and assert in one line each.
	st := k.Run(llmqueue.NewRequest(map[string]string{"text": "One. Two."}))
	if st.Usage.Total() != 13 {
		t.Errorf("usage %+v, want the 13 tokens the model reported", st.Usage)
	}
	dead := k.WaitStatus(k.Add(llmqueue.NewRequest(`"not an object"`)), llmqueue.StatusDead)
	if !strings.Contains(dead.Error, "permanent") {
		t.Errorf("error %q, want a permanent failure", dead.Error)
	}
}
