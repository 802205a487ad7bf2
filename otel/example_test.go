package otel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/llmqueuetest"
	"github.com/llmqueue/llmqueue/otel"
)

// Middleware traces each attempt of a BatchProcessor; here one request
// runs on an embedded Redis and its span goes to an in-memory exporter.
// In a program, register your exporter's TracerProvider with
// otel.SetTracerProvider (of go.opentelemetry.io/otel) and leave out
// WithTracerProvider.
func ExampleMiddleware() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	chat := llmqueue.ProcessorFunc(func(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
		// ctx holds the attempt's span: an instrumented HTTP client's
		// spans nest under it.
		return &llmqueue.Result{
			Output: []byte(`"hello"`),
			Usage:  llmqueue.Usage{InputTokens: 12, OutputTokens: 2},
		}, nil
	})
	wc := llmqueue.WorkerConfig{
		Middleware: []llmqueue.Middleware{otel.Middleware(
			otel.WithSystem("openai"),
			otel.WithTracerProvider(tp),
		)},
	}
	req := llmqueue.NewRequest(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		llmqueue.WithID("req-1"), llmqueue.WithEstimatedTokens(100))
	if _, err := llmqueuetest.ProcessOnce(context.Background(), chat, req, llmqueuetest.WithWorkerConfig(wc)); err != nil {
		panic(err)
	}

	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name, s.SpanKind)
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.usage.input_tokens",
				"gen_ai.usage.output_tokens", otel.RequestIDKey, otel.ClassKey, otel.AttemptKey, otel.OutcomeKey:
				fmt.Printf("  %s = %s\n", kv.Key, kv.Value.Emit())
			}
		}
	}
	// Output:
	// chat gpt-4o client
	//   gen_ai.provider.name = openai
	//   gen_ai.request.model = gpt-4o
	//   llmqueue.request.id = req-1
	//   llmqueue.attempt = 1
	//   llmqueue.class = low
	//   llmqueue.outcome = completed
	//   gen_ai.usage.input_tokens = 12
	//   gen_ai.usage.output_tokens = 2
}
