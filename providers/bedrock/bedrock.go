// Package bedrock is a llmqueue.Processor for Amazon Bedrock's Converse API,
// built on github.com/aws/aws-sdk-go-v2/service/bedrockruntime.
//
// A request's payload is a Payload: model ID, system prompt, text messages,
// max tokens and sampling settings. The Result's Output is an Output (the
// reply's text, stop reason and usage) as JSON, and Usage is Converse's
// usage: input (not cached), output, cache reads and cache writes.
//
//	proc, err := bedrock.New(ctx, bedrock.WithRegion("us-east-1"))
//	id, err := qm.Add(ctx, llmqueue.NewRequest(bedrock.Payload{
//		ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
//		Messages:  []bedrock.Message{{Role: "user", Content: bedrock.Content{{Text: "Hi"}}}},
//		MaxTokens: 200,
//	}))
//
// Credentials and region come from the standard AWS configuration chain
// (environment, shared config and credentials files, SSO, IMDS) unless
// WithConfig, WithCredentials or WithRegion say otherwise. The SDK's own
// retries are switched off (RetryMaxAttempts = 1): the queue owns retries,
// and it has to see every throttle to pause the whole namespace.
//
// Failures map onto the queue's classes as package providers describes:
// ThrottlingException and ServiceQuotaExceededException become
// llmqueue.RateLimited (with the wait from a Retry-After header when the
// response has one); AccessDeniedException is permanent (auth);
// ValidationException and ResourceNotFoundException are permanent (bad
// request); ModelTimeoutException, ModelNotReadyException,
// ModelErrorException, ServiceUnavailableException, InternalServerException,
// other 5xx, timeouts and network errors are retryable.
//
// # How the provider counts
//
// Bedrock reserves input tokens + maxTokens from the tokens-per-minute quota
// when a call starts and settles the call to input + cache writes + output
// x the model's burndown rate when it ends (5 for Claude 3.7 Sonnet and
// later Claude models, 1 for the others): "How tokens are counted in Amazon
// Bedrock", https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html.
// The Processor declares that with llmqueue.BedrockMeter, its burndown rate
// picked from the payload's modelId (MeterFor; WithBurndownRates extends the
// table), and estimates the reservation (EstimateUsage):
//
//	input  = ceil(characters of the system prompt and messages / 4)  (or the payload's estimatedTokens)
//	output = maxTokens                                                (DefaultMaxTokens when unset)
//
// A payload without maxTokens is sent with the default, because Bedrock
// would otherwise reserve the model's whole output limit, which no
// estimate can know.
package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/llmqueue/llmqueue"
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
const providerName = "bedrock"

// ConverseAPI is the part of *bedrockruntime.Client the processor uses; tests
// may pass their own implementation to WithClient.
type ConverseAPI interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

// Processor runs Bedrock Converse calls for the queue. It implements
// llmqueue.Processor, llmqueue.Validator, llmqueue.Estimator,
// llmqueue.UsageEstimator and llmqueue.Metered (see the package doc). It is
// safe for concurrent use.
type Processor struct {
	client    ConverseAPI
	timeout   time.Duration
	maxTokens int32
	// burndown extends the burndown table; read-only after New.
	burndown map[string]float64
	// maxBurndown is the rate assumed for a model that cannot be read.
	maxBurndown float64
}

// options collects the options before New validates them.
type options struct {
	region, endpoint string
	creds            aws.CredentialsProvider
	cfg              *aws.Config
	httpClient       aws.HTTPClient
	client           ConverseAPI
	timeout          time.Duration
	maxTokens        int32
	maxTokensSet     bool
	burndown         map[string]float64
}

// Option configures a Processor.
type Option func(*options)

// WithRegion sets the AWS region, overriding AWS_REGION and the shared
// config.
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithEndpoint overrides the service endpoint (BaseEndpoint), for example a
// VPC endpoint or a test server. AWS_ENDPOINT_URL_BEDROCK_RUNTIME does the
// same from the environment.
func WithEndpoint(url string) Option { return func(o *options) { o.endpoint = url } }

// WithCredentials sets the credentials, overriding the default chain.
func WithCredentials(p aws.CredentialsProvider) Option { return func(o *options) { o.creds = p } }

// WithConfig uses cfg instead of loading the default configuration chain.
// WithRegion, WithEndpoint, WithCredentials and WithHTTPClient still apply on
// top of it.
func WithConfig(cfg aws.Config) Option { return func(o *options) { o.cfg = &cfg } }

// WithHTTPClient sets the HTTP client the SDK uses.
func WithHTTPClient(c aws.HTTPClient) Option { return func(o *options) { o.httpClient = c } }

// WithClient uses a client built by the caller (a *bedrockruntime.Client or a
// fake). It cannot be combined with the options that configure a client.
// Each call still passes RetryMaxAttempts = 1.
func WithClient(c ConverseAPI) Option { return func(o *options) { o.client = c } }

// WithTimeout limits each API call. A call that runs out of time is a
// retryable failure. Zero, the default, means the call is bounded only by the
// request's own timeout.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDefaultMaxTokens sets the output cap sent (and estimated) when a
// payload sets none. It must be positive. Defaults to DefaultMaxTokens.
func WithDefaultMaxTokens(n int32) Option {
	return func(o *options) { o.maxTokens, o.maxTokensSet = n, true }
}

// WithBurndownRates adds output burndown rates to the built-in table, for
// models it does not know yet or quotas AWS meters differently: keys are
// model-ID prefixes after any cross-Region prefix ("anthropic.claude-opus-5",
// "amazon.nova-premier"), values how many quota tokens one output token
// consumes. The longest matching prefix wins over the table. Rates must be
// positive and finite. Calls add up; a later rate for the same prefix wins.
func WithBurndownRates(rates map[string]float64) Option {
	return func(o *options) {
		if o.burndown == nil {
			o.burndown = make(map[string]float64, len(rates))
		}
		for prefix, rate := range rates {
			o.burndown[prefix] = rate
		}
	}
}

// New returns a Processor. Without WithConfig or WithClient it loads the
// default AWS configuration chain (config.LoadDefaultConfig), which reads
// files and the environment but makes no network call. It fails when no
// region is configured or the options contradict each other.
func New(ctx context.Context, opts ...Option) (*Processor, error) {
	o := options{maxTokens: DefaultMaxTokens}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("bedrock: nil option")
		}
		opt(&o)
	}
	switch {
	case o.timeout < 0:
		return nil, fmt.Errorf("bedrock: negative timeout %s", o.timeout)
	case o.maxTokensSet && o.maxTokens <= 0:
		return nil, fmt.Errorf("bedrock: default max tokens must be positive, got %d", o.maxTokens)
	}
	maxBurndown := unknownModelBurndown
	for prefix, rate := range o.burndown {
		if !(rate > 0) || math.IsInf(rate, 0) {
			return nil, fmt.Errorf("bedrock: burndown rate of %q must be positive and finite, got %v", prefix, rate)
		}
		maxBurndown = max(maxBurndown, rate)
	}
	client, err := o.buildClient(ctx)
	if err != nil {
		return nil, err
	}
	return &Processor{client: client, timeout: o.timeout, maxTokens: o.maxTokens,
		burndown: o.burndown, maxBurndown: maxBurndown}, nil
}

func (o *options) buildClient(ctx context.Context) (ConverseAPI, error) {
	if o.client != nil {
		if o.region != "" || o.endpoint != "" || o.creds != nil || o.cfg != nil || o.httpClient != nil {
			return nil, errors.New("bedrock: WithClient cannot be combined with WithRegion, WithEndpoint, WithCredentials, WithConfig or WithHTTPClient")
		}
		return o.client, nil
	}
	var cfg aws.Config
	if o.cfg != nil {
		cfg = o.cfg.Copy()
	} else {
		var loadOpts []func(*config.LoadOptions) error
		if o.region != "" {
			loadOpts = append(loadOpts, config.WithRegion(o.region))
		}
		if o.creds != nil {
			loadOpts = append(loadOpts, config.WithCredentialsProvider(o.creds))
		}
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, loadOpts...); err != nil {
			return nil, fmt.Errorf("bedrock: load AWS config: %w", err)
		}
	}
	if o.region != "" {
		cfg.Region = o.region
	}
	if cfg.Region == "" {
		return nil, errors.New("bedrock: no AWS region: use WithRegion or set AWS_REGION")
	}
	return bedrockruntime.NewFromConfig(cfg, func(bo *bedrockruntime.Options) {
		bo.RetryMaxAttempts = 1
		if o.endpoint != "" {
			bo.BaseEndpoint = aws.String(o.endpoint)
		}
		if o.creds != nil {
			bo.Credentials = o.creds
		}
		if o.httpClient != nil {
			bo.HTTPClient = o.httpClient
		}
		if bo.HTTPClient == nil {
			bo.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
				t.MaxIdleConnsPerHost = sendhook.MaxIdleConnsPerHost
			})
		}
		// The ledger counts the call from when it leaves (signed), not
		// from its lease.
		bo.HTTPClient = sendhook.Wrap(bo.HTTPClient)
	}), nil
}

// Process sends the job's payload to Converse and returns the reply. See the
// package doc for the Result and the error mapping.
func (p *Processor) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	if job == nil {
		return nil, llmqueue.Permanent(fmt.Errorf("bedrock: %w: nil job", llmqueue.ErrInvalidPayload))
	}
	payload, err := DecodePayload(job.Payload)
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	defer cancel()

	out, err := p.client.Converse(callCtx, p.input(payload), func(o *bedrockruntime.Options) {
		o.RetryMaxAttempts = 1
	})
	if err != nil {
		return nil, classify(ctx, callCtx, err)
	}
	result := toOutput(out)
	b, err := json.Marshal(result)
	if err != nil {
		return nil, llmqueue.Permanent(fmt.Errorf("bedrock: encode output: %w", err))
	}
	return &llmqueue.Result{Output: b, Usage: result.Usage.usage()}, nil
}

// Validate reports whether payload is a Payload this processor can send.
func (p *Processor) Validate(payload json.RawMessage) error {
	_, err := DecodePayload(payload)
	return err
}

// input builds the Converse request.
func (p *Processor) input(pl *Payload) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(pl.ModelID),
		InferenceConfig: &types.InferenceConfiguration{
			MaxTokens:     aws.Int32(p.maxTokensOf(pl)),
			Temperature:   pl.Temperature,
			TopP:          pl.TopP,
			StopSequences: pl.StopSequences,
		},
	}
	if pl.System != "" {
		in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: pl.System}}
	}
	for _, m := range pl.Messages {
		msg := types.Message{Role: types.ConversationRole(m.Role)}
		for _, b := range m.Content {
			msg.Content = append(msg.Content, &types.ContentBlockMemberText{Value: b.Text})
		}
		in.Messages = append(in.Messages, msg)
	}
	return in
}

// toOutput extracts the reply text and usage.
func toOutput(out *bedrockruntime.ConverseOutput) Output {
	res := Output{StopReason: string(out.StopReason)}
	if msg, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		var sb strings.Builder
		for _, block := range msg.Value.Content {
			if t, ok := block.(*types.ContentBlockMemberText); ok {
				sb.WriteString(t.Value)
			}
		}
		res.Text = sb.String()
	}
	if u := out.Usage; u != nil {
		res.Usage = OutputUsage{
			InputTokens:           int64(aws.ToInt32(u.InputTokens)),
			OutputTokens:          int64(aws.ToInt32(u.OutputTokens)),
			TotalTokens:           int64(aws.ToInt32(u.TotalTokens)),
			CacheReadInputTokens:  int64(aws.ToInt32(u.CacheReadInputTokens)),
			CacheWriteInputTokens: int64(aws.ToInt32(u.CacheWriteInputTokens)),
		}
	}
	return res
}
