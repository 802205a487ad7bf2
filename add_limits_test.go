package llmqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedEstimator answers the same usage for every payload.
type fixedEstimator Usage

func (e fixedEstimator) EstimateTokens(json.RawMessage) (int64, error) {
	return addTokensSat(e.InputTokens, e.OutputTokens), nil
}

func (e fixedEstimator) EstimateUsage(json.RawMessage) (Usage, error) { return Usage(e), nil }

// hugeMeter reserves far more than any estimate, as a buggy Meter might.
type hugeMeter struct{ ExactMeter }

func (hugeMeter) Reserve(Usage) Charge {
	return Charge{Tokens: 1e17, InputTokens: 1e17, OutputTokens: -5}
}

// manyMeta returns n meta entries of value size bytes each (JSON strings).
func manyMeta(n, size int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("k%05d", i)] = strings.Repeat("v", size)
	}
	return m
}

// TestAdd_RefusesOutOfRangeInputWithTypedErrors covers the Add edge of
// issue 9 items 1, 2, 13 and 14: every estimate and charge inside
// 0..MaxTokens even without a budget, meta within its count and byte caps,
// valid UTF-8 in payloads, ids and meta, no null payload, and a payload size
// cap. Each refusal matches its sentinel; the size limits are *LimitError.
func TestAdd_RefusesOutOfRangeInputWithTypedErrors(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{MaxPayloadBytes: 1000}) // no budget: no TPM check
		est := func(u Usage) *QueueManager {
			return newManager(t, s, &Config{Estimator: fixedEstimator(u)})
		}
		cases := []struct {
			name    string
			qm      *QueueManager
			req     *Request
			want    error
			limited bool // a *LimitError
		}{
			{"estimate above MaxTokens", qm, NewRequest(`{}`, WithEstimatedTokens(MaxTokens+1)), ErrInvalidTokens, true},
			{"estimate of 1e17", qm, NewRequest(`{}`, WithEstimatedTokens(1e17)), ErrInvalidTokens, true},
			{"input plus output above MaxTokens", qm, NewRequest(`{}`, WithEstimatedUsage(Usage{InputTokens: MaxTokens, OutputTokens: 1})), ErrInvalidTokens, true},
			{"output of 1e17", qm, NewRequest(`{}`, WithEstimatedUsage(Usage{OutputTokens: 1e17})), ErrInvalidTokens, true},
			{"negative output", qm, NewRequest(`{}`, WithEstimatedUsage(Usage{InputTokens: 5, OutputTokens: -1})), ErrInvalidTokens, false},
			{"negative cache read", qm, NewRequest(`{}`, WithEstimatedUsage(Usage{InputTokens: 5, CacheReadInputTokens: -1})), ErrInvalidTokens, false},
			{"cache write above MaxTokens", qm, NewRequest(`{}`, WithEstimatedUsage(Usage{CacheCreationInputTokens: MaxTokens + 1})), ErrInvalidTokens, true},
			{"estimator says 1e17", est(Usage{InputTokens: 1e17}), NewRequest(`{}`), ErrInvalidTokens, true},
			{"estimator says negative output", est(Usage{InputTokens: 1, OutputTokens: -1}), NewRequest(`{}`), ErrInvalidTokens, false},

			{"5,000 meta entries", qm, NewRequest(`{}`, WithMeta(manyMeta(5000, 1))), ErrInvalidRequest, true},
			{"one meta entry too many", qm, NewRequest(`{}`, WithMeta(manyMeta(maxMetaEntries+1, 1))), ErrInvalidRequest, true},
			{"meta above maxMetaBytes", qm, NewRequest(`{}`, WithMeta(manyMeta(2, maxMetaBytes/2))), ErrInvalidRequest, true},

			{"payload with invalid UTF-8", qm, NewRequest([]byte("{\"p\":\"\xff\xfe\"}")), ErrInvalidPayload, false},
			{"id with invalid UTF-8", qm, NewRequest(`{}`, WithID("id-\xff")), ErrInvalidRequest, false},
			{"meta key with invalid UTF-8", qm, NewRequest(`{}`, WithMeta(map[string]any{"k\xff": 1})), ErrInvalidRequest, false},
			{"meta value with invalid UTF-8", qm, NewRequest(`{}`, WithMeta(map[string]any{"k": json.RawMessage("\"\xff\"")})), ErrInvalidRequest, false},

			{"null payload", qm, NewRequest(nil), ErrInvalidPayload, false},
			{"null payload as JSON text", qm, NewRequest(` null `), ErrInvalidPayload, false},
			{"payload above the configured cap", qm, NewRequest(`"` + strings.Repeat("x", 1000) + `"`), ErrInvalidPayload, true},
			{"payload above the default 1 MiB cap", newManager(t, s, nil), NewRequest(`"` + strings.Repeat("x", defaultMaxPayloadBytes) + `"`), ErrInvalidPayload, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id, err := tc.qm.Add(ctx, tc.req)
				require.Error(t, err, "accepted as %q", id)
				assert.ErrorIs(t, err, tc.want)
				var le *LimitError
				assert.Equal(t, tc.limited, errors.As(err, &le), "a *LimitError: %v", err)
				assert.True(t, strings.ToValidUTF8(err.Error(), "?") == err.Error(), "error text is valid UTF-8")
			})
		}
		// AddMany refuses the whole batch.
		_, err := qm.AddMany(ctx, []*Request{NewRequest(`{}`, WithID("fine")), NewRequest(`{}`, WithMeta(manyMeta(5000, 1)))})
		require.ErrorIs(t, err, ErrInvalidRequest)
		_, err = qm.Status(ctx, "fine")
		require.ErrorIs(t, err, ErrNotFound)
	})
}

// TestAdd_AcceptsInputAtTheLimits checks the other side of each limit:
// MaxTokens itself, exactly maxMetaEntries entries, a payload of exactly the
// cap, and a Meter's charge clamped into 0..MaxTokens.
func TestAdd_AcceptsInputAtTheLimits(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, &Config{MaxPayloadBytes: 1000})
		ok := []*Request{
			NewRequest(`{}`, WithEstimatedTokens(MaxTokens)),
			NewRequest(`{}`, WithEstimatedUsage(Usage{InputTokens: MaxTokens / 2, OutputTokens: MaxTokens / 2})),
			NewRequest(`{}`, WithMeta(manyMeta(maxMetaEntries, 1))),
			NewRequest(`"` + strings.Repeat("x", 998) + `"`),
			NewRequest(map[string]string{"p": "héllo ✓"}, WithID("ünïcode-✓")),
		}
		for i, r := range ok {
			_, err := qm.Add(ctx, r)
			require.NoError(t, err, "request %d", i)
		}
		st, err := qm.Status(ctx, "ünïcode-✓")
		require.NoError(t, err)
		assert.JSONEq(t, `{"p":"héllo ✓"}`, string(st.Payload))

		metered := newManager(t, s, &Config{Meter: hugeMeter{}})
		id, err := metered.Add(ctx, NewRequest(`{}`, WithEstimatedTokens(1)))
		require.NoError(t, err)
		rec, err := metered.store.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, MaxTokens, rec.Tokens)
		assert.Equal(t, MaxTokens, rec.InTokens)
		assert.EqualValues(t, 0, rec.OutTokens)
	})
}

// TestLease_RequestWithManyMetaEntriesKeepsItsPayload is issue 9 item 2 end
// to end: a request with as much meta as Add allows is leased, run and
// completed with its payload and meta intact.
func TestLease_RequestWithManyMetaEntriesKeepsItsPayload(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, s *redistest.Server) {
		ctx := context.Background()
		qm := newManager(t, s, nil)
		id, err := qm.Add(ctx, NewRequest(`{"keep":"me"}`, WithEstimatedTokens(1), WithMeta(manyMeta(maxMetaEntries, 200))))
		require.NoError(t, err)
		got := make(chan json.RawMessage, 1)
		startProcessor(t, newManager(t, s, nil), ProcessorFunc(func(_ context.Context, j *Job) (*Result, error) {
			got <- j.Payload
			return &Result{Output: json.RawMessage(`1`)}, nil
		}), nil)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := qm.Wait(wctx, id)
		require.NoError(t, err)
		assert.Equal(t, StatusCompleted, st.Status)
		assert.JSONEq(t, `{"keep":"me"}`, string(<-got))
		assert.Len(t, st.Meta, maxMetaEntries)
	})
}
