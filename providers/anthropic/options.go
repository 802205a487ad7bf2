package anthropic

import (
	"net/http"
	"time"

	"github.com/llmqueue/llmqueue"
)

// config collects the options before New validates them.
type config struct {
	apiKey        string
	apiKeySet     bool
	baseURL       string
	httpClient    *http.Client
	timeout       time.Duration
	estimator     llmqueue.Estimator
	tokenCounting bool
}

// Option configures a Processor.
type Option func(*config)

// WithAPIKey sets the API key. Without it the SDK's default credential chain
// applies (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, ANTHROPIC_PROFILE, ...).
// The key is never logged or put in an error.
func WithAPIKey(key string) Option {
	return func(c *config) { c.apiKey, c.apiKeySet = key, true }
}

// WithBaseURL points the client at another server speaking the Messages
// API, for example a gateway or providertest.NewAnthropicServer's BaseURL.
// The SDK appends "v1/messages". Defaults to https://api.anthropic.com
// (or ANTHROPIC_BASE_URL).
func WithBaseURL(url string) Option { return func(c *config) { c.baseURL = url } }

// WithHTTPClient sets the HTTP client the SDK uses. Defaults to the SDK's
// own client. Use WithTimeout for a per-call limit.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithTimeout limits each API call. A call that runs out of time is a
// retryable failure. Zero, the default, leaves the SDK's own limit of 10
// minutes per call, under which the SDK refuses a request whose max_tokens
// could take longer (more than about 21,000 tokens, fewer for some models):
// Validate refuses such payloads, so set WithTimeout to queue them.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithEstimator replaces the package's estimate (see the package doc) with
// e's. EstimateUsage then returns e's split when e implements
// llmqueue.UsageEstimator, else e's whole estimate as input tokens.
func WithEstimator(e llmqueue.Estimator) Option { return func(c *config) { c.estimator = e } }

// WithTokenCounting estimates a payload's input with Anthropic's
// count_tokens endpoint instead of the local character heuristic. It counts
// what the heuristic cannot (tools, images, documents) exactly, at the cost
// of one network call per estimate, that is per QueueManager.Add, bounded
// by WithTimeout (CountTokensTimeout when unset). count_tokens has its own
// rate limit; when the call fails for any reason but a refused payload, the
// estimate falls back to the heuristic rather than failing the Add.
func WithTokenCounting() Option { return func(c *config) { c.tokenCounting = true } }
