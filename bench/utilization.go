package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
)

// Utilization setup: requests of utilTokens each, utilPerWindow of them
// usable per window, measured over utilWindows windows.
const (
	utilTokens    = 1000
	utilPerWindow = 200
	utilWindows   = 5
)

// startLog is the processors' own record of when each call started and
// the tokens it carried.
type startLog struct {
	mu     sync.Mutex
	starts []start
}

// start is one call's start time and tokens.
type start struct {
	at     time.Time
	tokens int64
}

// process is the no-op processor that logs each call's start.
func (l *startLog) process(_ context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	now := time.Now()
	l.mu.Lock()
	l.starts = append(l.starts, start{at: now, tokens: job.EstimatedTokens})
	l.mu.Unlock()
	return &llmqueue.Result{Usage: llmqueue.Usage{InputTokens: job.EstimatedTokens}}, nil
}

// utilizationBudget returns a budget whose usable tokens per window fit
// utilPerWindow requests of utilTokens with the default safety buffer.
func utilizationBudget(window time.Duration) llmqueue.Budget {
	want := int64(utilPerWindow * utilTokens)
	tpm := int64(math.Ceil(float64(want) / (1 - 10/100)))
	bud := llmqueue.Budget{TPM: tpm, Window: window}
	for bud.UsableTokens() < want { // guard against rounding down
		bud.TPM++
	}
	return bud
}

// measureUtilization runs two processors on a saturating backlog under a
// binding token budget and reports the share of the usable limit their
// calls started in the first windows, and the most tokens started in any
// window of start times.
func (b *bench) measureUtilization(ctx context.Context) (err error) {
	s, err := b.begin(ctx, "util")
	if err != nil {
		return err
	}
	defer s.end(ctx, &err)
	window := b.cfg.window
	bud := utilizationBudget(window)
	usable := bud.UsableTokens()
	qm, rdb, err := s.manager(b.cfg.fillWorkers+2, bud)
	if err != nil {
		return err
	}
	defer rdb.Close()
	fl := filler{qm: qm, payload: makePayload(b.cfg.payload), tokens: utilTokens,
		batch: b.cfg.fillBatch, workers: b.cfg.fillWorkers}
	// Three times what the windows can take: the queue never runs dry.
	if err := fl.fill(ctx, 3*utilWindows*utilPerWindow); err != nil {
		return err
	}
	log := &startLog{}
	f, err := s.startFleet(ctx, 2, bud, log.process)
	if err != nil {
		return err
	}
	sleepCtx(ctx, utilWindows*window+window/4)
	if err := f.stop(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	log.mu.Lock()
	starts := slices.Clone(log.starts)
	log.mu.Unlock()
	if len(starts) == 0 {
		return fmt.Errorf("no call started")
	}
	slices.SortFunc(starts, func(a, b start) int { return a.at.Compare(b.at) })
	t0 := starts[0].at
	var used int64
	for _, st := range starts {
		if st.at.Sub(t0) < utilWindows*window {
			used += st.tokens
		}
	}
	util := float64(used) / float64(utilWindows*usable)
	worst, worstAt := maxWindow(starts, window)
	verdict := "no window over"
	if worst > usable {
		verdict = fmt.Sprintf("WINDOW OVER: %d tokens in [%s, +%s) > %d usable",
			worst, worstAt.Sub(t0).Round(time.Millisecond), window, usable)
	}
	b.addRow(row{
		Name:  "Budget utilization, saturating backlog",
		Value: util * 100, Unit: "percent", Figure: fmt.Sprintf("%.1f%%", util*100),
		RatioOf: "-",
		Target:  ">= 95%, no window over", Met: boolPtr(util >= 0.95 && worst <= usable),
		Note: fmt.Sprintf("Budget{TPM: %d, Window: %s} = %d usable (%d x %d tokens); 2 processors x %d; "+
			"%d tokens started in the first %d windows; max in any window of start times %d: %s",
			bud.TPM, window, usable, utilPerWindow, utilTokens, b.cfg.concurrency,
			used, utilWindows, worst, verdict),
	})
	return nil
}

// maxWindow returns the most tokens started in any span [s, s+window)
// that begins at a start time s, and where that span begins. starts must
// be sorted by time.
func maxWindow(starts []start, window time.Duration) (int64, time.Time) {
	var best, sum int64
	var bestAt time.Time
	j := 0
	for i := range starts {
		for j < len(starts) && starts[j].at.Sub(starts[i].at) < window {
			sum += starts[j].tokens
			j++
		}
		if sum > best {
			best, bestAt = sum, starts[i].at
		}
		sum -= starts[i].tokens
	}
	return best, bestAt
}
