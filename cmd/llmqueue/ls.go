package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// lsDoc is what ls --json prints: one page of one state.
type lsDoc struct {
	State    string  `json:"state"`
	Requests []lsRow `json:"requests"`
	Next     string  `json:"next"` // the next page's --cursor; "" after the last page
}

// lsRow is one request of an ls page; the payload and result are left to
// inspect.
type lsRow struct {
	ID              string    `json:"id"`
	Class           string    `json:"class"`
	Status          string    `json:"status"` // "gone" when it expired between the list and the read
	Attempts        int       `json:"attempts"`
	MaxRetries      int       `json:"max_retries"`
	EstimatedTokens int64     `json:"estimated_tokens"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
	Error           string    `json:"error,omitempty"`
	SuspendReason   string    `json:"suspend_reason,omitempty"`
}

// states maps the states ls accepts to the library's.
var states = map[string]llmqueue.Status{
	"queued": llmqueue.StatusQueued, "active": llmqueue.StatusActive,
	"scheduled": llmqueue.StatusRetrying, "retrying": llmqueue.StatusRetrying,
	"suspended": llmqueue.StatusSuspended, "dead": llmqueue.StatusDead,
	"completed": llmqueue.StatusCompleted, "canceled": llmqueue.StatusCanceled,
}

const lsHelp = `
Usage: llmqueue ls STATE [--limit N] [--cursor C] [--json]

Lists the requests in STATE a page at a time, with each one's ID, class,
status, attempts (started / allowed: max retries + 1), estimated tokens,
age, time since its last change and error (cut short; see inspect for all
of it). STATE is one of queued,
active, scheduled (or retrying), suspended, dead; queued lists in lease
order (low, then medium, then long), active by deadline, scheduled by due
time, the rest oldest first. When there is more, the last line gives the
--cursor of the next page. Completed and canceled requests are not indexed
(each is kept only as its own record until its retention ends): ls exits
with 5 for them; read one with inspect ID.

Example:
  llmqueue ls dead
  llmqueue ls queued --limit 100 --cursor 100
`

// runLs is the ls command.
func runLs(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("ls")
	asJSON := fs.Bool("json", false, "print a JSON document instead of a table")
	limit := fs.Int("limit", 20, "requests per page, 1-1000")
	cursor := fs.String("cursor", "", "where the page starts: the cursor an earlier page printed")
	pos, code, done := a.parse(fs, args, lsHelp)
	if done {
		return code
	}
	if len(pos) != 1 {
		return a.usageFail("want one STATE (queued, active, scheduled, suspended, dead), got %d arguments", len(pos))
	}
	state, ok := states[strings.ToLower(pos[0])]
	if !ok {
		return a.usageFail("unknown state %q: want queued, active, scheduled, retrying, suspended, dead, completed or canceled", pos[0])
	}
	if *limit < 1 || *limit > 1000 {
		return a.usageFail("--limit %d: want 1-1000", *limit)
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	in := c.qm.Inspector()
	page, err := in.List(ctx, state, *cursor, *limit)
	if errors.Is(err, llmqueue.ErrNotIndexed) {
		fmt.Fprintf(a.stderr, "llmqueue ls: %s requests are not indexed, so they cannot be listed; "+
			"read one with 'llmqueue inspect ID' (kept for LLM_QUEUE_RETENTION), count them with 'llmqueue stats'\n", state)
		return exitNotIndexed
	}
	if err != nil {
		return a.fail(err) // "llmqueue: ...: <cause>"
	}
	doc := lsDoc{State: string(state), Requests: []lsRow{}, Next: page.Next}
	for _, id := range page.IDs {
		st, err := in.Request(ctx, id)
		switch {
		case errors.Is(err, llmqueue.ErrNotFound):
			doc.Requests = append(doc.Requests, lsRow{ID: id, Status: "gone"})
			continue
		case err != nil:
			return a.fail(err)
		}
		doc.Requests = append(doc.Requests, lsRow{ID: id, Class: string(st.Priority), Status: string(st.Status),
			Attempts: st.Attempts, MaxRetries: st.MaxRetries, EstimatedTokens: st.EstimatedTokens,
			CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt, Error: st.Error, SuspendReason: st.SuspendReason})
	}
	if *asJSON {
		if err := writeJSON(a.stdout, doc); err != nil {
			return a.fail(err)
		}
		return exitOK
	}
	if len(doc.Requests) == 0 {
		fmt.Fprintf(a.stdout, "no %s requests\n", state)
		return exitOK
	}
	now := time.Now()
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "ID\tCLASS\tSTATUS\tATTEMPTS\tEST.TOKENS\tAGE\tUPDATED\tERROR")
	for _, r := range doc.Requests {
		msg := r.Error
		if r.SuspendReason != "" {
			msg = "suspended: " + r.SuspendReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", r.ID, dash(r.Class), r.Status, r.Attempts, r.MaxRetries+1,
			r.EstimatedTokens, ago(now, r.CreatedAt), ago(now, r.UpdatedAt), dash(truncate(msg, 60)))
	}
	_ = tw.Flush()
	if doc.Next != "" {
		fmt.Fprintf(a.stdout, "next page: --cursor %s\n", doc.Next)
	}
	return exitOK
}

// dash shows "-" for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
