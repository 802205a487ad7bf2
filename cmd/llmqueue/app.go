package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/llmqueue/llmqueue"
)

// Exit codes, the same for every command; scripts may rely on them.
const (
	exitOK         = 0 // success
	exitError      = 1 // the operation failed: Redis unreachable, a timeout, corrupt data
	exitUsage      = 2 // bad flags, arguments or environment variables
	exitNotFound   = 3 // no request with that ID (or it expired)
	exitConflict   = 4 // not allowed in the request's state, e.g. cancel a completed one
	exitNotIndexed = 5 // ls completed or ls canceled: those states have no index
)

// exitCodesHelp documents the exit codes in every --help.
const exitCodesHelp = `Exit codes:
  0  ok
  1  operation error (Redis unreachable, timeout, corrupt data)
  2  usage error (bad flags, arguments or environment variables)
  3  not found (unknown or expired request ID)
  4  conflict: not allowed in the request's state
  5  state not indexed (ls completed, ls canceled)
Commands that take several IDs handle them all and exit with the worst code.
`

// command is one subcommand of llmqueue.
type command struct {
	name    string                                               // as typed
	summary string                                               // one line for the command list
	run     func(ctx context.Context, a *app, args []string) int // parses args and runs
}

// commands lists every subcommand, in the order help shows them.
var commands = []command{
	{"stats", "queue depths, budget use, last minute's throughput, workers", runStats},
	{"ls", "list the requests in one state, a page at a time", runLs},
	{"inspect", "show everything about one request", runInspect},
	{"cancel", "cancel requests (a running one is stopped by its worker)", runCancel},
	{"resume", "resume a suspended request with an input", runResume},
	{"requeue", "queue dead requests again", runRequeue},
	{"workers", "list the live workers", runWorkers},
	{"top", "live view of queues, budget, rates, workers and progress", runTop},
}

// usageError is a bad flag or argument: exit code 2.
type usageError struct{ msg string }

// Error returns the message.
func (e *usageError) Error() string { return e.msg }

// usagef makes a usageError.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// app holds what every command shares: its output, its environment and the
// connection flags.
type app struct {
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	cmd            string // the running command's name, for messages

	redisURL  string // --redis-url; "" keeps REDIS_URL and the rest
	namespace string // --namespace; "" keeps LLM_QUEUE_NAMESPACE
}

// run is the whole CLI: main calls it with the process's arguments (without
// the program name), output and environment, and tests call it in-process.
// It returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	a := &app{stdout: stdout, stderr: stderr, lookup: env}
	fs := a.flagSet("llmqueue")
	rest, err := parseFlags(fs, args, true)
	if errors.Is(err, flag.ErrHelp) {
		a.topUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "llmqueue: %v\n", err)
		a.topUsage(stderr)
		return exitUsage
	}
	if len(rest) == 0 {
		a.topUsage(stderr)
		return exitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return a.help(rest)
	}
	for _, c := range commands {
		if c.name == name {
			a.cmd = name
			return c.run(ctx, a, rest)
		}
	}
	fmt.Fprintf(stderr, "llmqueue: unknown command %q\n", name)
	a.topUsage(stderr)
	return exitUsage
}

// help serves "llmqueue help [COMMAND]".
func (a *app) help(args []string) int {
	if len(args) == 0 {
		a.topUsage(a.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			a.cmd = c.name
			return c.run(context.Background(), a, []string{"--help"})
		}
	}
	fmt.Fprintf(a.stderr, "llmqueue help: unknown command %q\n", args[0])
	return exitUsage
}

// topUsage prints the command list.
func (a *app) topUsage(w io.Writer) {
	fmt.Fprint(w, `llmqueue sees and steers an llmqueue namespace in Redis.

Usage:
  llmqueue [--redis-url URL] [--namespace NS] COMMAND [flags] [args]
  llmqueue help COMMAND

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Redis and the queue come from the environment the library reads (REDIS_URL
or REDIS_HOST/REDIS_PORT/REDIS_DB/REDIS_PASSWORD, LLM_QUEUE_NAMESPACE, and
LLM_QUEUE_TOTAL_TPM and friends for the budget's limits); --redis-url and
--namespace override them, before or after the command.

Example:
  REDIS_URL=redis://127.0.0.1:6379/0 llmqueue stats
  llmqueue --namespace batch ls dead --json

`+exitCodesHelp)
}

// flagSet returns a FlagSet for a command, carrying the connection flags.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports errors itself
	fs.StringVar(&a.redisURL, "redis-url", a.redisURL, "Redis `URL` (redis://[:password@]host:port/db); overrides REDIS_URL and REDIS_HOST/PORT/DB")
	fs.StringVar(&a.namespace, "namespace", a.namespace, "the queue `namespace`; overrides LLM_QUEUE_NAMESPACE (default \"default\")")
	fs.Usage = func() {}
	return fs
}

// parseFlags parses flags anywhere among args (flag stops at the first
// argument, this carries on after it) and returns the arguments. Everything
// after "--" is an argument. With stopAtFirst it stops at the first
// argument, as the top level does before the command name.
func parseFlags(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if stopAtFirst {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parse parses a command's args with fs; on --help it prints help to stdout
// and on a bad flag an error to stderr, and returns done with the exit code.
func (a *app) parse(fs *flag.FlagSet, args []string, help string) (pos []string, code int, done bool) {
	pos, err := parseFlags(fs, args, false)
	switch {
	case errors.Is(err, flag.ErrHelp):
		a.printHelp(a.stdout, fs, help)
		return nil, exitOK, true
	case err != nil:
		fmt.Fprintf(a.stderr, "llmqueue %s: %v\nRun 'llmqueue %s --help' for usage.\n", a.cmd, err, a.cmd)
		return nil, exitUsage, true
	}
	return pos, exitOK, false
}

// printHelp prints a command's help text, its flags and the exit codes.
func (a *app) printHelp(w io.Writer, fs *flag.FlagSet, help string) {
	fmt.Fprint(w, strings.TrimLeft(help, "\n"))
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\n"+exitCodesHelp)
}

// usageFail reports a usage error of the running command.
func (a *app) usageFail(format string, args ...any) int {
	fmt.Fprintf(a.stderr, "llmqueue %s: %s\nRun 'llmqueue %s --help' for usage.\n", a.cmd, fmt.Sprintf(format, args...), a.cmd)
	return exitUsage
}

// fail reports err on stderr and returns its exit code.
func (a *app) fail(err error) int {
	fmt.Fprintln(a.stderr, errMessage(err))
	return exitCode(err)
}

// errMessage is err as one line, prefixed with "llmqueue: " unless the
// library already did.
func errMessage(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if !strings.HasPrefix(msg, "llmqueue") {
		msg = "llmqueue: " + msg
	}
	return msg
}

// exitCode maps an error to the exit code scripts see, through the library's
// sentinel errors.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, llmqueue.ErrNotFound):
		return exitNotFound
	case errors.Is(err, llmqueue.ErrInvalidState), errors.Is(err, llmqueue.ErrDuplicateID):
		return exitConflict
	case errors.Is(err, llmqueue.ErrNotIndexed):
		return exitNotIndexed
	case errors.Is(err, llmqueue.ErrInvalidRequest), errors.Is(err, llmqueue.ErrInvalidPayload),
		errors.Is(err, llmqueue.ErrInvalidTokens):
		return exitUsage
	default:
		return exitError
	}
}

// worst returns the exit code that matters more: any failure beats 0, and
// among failures the operation error (1) beats the per-request ones, which
// beat a usage error; otherwise the larger code.
func worst(a, b int) int {
	rank := func(c int) int {
		if c == exitError {
			return 99
		}
		return c
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
