package llmqueue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxCycleSlots is the most slots one class may have in a cycle.
const maxCycleSlots = 1000

// defaultCycle is 3 low, 2 medium, 1 long: the seed's cycle.
var defaultCycle = [3]int{3, 2, 1}

// Cycle is the lease cycle's slots per class (3-2-1 by default): Low leases
// from the low queue, then Medium from the medium, then Long from the long,
// and again; an empty class gives its slots to the next.
type Cycle struct {
	Low    int `json:"low"`
	Medium int `json:"medium"`
	Long   int `json:"long"`
}

// validCycle checks that every class has 1 to 1000 slots: a
// class without a slot would starve.
func validCycle(c [3]int) error {
	for _, n := range c {
		if n < 1 || n > maxCycleSlots {
			return fmt.Errorf("%w: cycle %d,%d,%d: want 1-%d slots per class", ErrInvalidRequest,
				c[0], c[1], c[2], maxCycleSlots)
		}
	}
	return nil
}

func (c Cycle) array() [3]int { return [3]int{c.Low, c.Medium, c.Long} }

// String returns the cycle as "low,medium,long", the form Redis keeps.
func (c Cycle) String() string { return fmt.Sprintf("%d,%d,%d", c.Low, c.Medium, c.Long) }

// parseCycle reads "low,medium,long"; ok is false for anything else.
func parseCycle(spec string) (Cycle, bool) {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		return Cycle{}, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return Cycle{}, false
		}
		n[i] = v
	}
	return Cycle{Low: n[0], Medium: n[1], Long: n[2]}, true
}

func (q *QueueManager) rawCycle(ctx context.Context) (int, bool) {
	pos, ok, err := q.store.CyclePosition(ctx)
	return pos, ok && err == nil
}

// cyclePosition maps the shared position onto a cycle's class. Its short
// timeout keeps a status report from hanging on Redis.
func (q *QueueManager) cyclePosition(cycle [3]int) (int, Priority, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	pos, ok := q.rawCycle(ctx)
	total := cycle[0] + cycle[1] + cycle[2]
	if !ok || total == 0 {
		return 0, "", false
	}
	pos %= total
	switch {
	case pos < cycle[0]:
		return pos, PriorityLow, true
	case pos < cycle[0]+cycle[1]:
		return pos, PriorityMedium, true
	}
	return pos, PriorityLong, true
}
