package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

const topHelp = `
Usage: llmqueue top [--interval D] [--since namespace|top] [--once] [--json]

A live view of the namespace, redrawn every --interval (plain ANSI escape
codes, so it works over SSH): queues per class; what is active, scheduled,
suspended and dead; each limited budget dimension as a bar of its current
window (used / usable); the cool-down left after a provider 429; rates
over the last minute (completed/min, dead/min, 429s/min) and tokens/min (the
tokens dimension's use over its window, per minute); the live workers; and
batch progress:

  done      completed + dead + canceled, counted since the namespace began
            (--since namespace, the default) or since top started
            (--since top)
  remaining queued + active + scheduled (suspended requests wait for a
            person and are not counted)
  total     done + remaining
  rate      requests finished (completed + dead + canceled) in the last
            minute
  ETA       remaining / rate; "-" while nothing finishes

Quit with q or Ctrl-C; the terminal is restored. Keys are read from the
terminal on stdin. --once prints one frame without escape codes and exits,
for scripts and tests; with --json it prints the frame as a JSON document
(without --once, one JSON document per line every --interval).

Example:
  llmqueue top
  llmqueue top --interval 5s --since top
  llmqueue top --once --json | jq .batch
`

// topDoc is one frame of top, as --json prints it.
type topDoc struct {
	Stats   *statsDoc             `json:"stats"`
	Workers []llmqueue.WorkerInfo `json:"workers"`
	Rates   ratesDoc              `json:"rates"`
	Batch   batchDoc              `json:"batch"`
}

// ratesDoc is the last minute's rates.
type ratesDoc struct {
	CompletedPerMinute   int64 `json:"completed_per_minute"`
	FailedPerMinute      int64 `json:"failed_per_minute"`
	CanceledPerMinute    int64 `json:"canceled_per_minute"`
	RateLimitedPerMinute int64 `json:"rate_limited_per_minute"`
	TokensPerMinute      int64 `json:"tokens_per_minute"` // window average
}

// batchDoc is the progress of the work in the namespace.
type batchDoc struct {
	Since       string   `json:"since"`        // "namespace" or "top"
	Done        int64    `json:"done"`         // completed + failed + canceled since Since
	Remaining   int64    `json:"remaining"`    // queued + active + scheduled
	Total       int64    `json:"total"`        // Done + Remaining
	PercentDone float64  `json:"percent_done"` // Done / Total x 100; 100 when Total is 0
	PerMinute   int64    `json:"per_minute"`   // finished in the last minute
	ETASeconds  *float64 `json:"eta_seconds"`  // Remaining / PerMinute; null while nothing finishes
}

// topView builds frames; base is what "done" counted when top started.
type topView struct {
	qm    *llmqueue.QueueManager
	since string
	base  int64
	first bool
}

// frame reads the namespace and computes one frame.
func (v *topView) frame(ctx context.Context) (*topDoc, error) {
	d, m, err := readStats(ctx, v.qm)
	if err != nil {
		return nil, err
	}
	done := d.Totals.Completed + d.Totals.Failed + d.Totals.Canceled
	if v.since == "top" {
		if !v.first {
			v.base, v.first = done, true
		}
		done -= v.base
	}
	l := d.LastMinute
	doc := &topDoc{Stats: d, Workers: m.Workers,
		Rates: ratesDoc{CompletedPerMinute: l.Completed, FailedPerMinute: l.Failed, CanceledPerMinute: l.Canceled,
			RateLimitedPerMinute: l.RateLimited, TokensPerMinute: l.TokensPerMinute},
		Batch: batchDoc{Since: v.since, Done: done, Remaining: d.Queued + d.Active + d.Scheduled,
			PerMinute: l.Completed + l.Failed + l.Canceled},
	}
	if doc.Workers == nil {
		doc.Workers = []llmqueue.WorkerInfo{}
	}
	b := &doc.Batch
	b.Total = b.Done + b.Remaining
	b.PercentDone = 100
	if b.Total > 0 {
		b.PercentDone = round1(float64(b.Done) * 100 / float64(b.Total))
	}
	if b.PerMinute > 0 {
		eta := float64(b.Remaining) * 60 / float64(b.PerMinute)
		b.ETASeconds = &eta
	}
	return doc, nil
}

// runTop is the top command.
func runTop(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("top")
	asJSON := fs.Bool("json", false, "print JSON instead of drawing")
	once := fs.Bool("once", false, "print one frame and exit")
	interval := fs.Duration("interval", time.Second, "time between refreshes (at least 100ms)")
	since := fs.String("since", "namespace", "count batch progress since the namespace began (namespace) or since top started (top)")
	pos, code, done := a.parse(fs, args, topHelp)
	if done {
		return code
	}
	switch {
	case len(pos) > 0:
		return a.usageFail("takes no arguments, got %q", pos)
	case *interval < 100*time.Millisecond:
		return a.usageFail("--interval %s: want at least 100ms", *interval)
	case *since != "namespace" && *since != "top":
		return a.usageFail("--since %q: want namespace or top", *since)
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	v := &topView{qm: c.qm, since: *since}
	if *once {
		doc, err := v.frame(ctx)
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			if err := writeJSON(a.stdout, doc); err != nil {
				return a.fail(err)
			}
			return exitOK
		}
		fmt.Fprint(a.stdout, strings.Join(renderTop(doc, *interval, time.Now()), "\n")+"\n")
		return exitOK
	}
	if *asJSON {
		return a.topJSONLines(ctx, v, *interval)
	}
	return a.topLive(ctx, v, *interval)
}

// topJSONLines prints one compact JSON frame per interval until ctx ends.
func (a *app) topJSONLines(ctx context.Context, v *topView, interval time.Duration) int {
	enc := json.NewEncoder(a.stdout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		doc, err := v.frame(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			fmt.Fprintln(a.stderr, errMessage(err))
		} else if err := enc.Encode(doc); err != nil {
			return a.fail(fmt.Errorf("write: %w", err))
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
	}
}

// Escape sequences top draws with.
const (
	escAltScreenOn  = "\x1b[?1049h\x1b[?25l" // alternate screen, cursor hidden
	escAltScreenOff = "\x1b[?25h\x1b[?1049l" // cursor shown, main screen back
	escHome         = "\x1b[H"
	escClearLine    = "\x1b[K" // to the end of the line
	escClearBelow   = "\x1b[J"
)

// topLive redraws a frame every interval on the alternate screen until ctx
// ends or q is pressed, then restores the terminal.
func (a *app) topLive(ctx context.Context, v *topView, interval time.Duration) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if restore, err := cbreak(os.Stdin.Fd()); err == nil {
		defer restore()
		go readKeys(os.Stdin, cancel)
	}
	fmt.Fprint(a.stdout, escAltScreenOn)
	defer fmt.Fprint(a.stdout, escAltScreenOff)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var lines []string
		doc, err := v.frame(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return exitOK
		case err != nil:
			lines = []string{"llmqueue top: " + time.Now().Format("15:04:05"), "", errMessage(err), "", "retrying every " + interval.String() + "; q to quit"}
		default:
			lines = renderTop(doc, interval, time.Now())
		}
		fmt.Fprint(a.stdout, escHome+strings.Join(lines, escClearLine+"\r\n")+escClearLine+escClearBelow)
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
	}
}

// readKeys calls quit when q, Q or Ctrl-C is read from r, or r ends.
func readKeys(r io.Reader, quit func()) {
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == 'q' || b == 'Q' || b == 3 {
				quit()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// renderTop draws a frame as lines of plain text.
func renderTop(doc *topDoc, interval time.Duration, now time.Time) []string {
	d := doc.Stats
	state := "processing"
	if d.Paused {
		state = "PAUSED"
	}
	out := []string{
		fmt.Sprintf("llmqueue top  namespace %s (%s)  %s  every %s, q to quit", d.Namespace, state, now.Format("15:04:05"), interval),
		"",
		fmt.Sprintf("QUEUED     low %d   medium %d   long %d   total %d", d.Classes[0].Queued, d.Classes[1].Queued, d.Classes[2].Queued, d.Queued),
		fmt.Sprintf("NOW        active %d   scheduled %d   suspended %d   dead %d", d.Active, d.Scheduled, d.Suspended, d.Dead),
		"",
		"BUDGET (current window, used / usable)",
	}
	limited := 0
	for _, b := range d.Budget {
		if b.Unlimited {
			continue
		}
		limited++
		out = append(out, fmt.Sprintf("  %-17s [%s] %d / %d  %.1f%%  window %s",
			b.Name, bar(b.Used, b.Usable, 30), b.Used, b.Usable, b.Percent, windowName(b.WindowSeconds)))
	}
	if limited == 0 {
		out = append(out, "  no limits set (LLM_QUEUE_TOTAL_TPM and the like are 0 here)")
	}
	r := doc.Rates
	out = append(out,
		fmt.Sprintf("  cool-down         %s", seconds(d.CooldownSeconds)),
		"",
		"RATES (last minute)",
		fmt.Sprintf("  completed/min %d   dead/min %d   canceled/min %d   429s/min %d   tokens/min %d (window average)",
			r.CompletedPerMinute, r.FailedPerMinute, r.CanceledPerMinute, r.RateLimitedPerMinute, r.TokensPerMinute),
		"",
	)
	b := doc.Batch
	sinceLabel := "since the namespace began"
	if b.Since == "top" {
		sinceLabel = "since top started"
	}
	eta := "-"
	if b.ETASeconds != nil {
		eta = seconds(*b.ETASeconds)
		if *b.ETASeconds <= 0 {
			eta = "0s"
		}
	}
	out = append(out,
		fmt.Sprintf("BATCH (done = completed + dead + canceled %s; remaining = queued + active + scheduled)", sinceLabel),
		fmt.Sprintf("  done %d / %d  [%s] %.1f%%   remaining %d   rate %d/min   ETA %s",
			b.Done, b.Total, bar(b.Done, max(b.Total, 1), 30), b.PercentDone, b.Remaining, b.PerMinute, eta),
		"",
		fmt.Sprintf("WORKERS (%d live)", len(doc.Workers)),
	)
	if len(doc.Workers) > 0 {
		var sb strings.Builder
		printWorkers(&sb, doc.Workers, now, "  ")
		out = append(out, strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")...)
	}
	return out
}
