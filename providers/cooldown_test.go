package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/llmqueue/llmqueue/providers/bedrock"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// coolDownCase is one adapter in the cool-down test.
type coolDownCase struct {
	name string
	// start returns a processor on a fake server that answers its first
	// call with a 429, and the wait the queue must honour.
	start   func(t *testing.T) (llmqueue.Processor, time.Duration)
	payload func(i, maxTokens int) json.RawMessage
}

func coolDownCases() []coolDownCase {
	return []coolDownCase{
		{
			name: "openai/retry-after-ms",
			start: func(t *testing.T) (llmqueue.Processor, time.Duration) {
				srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{})
				t.Cleanup(srv.Close)
				srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit, Header: http.Header{"Retry-After-Ms": {"800"}}})
				p, err := openai.New(openai.WithBaseURL(srv.BaseURL()))
				require.NoError(t, err)
				return p, 800 * time.Millisecond
			},
			payload: openAIPayload,
		},
		{
			name: "openai/reset-tokens",
			start: func(t *testing.T) (llmqueue.Processor, time.Duration) {
				srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{})
				t.Cleanup(srv.Close)
				srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit, Header: http.Header{
					"X-Ratelimit-Reset-Tokens": {"900ms"}, "X-Ratelimit-Remaining-Tokens": {"0"}}})
				p, err := openai.New(openai.WithBaseURL(srv.BaseURL()))
				require.NoError(t, err)
				return p, 900 * time.Millisecond
			},
			payload: openAIPayload,
		},
		{
			name: "bedrock/retry-after",
			start: func(t *testing.T) (llmqueue.Processor, time.Duration) {
				srv := providertest.NewBedrockServer(providertest.BedrockOptions{})
				t.Cleanup(srv.Close)
				srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit, Header: http.Header{"Retry-After": {"1"}}})
				p, err := bedrock.New(context.Background(), bedrock.WithEndpoint(srv.URL),
					bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}))
				require.NoError(t, err)
				return p, time.Second
			},
			payload: bedrockPayload,
		},
		{
			name: "bedrock/no-header",
			start: func(t *testing.T) (llmqueue.Processor, time.Duration) {
				srv := providertest.NewBedrockServer(providertest.BedrockOptions{})
				t.Cleanup(srv.Close)
				srv.Inject(providertest.Fault{Kind: providertest.FaultRateLimit})
				p, err := bedrock.New(context.Background(), bedrock.WithEndpoint(srv.URL),
					bedrock.WithConfig(aws.Config{Region: providertest.TestRegion, Credentials: srv.Credentials()}))
				require.NoError(t, err)
				// Bedrock sends no wait: the queue's default cool-down applies.
				return p, time.Second
			},
			payload: bedrockPayload,
		},
	}
}

// TestProviders_429OnOneWorkerPausesTheOther runs two BatchProcessors (two
// managers on separate Redis clients, as two processes would be) on one
// namespace. The first call gets a provider 429 through the adapter's real
// SDK client; no worker may start a call until the wait the adapter parsed
// from the response has passed, and the rate-limited request still
// completes without spending its only attempt.
func TestProviders_429OnOneWorkerPausesTheOther(t *testing.T) {
	for _, c := range coolDownCases() {
		t.Run(c.name, func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, s *redistest.Server) {
				ctx := context.Background()
				inner, wait := c.start(t)
				proc := &callLog{next: inner}
				mc := llmqueue.Config{Namespace: "cooldown"}
				wc := llmqueue.WorkerConfig{Concurrency: 2, PollInterval: 10 * time.Millisecond}
				qm := newProcess(t, s, nil, mc, wc).Manager

				first, err := qm.Add(ctx, llmqueue.NewRequest(c.payload(0, 10), llmqueue.WithMaxRetries(0)))
				require.NoError(t, err)
				newProcess(t, s, proc, mc, wc)
				require.Eventually(t, func() bool { _, l := proc.snapshot(); return len(l) == 1 }, 5*time.Second, 5*time.Millisecond, "the 429")
				// The 429 is acknowledged (and the cool-down set) a moment
				// after the adapter returns it; add work only once it is set.
				require.Eventually(t, func() bool {
					m, err := qm.Metrics(ctx)
					return err == nil && m.CooldownSeconds > 0
				}, 5*time.Second, 2*time.Millisecond, "the shared cool-down")
				// The second process joins after the 429: it must honour the
				// cool-down the first one set.
				newProcess(t, s, proc, mc, wc)
				ids := []string{first}
				for i := 1; i <= 6; i++ {
					id, err := qm.Add(ctx, llmqueue.NewRequest(c.payload(i, 10)))
					require.NoError(t, err)
					ids = append(ids, id)
				}
				for _, st := range waitAll(t, qm, ids, 15*time.Second) {
					assert.Equal(t, llmqueue.StatusCompleted, st.Status, "%s: %s", st.ID, st.Error)
				}

				starts, limited := proc.snapshot()
				require.Len(t, limited, 1)
				require.Len(t, starts, 8, "7 requests + the one retry")
				// The cool-down is set when the 429 is acknowledged, a moment
				// after the adapter returned it.
				for _, at := range starts[1:] {
					assert.GreaterOrEqual(t, at.Sub(limited[0]), wait-50*time.Millisecond,
						"a call started %s after the 429; the provider asked for %s", at.Sub(limited[0]), wait)
				}
				m, err := qm.Metrics(ctx)
				require.NoError(t, err)
				assert.EqualValues(t, 1, m.TotalRateLimit)
				assert.EqualValues(t, 7, m.TotalCompleted)
			})
		})
	}
}
