package otel

import (
	"context"
	"encoding/json"

	"github.com/llmqueue/llmqueue"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The meta keys that carry the W3C trace context of the code that queued a
// request: the value of the traceparent and tracestate headers.
const (
	TraceParentMetaKey = "otel.traceparent"
	TraceStateMetaKey  = "otel.tracestate"
)

// w3c is the W3C Trace Context format, used whatever the global propagator
// is: most programs never set one, and the queue is not a wire another
// system reads.
var w3c = propagation.TraceContext{}

// WithTraceContext stores the span context of ctx in the request's meta
// (TraceParentMetaKey, TraceStateMetaKey), so that Middleware makes each
// attempt's span a child of the span that queued the request and a trace
// shows a request from its Add to its last attempt, across processes. A
// ctx without a valid span adds nothing.
//
//	qm.Add(ctx, llmqueue.NewRequest(payload, otel.WithTraceContext(ctx)))
func WithTraceContext(ctx context.Context) llmqueue.RequestOption {
	carrier := propagation.MapCarrier{}
	w3c.Inject(ctx, carrier)
	meta := map[string]any{}
	if v := carrier.Get("traceparent"); v != "" {
		meta[TraceParentMetaKey] = v
		if s := carrier.Get("tracestate"); s != "" {
			meta[TraceStateMetaKey] = s
		}
	}
	return func(r *llmqueue.Request) {
		if len(meta) > 0 {
			llmqueue.WithMeta(meta)(r)
		}
	}
}

// queuedContext returns ctx with the remote span context WithTraceContext
// stored in job's meta, or ctx itself when there is none, it does not
// decode, or ctx already holds a span (the caller's own tracing wins).
func queuedContext(ctx context.Context, job *llmqueue.Job) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	var parent, state string
	if json.Unmarshal(job.Meta[TraceParentMetaKey], &parent) != nil || parent == "" {
		return ctx
	}
	_ = json.Unmarshal(job.Meta[TraceStateMetaKey], &state)
	carrier := propagation.MapCarrier{"traceparent": parent}
	if state != "" {
		carrier["tracestate"] = state
	}
	return w3c.Extract(ctx, carrier)
}
