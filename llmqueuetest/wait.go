package llmqueuetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue"
)

// statusPoll is how often WaitStatus reads a request's status.
const statusPoll = 5 * time.Millisecond

// Add queues req on the Kit's manager and returns its ID; an error fails
// the test.
func (k *Kit) Add(req *llmqueue.Request) string {
	k.tb.Helper()
	id, err := k.Manager.Add(k.tb.Context(), req)
	if err != nil {
		k.tb.Fatalf("llmqueuetest: add: %v", err)
	}
	return id
}

// Run queues req and waits until it is completed, failing the test when
// it ends otherwise or is not done within the wait timeout. It returns the
// completed request: its Result, Usage and Attempts. Most tests use Run;
// Add and WaitStatus are for a request expected to end another way.
func (k *Kit) Run(req *llmqueue.Request) *llmqueue.RequestStatus {
	k.tb.Helper()
	return k.WaitStatus(k.Add(req), llmqueue.StatusCompleted)
}

// Wait waits until request id is terminal (completed, dead or canceled)
// and returns it, whichever status it ended in; a suspended request keeps
// Wait waiting, as it does llmqueue.QueueManager.Wait. It fails the test
// when the request is not terminal within the wait timeout, naming the
// status it was left in.
func (k *Kit) Wait(id string) *llmqueue.RequestStatus {
	k.tb.Helper()
	ctx, cancel := context.WithTimeout(k.tb.Context(), k.cfg.waitTimeout)
	defer cancel()
	st, err := k.Manager.Wait(ctx, id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			k.tb.Fatalf("llmqueuetest: request %s is not done after %s: %s", id, k.cfg.waitTimeout, k.describe(id))
		}
		k.tb.Fatalf("llmqueuetest: wait for request %s: %v", id, err)
	}
	return st
}

// WaitStatus waits until request id has status want and returns it. It
// fails the test when the request ends in another terminal status (a
// request that is dead will never complete), or when it does not reach
// want within the wait timeout, naming the status it was in, its attempts
// and its last error. want may be any status: StatusSuspended to see a
// processor suspend, StatusRetrying to see a failure that will be retried.
func (k *Kit) WaitStatus(id string, want llmqueue.Status) *llmqueue.RequestStatus {
	k.tb.Helper()
	deadline := time.Now().Add(k.cfg.waitTimeout)
	for {
		st, err := k.Manager.Status(k.tb.Context(), id)
		if err != nil {
			k.tb.Fatalf("llmqueuetest: status of request %s: %v", id, err)
		}
		switch {
		case st.Status == want:
			return st
		case st.Status.Terminal():
			k.tb.Fatalf("llmqueuetest: request %s ended %s, want %s", id, summary(st), want)
		case time.Now().After(deadline):
			k.tb.Fatalf("llmqueuetest: request %s is %s after %s, want %s", id, summary(st), k.cfg.waitTimeout, want)
		}
		time.Sleep(statusPoll)
	}
}

// describe reads request id for a failure message.
func (k *Kit) describe(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := k.Manager.Status(ctx, id)
	if err != nil {
		return fmt.Sprintf("its status could not be read: %v", err)
	}
	return "it is " + summary(st)
}

// summary is a request's status, attempts and error, for a message:
// `dead (1 attempt of at most 4, error "permanent: bad request")`.
func summary(st *llmqueue.RequestStatus) string {
	s := fmt.Sprintf("%s (%d attempt", st.Status, st.Attempts)
	if st.Attempts != 1 {
		s += "s"
	}
	s += fmt.Sprintf(" of at most %d", st.MaxRetries+1)
	switch {
	case st.SuspendReason != "":
		s += fmt.Sprintf(", suspended: %q", st.SuspendReason)
	case st.Error != "":
		s += fmt.Sprintf(", error %q", st.Error)
	}
	return s + ")"
}
