package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/llmqueue/llmqueue"
)

// progress prints where a batch run stands each time a request finishes:
// done/total, the rate, tokens per minute and an ETA for the rest at the
// rate so far.
type progress struct {
	out    io.Writer
	outMu  *sync.Mutex // held while writing to out, which the processor writes too
	total  int
	start  time.Time
	done   int
	tokens int64
}

func newProgress(out io.Writer, outMu *sync.Mutex, total int) *progress {
	return &progress{out: out, outMu: outMu, total: total, start: time.Now()}
}

// finished counts st and prints the progress line.
func (p *progress) finished(st *llmqueue.RequestStatus) {
	p.done++
	p.tokens += st.Usage.Total()
	p.outMu.Lock()
	defer p.outMu.Unlock()
	fmt.Fprintln(p.out, p.line(time.Since(p.start)))
}

// line formats the progress after elapsed.
func (p *progress) line(elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 1e-3)
	rate := float64(p.done) / secs
	eta := "-"
	if left := p.total - p.done; left == 0 {
		eta = "0s"
	} else if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("           progress %d/%d done | %.1f req/s | %.0f tokens/min | ETA %s",
		p.done, p.total, rate, float64(p.tokens)/secs*60, eta)
}
