package llmqueue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// Summarize is the typed payload of a request; Summary its typed result.
type Summarize struct {
	Text     string `json:"text"`
	MaxWords int    `json:"max_words"`
}

type Summary struct {
	Summary string `json:"summary"`
}

func ExampleTypedProcessor() {
	rdb, done := embedded()
	defer done()
	ctx := context.Background()
	qm, _ := llmqueue.NewQueueManager(rdb, nil)

	// No json.Marshal or Unmarshal by hand: the payload arrives as a
	// Summarize, the Summary is stored as the result.
	summarize := llmqueue.TypedProcessor(func(ctx context.Context, job *llmqueue.Job, in Summarize) (Summary, llmqueue.Usage, error) {
		words := strings.Fields(in.Text) // stands in for the LLM call
		out := Summary{Summary: strings.Join(words[:min(in.MaxWords, len(words))], " ")}
		return out, llmqueue.Usage{InputTokens: int64(len(words)), OutputTokens: int64(in.MaxWords)}, nil
	})
	bp, _ := llmqueue.NewBatchProcessor(qm, summarize, nil)
	_ = bp.Start(ctx)
	defer bp.Shutdown(ctx)

	id, _ := qm.Add(ctx, llmqueue.NewRequest(Summarize{Text: "the quick brown fox jumps", MaxWords: 3},
		llmqueue.WithEstimatedTokens(20)))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, _ := qm.Wait(wctx, id)
	sum, err := llmqueue.DecodeResult[Summary](st)
	fmt.Println(sum.Summary, err)

	// A payload that is not a Summarize is dead at once, not retried.
	bad, _ := qm.Add(ctx, llmqueue.NewRequest(`{"text": 42}`, llmqueue.WithEstimatedTokens(20)))
	st, _ = qm.Wait(wctx, bad)
	_, err = llmqueue.DecodeResult[Summary](st)
	fmt.Println(st.Status, st.Attempts)
	fmt.Println(errors.Is(err, llmqueue.ErrInvalidState), strings.HasPrefix(st.Error, "permanent: invalid payload"))
	// Output:
	// the quick brown <nil>
	// dead 1
	// true true
}
