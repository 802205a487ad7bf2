package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// report is everything the program prints; -json prints it as is.
type report struct {
	Command  string     `json:"command"`
	Server   string     `json:"server"`
	Machine  machine    `json:"machine"`
	Quick    bool       `json:"quick"`
	Rows     []row      `json:"rows"`
	CmdStats []cmdDelta `json:"redis_commandstats,omitempty"`
	Elapsed  string     `json:"elapsed"`
}

// row is one line of the table.
type row struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Value2  float64 `json:"value2,omitempty"` // the p99 of a latency row
	Unit    string  `json:"unit"`
	Figure  string  `json:"figure"`
	Ratio   float64 `json:"ratio,omitempty"`
	RatioOf string  `json:"ratio_of,omitempty"` // "-" when the row has no ratio
	// BaseN, when set, makes Ratio the figure over the SET baseline of
	// that many goroutines (for a latency, the round trip of SET x1);
	// finalize fills it in once the baselines are final.
	BaseN int `json:"base_goroutines,omitempty"`
	// minRatio, when set, is the target: Met is Ratio >= minRatio.
	minRatio float64
	Target   string `json:"target,omitempty"`
	Met      *bool  `json:"met,omitempty"`
	Note     string `json:"note,omitempty"`
	Kind     string `json:"kind,omitempty"` // "baseline" for the SET rows
}

// machine describes where the figures come from.
type machine struct {
	CPUs         int    `json:"cpus"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	OSArch       string `json:"os_arch"`
	GoVersion    string `json:"go_version"`
	RedisVersion string `json:"redis_version"`
	CPUModel     string `json:"cpu_model"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages at the start
	// and at the end: other work on the machine skews every figure.
	LoadAvg    string `json:"load_avg_start"`
	LoadAvgEnd string `json:"load_avg_end"`
}

// machineInfo describes this machine and the Redis server.
func machineInfo(ctx context.Context, admin *redis.Client) (machine, error) {
	v, err := infoField(ctx, admin, "server", "redis_version")
	if err != nil {
		return machine{}, err
	}
	return machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		OSArch: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(),
		RedisVersion: v, CPUModel: cpuModel(), LoadAvg: loadAvg(),
	}, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// printHeader prints the command and the machine before any figure.
func printHeader(w io.Writer, r *report) {
	m := r.Machine
	fmt.Fprintf(w, "command: %s\n", r.Command)
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d), %s, %s, %s, redis-server %s\n",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.OSArch, m.GoVersion, m.RedisVersion)
	fmt.Fprintf(w, "load:    %s (1/5/15-minute load average at the start)\n", m.LoadAvg)
	fmt.Fprintf(w, "redis:   %s\n", r.Server)
	if r.Quick {
		fmt.Fprintln(w, "mode:    -quick (short measurements; figures are rough)")
	}
	fmt.Fprintln(w)
}

// print writes the table, its notes, the command statistics when asked
// and, with -json, the whole report as JSON.
func (b *bench) print(w io.Writer) error {
	r := &b.report
	fmt.Fprintln(w, "| Measurement | Figure | Ratio to baseline | Target |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, row := range r.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", row.Name, row.Figure, ratioText(row), targetText(row))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Notes:")
	for _, row := range r.Rows {
		if row.Note != "" {
			fmt.Fprintf(w, "- %s: %s\n", row.Name, row.Note)
		}
	}
	fmt.Fprintf(w, "\ntotal time: %s; load average at the end: %s\n", r.Elapsed, r.Machine.LoadAvgEnd)
	if len(r.CmdStats) > 0 {
		fmt.Fprintln(w, "\nRedis command statistics per measurement (INFO commandstats deltas, top 4 by time):")
		for _, d := range r.CmdStats {
			fmt.Fprintf(w, "- %s: %.1fs wall, CPU redis %.1fs go %.1fs;", d.Measurement, d.WallSec, d.RedisCPUSec, d.GoCPUSec)
			for i, c := range d.Commands {
				if i == 4 {
					break
				}
				fmt.Fprintf(w, " %s %d calls %.1f us/call;", c.Name, c.Calls, c.USecPerCall)
			}
			fmt.Fprintln(w)
		}
	}
	if b.cfg.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		fmt.Fprintln(w)
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("json: %w", err)
		}
	}
	return nil
}

// ratioText renders a row's ratio column.
func ratioText(r row) string {
	switch {
	case r.Kind == "baseline":
		return "baseline"
	case r.RatioOf == "-" || r.RatioOf == "":
		return "-"
	case r.Unit == "ms":
		return fmt.Sprintf("%.1fx %s", r.Ratio, r.RatioOf)
	}
	return fmt.Sprintf("%.1f%% of %s", r.Ratio*100, r.RatioOf)
}

// targetText renders a row's target column and whether it was met.
func targetText(r row) string {
	if r.Target == "" {
		return ""
	}
	if r.Met != nil && *r.Met {
		return r.Target + ": met"
	}
	return r.Target + ": **not met**"
}

// fmtRate formats a rate with thousands separators.
func fmtRate(v float64, unit string) string { return fmtCount(int(v+0.5)) + " " + unit }

// fmtCount formats n with thousands separators: 1,000,000.
func fmtCount(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + fmtCount(-n)
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// fmtDuration prints milliseconds with two decimals, or microseconds
// below a tenth of a millisecond.
func fmtDuration(d time.Duration) string {
	if d < 100*time.Microsecond {
		return fmt.Sprintf("%d us", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
