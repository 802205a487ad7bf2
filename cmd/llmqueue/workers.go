package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/llmqueue/llmqueue"
)

const workersHelp = `
Usage: llmqueue workers [--json]

Lists the namespace's live workers (BatchProcessors whose heartbeat has not
expired): ID, host, PID, requests in flight of its concurrency as of the
last heartbeat, attempts processed and uptime.

Example:
  llmqueue workers
  llmqueue workers --json | jq '.workers | length'
`

// workersDoc is what workers --json prints.
type workersDoc struct {
	Workers []llmqueue.WorkerInfo `json:"workers"`
}

// runWorkers is the workers command.
func runWorkers(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("workers")
	asJSON := fs.Bool("json", false, "print a JSON document instead of a table")
	pos, code, done := a.parse(fs, args, workersHelp)
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
	ws, err := c.qm.Inspector().Workers(ctx)
	if err != nil {
		return a.fail(err)
	}
	if ws == nil {
		ws = []llmqueue.WorkerInfo{}
	}
	if *asJSON {
		if err := writeJSON(a.stdout, workersDoc{Workers: ws}); err != nil {
			return a.fail(err)
		}
		return exitOK
	}
	if len(ws) == 0 {
		fmt.Fprintln(a.stdout, "no live workers")
		return exitOK
	}
	printWorkers(a.stdout, ws, time.Now(), "")
	return exitOK
}

// printWorkers prints ws as a table, each line starting with indent.
func printWorkers(w io.Writer, ws []llmqueue.WorkerInfo, now time.Time, indent string) {
	tw := newTable(w)
	fmt.Fprintf(tw, "%sWORKER\tHOST\tPID\tIN FLIGHT\tPROCESSED\tUP\n", indent)
	for _, x := range ws {
		fmt.Fprintf(tw, "%s%s\t%s\t%d\t%d/%d\t%d\t%s\n", indent, x.ID, x.Host, x.PID, x.InFlight, x.Concurrency,
			x.Processed, ago(now, x.StartedAt))
	}
	_ = tw.Flush()
}
