package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/llmqueue/llmqueue"
)

const cancelHelp = `
Usage: llmqueue cancel ID...

Cancels each request. A queued, retrying or suspended one ends canceled at
once; a running one is flagged and its worker cancels the processor's
context, after which it ends canceled ("cancel requested"). Canceling a
canceled request again succeeds; a completed or dead one exits with 4.
Every ID is tried: one line per ID (on stdout when it worked, on stderr
when not), then the exit code of the worst failure.

Example:
  llmqueue cancel 19a2b3c4d5e6f7a8b9c0d1e2 19a2b3c4d5e6f7a8b9c0d1e3
`

// runCancel is the cancel command.
func runCancel(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("cancel")
	pos, code, done := a.parse(fs, args, cancelHelp)
	if done {
		return code
	}
	if len(pos) == 0 {
		return a.usageFail("want at least one request ID")
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	return a.eachID(pos, func(id string) (string, error) {
		st, err := c.qm.Cancel(ctx, id)
		if err != nil {
			return "", err
		}
		if st == llmqueue.StatusActive {
			return "cancel requested (running: its worker stops it)", nil
		}
		return "canceled", nil
	})
}

// eachID runs op on every ID, prints "ID: outcome" on stdout or the error
// on stderr, and returns the worst exit code.
func (a *app) eachID(ids []string, op func(id string) (string, error)) int {
	code := exitOK
	for _, id := range ids {
		out, err := op(id)
		if err != nil {
			fmt.Fprintf(a.stderr, "%s: %s\n", id, errMessage(err))
			code = worst(code, exitCode(err))
			continue
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", id, out)
	}
	return code
}

const resumeHelp = `
Usage: llmqueue resume ID --input JSON|@FILE

Queues a suspended request again; its processor gets the input as
Job.ResumeInput (and its saved state as Job.State). The input is JSON text,
or @FILE to read it from a file; it is required (give null to answer JSON
null). A request that is not suspended exits with 4; input that is not
JSON exits with 2.

Example:
  llmqueue resume 19a2b3c4d5e6f7a8b9c0d1e2 --input '{"approved": true}'
  llmqueue resume 19a2b3c4d5e6f7a8b9c0d1e2 --input @answer.json
`

// runResume is the resume command.
func runResume(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("resume")
	input := fs.String("input", "", "the resume input: JSON text, or @FILE")
	pos, code, done := a.parse(fs, args, resumeHelp)
	if done {
		return code
	}
	if len(pos) != 1 {
		return a.usageFail("want one request ID, got %d arguments", len(pos))
	}
	raw, err := readInput(*input)
	if err != nil {
		return a.usageFail("%v", err)
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	return a.eachID(pos, func(id string) (string, error) {
		if err := c.qm.Resume(ctx, id, raw); err != nil {
			return "", err
		}
		return "resumed (queued again)", nil
	})
}

// readInput reads --input: JSON text, or @FILE.
func readInput(s string) (json.RawMessage, error) {
	if s == "" {
		return nil, fmt.Errorf("--input is required: JSON text or @FILE")
	}
	b := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--input is not valid JSON")
	}
	return json.RawMessage(b), nil
}

const requeueHelp = `
Usage: llmqueue requeue ID... | --all-dead

Queues dead requests again with their attempts reset. With --all-dead,
every dead request still kept is requeued and the count printed. A request
that is not dead exits with 4, an unknown one with 3; every ID is tried,
one line per ID, and the worst code is returned.

Example:
  llmqueue requeue 19a2b3c4d5e6f7a8b9c0d1e2
  llmqueue requeue --all-dead
`

// runRequeue is the requeue command.
func runRequeue(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("requeue")
	all := fs.Bool("all-dead", false, "requeue every dead request")
	pos, code, done := a.parse(fs, args, requeueHelp)
	if done {
		return code
	}
	switch {
	case *all && len(pos) > 0:
		return a.usageFail("give IDs or --all-dead, not both")
	case !*all && len(pos) == 0:
		return a.usageFail("want request IDs or --all-dead")
	}
	c, err := a.connect()
	if err != nil {
		return a.fail(err)
	}
	defer c.close()
	in := c.qm.Inspector()
	if *all {
		n, err := in.RequeueDead(ctx)
		if err != nil {
			return a.fail(err)
		}
		fmt.Fprintf(a.stdout, "requeued %d dead requests\n", n)
		return exitOK
	}
	return a.eachID(pos, func(id string) (string, error) {
		if err := in.Requeue(ctx, id); err != nil {
			return "", err
		}
		return "requeued", nil
	})
}
