package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// cmdStats is INFO commandstats (calls and microseconds per command) and
// the CPU time Redis and this process had used, at one moment.
type cmdStats struct {
	cmds     map[string]cmdStat
	redisCPU time.Duration
	goCPU    time.Duration
	at       time.Time
}

// cmdStat is one command's counters.
type cmdStat struct{ calls, usec int64 }

// cmdDelta is what one measurement cost: Redis commands, most time
// first, and the CPU seconds Redis and this process spent over its wall
// seconds (on a 2-CPU machine, 2 CPU seconds per second is everything).
type cmdDelta struct {
	Measurement string       `json:"measurement"`
	WallSec     float64      `json:"wall_sec"`
	RedisCPUSec float64      `json:"redis_cpu_sec"`
	GoCPUSec    float64      `json:"go_cpu_sec"`
	Commands    []cmdCounter `json:"commands"`
}

// cmdCounter is one command's share of a measurement.
type cmdCounter struct {
	Name        string  `json:"name"`
	Calls       int64   `json:"calls"`
	USec        int64   `json:"usec"`
	USecPerCall float64 `json:"usec_per_call"`
}

// readCmdStats reads INFO commandstats. The server's statistics are
// compared, never reset, so a shared server is left as it was.
func readCmdStats(ctx context.Context, rdb *redis.Client) (cmdStats, error) {
	info, err := rdb.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return cmdStats{}, fmt.Errorf("info commandstats: %w", err)
	}
	out := cmdStats{cmds: map[string]cmdStat{}, goCPU: processCPU(), at: time.Now()}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			sec, _ := strconv.ParseFloat(rest, 64)
			out.redisCPU += time.Duration(sec * float64(time.Second))
			continue
		}
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		var st cmdStat
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.calls = n
			case "usec":
				st.usec = n
			}
		}
		out.cmds[name] = st
	}
	return out, nil
}

// diffCmdStats returns the commands that ran between two readings.
func diffCmdStats(name string, before, after cmdStats) cmdDelta {
	d := cmdDelta{Measurement: name, WallSec: after.at.Sub(before.at).Seconds(),
		RedisCPUSec: (after.redisCPU - before.redisCPU).Seconds(), GoCPUSec: (after.goCPU - before.goCPU).Seconds()}
	for cmd, a := range after.cmds {
		calls, usec := a.calls-before.cmds[cmd].calls, a.usec-before.cmds[cmd].usec
		if calls <= 0 {
			continue
		}
		d.Commands = append(d.Commands, cmdCounter{Name: cmd, Calls: calls, USec: usec,
			USecPerCall: float64(usec) / float64(calls)})
	}
	slices.SortFunc(d.Commands, func(x, y cmdCounter) int { return int(y.USec - x.USec) })
	return d
}
