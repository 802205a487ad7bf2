package otel_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/otel"
)

// TestWithTraceContext_AttemptsAreChildrenOfTheSpanThatQueued checks that
// a request queued under a span has each attempt's span in that span's
// trace, as its child, through the meta stored in Redis.
func TestWithTraceContext_AttemptsAreChildrenOfTheSpanThatQueued(t *testing.T) {
	proc, _ := flaky(llmqueue.Retryable(0, errors.New("upstream 503")), llmqueue.Usage{InputTokens: 1})
	k, sr := kit(t, proc)
	_, tp := recorder(t)
	ctx, producer := tp.Tracer("web").Start(context.Background(), "POST /summarize",
		trace.WithSpanKind(trace.SpanKindProducer))
	req := llmqueue.NewRequest(chatPayload, otel.WithTraceContext(ctx), llmqueue.WithMeta(map[string]any{"user": "u1"}))
	producer.End()

	st := k.Run(req)
	require.JSONEq(t, `"u1"`, string(st.Meta["user"]), "the caller's own meta is kept")
	spans := sr.Ended()
	require.Len(t, spans, 2, "one span per attempt")
	for _, s := range spans {
		require.Equal(t, producer.SpanContext().TraceID(), s.SpanContext().TraceID(), "same trace as the producer")
		require.Equal(t, producer.SpanContext().SpanID(), s.Parent().SpanID(), "child of the producer")
		require.True(t, s.Parent().IsRemote())
	}
}

func TestWithTraceContext_NoSpanAddsNothing(t *testing.T) {
	req := llmqueue.NewRequest(chatPayload, otel.WithTraceContext(context.Background()))
	require.Empty(t, req.Meta)
}

// TestWithTraceContext_BadMetaIsIgnored checks that a traceparent that is
// not one starts a new trace rather than failing the attempt.
func TestWithTraceContext_BadMetaIsIgnored(t *testing.T) {
	sr, tp := recorder(t)
	job := &llmqueue.Job{ID: "j", Payload: json.RawMessage(chatPayload), Attempt: 1,
		Meta: map[string]json.RawMessage{otel.TraceParentMetaKey: json.RawMessage(`"not-a-traceparent"`)}}
	_, err := otel.Middleware(otel.WithTracerProvider(tp))(llmqueue.ProcessorFunc(ok)).Process(context.Background(), job)
	require.NoError(t, err)
	require.Len(t, sr.Ended(), 1)
	require.False(t, sr.Ended()[0].Parent().IsValid())
}
