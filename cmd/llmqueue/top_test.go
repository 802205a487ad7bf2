package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// topNumbers reads from a top frame the numbers stats --json gives too.
func topNumbers(t *testing.T, frame string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for key, re := range map[string]string{
		"low": `QUEUED\s+low (\d+)`, "medium": `medium (\d+)`, "long": `long (\d+)`, "queued": `total (\d+)`,
		"active": `active (\d+)`, "scheduled": `scheduled (\d+)`, "suspended": `suspended (\d+)`, "dead": `   dead (\d+)`,
		"tokens_used": `tokens\s+\[[#.!]+\] (\d+) / \d+`, "tokens_usable": `tokens\s+\[[#.!]+\] \d+ / (\d+)`,
		"requests_used": `requests\s+\[[#.!]+\] (\d+) / \d+`, "requests_usable": `requests\s+\[[#.!]+\] \d+ / (\d+)`,
		"completed_per_min": `completed/min (\d+)`, "workers": `WORKERS \((\d+) live\)`,
		"done": `done (\d+) / \d+`, "total": `done \d+ / (\d+)`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(frame)
		require.NotNil(t, m, "%s (%s) not in frame:\n%s", key, re, frame)
		n, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		got[key] = n
	}
	return got
}

// statsNumbers is what topNumbers should find, from stats --json.
func statsNumbers(d *statsDoc) map[string]int64 {
	return map[string]int64{
		"low": d.Classes[0].Queued, "medium": d.Classes[1].Queued, "long": d.Classes[2].Queued, "queued": d.Queued,
		"active": d.Active, "scheduled": d.Scheduled, "suspended": d.Suspended, "dead": d.Dead,
		"tokens_used": d.Budget[0].Used, "tokens_usable": d.Budget[0].Usable,
		"requests_used": d.Budget[3].Used, "requests_usable": d.Budget[3].Usable,
		"completed_per_min": d.LastMinute.Completed, "workers": int64(d.Workers),
		"done":  d.Totals.Completed + d.Totals.Failed + d.Totals.Canceled,
		"total": d.Totals.Completed + d.Totals.Failed + d.Totals.Canceled + d.Queued + d.Active + d.Scheduled,
	}
}

func TestTop_OnceMatchesStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var d statsDoc
	f.runJSON(t, &d, "stats", "--json")

	r := f.run(t, "top", "--once")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, statsNumbers(&d), topNumbers(t, r.stdout))
	assert.Contains(t, r.stdout, "namespace clitest (PAUSED)")
	assert.Contains(t, r.stdout, "since the namespace began")
	assert.Regexp(t, `(?m)^  `+workerID+`\s+\S+\s+\d+\s+\d/4\s+\d+\s+\S+$`, r.stdout)
	assert.NotContains(t, r.stdout, "\x1b[")

	var doc topDoc
	f.runJSON(t, &doc, "top", "--once", "--json")
	assert.Equal(t, d.Queued, doc.Stats.Queued)
	assert.Equal(t, "namespace", doc.Batch.Since)
	assert.Equal(t, int64(3), doc.Batch.Done)      // completed, dead, canceled
	assert.Equal(t, int64(6), doc.Batch.Remaining) // 4 queued, 1 active, 1 scheduled
	assert.Equal(t, int64(9), doc.Batch.Total)
	assert.Equal(t, int64(3), doc.Batch.PerMinute)
	require.NotNil(t, doc.Batch.ETASeconds)
	assert.InDelta(t, 120, *doc.Batch.ETASeconds, 0.001) // 6 left at 3/min
	require.Len(t, doc.Workers, 1)
	assert.Equal(t, workerID, doc.Workers[0].ID)

	f.runJSON(t, &doc, "top", "--once", "--json", "--since", "top")
	assert.Equal(t, int64(0), doc.Batch.Done)
}

// tmux runs tmux on its own server (socket name sock).
func tmux(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", append([]string{"-L", sock}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestTop_LiveInTmuxMatchesStats(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("LLMQUEUE_REQUIRE_TMUX") == "" {
			t.Skip("tmux not installed (set LLMQUEUE_REQUIRE_TMUX=1 to fail instead)")
		}
		t.Fatalf("LLMQUEUE_REQUIRE_TMUX is set but tmux is missing: %v", err)
	}
	f := newFixture(t)
	var d statsDoc
	f.runJSON(t, &d, "stats", "--json")

	sock := fmt.Sprintf("llmqueue-top-%d-%d", os.Getpid(), time.Now().UnixNano())
	shell := "env -i " + strings.Join(append(f.env, "TERM=xterm-256color"), " ") + " " + binary + " top --interval 200ms"
	_, err := tmux(t, sock, "new-session", "-d", "-s", "top", "-x", "160", "-y", "50", shell)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = tmux(t, sock, "kill-session", "-t", "top")
		_, _ = tmux(t, sock, "kill-server")
	})

	// Wait for a frame drawn after at least one refresh: the clock changes.
	var frame string
	clock := regexp.MustCompile(`\d\d:\d\d:\d\d`)
	first := ""
	require.Eventually(t, func() bool {
		out, err := tmux(t, sock, "capture-pane", "-p", "-t", "top")
		if err != nil || !strings.Contains(out, "WORKERS (") {
			return false
		}
		frame = out
		now := clock.FindString(out)
		if first == "" {
			first = now
		}
		return now != first
	}, 10*time.Second, 100*time.Millisecond, "no refreshed frame; last:\n%s", frame)
	assert.Equal(t, statsNumbers(&d), topNumbers(t, frame), frame)
	assert.NotContains(t, frame, "\x1b", "the pane shows the drawing, not escape codes")

	_, err = tmux(t, sock, "send-keys", "-t", "top", "q")
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		_, err := tmux(t, sock, "has-session", "-t", "top")
		return err != nil // the command quit and its session ended
	}, 5*time.Second, 100*time.Millisecond, "top did not quit on q")
}
