package providertest

import (
	"sync"
	"time"
)

// DefaultWindow is the rate-limit window of a fake server whose Limits leave
// Window zero: one minute, like the real providers.
const DefaultWindow = time.Minute

// DefaultCompletionTokens is the output a fake server produces when a request
// sets no max tokens (and what it charges for it at arrival).
const DefaultCompletionTokens = 16

// Limits are the rate limits a fake server enforces. Zero means unlimited.
type Limits struct {
	// TPM is the tokens allowed in any window.
	TPM int64
	// RPM is the requests allowed in any window.
	RPM int64
	// Window is the length of the sliding window. Defaults to DefaultWindow.
	Window time.Duration
}

// Stats counts what a fake server saw. Requests counts every request that
// reached a handler; the others split it by outcome.
type Stats struct {
	// Requests is every request received.
	Requests int64
	// Completed is the requests answered with a completion.
	Completed int64
	// RateLimited is the 429s sent because a limit was reached.
	RateLimited int64
	// Injected is the requests failed on purpose by Inject.
	Injected int64
	// Rejected is the other refusals: bad signature or key, bad body.
	Rejected int64
	// TokensCharged is the tokens charged to the window in total.
	TokensCharged int64
	// PeakWindowTokens is the most tokens the window ever held; with a TPM
	// limit it never exceeds TPM.
	PeakWindowTokens int64
	// PeakWindowRequests is the most requests the window ever held.
	PeakWindowRequests int64
}

// charge is one admitted request in the sliding log.
type charge struct {
	at     time.Time
	tokens int64
}

// verdict is what the limiter decided about one request.
type verdict struct {
	ok bool
	// limit is "tokens" or "requests" when refused.
	limit string
	// wait is how long until the request would fit (refused), or until the
	// window is empty (admitted).
	wait time.Duration
	// resetTokens, resetRequests: time until the window is back to its
	// initial state for that limit.
	resetTokens, resetRequests time.Duration
	// remainingTokens, remainingRequests after the decision; -1 when
	// unlimited.
	remainingTokens, remainingRequests int64
	used                               int64
}

// limiter is a sliding-log rate limiter over tokens and requests.
type limiter struct {
	mu     sync.Mutex
	limits Limits
	log    []charge
	stats  Stats
	now    func() time.Time
}

func newLimiter(l Limits) *limiter {
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	return &limiter{limits: l, now: time.Now}
}

// admit charges tokens at arrival when both limits allow it.
func (l *limiter) admit(tokens int64) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	used := l.usedTokens()
	v := verdict{used: used}
	switch {
	case l.limits.TPM > 0 && used+tokens > l.limits.TPM:
		v.limit = "tokens"
		v.wait = l.waitForTokens(now, tokens)
	case l.limits.RPM > 0 && int64(len(l.log))+1 > l.limits.RPM:
		v.limit = "requests"
		v.wait = l.log[0].at.Add(l.limits.Window).Sub(now)
	default:
		v.ok = true
		l.log = append(l.log, charge{at: now, tokens: tokens})
		used += tokens
		l.stats.TokensCharged += tokens
		l.stats.PeakWindowTokens = max(l.stats.PeakWindowTokens, used)
		l.stats.PeakWindowRequests = max(l.stats.PeakWindowRequests, int64(len(l.log)))
	}
	if !v.ok {
		l.stats.RateLimited++
	}
	v.remainingTokens, v.remainingRequests = -1, -1
	if l.limits.TPM > 0 {
		v.remainingTokens = max(0, l.limits.TPM-used)
	}
	if l.limits.RPM > 0 {
		v.remainingRequests = max(0, l.limits.RPM-int64(len(l.log)))
	}
	if n := len(l.log); n > 0 {
		full := l.log[n-1].at.Add(l.limits.Window).Sub(now)
		v.resetTokens, v.resetRequests = full, full
	}
	if !v.ok && v.limit == "tokens" {
		v.resetTokens = v.wait
	}
	if !v.ok && v.limit == "requests" {
		v.resetRequests = v.wait
	}
	return v
}

// waitForTokens is how long until the window frees enough for tokens; a
// request larger than the whole limit gets a full window.
func (l *limiter) waitForTokens(now time.Time, tokens int64) time.Duration {
	if tokens > l.limits.TPM {
		return l.limits.Window
	}
	excess := l.usedTokens() + tokens - l.limits.TPM
	for _, c := range l.log {
		excess -= c.tokens
		if excess <= 0 {
			return c.at.Add(l.limits.Window).Sub(now)
		}
	}
	return l.limits.Window
}

func (l *limiter) prune(now time.Time) {
	cut := 0
	for cut < len(l.log) && !l.log[cut].at.Add(l.limits.Window).After(now) {
		cut++
	}
	l.log = l.log[cut:]
}

func (l *limiter) usedTokens() int64 {
	var n int64
	for _, c := range l.log {
		n += c.tokens
	}
	return n
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
