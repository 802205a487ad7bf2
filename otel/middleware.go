package otel

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/llmqueue/llmqueue"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans: the tracer's name.
const ScopeName = "github.com/llmqueue/llmqueue/otel"

// Option configures Middleware.
type Option func(*config)

type config struct {
	provider  trace.TracerProvider
	system    string
	operation string
	model     func(*llmqueue.Job) string
}

// WithTracerProvider sets the provider of the tracer. Defaults to the
// global provider, otel.GetTracerProvider(), read at each attempt, so
// otel.SetTracerProvider may be called after the worker is built; nil
// keeps the default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp != nil {
			c.provider = tp
		}
	}
}

// WithSystem names the provider, written as gen_ai.provider.name and as the
// older gen_ai.system: "openai", "anthropic", "aws.bedrock" and the other
// values the GenAI conventions list. Without it neither attribute is set.
func WithSystem(system string) Option {
	return func(c *config) { c.system = system }
}

// WithOperation sets gen_ai.operation.name and the first word of the span
// name: "chat", "text_completion", "embeddings", "generate_content" and the
// like. Defaults to "chat"; "" keeps the default.
func WithOperation(op string) Option {
	return func(c *config) {
		if op != "" {
			c.operation = op
		}
	}
}

// WithModel sets how the model of a job is found, for gen_ai.request.model
// and the span name; "" means unknown. Defaults to the payload's top-level
// "model" string, else its "modelId" (Bedrock's), read without decoding the
// rest of the payload; a payload that names none, or is not a JSON object,
// gives "". nil keeps the default. f runs on the worker goroutine before
// each attempt and must not keep the job.
func WithModel(f func(job *llmqueue.Job) string) Option {
	return func(c *config) {
		if f != nil {
			c.model = f
		}
	}
}

// Middleware returns an llmqueue.Middleware that runs each attempt in a
// span of kind Client, so an attempt that fails and is retried gives one
// span per attempt. The span is named "{operation} {model}", such as
// "chat gpt-4o", or "llmqueue.attempt" while the model is unknown, and
// carries the attributes the package doc lists. The wrapped Processor's
// context holds the span, so the spans of an instrumented HTTP client or
// SDK nest under it. The middleware is safe for concurrent use by any
// number of BatchProcessors.
func Middleware(opts ...Option) llmqueue.Middleware {
	c := &config{operation: defaultOperation, model: modelFromJob}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	var topts []trace.TracerOption
	if v := moduleVersion(); v != "" {
		topts = append(topts, trace.WithInstrumentationVersion(v))
	}
	// Without a provider of its own, the middleware asks the global one
	// on every attempt, so a program may set it after building the
	// worker, even more than once (tests do).
	tracer := func() trace.Tracer { return otelapi.GetTracerProvider().Tracer(ScopeName, topts...) }
	if c.provider != nil {
		t := c.provider.Tracer(ScopeName, topts...)
		tracer = func() trace.Tracer { return t }
	}
	return func(next llmqueue.Processor) llmqueue.Processor {
		return llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
			return c.process(ctx, tracer(), next, job)
		})
	}
}

// process runs one attempt of job through next inside a span.
func (c *config) process(ctx context.Context, tracer trace.Tracer, next llmqueue.Processor, job *llmqueue.Job) (res *llmqueue.Result, err error) {
	model := c.model(job)
	name := fallbackSpanName
	if model != "" {
		name = c.operation + " " + model
	}
	ctx, span := tracer.Start(queuedContext(ctx, job), name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(c.jobAttributes(job, model)...))
	defer func() {
		// A panic below this middleware (another middleware's) ends the
		// span as an error before it goes on up; the BatchProcessor
		// recovers it.
		if p := recover(); p != nil {
			span.SetAttributes(errorTypeKey.String("panic"))
			span.SetStatus(codes.Error, fmt.Sprintf("panic: %v", p))
			span.End()
			panic(p)
		}
	}()
	res, err = next.Process(ctx, job)
	end(ctx, span, res, err)
	return res, err
}

// end records the attempt's outcome on span and ends it.
func end(ctx context.Context, span trace.Span, res *llmqueue.Result, err error) {
	o := classify(ctx, err)
	span.SetAttributes(OutcomeKey.String(string(o)))
	if res != nil {
		span.SetAttributes(usageAttributes(res.Usage)...)
	}
	switch o {
	case OutcomeCompleted:
	case OutcomeSuspended:
		if reason := suspendReason(err); reason != "" {
			span.SetAttributes(SuspendReasonKey.String(reason))
		}
	default:
		var after []attribute.KeyValue
		if d := retryAfter(err); d > 0 {
			after = append(after, RetryAfterKey.Int64(d.Milliseconds()))
			span.SetAttributes(after...)
		}
		if o == OutcomeRateLimited {
			span.AddEvent(RateLimitedEvent, trace.WithAttributes(after...))
		}
		msg := err.Error()
		if o == OutcomeCanceled {
			if cause := context.Cause(ctx); cause != nil {
				msg = cause.Error() + ": " + msg
			}
		}
		span.SetAttributes(errorTypeKey.String(errorType(err, o)))
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// moduleVersion is the llmqueue module's version as the binary records it,
// "" when it is unknown (a development build, or a test of this module).
var moduleVersion = sync.OnceValue(func() string {
	const module = "github.com/llmqueue/llmqueue"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := ""
	if bi.Main.Path == module {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			v = d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
		}
	}
	if v == "(devel)" {
		return ""
	}
	return v
})
