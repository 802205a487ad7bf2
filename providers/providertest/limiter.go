package providertest

import (
	"slices"
	"sync"
	"time"
)

// DefaultWindow is the rate-limit window of a fake server whose Limits leave
// Window zero: one minute, like the real providers.
const DefaultWindow = time.Minute

// DefaultCompletionTokens is the output a fake server produces when a request
// sets no max tokens (and what it charges for it at arrival).
const DefaultCompletionTokens = 16

// Limits are the rate limits a fake server enforces over a sliding window.
// Zero means unlimited.
type Limits struct {
	// TPM is the combined (input + output) tokens allowed in any window.
	TPM int64
	// ITPM is the input tokens allowed in any window.
	ITPM int64
	// OTPM is the output tokens allowed in any window.
	OTPM int64
	// RPM is the requests allowed in any window.
	RPM int64
	// Window is the length of the sliding window. Defaults to DefaultWindow.
	Window time.Duration
}

// dim names one metered dimension; amounts holds a count for each.
type dim int

const (
	dimTokens dim = iota
	dimInput
	dimOutput
	dimRequests
	numDims
)

type amounts [numDims]int64

// amounts is what c holds in each dimension: one request, and its tokens.
func (c Call) amounts() amounts {
	return amounts{c.Tokens, c.InputTokens, c.OutputTokens, 1}
}

func (l Limits) caps() amounts { return amounts{l.TPM, l.ITPM, l.OTPM, l.RPM} }

// verdict is the limiter's decision about a call, and the window as it
// stands after it, for the rate-limit headers.
type verdict struct {
	ok bool
	// id identifies an admitted call to settle.
	id int
	// limit is the dimension that refused the call: of those that would
	// overflow, the one that frees up last.
	limit dim
	// wait is how long until a refused call would fit, settles aside.
	wait time.Duration
	// used is what the window holds in each dimension.
	used amounts
	// remaining is the room left in each dimension; -1 when unlimited.
	remaining amounts
	// reset is how long until each dimension's window is empty again.
	reset [numDims]time.Duration
}

// limiter is a sliding-log rate limiter over tokens, input tokens, output
// tokens and requests. A call is admitted when it fits every limited
// dimension in every window that holds its arrival; it then stays in the
// window for exactly Window after its arrival. Its charge may be settled,
// up or down, while it is there, the way Bedrock and Anthropic adjust a
// reservation when the reply ends.
//
// A call's arrival is when its first bytes were read (see arrival), a
// little before its handler asks the limiter: on a busy machine that lag
// reached 150 ms, and calls reach the limiter in a different order than
// they arrived. The log keeps each call at its true arrival, sorted, and
// judges a call by the windows around that arrival, not around the
// moment its handler got to it: the same windows a test's BusiestWindow
// measures. (Moving a late-judged call to the latest arrival instead
// counted it up to 150 ms longer than it was there, which the queue's
// 100 ms margin in the meter runs was then blamed for.)
type limiter struct {
	mu     sync.Mutex
	limits Limits
	// calls is every admitted call, sorted by arrival; calls[head:] are
	// the window as of the last prune, and used is their sum.
	calls []*Call
	head  int
	used  amounts
	// byID is every admitted call in admission order; a verdict's id
	// indexes it.
	byID  []*Call
	stats Stats
	now   func() time.Time
}

func newLimiter(l Limits) *limiter {
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	return &limiter{limits: l, now: time.Now}
}

// admit records c when every limited dimension has room for it in every
// window that holds its arrival. c.At is when the request arrived (see
// arrival); zero or later than now means now. A refused call costs
// nothing.
func (l *limiter) admit(c Call) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	if c.At.IsZero() || c.At.After(now) {
		c.At = now
	}
	want, caps := c.amounts(), l.limits.caps()
	peak := l.peakAround(c.At)
	var v verdict
	refused := false
	for d := range numDims {
		if caps[d] <= 0 || peak[d]+want[d] <= caps[d] {
			continue
		}
		if w := l.waitFor(d, want[d], now); !refused || w > v.wait {
			v.limit, v.wait = d, w
		}
		refused = true
	}
	if refused {
		l.stats.RateLimited++
	} else {
		v.ok, v.id = true, len(l.byID)
		l.insert(&c, now)
		l.stats.TokensCharged += c.Tokens
	}
	l.fill(&v, now)
	return v
}

// peakAround is, in each dimension, the most that any window holding t
// holds: the spans [x, x+Window) for x in (t-Window, t]. Such a sum is
// largest when x is a call's arrival (or t itself), so only those are
// tried.
func (l *limiter) peakAround(t time.Time) amounts {
	w := l.limits.Window
	first := l.firstAfter(t.Add(-w))
	var peak, sum amounts
	end := first
	try := func(x time.Time) {
		for end < len(l.calls) && l.calls[end].At.Before(x.Add(w)) {
			sum = sum.plus(l.calls[end].amounts())
			end++
		}
		for d := range numDims {
			peak[d] = max(peak[d], sum[d])
		}
	}
	for i := first; i < len(l.calls) && !l.calls[i].At.After(t); i++ {
		try(l.calls[i].At)
		sum = sum.minus(l.calls[i].amounts()) // end > i: the window at calls[i] holds it
	}
	try(t)
	return peak
}

// firstAfter is the index in the log of the first call that arrived
// after t (len(calls) when none did).
func (l *limiter) firstAfter(t time.Time) int {
	i, _ := slices.BinarySearchFunc(l.calls, t, func(c *Call, at time.Time) int {
		if c.At.After(at) {
			return 1
		}
		return -1
	})
	return i
}

// insert puts c into the log at its arrival and, when it is still in the
// window at now, into the window's sum.
func (l *limiter) insert(c *Call, now time.Time) {
	i := l.firstAfter(c.At)
	l.calls = slices.Insert(l.calls, i, c)
	l.byID = append(l.byID, c)
	if i < l.head {
		l.head++ // arrived so long ago that it has already left the window
		return
	}
	l.add(c.amounts())
}

// settle changes the charge of admitted call id to c; it keeps its arrival
// time. A call that already left the window changes only its record.
func (l *limiter) settle(id int, c Call) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	p := l.byID[id]
	old := *p
	c.At = old.At
	*p = c
	l.stats.TokensCharged += c.Tokens - old.Tokens
	if c.At.Add(l.limits.Window).After(now) {
		l.add(c.amounts().minus(old.amounts()))
	}
	v := verdict{ok: true, id: id}
	l.fill(&v, now)
	return v
}

func (a amounts) plus(b amounts) amounts {
	for d := range numDims {
		a[d] += b[d]
	}
	return a
}

func (a amounts) minus(b amounts) amounts {
	for d := range numDims {
		a[d] -= b[d]
	}
	return a
}

// add books delta into the window and raises the peaks; a settle-up can
// raise them as much as an arrival can.
func (l *limiter) add(delta amounts) {
	l.used = l.used.plus(delta)
	st := &l.stats
	st.PeakWindowTokens = max(st.PeakWindowTokens, l.used[dimTokens])
	st.PeakWindowInputTokens = max(st.PeakWindowInputTokens, l.used[dimInput])
	st.PeakWindowOutputTokens = max(st.PeakWindowOutputTokens, l.used[dimOutput])
	st.PeakWindowRequests = max(st.PeakWindowRequests, l.used[dimRequests])
}

// waitFor is how long until dimension d has room for need, as the oldest
// calls leave; a call larger than the whole limit gets a full window.
func (l *limiter) waitFor(d dim, need int64, now time.Time) time.Duration {
	limit := l.limits.caps()[d]
	if need > limit {
		return l.limits.Window
	}
	excess := l.used[d] + need - limit
	for _, c := range l.calls[l.head:] {
		excess -= c.amounts()[d]
		if excess <= 0 {
			return c.At.Add(l.limits.Window).Sub(now)
		}
	}
	return l.limits.Window
}

// fill completes v with the window's state at now.
func (l *limiter) fill(v *verdict, now time.Time) {
	caps := l.limits.caps()
	v.used = l.used
	for d := range numDims {
		v.remaining[d] = -1
		if caps[d] > 0 {
			v.remaining[d] = max(0, caps[d]-l.used[d])
		}
		for i := len(l.calls) - 1; i >= l.head; i-- {
			if l.calls[i].amounts()[d] != 0 {
				v.reset[d] = l.calls[i].At.Add(l.limits.Window).Sub(now)
				break
			}
		}
	}
}

// prune drops the calls whose window has passed.
func (l *limiter) prune(now time.Time) {
	for l.head < len(l.calls) && !l.calls[l.head].At.Add(l.limits.Window).After(now) {
		l.used = l.used.minus(l.calls[l.head].amounts())
		l.head++
	}
}

// count applies f to the stats under the lock.
func (l *limiter) count(f func(*Stats)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.stats)
}

// snapshot returns a copy of the stats.
func (l *limiter) snapshot() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// record returns a copy of every admitted call, by arrival.
func (l *limiter) record() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Call, len(l.calls))
	for i, c := range l.calls {
		out[i] = *c
	}
	return out
}
