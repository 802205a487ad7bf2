package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/llmqueue/llmqueue/providers/internal/sendhook"
	"net/http"
	"net/url"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/internal/ratelimit"
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
const providerName = "anthropic"

// Processor runs Anthropic Messages API calls for the queue. It implements
// llmqueue.Processor, llmqueue.Validator (Validate), llmqueue.Estimator and
// llmqueue.UsageEstimator (input estimate and max_tokens, see the package
// doc) and llmqueue.Metered (llmqueue.AnthropicMeter). It is safe for
// concurrent use.
type Processor struct {
	client  anthropic.Client
	timeout time.Duration
	// estimator is WithEstimator's; nil means the package's own estimate.
	estimator     llmqueue.Estimator
	tokenCounting bool
}

// New returns a Processor. It makes no network call. It fails when an
// option is invalid (an empty API key, a base URL that is not http(s), a
// negative timeout) or options contradict each other (WithEstimator with
// WithTokenCounting).
func New(opts ...Option) (*Processor, error) {
	var c config
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("anthropic: nil option")
		}
		opt(&c)
	}
	switch {
	case c.timeout < 0:
		return nil, fmt.Errorf("anthropic: negative timeout %s", c.timeout)
	case c.apiKeySet && c.apiKey == "":
		return nil, errors.New("anthropic: WithAPIKey: empty key")
	case c.estimator != nil && c.tokenCounting:
		return nil, errors.New("anthropic: WithEstimator cannot be combined with WithTokenCounting; both replace the input estimate")
	}
	// The queue owns retries: it must see every 429 to pause the whole
	// namespace, and it retries 5xx with its own backoff and retry limit.
	ropts := []option.RequestOption{option.WithMaxRetries(0)}
	if c.apiKeySet {
		ropts = append(ropts, option.WithAPIKey(c.apiKey))
	}
	if c.baseURL != "" {
		// The SDK reports a bad URL only on the first call; say it now.
		if u, err := url.Parse(c.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("anthropic: WithBaseURL: %q is not an http(s) URL", c.baseURL)
		}
		ropts = append(ropts, option.WithBaseURL(c.baseURL))
	}
	if c.httpClient != nil {
		ropts = append(ropts, option.WithHTTPClient(c.httpClient))
	} else {
		ropts = append(ropts, option.WithHTTPClient(sendhook.NewClient()))
	}
	// The ledger counts the call from when it leaves, not from its lease.
	ropts = append(ropts, option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		llmqueue.BeforeSend(r.Context())
		return next(sendhook.Trace(r))
	}))
	return &Processor{
		client:        anthropic.NewClient(ropts...),
		timeout:       c.timeout,
		estimator:     c.estimator,
		tokenCounting: c.tokenCounting,
	}, nil
}

// Process sends the job's payload as a Messages API request and returns the
// message. See the package doc for the Result and the error mapping.
func (p *Processor) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job == nil {
		return nil, llmqueue.Permanent(fmt.Errorf("%s: %w: nil job", providerName, llmqueue.ErrInvalidPayload))
	}
	req, err := p.decode(job.Payload)
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	defer cancel()

	var resp *http.Response
	// The payload is sent as it came, not as the SDK re-encodes its params:
	// the SDK's decoder drops, without an error, whatever it does not know
	// (new fields, new content block types).
	opts := append(p.timeoutOptions(),
		option.WithRequestBody("application/json", []byte(req.body)),
		option.WithResponseInto(&resp))
	msg, err := p.client.Messages.New(callCtx, req.params, opts...)
	if err != nil {
		return nil, classify(ctx, callCtx, resp, err)
	}
	out := json.RawMessage(msg.RawJSON())
	if !json.Valid(out) {
		if out, err = json.Marshal(msg); err != nil {
			return nil, llmqueue.Permanent(fmt.Errorf("%s: encode message: %w", providerName, err))
		}
	}
	res := &llmqueue.Result{
		Output: out,
		Usage: llmqueue.Usage{
			InputTokens:              msg.Usage.InputTokens,
			OutputTokens:             msg.Usage.OutputTokens,
			CacheReadInputTokens:     msg.Usage.CacheReadInputTokens,
			CacheCreationInputTokens: msg.Usage.CacheCreationInputTokens,
		},
	}
	if resp != nil {
		res.RateLimit = ratelimit.AnthropicInfo(resp.Header, time.Now())
	}
	return res, nil
}

// Validate reports whether payload is a Messages API request this processor
// can send: a JSON object with a model, a positive integer max_tokens, at
// least one message (each with a role and string or block content), no
// streaming, and a max_tokens the SDK agrees to send without streaming
// under the processor's timeout (see WithTimeout).
func (p *Processor) Validate(payload json.RawMessage) error {
	_, err := p.decode(payload)
	return err
}
