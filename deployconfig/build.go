package deployconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/anthropic"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/openai"
)

// Budget returns the deployment's limits as an llmqueue.Budget.
func (s Spec) Budget() llmqueue.Budget {
	l := s.Limits
	b := llmqueue.Budget{TPM: l.TPM, RPM: l.RPM, ITPM: l.ITPM, OTPM: l.OTPM, TPD: l.TPD, RPD: l.RPD,
		Window: time.Duration(l.Window)}
	if p := l.SafetyBufferPercent; p != nil {
		b.SafetyBufferPercent = *p
		if *p == 0 {
			b.SafetyBufferPercent = -1 // none, as LLM_QUEUE_SAFETY_BUFFER_PERCENT=0 means
		}
	}
	return b
}

// Deployment builds the deployment s describes: its provider's adapter,
// behind Translate so that the deployment's model and payload shape are
// the ones its provider takes. getenv reads the API key's variable. It
// does not check s; Validate does.
func (s Spec) Deployment(getenv func(string) string) (llmqueue.Deployment, error) {
	var (
		proc llmqueue.Processor
		err  error
	)
	switch s.Provider {
	case OpenAI:
		opts := []openai.Option{openai.WithAPIKey(getenv(s.APIKeyEnv))}
		if s.BaseURL != "" {
			opts = append(opts, openai.WithBaseURL(s.BaseURL))
		}
		if s.Organization != "" {
			opts = append(opts, openai.WithOrganization(s.Organization))
		}
		if s.Timeout > 0 {
			opts = append(opts, openai.WithTimeout(time.Duration(s.Timeout)))
		}
		proc, err = openai.New(opts...)
	case Anthropic:
		opts := []anthropic.Option{anthropic.WithAPIKey(getenv(s.APIKeyEnv))}
		if s.BaseURL != "" {
			opts = append(opts, anthropic.WithBaseURL(s.BaseURL))
		}
		if s.Timeout > 0 {
			opts = append(opts, anthropic.WithTimeout(time.Duration(s.Timeout)))
		}
		proc, err = anthropic.New(opts...)
	case Bedrock:
		opts := []bedrock.Option{bedrock.WithRegion(s.Region)}
		if s.Endpoint != "" {
			opts = append(opts, bedrock.WithEndpoint(s.Endpoint))
		}
		if s.Timeout > 0 {
			opts = append(opts, bedrock.WithTimeout(time.Duration(s.Timeout)))
		}
		proc, err = bedrock.New(context.Background(), opts...)
	default:
		err = fmt.Errorf("%w %q", ErrUnknownProvider, s.Provider)
	}
	if err != nil {
		return llmqueue.Deployment{}, err
	}
	return llmqueue.Deployment{
		Name:               s.Name,
		Model:              s.Model,
		Budget:             s.Budget(),
		Processor:          Translate(proc, s.Provider, s.Model),
		Concurrency:        s.Concurrency,
		Fallback:           s.Fallback,
		DailySpendLimitUSD: s.DailySpendLimitUSD,
	}, nil
}

// translated is a provider's Processor behind the payload rewrite of its
// deployment. It answers the optional interfaces the Router's worker looks
// up (Metered, ErrorClassifier) and those a manager asks at Add
// (Validator, Estimator, UsageEstimator) on the rewritten payload.
type translated struct {
	next            llmqueue.Processor
	provider, model string
}

// Translate returns p behind the rewrite that makes a queued payload the
// one provider takes for model: the model replaced ("model", or "modelId"
// for Bedrock), and a payload in OpenAI's chat-completions shape turned
// into Bedrock's Converse payload or an Anthropic Messages body. A payload
// that cannot be rewritten is a permanent failure wrapping
// llmqueue.ErrInvalidPayload.
func Translate(p llmqueue.Processor, provider, model string) llmqueue.Processor {
	return &translated{next: p, provider: provider, model: model}
}

func (t *translated) rewrite(payload json.RawMessage) (json.RawMessage, error) {
	out, err := rewritePayload(payload, t.provider, t.model)
	if err != nil {
		return nil, fmt.Errorf("deployconfig: %s: %w: %w", t.provider, llmqueue.ErrInvalidPayload, err)
	}
	return out, nil
}

// Process rewrites the job's payload and runs it on the provider.
func (t *translated) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	payload, err := t.rewrite(job.Payload)
	if err != nil {
		return nil, llmqueue.Permanent(err)
	}
	j := *job
	j.Payload = payload
	return t.next.Process(ctx, &j)
}

// MeterFor is the provider's meter for the rewritten payload.
func (t *translated) MeterFor(payload json.RawMessage) llmqueue.Meter {
	m, ok := t.next.(llmqueue.Metered)
	if !ok {
		return nil
	}
	if p, err := t.rewrite(payload); err == nil {
		payload = p
	}
	return m.MeterFor(payload)
}

// Validate checks the rewritten payload as the provider would.
func (t *translated) Validate(payload json.RawMessage) error {
	p, err := t.rewrite(payload)
	if err != nil {
		return err
	}
	if v, ok := t.next.(llmqueue.Validator); ok {
		return v.Validate(p)
	}
	return nil
}

// EstimateTokens estimates the rewritten payload as the provider would.
func (t *translated) EstimateTokens(payload json.RawMessage) (int64, error) {
	p, err := t.rewrite(payload)
	if err != nil {
		return 0, err
	}
	if e, ok := t.next.(llmqueue.Estimator); ok {
		return e.EstimateTokens(p)
	}
	return 0, nil
}

// EstimateUsage splits the estimate of the rewritten payload as the
// provider would.
func (t *translated) EstimateUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	p, err := t.rewrite(payload)
	if err != nil {
		return llmqueue.Usage{}, err
	}
	if e, ok := t.next.(llmqueue.UsageEstimator); ok {
		return e.EstimateUsage(p)
	}
	return llmqueue.Usage{}, nil
}

// ClassifyError is the provider's, when it has one.
func (t *translated) ClassifyError(err error) error {
	if c, ok := t.next.(llmqueue.ErrorClassifier); ok {
		return c.ClassifyError(err)
	}
	return nil
}
