package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// failoverLog is a slog.Handler that keeps the "deployment failed" records
// (when, and which deployment) and passes every record on to next.
type failoverLog struct {
	next  slog.Handler
	attrs []slog.Attr
	state *failoverState
	start time.Time
}

type failoverState struct {
	mu     sync.Mutex
	events []failover
}

// failover is one "deployment failed" record.
type failover struct {
	at         time.Time
	deployment string
	cooldown   string
}

func newFailoverLog(next slog.Handler) *failoverLog {
	return &failoverLog{next: next, state: &failoverState{}}
}

func (h *failoverLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *failoverLog) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "deployment failed") {
		ev := failover{at: r.Time}
		read := func(a slog.Attr) bool {
			switch a.Key {
			case "deployment":
				ev.deployment = a.Value.String()
			case "cooldown":
				if d, err := time.ParseDuration(a.Value.String()); err == nil {
					ev.cooldown = d.Round(10 * time.Millisecond).String()
				} else {
					ev.cooldown = a.Value.String()
				}
			}
			return true
		}
		for _, a := range h.attrs {
			read(a)
		}
		r.Attrs(read)
		h.state.mu.Lock()
		h.state.events = append(h.state.events, ev)
		h.state.mu.Unlock()
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *failoverLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	c.next = h.next.WithAttrs(attrs)
	return &c
}

func (h *failoverLog) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

func (h *failoverLog) snapshot() []failover {
	h.state.mu.Lock()
	defer h.state.mu.Unlock()
	out := append([]failover(nil), h.state.events...)
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// report prints the per-deployment table, the failovers and the outcome.
func report(ctx context.Context, out io.Writer, qm *llmqueue.QueueManager, final map[string]*llmqueue.RequestStatus,
	elapsed time.Duration, f *fakes, peaks map[string]float64, fl *failoverLog, window time.Duration) error {
	events := fl.snapshot()
	perDep := map[string]int{}
	for _, ev := range events {
		perDep[ev.deployment]++
	}
	fmt.Fprintf(out, "%-8s %8s %7s %9s %13s %12s %10s %10s\n", "deploy", "TPM", "served", "tokens", "busiest/limit", "first window", "peak ledger", "failovers")
	var served, tokens, capacity int64
	for _, d := range f.deps {
		calls := d.srv.Calls()
		var tok int64
		for _, c := range calls {
			tok += c.Tokens
		}
		busiest := float64(providertest.BusiestWindow(calls, window).Tokens) / float64(d.limit)
		first := 0.0
		if len(calls) > 0 {
			from := calls[0].At
			first = providertest.Utilization(calls, from, from.Add(window), window, d.limit, func(c providertest.Call) int64 { return c.Tokens })
		}
		fmt.Fprintf(out, "%-8s %8d %7d %9d %13.3f %11.1f%% %9.1f%% %10d\n", d.name, d.limit, len(calls), tok, busiest,
			first*100, peaks[d.name]*100, perDep[d.name])
		served += int64(len(calls))
		tokens += tok
		capacity += d.limit
	}
	fmt.Fprintf(out, "%-8s %8d %7d %9d\n\n", "total", capacity, served, tokens)

	fmt.Fprintf(out, "failovers: %d (500s sent by the failing deployment: %d)\n", len(events), f.deps[1].refused.Load())
	for i, ev := range events {
		if i == 10 {
			fmt.Fprintf(out, "  ... %d more\n", len(events)-i)
			break
		}
		fmt.Fprintf(out, "  +%-7s %s cools down %s; its request goes to another deployment\n",
			ev.at.Sub(fl.start).Round(10*time.Millisecond), ev.deployment, ev.cooldown)
	}

	completed, firstAttempt := 0, 0
	for _, st := range final {
		if st.Status == llmqueue.StatusCompleted {
			completed++
		}
		if st.Attempts == 1 {
			firstAttempt++
		}
	}
	m, err := qm.Metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d of %d completed in %s, %d on their first attempt; retries spent: %d\n",
		completed, len(final), elapsed.Round(10*time.Millisecond), firstAttempt, m.TotalRetried)
	if completed != len(final) {
		return fmt.Errorf("%d requests did not complete", len(final)-completed)
	}
	return nil
}
