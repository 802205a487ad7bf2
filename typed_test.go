package llmqueue

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sumIn struct {
	A, B int
}

type sumOut struct {
	Sum int `json:"sum"`
}

func TestTypedProcessor_DecodesCallsAndEncodes(t *testing.T) {
	errQuota := errors.New("quota")
	sum := TypedProcessor(func(_ context.Context, job *Job, in sumIn) (sumOut, Usage, error) {
		if in.A < 0 {
			return sumOut{}, Usage{}, RateLimited(time.Second, errQuota)
		}
		return sumOut{Sum: in.A + in.B}, Usage{InputTokens: 2, OutputTokens: 1}, nil
	})
	cases := []struct {
		name      string
		payload   string
		wantOut   string
		wantUsage Usage
		check     func(t *testing.T, err error)
	}{
		{"decodes and encodes", `{"A":2,"B":3,"extra":true}`, `{"sum":5}`, Usage{InputTokens: 2, OutputTokens: 1}, nil},
		{"a payload of the wrong shape is permanent and invalid", `{"A":"two"}`, "", Usage{}, func(t *testing.T, err error) {
			var perm *PermanentError
			assert.ErrorAs(t, err, &perm)
			assert.ErrorIs(t, err, ErrInvalidPayload)
			assert.ErrorContains(t, err, "llmqueue.sumIn")
		}},
		{"f's error passes through as it is", `{"A":-1}`, "", Usage{}, func(t *testing.T, err error) {
			var rl *RateLimitedError
			assert.ErrorAs(t, err, &rl)
			assert.ErrorIs(t, err, errQuota)
			assert.NotErrorIs(t, err, ErrInvalidPayload)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sum.Process(context.Background(), &Job{ID: "x", Payload: json.RawMessage(tc.payload)})
			if tc.check != nil {
				require.Error(t, err)
				assert.Nil(t, res)
				tc.check(t, err)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.wantOut, string(res.Output))
			assert.Equal(t, tc.wantUsage, res.Usage)
		})
	}
}

func TestTypedProcessor_AnOutThatCannotBeEncodedIsPermanent(t *testing.T) {
	p := TypedProcessor(func(context.Context, *Job, struct{}) (float64, Usage, error) {
		return math.NaN(), Usage{}, nil
	})
	_, err := p.Process(context.Background(), &Job{Payload: json.RawMessage(`{}`)})
	var perm *PermanentError
	assert.ErrorAs(t, err, &perm)
	assert.ErrorIs(t, err, ErrInvalidPayload)
}

func TestTypedProcessor_ThroughTheQueue(t *testing.T) {
	ctx := context.Background()
	qm := newManager(t, redistest.StartMini(t), nil)
	startProcessor(t, qm, TypedProcessor(func(_ context.Context, _ *Job, in sumIn) (sumOut, Usage, error) {
		return sumOut{Sum: in.A + in.B}, Usage{InputTokens: 1}, nil
	}), nil)
	good, err := qm.Add(ctx, NewRequest(sumIn{A: 40, B: 2}, WithEstimatedTokens(1)))
	require.NoError(t, err)
	bad, err := qm.Add(ctx, NewRequest(`["not","an","object"]`, WithEstimatedTokens(1), WithMaxRetries(3)))
	require.NoError(t, err)

	out, err := DecodeResult[sumOut](wait(t, qm, good))
	require.NoError(t, err)
	assert.Equal(t, sumOut{Sum: 42}, out)

	st := wait(t, qm, bad)
	assert.Equal(t, StatusDead, st.Status)
	assert.Equal(t, 1, st.Attempts, "a decode error is not retried")
	assert.Contains(t, st.Error, "invalid payload")
	_, err = DecodeResult[sumOut](st)
	assert.ErrorIs(t, err, ErrInvalidState)
	assert.ErrorContains(t, err, "request is dead: permanent")
}

func TestDecodeResult(t *testing.T) {
	cases := []struct {
		name    string
		st      *RequestStatus
		want    sumOut
		wantErr string
		is      error
	}{
		{"a completed result", &RequestStatus{ID: "a", Status: StatusCompleted, Result: json.RawMessage(`{"sum":7}`)}, sumOut{Sum: 7}, "", nil},
		{"nil", nil, sumOut{}, "nil status", nil},
		{"queued", &RequestStatus{ID: "b", Status: StatusQueued}, sumOut{}, "request is queued", ErrInvalidState},
		{"dead names its error", &RequestStatus{ID: "c", Status: StatusDead, Error: "401 unauthorized"}, sumOut{}, "request is dead: 401 unauthorized", ErrInvalidState},
		{"completed without a result", &RequestStatus{ID: "d", Status: StatusCompleted}, sumOut{}, "completed without a result", ErrInvalidState},
		{"a result of another shape", &RequestStatus{ID: "e", Status: StatusCompleted, Result: json.RawMessage(`"text"`)}, sumOut{}, "decode into llmqueue.sumOut", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeResult[sumOut](tc.st)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}
