// Command bench measures llmqueue against a real Redis and prints a
// markdown table, each figure beside its ratio to a baseline measured in
// the same run: plain go-redis SET round trips from as many goroutines.
//
//	go run ./bench                      # starts its own redis-server
//	go run ./bench -redis redis://127.0.0.1:6379 -json
//
// It only talks to a loopback Redis. Every measurement uses a fresh
// namespace whose keys are deleted afterwards; with its own server it
// flushes everything between measurements instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// main runs the program; an interrupt stops it and still stops the
// redis-server it started.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// config holds the flags, after -quick has shortened what it shortens.
type config struct {
	redisURL    string
	duration    time.Duration
	warmup      time.Duration
	goroutines  int
	concurrency int
	big         int
	small       int
	payload     int
	quick       bool
	json        bool
	latencyRate int
	memN        int
	window      time.Duration // budget utilization window
	fillBatch   int
	fillWorkers int
	cpuProfile  string
	cmdStats    bool
	only        map[string]bool // measurements to run; empty runs all
	command     string
}

// parseFlags reads the flags and applies -quick.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{small: 1000, fillBatch: 1000, fillWorkers: 4}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [flags]\n\n"+
			"Measures llmqueue on a loopback Redis and prints a markdown table.\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.redisURL, "redis", "", "Redis URL on a loopback address (empty: start a redis-server)")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "length of each measurement")
	fs.IntVar(&c.goroutines, "goroutines", 32, "goroutines for the concurrent Add and AddMany rows")
	fs.IntVar(&c.concurrency, "concurrency", 64, "WithConcurrency of each BatchProcessor")
	fs.IntVar(&c.big, "big", 1_000_000, "requests queued for the deep-queue lease-rate row")
	fs.IntVar(&c.payload, "payload", 200, "payload size in bytes (a JSON document)")
	fs.BoolVar(&c.quick, "quick", false, "shorter everything (smoke test; figures are rough)")
	fs.BoolVar(&c.json, "json", false, "also print the results as one JSON object")
	fs.IntVar(&c.latencyRate, "latency-rate", 200, "requests/s added during the lease-latency measurement")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this program to `file`")
	fs.BoolVar(&c.cmdStats, "commandstats", false, "print Redis command statistics for each measurement")
	only := fs.String("only", "", "comma-separated measurements to run (of "+strings.Join(stepNames, ",")+
		"); the SET baselines always run")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.memN, c.window, c.warmup = 100_000, 2*time.Second, 500*time.Millisecond
	if c.quick {
		if !set["duration"] {
			c.duration = 300 * time.Millisecond
		}
		if !set["big"] {
			c.big = 100_000
		}
		c.memN, c.window, c.warmup = 20_000, 500*time.Millisecond, 100*time.Millisecond
	}
	switch {
	case c.duration <= 0:
		return nil, fmt.Errorf("-duration %s: want > 0", c.duration)
	case c.goroutines < 1 || c.concurrency < 1:
		return nil, errors.New("-goroutines and -concurrency must be at least 1")
	case c.big < c.small:
		return nil, fmt.Errorf("-big %d: want at least %d", c.big, c.small)
	case c.payload < 2:
		return nil, fmt.Errorf("-payload %d: want at least 2 bytes", c.payload)
	case c.latencyRate < 1:
		return nil, fmt.Errorf("-latency-rate %d: want at least 1", c.latencyRate)
	}
	if *only != "" {
		c.only = map[string]bool{}
		for name := range strings.SplitSeq(*only, ",") {
			if !slices.Contains(stepNames, name) {
				return nil, fmt.Errorf("-only: unknown measurement %q (want %s)", name, strings.Join(stepNames, ","))
			}
			c.only[name] = true
		}
	}
	c.command = commandLine(args)
	return c, nil
}

// commandLine renders the command as typed; a binary built by go run is
// shown as "go run ./bench".
func commandLine(args []string) string {
	name := args[0]
	if strings.Contains(name, "go-build") {
		name = "go run ./bench"
	}
	parts := []string{name}
	for _, a := range args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// run is the whole program; args[0] is the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	var srv *server
	if cfg.redisURL == "" {
		srv, err = startServer(ctx)
	} else {
		srv, err = connectServer(ctx, cfg.redisURL)
	}
	if err != nil {
		return err
	}
	defer srv.stop()

	b, err := newBench(ctx, cfg, srv, stdout, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	start := time.Now()
	if err := b.runAll(ctx); err != nil {
		return err
	}
	b.report.Elapsed = time.Since(start).Round(100 * time.Millisecond).String()
	b.report.Machine.LoadAvgEnd = loadAvg()
	return b.print(stdout)
}
