package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

const inspectHelp = `
Usage: llmqueue inspect ID [--json]

Shows everything stored about one request: status, class, estimate,
attempts, retry limit, timeout, usage, last error, suspend reason, whether a
cancel was asked, its meta values, a timeline (created, started, updated,
finished) and its payload and result as indented JSON. --json prints the
library's RequestStatus document (payload and result as JSON values,
timeout as timeout_ms). An unknown or expired ID exits with 3.

Example:
  llmqueue inspect 19a2b3c4d5e6f7a8b9c0d1e2
  llmqueue inspect 19a2b3c4d5e6f7a8b9c0d1e2 --json | jq .result
`

// runInspect is the inspect command.
func runInspect(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("inspect")
	asJSON := fs.Bool("json", false, "print the request's status as JSON")
	pos, code, done := a.parse(fs, args, inspectHelp)
	if done {
		return code
	}
	if len(pos) != 1 {
		return a.usageFail("want one request ID, got %d arguments", len(pos))
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	st, err := c.qm.Inspector().Request(ctx, pos[0])
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if err := writeJSON(a.stdout, st); err != nil {
			return a.fail(err)
		}
		return exitOK
	}
	printRequest(a.stdout, st, time.Now())
	return exitOK
}

// printRequest prints every field of st for people.
func printRequest(w io.Writer, st *llmqueue.RequestStatus, now time.Time) {
	tw := newTable(w)
	fmt.Fprintf(tw, "id\t%s\n", st.ID)
	fmt.Fprintf(tw, "status\t%s\n", st.Status)
	fmt.Fprintf(tw, "class\t%s\n", st.Priority)
	fmt.Fprintf(tw, "estimated tokens\t%d\n", st.EstimatedTokens)
	fmt.Fprintf(tw, "attempts\t%d (max retries %d: at most %d attempts)\n", st.Attempts, st.MaxRetries, st.MaxRetries+1)
	timeout := "the worker's JobTimeout"
	if st.Timeout > 0 {
		timeout = st.Timeout.String()
	}
	fmt.Fprintf(tw, "timeout\t%s\n", timeout)
	u := st.Usage
	fmt.Fprintf(tw, "usage\tinput %d, output %d, cache read %d, cache write %d (total %d)\n",
		u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens, u.Total())
	fmt.Fprintf(tw, "error\t%s\n", dash(oneLine(st.Error)))
	fmt.Fprintf(tw, "suspend reason\t%s\n", dash(oneLine(st.SuspendReason)))
	fmt.Fprintf(tw, "cancel requested\t%t\n", st.CancelRequested)
	_ = tw.Flush()

	fmt.Fprintln(w, "\ntimeline:")
	tw = newTable(w)
	for _, e := range []struct {
		name string
		t    time.Time
	}{{"created", st.CreatedAt}, {"started", st.StartedAt}, {"updated", st.UpdatedAt}, {"finished", st.FinishedAt}} {
		when := "-"
		if !e.t.IsZero() {
			when = stamp(e.t) + "\t(" + ago(now, e.t) + " ago)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", e.name, when)
	}
	_ = tw.Flush()

	fmt.Fprintln(w, "\nmeta:")
	if len(st.Meta) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	keys := make([]string, 0, len(st.Meta))
	for k := range st.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw = newTable(w)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%s\n", k, oneLine(string(st.Meta[k])))
	}
	_ = tw.Flush()

	fmt.Fprintln(w, "\npayload:")
	fmt.Fprintln(w, jsonBlock(st.Payload))
	fmt.Fprintln(w, "\nresult:")
	fmt.Fprintln(w, jsonBlock(st.Result))
}

// jsonBlock indents raw JSON by two spaces; "(none)" when empty.
func jsonBlock(raw []byte) string {
	if len(raw) == 0 {
		return "  (none)"
	}
	return prettyJSON(raw, "  ")
}

// oneLine joins a multi-line text with " | " so a table stays a table.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")
}
