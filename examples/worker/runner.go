package main

import (
	"context"
	"strings"

	"github.com/llmqueue/llmqueue"
)

// runner is what work needs of a BatchProcessor or a Router.
type runner interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
	workerID() string
	// status is the worker's, or the sum of the deployments' counters.
	status() llmqueue.WorkerStatus
}

type batchRunner struct{ *llmqueue.BatchProcessor }

func (b batchRunner) workerID() string              { return b.WorkerID() }
func (b batchRunner) status() llmqueue.WorkerStatus { return b.Status() }

type routerRunner struct{ *llmqueue.Router }

// workerID is the common prefix of the deployments' worker IDs: each is
// it, ".", and the deployment's name.
func (r routerRunner) workerID() string {
	for name, st := range r.Status() {
		return strings.TrimSuffix(st.WorkerID, "."+name)
	}
	return ""
}

func (r routerRunner) status() llmqueue.WorkerStatus {
	var sum llmqueue.WorkerStatus
	for _, st := range r.Status() {
		sum.InFlight += st.InFlight
		sum.TotalRequestsProcessed += st.TotalRequestsProcessed
		sum.Completed += st.Completed
		sum.Failed += st.Failed
		sum.StaleAcks += st.StaleAcks
	}
	return sum
}

// deploymentNames lists deps' names, for the start-up log.
func deploymentNames(deps []llmqueue.Deployment) []string {
	names := make([]string, len(deps))
	for i, d := range deps {
		names[i] = d.Name
	}
	return names
}
