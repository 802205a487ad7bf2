package llmqueue

import (
	"fmt"
	"time"
)

// Budget is the token and request budget that every process of a namespace
// shares.
//
// The ledger is a sliding log: when a request is leased, its estimated
// tokens are reserved at that instant, in the same atomic script that
// leases it; after the call, the reservation is reconciled to the real usage
// the Processor reported (a refund, or a charge for the difference),
// keeping its original time. An entry counts for one Window and then drops
// out, so a crashed worker cannot hold budget. The lease script admits a
// request only when its estimate fits under the usable limit, so no span of
// Window ever holds more than the usable tokens or requests, however many
// processes share the namespace. A fixed minute or a token bucket would
// let up to twice the limit through around a boundary.
//
// Usable = limit x APIAllocationPercent/100 x (1 - SafetyBufferPercent/100).
// The allocation keeps a share of the provider's limit for traffic that
// does not go through the queue; the buffer absorbs estimation error.
//
// The zero value means no limit at all.
type Budget struct {
	// TPM is the provider's token limit per Window. 0 means unlimited.
	TPM int64
	// RPM is the provider's request limit per Window. 0 means unlimited.
	RPM int64
	// Window is the length of the sliding window. Defaults to one minute;
	// tests use a second or two.
	Window time.Duration
	// SafetyBufferPercent is held back from the allocation. Defaults to 10;
	// set a negative value for no buffer.
	SafetyBufferPercent float64
	// APIAllocationPercent is the share of the limit the queue may use.
	// Defaults to 100.
	APIAllocationPercent float64
}

// Default budget settings.
const (
	DefaultWindow               = time.Minute
	DefaultSafetyBufferPercent  = 10.0
	DefaultAPIAllocationPercent = 100.0
)

func (b Budget) withDefaults() Budget {
	if b.Window <= 0 {
		b.Window = DefaultWindow
	}
	if b.SafetyBufferPercent == 0 {
		b.SafetyBufferPercent = DefaultSafetyBufferPercent
	}
	if b.APIAllocationPercent == 0 {
		b.APIAllocationPercent = DefaultAPIAllocationPercent
	}
	return b
}

func (b Budget) validate() error {
	switch {
	case b.TPM < 0:
		return fmt.Errorf("llmqueue: budget: TPM %d is negative", b.TPM)
	case b.RPM < 0:
		return fmt.Errorf("llmqueue: budget: RPM %d is negative", b.RPM)
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

// UsableTokens returns the tokens the queue may reserve per Window, or 0
// when tokens are unlimited.
func (b Budget) UsableTokens() int64 { return b.usable(b.TPM) }

// UsableRequests returns the requests the queue may start per Window, or 0
// when requests are unlimited.
func (b Budget) UsableRequests() int64 { return b.usable(b.RPM) }

// ledgerWindow is how long a reservation stays in the ledger: the window
// plus 2%, because a call starts a moment after its lease; without the
// margin, two calls a little less than a window apart could both land in
// one provider window.
func (b Budget) ledgerWindow() time.Duration {
	w := b.withDefaults().Window
	return w + w/50
}

// String describes the budget, e.g. "90000 tokens, 0 requests per 1m0s".
func (b Budget) String() string {
	b = b.withDefaults()
	return fmt.Sprintf("%d tokens, %d requests per %s (usable; 0 = unlimited)",
		b.UsableTokens(), b.UsableRequests(), b.Window)
}
