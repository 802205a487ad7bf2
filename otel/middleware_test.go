package otel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/otel"
)

// call runs one attempt of job through the middleware made of opts.
func call(t *testing.T, ctx context.Context, job *llmqueue.Job, proc llmqueue.ProcessorFunc, opts ...otel.Option) (*llmqueue.Result, error) {
	t.Helper()
	return otel.Middleware(opts...)(proc).Process(ctx, job)
}

func ok(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
	return &llmqueue.Result{}, nil
}

func TestMiddleware_ProcessorContextCarriesTheSpan(t *testing.T) {
	sr, tp := recorder(t)
	var inside trace.SpanContext
	proc := func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		inside = trace.SpanFromContext(ctx).SpanContext()
		// What an instrumented HTTP client does: a child of ctx's span.
		_, child := tp.Tracer("http").Start(ctx, "POST")
		child.End()
		return &llmqueue.Result{}, nil
	}
	_, err := call(t, t.Context(), &llmqueue.Job{ID: "a", Attempt: 1, Payload: json.RawMessage(chatPayload)}, proc,
		otel.WithTracerProvider(tp))
	require.NoError(t, err)

	spans := sr.Ended()
	require.Len(t, spans, 2)
	child, attempt := spans[0], spans[1]
	require.Equal(t, "chat gpt-4o", attempt.Name())
	assert.True(t, inside.IsValid())
	assert.Equal(t, attempt.SpanContext().SpanID(), inside.SpanID())
	assert.Equal(t, attempt.SpanContext().TraceID(), inside.TraceID())
	assert.Equal(t, attempt.SpanContext().SpanID(), child.Parent().SpanID())
}

func TestMiddleware_ModelFromPayloadOrWithModel(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		opts      []otel.Option
		wantName  string
		wantModel string // "" means gen_ai.request.model is not set
	}{
		{"openai model", chatPayload, nil, "chat gpt-4o", "gpt-4o"},
		{"bedrock modelId", `{"modelId":"anthropic.claude-3-haiku-20240307-v1:0","messages":[]}`, nil,
			"chat anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"},
		{"model wins over modelId", `{"modelId":"b","model":"a"}`, nil, "chat a", "a"},
		{"no model", `{"messages":[]}`, nil, "llmqueue.attempt", ""},
		{"model not a string", `{"model":42}`, nil, "llmqueue.attempt", ""},
		{"not an object", `["model","gpt-4o"]`, nil, "llmqueue.attempt", ""},
		{"not JSON", `model: gpt-4o`, nil, "llmqueue.attempt", ""},
		{"empty payload", ``, nil, "llmqueue.attempt", ""},
		{"WithModel overrides", chatPayload,
			[]otel.Option{otel.WithModel(func(j *llmqueue.Job) string { return "m-" + j.ID })}, "chat m-x", "m-x"},
		{"WithModel unknown", chatPayload,
			[]otel.Option{otel.WithModel(func(*llmqueue.Job) string { return "" })}, "llmqueue.attempt", ""},
		{"WithModel nil keeps the default", chatPayload, []otel.Option{otel.WithModel(nil)}, "chat gpt-4o", "gpt-4o"},
		{"WithOperation", chatPayload, []otel.Option{otel.WithOperation("text_completion")},
			"text_completion gpt-4o", "gpt-4o"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr, tp := recorder(t)
			opts := append([]otel.Option{otel.WithTracerProvider(tp)}, tt.opts...)
			_, err := call(t, t.Context(), &llmqueue.Job{ID: "x", Payload: json.RawMessage(tt.payload)}, ok, opts...)
			require.NoError(t, err)
			require.Len(t, sr.Ended(), 1)
			s := sr.Ended()[0]
			assert.Equal(t, tt.wantName, s.Name())
			model, has := attrs(s)["gen_ai.request.model"]
			assert.Equal(t, tt.wantModel != "", has)
			assert.Equal(t, tt.wantModel, model.AsString())
		})
	}
}

func TestMiddleware_WithoutSystemLeavesProviderOut(t *testing.T) {
	sr, tp := recorder(t)
	_, err := call(t, t.Context(), &llmqueue.Job{ID: "x"}, ok, otel.WithTracerProvider(tp), otel.WithSystem(""))
	require.NoError(t, err)
	a := attrs(sr.Ended()[0])
	assert.NotContains(t, a, "gen_ai.system")
	assert.NotContains(t, a, "gen_ai.provider.name")
	assert.Equal(t, "chat", a["gen_ai.operation.name"].AsString())
	assert.NotContains(t, a, "llmqueue.class", "a job without a class")
	assert.NotContains(t, a, "llmqueue.queue_wait_ms", "a job without its times")
	assert.NotContains(t, a, "gen_ai.usage.input_tokens", "a result without usage")
}

func TestMiddleware_QueueWaitIsLeasedAtMinusCreatedAt(t *testing.T) {
	sr, tp := recorder(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := &llmqueue.Job{ID: "x", CreatedAt: created, LeasedAt: created.Add(1500 * time.Millisecond)}
	_, err := call(t, t.Context(), job, ok, otel.WithTracerProvider(tp))
	require.NoError(t, err)
	assert.EqualValues(t, 1500, attrs(sr.Ended()[0])[otel.QueueWaitKey].AsInt64())
}

func TestMiddleware_TimeoutAndCancelAreTheirOwnOutcomes(t *testing.T) {
	expired, cancel := context.WithTimeout(t.Context(), -time.Second)
	defer cancel()
	canceled, cancelCause := context.WithCancelCause(t.Context())
	cancelCause(errors.New("llmqueue: request canceled"))
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		outcome string
		message string
	}{
		{"deadline", expired, context.DeadlineExceeded, "timeout", "context deadline exceeded"},
		{"deadline with a permanent error", expired, llmqueue.Permanent(errors.New("bad")), "permanent", "permanent: bad"},
		{"canceled", canceled, context.Canceled, "canceled", "llmqueue: request canceled: context canceled"},
		{"canceled wins over permanent", canceled, llmqueue.Permanent(errors.New("bad")), "canceled",
			"llmqueue: request canceled: permanent: bad"},
		{"plain error", t.Context(), errors.New("boom"), "retry", "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr, tp := recorder(t)
			_, err := call(t, tt.ctx, &llmqueue.Job{ID: "x"}, func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
				return nil, tt.err
			}, otel.WithTracerProvider(tp))
			require.ErrorIs(t, err, tt.err, "the error passes through unchanged")
			s := sr.Ended()[0]
			assert.Equal(t, tt.outcome, attrs(s)[otel.OutcomeKey].AsString())
			assert.Equal(t, tt.outcome, attrs(s)["error.type"].AsString())
			assert.Equal(t, codes.Error, s.Status().Code)
			assert.Equal(t, tt.message, s.Status().Description)
		})
	}
}

// typedErr names its own error.type, as semconv.ErrorType reads it.
type typedErr struct{}

func (typedErr) Error() string     { return "server overloaded" }
func (typedErr) ErrorType() string { return "529" }

func TestMiddleware_ErrorTypeFromTheErrorChain(t *testing.T) {
	sr, tp := recorder(t)
	_, err := call(t, t.Context(), &llmqueue.Job{ID: "x"}, func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
		return nil, llmqueue.Retryable(2*time.Second, fmt.Errorf("anthropic: %w", typedErr{}))
	}, otel.WithTracerProvider(tp))
	require.Error(t, err)
	a := attrs(sr.Ended()[0])
	assert.Equal(t, "529", a["error.type"].AsString())
	assert.Equal(t, "retry", a[otel.OutcomeKey].AsString())
	assert.EqualValues(t, 2000, a[otel.RetryAfterKey].AsInt64())
}

func TestMiddleware_PanicBelowEndsTheSpan(t *testing.T) {
	sr, tp := recorder(t)
	assert.PanicsWithValue(t, "inner middleware bug", func() {
		_, _ = call(t, t.Context(), &llmqueue.Job{ID: "x"}, func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
			panic("inner middleware bug")
		}, otel.WithTracerProvider(tp))
	})
	require.Len(t, sr.Ended(), 1)
	s := sr.Ended()[0]
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.Equal(t, "panic", attrs(s)["error.type"].AsString())
}

// The global provider is read when a span starts, so one set after
// Middleware is built still gets the spans. Not parallel: it sets the
// global provider.
func TestMiddleware_DefaultsToTheGlobalTracerProvider(t *testing.T) {
	prev := otelapi.GetTracerProvider()
	t.Cleanup(func() { otelapi.SetTracerProvider(prev) })
	mw := otel.Middleware(otel.WithTracerProvider(nil))
	sr, tp := recorder(t)
	otelapi.SetTracerProvider(tp)
	_, err := mw(llmqueue.ProcessorFunc(ok)).Process(t.Context(), &llmqueue.Job{ID: "x"})
	require.NoError(t, err)
	assert.Len(t, sr.Ended(), 1)
}
