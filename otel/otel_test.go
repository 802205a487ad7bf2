package otel_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/llmqueue/llmqueue/otel"
)

// recorder is a tracer provider whose ended spans the test reads.
func recorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return sr, tp
}

// kit runs proc through a BatchProcessor traced by the middleware, with
// retries after 1 ms and rate-limit cool-downs of 10 ms.
func kit(t *testing.T, proc llmqueue.Processor, opts ...otel.Option) (*llmqueuetest.Kit, *tracetest.SpanRecorder) {
	t.Helper()
	sr, tp := recorder(t)
	opts = append([]otel.Option{otel.WithTracerProvider(tp)}, opts...)
	k := llmqueuetest.New(t, proc, llmqueuetest.WithWorkerConfig(llmqueue.WorkerConfig{
		Middleware:    []llmqueue.Middleware{otel.Middleware(opts...)},
		Backoff:       func(int) time.Duration { return time.Millisecond },
		RateLimitWait: 10 * time.Millisecond,
	}))
	return k, sr
}

// byAttempt returns the ended spans ordered by llmqueue.attempt, then by
// start time.
func byAttempt(sr *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	spans := sr.Ended()
	slices.SortStableFunc(spans, func(a, b sdktrace.ReadOnlySpan) int {
		if d := attrs(a)[otel.AttemptKey].AsInt64() - attrs(b)[otel.AttemptKey].AsInt64(); d != 0 {
			return int(d)
		}
		return a.StartTime().Compare(b.StartTime())
	})
	return spans
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// flaky fails its first call with err, then completes with usage.
func flaky(err error, usage llmqueue.Usage) (llmqueue.Processor, *atomic.Int32) {
	var calls atomic.Int32
	return llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		if calls.Add(1) == 1 {
			return nil, err
		}
		return &llmqueue.Result{Output: json.RawMessage(`{"ok":true}`), Usage: usage}, nil
	}), &calls
}

const chatPayload = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":50}`

func TestMiddleware_RetriedRequestGivesOneSpanPerAttempt(t *testing.T) {
	proc, calls := flaky(llmqueue.Retryable(0, errors.New("upstream 503")),
		llmqueue.Usage{InputTokens: 100, CacheReadInputTokens: 20, CacheCreationInputTokens: 5, OutputTokens: 30})
	k, sr := kit(t, proc, otel.WithSystem("openai"))

	st := k.Run(llmqueue.NewRequest(chatPayload,
		llmqueue.WithID("req-1"), llmqueue.WithEstimatedTokens(500), llmqueue.WithMaxRetries(2)))
	require.Equal(t, 2, st.Attempts)
	require.EqualValues(t, 2, calls.Load())

	spans := byAttempt(sr)
	require.Len(t, spans, 2, "one span per attempt")
	absent := attribute.Value{}
	common := map[attribute.Key]attribute.Value{
		"gen_ai.system":                        attribute.StringValue("openai"),
		"gen_ai.provider.name":                 attribute.StringValue("openai"),
		"gen_ai.operation.name":                attribute.StringValue("chat"),
		"gen_ai.request.model":                 attribute.StringValue("gpt-4o"),
		otel.RequestIDKey:                      attribute.StringValue("req-1"),
		otel.ClassKey:                          attribute.StringValue("low"),
		otel.MaxRetriesKey:                     attribute.IntValue(2),
		otel.EstimatedTokensKey:                attribute.Int64Value(500),
		"llmqueue.retry_after_ms":              absent,
		"llmqueue.suspend_reason":              absent,
		"gen_ai.usage.cache_read.input_tokens": absent,
	}
	tests := []struct {
		name   string
		span   sdktrace.ReadOnlySpan
		want   map[attribute.Key]attribute.Value
		status codes.Code
	}{
		{"first attempt fails", spans[0], map[attribute.Key]attribute.Value{
			otel.AttemptKey:              attribute.IntValue(1),
			otel.OutcomeKey:              attribute.StringValue("retry"),
			"error.type":                 attribute.StringValue("retry"),
			"gen_ai.usage.input_tokens":  absent,
			"gen_ai.usage.output_tokens": absent,
		}, codes.Error},
		{"second attempt completes", spans[1], map[attribute.Key]attribute.Value{
			otel.AttemptKey:                            attribute.IntValue(2),
			otel.OutcomeKey:                            attribute.StringValue("completed"),
			"error.type":                               absent,
			"gen_ai.usage.input_tokens":                attribute.Int64Value(125), // cached input included
			"gen_ai.usage.output_tokens":               attribute.Int64Value(30),
			"gen_ai.usage.cache_read.input_tokens":     attribute.Int64Value(20),
			"gen_ai.usage.cache_creation.input_tokens": attribute.Int64Value(5),
		}, codes.Unset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := attrs(tt.span)
			want := map[attribute.Key]attribute.Value{}
			for k, v := range common {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for k, v := range want {
				assert.Equal(t, v, got[k], "attribute %s", k)
			}
			assert.Equal(t, "chat gpt-4o", tt.span.Name())
			assert.Equal(t, trace.SpanKindClient, tt.span.SpanKind())
			assert.Equal(t, otel.ScopeName, tt.span.InstrumentationScope().Name)
			assert.Equal(t, tt.status, tt.span.Status().Code)
			wait, ok := got[otel.QueueWaitKey]
			if assert.True(t, ok, "llmqueue.queue_wait_ms set") {
				assert.GreaterOrEqual(t, wait.AsInt64(), int64(0))
			}
		})
	}
	assert.Equal(t, "retryable: upstream 503", spans[0].Status().Description)
	assert.NotEqual(t, spans[0].SpanContext().SpanID(), spans[1].SpanContext().SpanID())
	assert.GreaterOrEqual(t, attrs(spans[1])[otel.QueueWaitKey].AsInt64(), attrs(spans[0])[otel.QueueWaitKey].AsInt64(),
		"a later attempt's wait counts from Add")
}

func TestMiddleware_PermanentErrorGivesOneErrorSpan(t *testing.T) {
	var calls atomic.Int32
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		calls.Add(1)
		return nil, llmqueue.Permanent(errors.New("400 bad request"))
	})
	k, sr := kit(t, proc, otel.WithSystem("anthropic"))

	id := k.Add(llmqueue.NewRequest(`{"model":"claude-sonnet-4-5","max_tokens":10}`, llmqueue.WithEstimatedTokens(100)))
	st := k.Wait(id)
	require.Equal(t, llmqueue.StatusDead, st.Status)

	spans := sr.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	a := attrs(s)
	assert.Equal(t, "chat claude-sonnet-4-5", s.Name())
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.Equal(t, "permanent: 400 bad request", s.Status().Description)
	assert.Equal(t, "permanent", a["error.type"].AsString())
	assert.Equal(t, "permanent", a[otel.OutcomeKey].AsString())
	assert.Equal(t, "anthropic", a["gen_ai.provider.name"].AsString())
	assert.EqualValues(t, 1, a[otel.AttemptKey].AsInt64())
	assert.EqualValues(t, 1, calls.Load())
}

func TestMiddleware_RateLimitedAttemptIsMarked(t *testing.T) {
	proc, _ := flaky(llmqueue.RateLimited(15*time.Millisecond, errors.New("429 too many requests")),
		llmqueue.Usage{InputTokens: 7, OutputTokens: 3})
	k, sr := kit(t, proc, otel.WithSystem("openai"))

	k.Run(llmqueue.NewRequest(chatPayload, llmqueue.WithEstimatedTokens(100)))

	spans := byAttempt(sr)
	require.Len(t, spans, 2)
	limited, done := spans[0], spans[1]
	a := attrs(limited)
	assert.Equal(t, "rate_limited", a[otel.OutcomeKey].AsString())
	assert.Equal(t, "rate_limited", a["error.type"].AsString())
	assert.EqualValues(t, 15, a[otel.RetryAfterKey].AsInt64())
	assert.Equal(t, codes.Error, limited.Status().Code)
	require.Len(t, limited.Events(), 1)
	ev := limited.Events()[0]
	assert.Equal(t, otel.RateLimitedEvent, ev.Name)
	assert.Equal(t, []attribute.KeyValue{otel.RetryAfterKey.Int64(15)}, ev.Attributes)

	assert.Equal(t, "completed", attrs(done)[otel.OutcomeKey].AsString())
	assert.Equal(t, codes.Unset, done.Status().Code)
	assert.Empty(t, done.Events())
}

func TestMiddleware_SuspendIsNotAnError(t *testing.T) {
	proc := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		return nil, llmqueue.Suspend("awaiting approval", nil)
	})
	k, sr := kit(t, proc)

	id := k.Add(llmqueue.NewRequest(chatPayload, llmqueue.WithEstimatedTokens(100)))
	k.WaitStatus(id, llmqueue.StatusSuspended)

	require.Eventually(t, func() bool { return len(sr.Ended()) == 1 }, 5*time.Second, 5*time.Millisecond)
	s := sr.Ended()[0]
	a := attrs(s)
	assert.Equal(t, codes.Unset, s.Status().Code)
	assert.Equal(t, "suspended", a[otel.OutcomeKey].AsString())
	assert.Equal(t, "awaiting approval", a[otel.SuspendReasonKey].AsString())
	_, hasErrorType := a["error.type"]
	assert.False(t, hasErrorType)
}
