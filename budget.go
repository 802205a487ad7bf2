package llmqueue

import (
	"fmt"
	"time"
)

// Budget is the provider's limits, shared by every process of a namespace;
// a zero limit is unlimited. Each usable limit is
// limit x APIAllocationPercent/100 x (1 - SafetyBufferPercent/100).
type Budget struct {
	TPM, RPM   int64 // tokens (input + output) and requests per Window
	ITPM, OTPM int64 // input and output tokens per Window (Anthropic)
	TPD, RPD   int64 // tokens and requests per 24-hour sliding window

	Window               time.Duration // of TPM, RPM, ITPM, OTPM; 0 means one minute
	SafetyBufferPercent  float64       // held back; 0 means 10, negative means none
	APIAllocationPercent float64       // share the queue may use; 0 means 100
}

// How the ledger works: a sliding log. When a request is leased
// its charge is reserved at that instant, in the script that leases it;
// after the call it is settled the way the provider's Meter settles it,
// keeping its original time, with the provider's rate-limit headers booked
// in the same step. An entry counts for one Window and then drops out, so
// a crashed worker cannot hold budget, and the lease script admits a
// request only when its charge fits under every usable limit: no span of
// Window ever holds more than the usable amount, however many processes
// share the namespace (a fixed minute or a token bucket would let up to
// twice the limit through around a boundary). The allocation keeps a share
// for traffic outside the queue; the buffer absorbs estimation error, and
// with exact estimates and the provider's Meter none is needed.

// Default budget settings.
const (
	defaultWindow               = time.Minute
	defaultSafetyBufferPercent  = 10.0
	defaultAPIAllocationPercent = 100.0
)

func (b Budget) withDefaults() Budget {
	if b.Window <= 0 {
		b.Window = defaultWindow
	}
	if b.SafetyBufferPercent == 0 {
		b.SafetyBufferPercent = defaultSafetyBufferPercent
	}
	if b.APIAllocationPercent == 0 {
		b.APIAllocationPercent = defaultAPIAllocationPercent
	}
	return b
}

// unlimited reports whether b limits nothing.
func (b Budget) unlimited() bool {
	return b.TPM == 0 && b.RPM == 0 && b.ITPM == 0 && b.OTPM == 0 && b.TPD == 0 && b.RPD == 0
}

func (b Budget) validate() error {
	for _, l := range b.limits() {
		if l.limit < 0 {
			return fmt.Errorf("llmqueue: budget: %s %d is negative", l.name, l.limit)
		}
	}
	switch {
	case b.SafetyBufferPercent >= 100:
		return fmt.Errorf("llmqueue: budget: safety buffer %.1f%% leaves nothing", b.SafetyBufferPercent)
	case b.APIAllocationPercent < 0 || b.APIAllocationPercent > 100:
		return fmt.Errorf("llmqueue: budget: API allocation %.1f%% is outside 0-100", b.APIAllocationPercent)
	}
	return nil
}

func (b Budget) usable(limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	b = b.withDefaults()
	// A negative buffer means none; it stays negative so that applying the
	// defaults twice cannot turn it into the default.
	buffer := max(b.SafetyBufferPercent, 0)
	u := float64(limit) * b.APIAllocationPercent / 100 * (1 - buffer/100)
	if u < 1 {
		return 1
	}
	return int64(u)
}

// UsableTokens returns the usable TPM, or 0 when unlimited.
func (b Budget) UsableTokens() int64 { return b.usable(b.TPM) }

// UsableRequests returns the usable RPM, or 0 when unlimited.
func (b Budget) UsableRequests() int64 { return b.usable(b.RPM) }

// UsableInputTokens returns the usable ITPM, or 0 when unlimited.
func (b Budget) UsableInputTokens() int64 { return b.usable(b.ITPM) }

// UsableOutputTokens returns the usable OTPM, or 0 when unlimited.
func (b Budget) UsableOutputTokens() int64 { return b.usable(b.OTPM) }

// UsableTokensPerDay returns the usable TPD, or 0 when unlimited.
func (b Budget) UsableTokensPerDay() int64 { return b.usable(b.TPD) }

// UsableRequestsPerDay returns the usable RPD, or 0 when unlimited.
func (b Budget) UsableRequestsPerDay() int64 { return b.usable(b.RPD) }

// limit is one dimension of a Budget.
type limit struct {
	name   string
	unit   string // what the dimension counts, for messages
	limit  int64
	usable int64
	// charge is what a request of this Charge costs in this dimension.
	charge func(Charge) int64
}

// limits lists the budget's dimensions, in the order the lease script
// reports a shortage.
func (b Budget) limits() []limit {
	one := func(Charge) int64 { return 1 }
	return []limit{
		{"TPM", "tokens", b.TPM, b.UsableTokens(), func(c Charge) int64 { return c.Tokens }},
		{"ITPM", "input tokens", b.ITPM, b.UsableInputTokens(), func(c Charge) int64 { return c.InputTokens }},
		{"OTPM", "output tokens", b.OTPM, b.UsableOutputTokens(), func(c Charge) int64 { return c.OutputTokens }},
		{"RPM", "requests", b.RPM, b.UsableRequests(), one},
		{"TPD", "tokens per day", b.TPD, b.UsableTokensPerDay(), func(c Charge) int64 { return c.Tokens }},
		{"RPD", "requests per day", b.RPD, b.UsableRequestsPerDay(), one},
	}
}

// limited reports whether any dimension has a limit.
func (b Budget) limited() bool {
	for _, l := range b.limits() {
		if l.usable > 0 {
			return true
		}
	}
	return false
}

// fits returns an error wrapping ErrOverBudget when c exceeds a usable
// limit on its own: such a request could never run.
func (b Budget) fits(c Charge) error {
	for _, l := range b.limits() {
		if l.usable > 0 && l.charge(c) > l.usable {
			return fmt.Errorf("%w: %d %s > %d usable", ErrOverBudget, l.charge(c), l.unit, l.usable)
		}
	}
	return nil
}

// ledgerWindow is how long a reservation stays in the ledger: the window
// plus 2%, because a call starts a moment after its lease; without the
// margin, two calls a little less than a window apart could both land in
// one provider window.
func (b Budget) ledgerWindow() time.Duration {
	w := b.withDefaults().Window
	return w + w/50
}

// String describes the usable budget, e.g. "90000 tokens, 0 requests per
// 1m0s (usable; 0 = unlimited)".
func (b Budget) String() string {
	// The input, output and per-day limits are named only when set.
	b = b.withDefaults()
	s := fmt.Sprintf("%d tokens, %d requests", b.UsableTokens(), b.UsableRequests())
	if b.ITPM > 0 || b.OTPM > 0 {
		s += fmt.Sprintf(", %d input tokens, %d output tokens", b.UsableInputTokens(), b.UsableOutputTokens())
	}
	s += " per " + b.Window.String()
	if b.TPD > 0 || b.RPD > 0 {
		s += fmt.Sprintf(", %d tokens, %d requests per day", b.UsableTokensPerDay(), b.UsableRequestsPerDay())
	}
	return s + " (usable; 0 = unlimited)"
}
