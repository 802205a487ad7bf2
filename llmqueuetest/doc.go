// Package llmqueuetest helps test code built on llmqueue without a Redis
// installed: an embedded Redis (miniredis), a QueueManager and a
// BatchProcessor in one call, helpers that run a request and fail the test
// with a clear message when it does not end as expected, and ProcessOnce,
// which runs one attempt of a Processor exactly as a BatchProcessor would
// and reports what it made of the result.
//
// A test of code that queues requests and reads their outcome:
//
//	func TestSummarize(t *testing.T) {
//		k := llmqueuetest.New(t, mySummarizer{})
//		st := k.Run(llmqueue.NewRequest(map[string]string{"text": "..."}))
//		// st.Status is completed, or the test has failed naming what it was.
//		// st.Result is what the processor returned.
//	}
//
// A unit test of a Processor, its error classification included:
//
//	a, err := llmqueuetest.ProcessOnce(ctx, myProcessor{}, llmqueue.NewRequest(payload))
//	// a.Err is the attempt's error as the BatchProcessor acted on it
//	// (errors.As(a.Err, new(*llmqueue.PermanentError)) ...), a.Request.Status
//	// what it made of it: completed, dead, retrying, suspended, or queued
//	// again after a rate limit.
//
// Everything New starts is stopped by the test's cleanup. The helpers
// that take no testing.TB (ProcessOnce) clean up before they return.
package llmqueuetest
