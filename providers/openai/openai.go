// Package openai is a llmqueue.Processor for OpenAI chat completions, built
// on github.com/sashabaranov/go-openai. It works with OpenAI, Azure OpenAI
// and any OpenAI-compatible server (vLLM, Ollama, LiteLLM) through
// WithBaseURL or WithClientConfig.
//
// A request's payload is an OpenAI chat-completions request body, exactly
// what the API takes: model, messages, max_tokens, temperature, tools, and
// so on. Fields go-openai does not know are dropped. Streaming is refused.
//
//	proc, err := openai.New(openai.WithAPIKey(os.Getenv("OPENAI_API_KEY")))
//	id, err := qm.Add(ctx, llmqueue.NewRequest(goopenai.ChatCompletionRequest{
//		Model:     "gpt-4o-mini",
//		Messages:  []goopenai.ChatCompletionMessage{{Role: "user", Content: "Hi"}},
//		MaxTokens: 100,
//	}))
//
// The Result's Output is the chat-completion response as JSON (decode it into
// goopenai.ChatCompletionResponse), Usage is the response's prompt and
// completion tokens, and RateLimit is read from the x-ratelimit-* headers so
// the ledger can take OpenAI's word for what is left.
//
// Failures map onto the queue's classes as package providers describes: a
// 429 becomes llmqueue.RateLimited with the wait from retry-after-ms,
// Retry-After or x-ratelimit-reset-*, and the 429's x-ratelimit-* headers in
// its Info; a 429 with code insufficient_quota (billing) is permanent.
//
// # How the provider counts
//
// OpenAI charges a call against its tokens-per-minute limit when the call
// arrives, from an estimate: "your rate limit is calculated as the maximum
// of max_tokens and the estimated number of tokens based on the character
// count of your request" (https://platform.openai.com/docs/guides/rate-limits),
// and keeps the charge for the whole window however short the reply. The
// Processor declares that with llmqueue.OpenAIMeter (MeterFor), and its
// estimate (EstimateUsage) counts the call as OpenAI will:
//
//	input  = max(cookbook count, ceil(characters of the messages' content / 4))
//	output = max(max_completion_tokens, max_tokens) x n  (DefaultMaxTokens x n when neither is set)
//
// The cookbook count is num_tokens_consumed_from_request from the OpenAI
// cookbook (api_request_parallel_processor.py), with the model's tiktoken
// encoding (tiktoken.CountTokens, from github.com/llmqueue/llmqueue/tiktoken):
// 4 per message, the tokens of each string field of the message, -1 for a
// name, and 2 for the reply. Taking the larger of the two keeps
// either rule from undercounting. Tool definitions, images and audio are not
// counted, as neither rule counts them.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/internal/ratelimit"
	"github.com/llmqueue/llmqueue/providers/internal/sendhook"
)

// Compile-time checks of the optional interfaces the queue looks for.
var (
	_ llmqueue.Processor      = (*Processor)(nil)
	_ llmqueue.Validator      = (*Processor)(nil)
	_ llmqueue.Estimator      = (*Processor)(nil)
	_ llmqueue.UsageEstimator = (*Processor)(nil)
	_ llmqueue.Metered        = (*Processor)(nil)
)

// providerName prefixes every error this package returns.
const providerName = "openai"

// Processor runs OpenAI chat completions for the queue. It implements
// llmqueue.Processor, llmqueue.Validator (Validate), llmqueue.Estimator and
// llmqueue.UsageEstimator (what OpenAI's limiter counts, see the package
// doc) and llmqueue.Metered (llmqueue.OpenAIMeter). It is safe for
// concurrent use.
type Processor struct {
	client  *goopenai.Client
	timeout time.Duration
	// estimator is WithEstimator's; nil means the package's own estimate.
	estimator        llmqueue.Estimator
	defaultMaxTokens int64
}

// config collects the options before New validates them.
type config struct {
	apiKey, baseURL, org string
	apiKeySet            bool
	httpClient           *http.Client
	clientConfig         *goopenai.ClientConfig
	client               *goopenai.Client
	timeout              time.Duration
	estimator            llmqueue.Estimator
	maxTokens            int
	maxTokensSet         bool
}

// Option configures a Processor.
type Option func(*config)

// WithAPIKey sets the API key sent as the bearer token. Without it no
// Authorization header is sent, which suits local OpenAI-compatible servers.
// The key is never logged or put in an error.
func WithAPIKey(key string) Option {
	return func(c *config) { c.apiKey, c.apiKeySet = key, true }
}

// WithBaseURL points the client at another OpenAI-compatible server, for
// example "http://localhost:11434/v1". Defaults to https://api.openai.com/v1.
func WithBaseURL(url string) Option { return func(c *config) { c.baseURL = url } }

// WithOrganization sets the OpenAI-Organization header.
func WithOrganization(org string) Option { return func(c *config) { c.org = org } }

// WithHTTPClient sets the HTTP client the SDK uses. Defaults to a new
// http.Client without a timeout; use WithTimeout for a per-call limit.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithTimeout limits each API call. A call that runs out of time is a
// retryable failure. Zero, the default, means the call is bounded only by the
// request's own timeout (the context the queue passes to Process).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithClientConfig builds the client from a go-openai ClientConfig, for Azure
// OpenAI (goopenai.DefaultAzureConfig) and other settings the options above do
// not cover. WithBaseURL, WithOrganization and WithHTTPClient still apply on
// top of it; WithAPIKey cannot, since the key is part of the config.
func WithClientConfig(cfg goopenai.ClientConfig) Option {
	return func(c *config) { c.clientConfig = &cfg }
}

// WithClient uses a go-openai client built by the caller. It cannot be
// combined with the options that configure a client.
func WithClient(client *goopenai.Client) Option { return func(c *config) { c.client = client } }

// WithEstimator replaces the package's estimate (see the package doc) with
// e's. EstimateUsage then returns e's split when e implements
// llmqueue.UsageEstimator, else e's whole estimate as input tokens.
func WithEstimator(e llmqueue.Estimator) Option { return func(c *config) { c.estimator = e } }

// WithDefaultMaxTokens sets the output allowance estimated for a request
// that sets neither max_completion_tokens nor max_tokens. It must be
// positive: OpenAI counts some allowance for every call. Defaults to
// DefaultMaxTokens. It changes only the estimate, not the request sent.
func WithDefaultMaxTokens(n int) Option {
	return func(c *config) { c.maxTokens, c.maxTokensSet = n, true }
}

// New returns a Processor. It fails when options contradict each other (a
// client together with client settings, a negative timeout).
func New(opts ...Option) (*Processor, error) {
	var c config
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("openai: nil option")
		}
		opt(&c)
	}
	switch {
	case c.timeout < 0:
		return nil, fmt.Errorf("openai: negative timeout %s", c.timeout)
	case c.maxTokensSet && c.maxTokens <= 0:
		return nil, fmt.Errorf("openai: default max tokens must be positive, got %d", c.maxTokens)
	}
	client, err := c.buildClient()
	if err != nil {
		return nil, err
	}
	maxTokens := int64(DefaultMaxTokens)
	if c.maxTokensSet {
		maxTokens = int64(c.maxTokens)
	}
	return &Processor{client: client, timeout: c.timeout, estimator: c.estimator, defaultMaxTokens: maxTokens}, nil
}

func (c *config) buildClient() (*goopenai.Client, error) {
	if c.client != nil {
		if c.apiKeySet || c.baseURL != "" || c.org != "" || c.httpClient != nil || c.clientConfig != nil {
			return nil, errors.New("openai: WithClient cannot be combined with WithAPIKey, WithBaseURL, WithOrganization, WithHTTPClient or WithClientConfig")
		}
		return c.client, nil
	}
	var cfg goopenai.ClientConfig
	if c.clientConfig != nil {
		if c.apiKeySet {
			return nil, errors.New("openai: WithAPIKey cannot be combined with WithClientConfig; the key is part of the config")
		}
		cfg = *c.clientConfig
	} else {
		cfg = goopenai.DefaultConfig(c.apiKey)
	}
	if c.baseURL != "" {
		cfg.BaseURL = c.baseURL
	}
	if c.org != "" {
		cfg.OrgID = c.org
	}
	if c.httpClient != nil {
		cfg.HTTPClient = c.httpClient
	} else if c.clientConfig == nil {
		cfg.HTTPClient = sendhook.NewClient()
	}
	// The ledger counts the call from when it leaves, not from its lease.
	cfg.HTTPClient = sendhook.Wrap(cfg.HTTPClient)
	return goopenai.NewClientWithConfig(cfg), nil
}

// Process sends the job's payload as a chat-completions request and returns
// the response. See the package doc for the Result and the error mapping.
func (p *Processor) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job == nil {
		return nil, llmqueue.Permanent(fmt.Errorf("openai: %w: nil job", llmqueue.ErrInvalidPayload))
	}
	req, err := decodeRequest(job.Payload)
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	defer cancel()

	resp, err := p.client.CreateChatCompletion(callCtx, req)
	if err != nil {
		// go-openai records the response headers before it reads an error
		// body, so resp.Header() holds the rate-limit headers of a 429.
		return nil, classify(ctx, callCtx, resp.Header(), err)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, llmqueue.Permanent(fmt.Errorf("openai: encode response: %w", err))
	}
	return &llmqueue.Result{
		Output: out,
		Usage: llmqueue.Usage{
			InputTokens:  int64(resp.Usage.PromptTokens),
			OutputTokens: int64(resp.Usage.CompletionTokens),
		},
		RateLimit: ratelimit.Info(resp.Header()),
	}, nil
}

// Validate reports whether payload is a chat-completions request this
// processor can send: valid JSON of the right shape, a model, at least one
// message, no streaming, no negative limits, and nothing go-openai's own
// reasoning-model checks refuse.
func (p *Processor) Validate(payload json.RawMessage) error {
	_, err := decodeRequest(payload)
	return err
}

// decodeRequest decodes and checks a payload. Every error wraps
// llmqueue.ErrInvalidPayload.
func decodeRequest(payload json.RawMessage) (goopenai.ChatCompletionRequest, error) {
	var req goopenai.ChatCompletionRequest
	if len(payload) == 0 {
		return req, fmt.Errorf("openai: %w: empty payload", llmqueue.ErrInvalidPayload)
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return req, fmt.Errorf("openai: %w: decode chat-completions request: %w", llmqueue.ErrInvalidPayload, err)
	}
	var problem string
	switch {
	case req.Model == "":
		problem = "model is required"
	case len(req.Messages) == 0:
		problem = "messages must not be empty"
	case req.Stream:
		problem = "stream is not supported; the queue needs the whole response"
	case req.MaxTokens < 0 || req.MaxCompletionTokens < 0:
		problem = "max_tokens must not be negative"
	case req.N < 0:
		problem = "n must not be negative"
	}
	if problem != "" {
		return req, fmt.Errorf("openai: %w: %s", llmqueue.ErrInvalidPayload, problem)
	}
	if err := goopenai.NewReasoningValidator().Validate(req); err != nil {
		return req, fmt.Errorf("openai: %w: %w", llmqueue.ErrInvalidPayload, err)
	}
	return req, nil
}
