package providers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// meterWindow is the fake providers' window in the meter acceptance runs.
// The ledger holds a reservation 2% longer than the window, to cover the
// way from the lease to the provider; 5 s gives that 100 ms, enough for 8
// race-instrumented worker processes on a loaded 2-core machine (3 s, 60
// ms, was not: a few calls that an SDK spent that long encoding arrived
// after their reservation's margin).
const meterWindow = 5 * time.Second

// meterProviders are the built-in meters' providers.
var meterProviders = []string{"openai", "bedrock", "anthropic"}

// meterCase is a run at the provider's limit with a saturating backlog:
// large enough limits that one request is a small share of a window, as in
// production, and a backlog that outlasts the run.
func meterCase(provider string, procs int, buffer float64, backend redistest.Backend) meterRun {
	r := meterRun{provider: provider, procs: procs, buffer: buffer, windows: 4, n: 1100, backend: backend,
		limits: providertest.Limits{TPM: 200_000, RPM: 2_000, Window: meterWindow}, bind: "tokens"}
	if provider == "anthropic" {
		// Anthropic limits input and output tokens separately; input binds.
		r.limits = providertest.Limits{ITPM: 120_000, OTPM: 1_000_000, RPM: 2_000, Window: meterWindow}
		r.bind = "input"
	}
	return r
}

// atTheLimit checks a run at the provider's limit: no 429, no window over
// the limit, and at least minUtil of it used.
func atTheLimit(minUtil float64) func(*testing.T, meterResult) {
	return func(t *testing.T, res meterResult) {
		assert.Zero(t, res.stats.RateLimited, "429s")
		assert.LessOrEqual(t, res.busiest, 1.0, "busiest window ÷ limit")
		assert.GreaterOrEqual(t, res.util, minUtil, "steady utilization")
	}
}

// Acceptance: 1, 2, 4 and 8 worker OS processes per provider, the queue's
// limits equal to the server's, no safety buffer, exact estimates: no 429
// over 4 windows after the first, no window over the limit, and at least
// 95% of the limit used.
func TestMeter_ZeroRateLimitsAtTheProviderLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 12 x 25 s")
	}
	t.Parallel()
	var cases []namedRun
	for _, provider := range meterProviders {
		for _, procs := range []int{1, 2, 4, 8} {
			cases = append(cases, namedRun{fmt.Sprintf("%s/%dprocs", provider, procs),
				meterCase(provider, procs, -1, redistest.Real)})
		}
	}
	runConcurrently(t, cases, atTheLimit(0.95))
}

// Acceptance: the same on miniredis, which runs the scripts with
// gopher-lua, and with the default 10% safety buffer.
func TestMeter_ZeroRateLimitsOnMiniredisAndWithTheDefaultBuffer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 6 x 25 s")
	}
	t.Parallel()
	var mini, buffered []namedRun
	for _, provider := range meterProviders {
		mini = append(mini, namedRun{provider + "/miniredis", meterCase(provider, 2, -1, redistest.Mini)})
		buffered = append(buffered, namedRun{provider + "/default-buffer", meterCase(provider, 4, 0, redistest.Real)})
	}
	// One miniredis run at a time: miniredis serves each run from inside
	// this test process, interpreting every script call, and three at
	// once beside another busy `go test` left one run short of the floor
	// (94.9%). The real-Redis runs of the other tests still fill the
	// remaining slots meanwhile.
	for _, c := range mini {
		runConcurrently(t, []namedRun{c}, atTheLimit(0.95))
	}
	runConcurrently(t, buffered, atTheLimit(0.85))
}

// Acceptance: Anthropic with output tokens binding. Output is reserved at
// max_tokens when a call arrives and settled to the real output (half of
// it here) when it ends, so the ledger frees the difference as Anthropic
// does and the queue keeps OTPM full.
func TestMeter_AnthropicOutputTokensBind(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 25 s")
	}
	t.Parallel()
	r := meterRun{provider: "anthropic", procs: 4, buffer: -1, windows: 4, n: 1100, backend: redistest.Real,
		limits: providertest.Limits{ITPM: 2_000_000, OTPM: 100_000, RPM: 2_000, Window: meterWindow}, bind: "output"}
	runConcurrently(t, []namedRun{{"otpm", r}}, func(t *testing.T, res meterResult) {
		assert.Zero(t, res.stats.RateLimited, "429s")
		assert.GreaterOrEqual(t, res.util, 0.95, "steady OTPM utilization")
	})
}

// Acceptance: a provider whose limit is 20% below the queue's answers 429s.
// Each 429 releases what the provider did not charge and books what its
// headers say it counted, so every request completes without spending a
// retry, and the ledger never holds more than the queue's limit.
func TestMeter_RateLimitReleasesWhatTheProviderDidNotCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 15 s")
	}
	parallelRun(t)
	queue := providertest.Limits{TPM: 100_000, RPM: 2_000, Window: meterWindow}
	r := meterRun{provider: "openai", procs: 2, buffer: -1, n: 150, backend: redistest.Real, drain: true,
		limits: providertest.Limits{TPM: 80_000, RPM: 2_000, Window: meterWindow}, queueLimits: &queue,
		bind: "tokens", maxRetries: -1}
	res, qm, ids := r.run(t)
	assert.Positive(t, res.stats.RateLimited, "the server's lower limit answered 429s")
	assert.LessOrEqual(t, res.peakLedger, r.budget().UsableTokens(), "tokens in the ledger")
	for _, id := range ids {
		st, err := qm.Status(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, llmqueue.StatusCompleted, st.Status, "%s: %s", id, st.Error)
		assert.Equal(t, 1, st.Attempts, "%s: a 429 spends no retry", id)
	}
}
