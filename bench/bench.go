package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
)

// bench runs the measurements in order and collects their rows. Each
// measurement gets its own namespace and cleans up after itself.
type bench struct {
	cfg    *config
	srv    *server
	admin  *redis.Client // INFO, cleanup, Metrics
	log    *slog.Logger  // the library's warnings, on stderr
	stderr io.Writer

	base      map[int]float64 // SET round trips/s by goroutines: the mean of both runs
	baseFirst map[int]float64 // the first run's
	baseRow   map[int]int     // the baseline rows' indexes
	report    report
}

// newBench connects the admin client, reads the machine's description and
// prints the header.
func newBench(ctx context.Context, cfg *config, srv *server, stdout, stderr io.Writer) (*bench, error) {
	b := &bench{
		cfg: cfg, srv: srv, admin: srv.client(8), stderr: stderr,
		log:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		base: map[int]float64{}, baseFirst: map[int]float64{}, baseRow: map[int]int{},
	}
	m, err := machineInfo(ctx, b.admin)
	if err != nil {
		_ = b.admin.Close()
		return nil, err
	}
	b.report = report{Command: cfg.command, Server: srv.desc, Machine: m, Quick: cfg.quick}
	printHeader(stdout, &b.report)
	return b, nil
}

// close closes the admin client.
func (b *bench) close() { _ = b.admin.Close() }

// progress tells the user what is running; the results go to stdout.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

// stepNames lists the measurements in the order they run; -only picks
// some of them.
var stepNames = []string{"add", "addmany", "processing", "latency", "memory", "depth", "utilization", "meters"}

// runAll runs the SET baselines, which the other rows are ratios to, then
// every measurement (or those -only names), then the baselines again.
func (b *bench) runAll(ctx context.Context) error {
	steps := map[string]func(context.Context) error{
		"add": b.measureAdd, "addmany": b.measureAddMany, "processing": b.measureProcessing,
		"latency": b.measureLatency, "memory": b.measureMemory, "depth": b.measureDepth,
		"utilization": b.measureUtilization, "meters": b.measureMeters,
	}
	first := func(ctx context.Context) error { return b.measureBaselines(ctx, false) }
	if err := b.step(ctx, "baseline", first); err != nil {
		return err
	}
	for _, name := range stepNames {
		if len(b.cfg.only) > 0 && !b.cfg.only[name] {
			continue
		}
		if err := b.step(ctx, name, steps[name]); err != nil {
			return err
		}
	}
	last := func(ctx context.Context) error { return b.measureBaselines(ctx, true) }
	if err := b.step(ctx, "baseline again", last); err != nil {
		return err
	}
	b.finalize()
	return nil
}

// finalize fills in the ratios to the SET baselines, which are final
// only once both baseline runs are done.
func (b *bench) finalize() {
	for i := range b.report.Rows {
		r := &b.report.Rows[i]
		if r.BaseN == 0 {
			continue
		}
		base := b.base[r.BaseN]
		if r.Unit == "ms" {
			rtt := time.Duration(float64(time.Second) / base)
			r.Ratio = ratio(r.Value, rtt.Seconds()*1000)
			r.RatioOf = setName(r.BaseN) + " round trip (" + fmtDuration(rtt) + ")"
		} else {
			r.Ratio, r.RatioOf = ratio(r.Value, base), setName(r.BaseN)
		}
		if r.minRatio > 0 {
			r.Met = boolPtr(r.Ratio >= r.minRatio)
		}
	}
}

// step runs one measurement and tells the user how long it took.
func (b *bench) step(ctx context.Context, name string, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.Now()
	b.progress("%s ...", name)
	if err := fn(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.progress("%s done in %s", name, time.Since(t).Round(10*time.Millisecond))
	return nil
}

// scope is one measurement's namespace; done deletes what it created.
type scope struct {
	b      *bench
	name   string
	ns     string
	stats  cmdStats // the reading at the start
	after  cmdStats // the reading at the end, when taken before done
	marked bool
}

// begin opens a measurement: a fresh namespace, and command statistics
// to compare with at the end.
func (b *bench) begin(ctx context.Context, name string) (*scope, error) {
	s := &scope{b: b, name: name, ns: newNamespace(name)}
	if b.cfg.cmdStats {
		st, err := readCmdStats(ctx, b.admin)
		if err != nil {
			return nil, err
		}
		s.stats = st
	}
	return s, nil
}

// mark narrows the command statistics to what follows, so a fill does
// not count; mark again with end=true where the measured part ends.
func (s *scope) mark(ctx context.Context, end bool) error {
	if !s.b.cfg.cmdStats {
		return nil
	}
	st, err := readCmdStats(ctx, s.b.admin)
	if err != nil {
		return err
	}
	if end {
		s.after, s.marked = st, true
	} else {
		s.stats = st
	}
	return nil
}

// done prints the measurement's Redis command statistics when asked and
// deletes its keys.
func (s *scope) done(ctx context.Context) error {
	if s.b.cfg.cmdStats {
		if !s.marked {
			if err := s.mark(ctx, true); err != nil {
				return err
			}
		}
		s.b.report.CmdStats = append(s.b.report.CmdStats, diffCmdStats(s.name, s.stats, s.after))
	}
	// Cleanup must run even when the measurement was interrupted.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	return s.b.srv.cleanup(cctx, s.b.admin, s.ns)
}

// manager returns a QueueManager on a new client for the scope's
// namespace; close the client when done.
func (s *scope) manager(poolSize int, budget llmqueue.Budget) (*llmqueue.QueueManager, *redis.Client, error) {
	rdb := s.b.srv.client(poolSize)
	qm, err := llmqueue.NewQueueManager(rdb, &llmqueue.Config{Namespace: s.ns, Budget: budget, Logger: s.b.log})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("queue manager: %w", err)
	}
	return qm, rdb, nil
}

// addRow appends a row to the report.
func (b *bench) addRow(r row) { b.report.Rows = append(b.report.Rows, r) }

// ratio is figure/baseline, or 0 when the baseline is missing.
func ratio(figure, baseline float64) float64 {
	if baseline <= 0 {
		return 0
	}
	return figure / baseline
}

// end closes the measurement with done and reports done's error through
// *err unless the measurement already failed. Use it with defer.
func (s *scope) end(ctx context.Context, err *error) {
	if derr := s.done(ctx); *err == nil {
		*err = derr
	}
}
