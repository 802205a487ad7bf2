package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/llmqueue/llmqueue"
)

// statsDoc is what stats --json prints: one snapshot of a namespace. Its
// keys are stable; new ones may be added.
type statsDoc struct {
	Namespace string      `json:"namespace"`
	Time      time.Time   `json:"time"`   // when it was read (this host's clock)
	Paused    bool        `json:"paused"` // PauseProcessing is in force
	Classes   []classDoc  `json:"classes"`
	Queued    int64       `json:"queued"`    // now, all classes
	Active    int64       `json:"active"`    // now leased
	Scheduled int64       `json:"scheduled"` // now waiting for a retry (status retrying)
	Suspended int64       `json:"suspended"` // now waiting for Resume
	Dead      int64       `json:"dead"`      // now dead and kept
	Totals    totalsDoc   `json:"totals"`
	Budget    []dimension `json:"budget"` // all six dimensions
	// CooldownSeconds is what is left of a provider 429's cool-down.
	CooldownSeconds float64       `json:"cooldown_seconds"`
	LastMinute      lastMinuteDoc `json:"last_minute"`
	Workers         int           `json:"workers"` // live workers
}

// classDoc is one size class in statsDoc.
type classDoc struct {
	Class     string `json:"class"`     // low, medium or long
	Queued    int64  `json:"queued"`    // now
	Added     int64  `json:"added"`     // since the namespace began
	Completed int64  `json:"completed"` // since the namespace began
	Failed    int64  `json:"failed"`    // went dead, since the namespace began
}

// totalsDoc counts events since the namespace began.
type totalsDoc struct {
	Added       int64 `json:"added"`
	Completed   int64 `json:"completed"`
	Failed      int64 `json:"failed"` // went dead
	Canceled    int64 `json:"canceled"`
	Retried     int64 `json:"retried"`
	RateLimited int64 `json:"rate_limited"` // provider 429s
	Recovered   int64 `json:"recovered"`    // expired leases requeued
}

// dimension is one budget dimension's use of its current window.
type dimension struct {
	Name          string  `json:"name"`   // tokens, input_tokens, output_tokens, requests, tokens_per_day, requests_per_day
	Used          int64   `json:"used"`   // charged in the window
	Usable        int64   `json:"usable"` // admitted per window; 0 when unlimited
	Limit         int64   `json:"limit"`  // the provider's limit as configured; 0 when unlimited
	Unlimited     bool    `json:"unlimited"`
	Percent       float64 `json:"percent"` // Used / Usable x 100; 0 when unlimited
	WindowSeconds float64 `json:"window_seconds"`
}

// lastMinuteDoc is the last minute's events (10-second buckets) and the
// token rate of the budget window.
type lastMinuteDoc struct {
	Completed   int64 `json:"completed"`
	Failed      int64 `json:"failed"`
	Canceled    int64 `json:"canceled"`
	RateLimited int64 `json:"rate_limited"` // provider 429s
	// TokensPerMinute is the tokens dimension's use over its window, per
	// minute (the window's average, not only the last minute's).
	TokensPerMinute int64 `json:"tokens_per_minute"`
}

// readStats reads one snapshot of the namespace.
func readStats(ctx context.Context, qm *llmqueue.QueueManager) (*statsDoc, *llmqueue.Metrics, error) {
	m, err := qm.Metrics(ctx)
	if err != nil {
		return nil, nil, err // "llmqueue: metrics: ..."
	}
	ps, err := qm.ProcessingState(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := &statsDoc{
		Namespace: qm.Namespace(), Time: time.Now(), Paused: ps.Paused,
		Classes: []classDoc{
			{"low", m.LowInQueue, m.LowQueued, m.LowCompleted, m.LowFailed},
			{"medium", m.MediumInQueue, m.MediumQueued, m.MediumCompleted, m.MediumFailed},
			{"long", m.LongInQueue, m.LongQueued, m.LongCompleted, m.LongFailed},
		},
		Queued: m.TotalInQueue, Active: m.TotalProcessing, Scheduled: m.Scheduled,
		Suspended: m.Suspended, Dead: m.Dead,
		Totals: totalsDoc{Added: m.TotalQueued, Completed: m.TotalCompleted, Failed: m.TotalFailed,
			Canceled: m.TotalCanceled, Retried: m.TotalRetried, RateLimited: m.TotalRateLimit,
			Recovered: m.TotalRecovered},
		CooldownSeconds: m.CooldownSeconds,
		LastMinute: lastMinuteDoc{Completed: m.LastMinute.Completed, Failed: m.LastMinute.Failed,
			Canceled: m.LastMinute.Canceled, RateLimited: m.LastMinute.RateLimited},
		Workers: len(m.Workers),
	}
	for _, u := range m.Dimensions {
		dim := dimension{Name: u.Name, Used: u.Used, Usable: u.Usable, Limit: u.Limit,
			Unlimited: u.Usable <= 0, Percent: round1(percent(u.Used, u.Usable)), WindowSeconds: u.WindowSeconds}
		d.Budget = append(d.Budget, dim)
		if u.Name == "tokens" && u.WindowSeconds > 0 {
			d.LastMinute.TokensPerMinute = int64(float64(u.Used) * 60 / u.WindowSeconds)
		}
	}
	return d, m, nil
}

// round1 rounds to one decimal.
func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

const statsHelp = `
Usage: llmqueue stats [--json] [--all-dimensions]

Prints a snapshot of the namespace: per class (low, medium, long) what is
queued now and what was added, completed and went dead since the namespace
began; what is active, scheduled (retrying), suspended and dead now; each
budget dimension's use of its current window (used / usable and %), the
cool-down left after a provider 429; the last minute's throughput and 429s;
and how many workers are live.

The usable limits come from this command's environment (LLM_QUEUE_TOTAL_TPM,
_RPM, _ITPM, _OTPM, _TPD, _RPD, LLM_QUEUE_API_ALLOCATION_PERCENT,
LLM_QUEUE_SAFETY_BUFFER_PERCENT, LLM_QUEUE_WINDOW): give it the workers'
values. A dimension without a limit is shown only with --all-dimensions
(and always in --json, with "unlimited": true).

Example:
  llmqueue stats
  llmqueue --namespace batch stats --json | jq .budget
`

// runStats is the stats command.
func runStats(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("stats")
	asJSON := fs.Bool("json", false, "print a JSON document instead of tables")
	allDims := fs.Bool("all-dimensions", false, "also list the budget dimensions without a limit")
	pos, code, done := a.parse(fs, args, statsHelp)
	if done {
		return code
	}
	if len(pos) > 0 {
		return a.usageFail("takes no arguments, got %q", pos)
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	d, _, err := readStats(ctx, c.qm)
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if err := writeJSON(a.stdout, d); err != nil {
			return a.fail(err)
		}
		return exitOK
	}
	printStats(a.stdout, d, *allDims)
	return exitOK
}

// printStats prints d as tables.
func printStats(w io.Writer, d *statsDoc, allDims bool) {
	state := "processing"
	if d.Paused {
		state = "processing paused"
	}
	fmt.Fprintf(w, "namespace %s (%s), live workers: %d\n\n", d.Namespace, state, d.Workers)
	tw := newTable(w)
	fmt.Fprintln(tw, "CLASS\tQUEUED\tADDED\tCOMPLETED\tDEAD (since the namespace began)")
	for _, c := range d.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", c.Class, c.Queued, c.Added, c.Completed, c.Failed)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\n", d.Queued, d.Totals.Added, d.Totals.Completed, d.Totals.Failed)
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "NOW\tREQUESTS")
	fmt.Fprintf(tw, "queued\t%d\n", d.Queued)
	fmt.Fprintf(tw, "active\t%d\n", d.Active)
	fmt.Fprintf(tw, "scheduled (retrying)\t%d\n", d.Scheduled)
	fmt.Fprintf(tw, "suspended\t%d\n", d.Suspended)
	fmt.Fprintf(tw, "dead\t%d\n", d.Dead)
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "BUDGET\tUSED\tUSABLE\tUSE\tWINDOW")
	shown := 0
	for _, b := range d.Budget {
		switch {
		case !b.Unlimited:
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\t%s\n", b.Name, b.Used, b.Usable, b.Percent, windowName(b.WindowSeconds))
		case allDims:
			fmt.Fprintf(tw, "%s\t%d\tunlimited\t-\t%s\n", b.Name, b.Used, windowName(b.WindowSeconds))
		default:
			continue
		}
		shown++
	}
	if shown == 0 {
		fmt.Fprintln(tw, "(no limit set: LLM_QUEUE_TOTAL_TPM and the like are 0 here)\t\t\t\t")
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "cool-down left: %s\n", seconds(d.CooldownSeconds))

	fmt.Fprintln(w)
	l := d.LastMinute
	fmt.Fprintf(w, "last minute: %d completed, %d dead, %d canceled, %d provider 429s; %d tokens/min (window average)\n",
		l.Completed, l.Failed, l.Canceled, l.RateLimited, l.TokensPerMinute)
	fmt.Fprintf(w, "since the namespace began: %d canceled, %d retried, %d 429s, %d leases recovered\n",
		d.Totals.Canceled, d.Totals.Retried, d.Totals.RateLimited, d.Totals.Recovered)
}

// windowName names a window length: "1m0s", "24h".
func windowName(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d == 24*time.Hour {
		return "24h"
	}
	return d.String()
}
