//go:build unix

package workertest

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chaos keeps a fixed number of worker processes running in slots and
// disturbs them: kill SIGKILLs one and starts a replacement in its slot;
// freeze SIGSTOPs one until thaw sends SIGCONT, so its leases expire while
// it still believes it holds them (a long GC pause or a stalled VM). It is
// driven from the test goroutine only.
type chaos struct {
	t     *testing.T
	start func(name string) *worker
	slots []*worker
	all   []*worker // every process ever started, for the record files

	kills   int
	freezes int
	frozen  int // the frozen slot, -1 for none
}

// newChaos starts n workers with start.
func newChaos(t *testing.T, n int, start func(name string) *worker) *chaos {
	c := &chaos{t: t, start: start, slots: make([]*worker, n), frozen: -1}
	for i := range c.slots {
		c.launch(i)
	}
	return c
}

func (c *chaos) launch(slot int) {
	w := c.start(fmt.Sprintf("w%d-%d", slot, len(c.all)))
	c.slots[slot], c.all = w, append(c.all, w)
}

// pick returns a random slot other than the frozen one.
func (c *chaos) pick() int {
	for {
		if s := rand.IntN(len(c.slots)); s != c.frozen {
			return s
		}
	}
}

// kill SIGKILLs a random running worker, waits until it is reaped, and
// starts a new one in its place.
func (c *chaos) kill() {
	slot := c.pick()
	w := c.slots[slot]
	w.signal(c.t, syscall.SIGKILL)
	require.Equal(c.t, -1, w.wait(c.t, 5*time.Second), "%s exit code after SIGKILL", w.name)
	c.kills++
	c.launch(slot)
}

// freeze SIGSTOPs a random worker.
func (c *chaos) freeze() {
	require.Equal(c.t, -1, c.frozen, "one frozen worker at a time")
	c.frozen = c.pick()
	c.slots[c.frozen].signal(c.t, syscall.SIGSTOP)
	c.freezes++
}

// thaw lets the frozen worker run again.
func (c *chaos) thaw() {
	c.slots[c.frozen].signal(c.t, syscall.SIGCONT)
	c.frozen = -1
}

// stop SIGTERMs every running worker and expects each to exit 0.
func (c *chaos) stop() {
	if c.frozen >= 0 {
		c.thaw()
	}
	for _, w := range c.slots {
		w.waitStarted(c.t, 10*time.Second) // before that, SIGTERM kills it
		w.signal(c.t, syscall.SIGTERM)
	}
	for _, w := range c.slots {
		require.Equal(c.t, 0, w.wait(c.t, 10*time.Second), "%s exit code after SIGTERM", w.name)
	}
}
