package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sync"
	"time"
)

// Deployment is one endpoint that serves a namespace's requests, such as
// an OpenAI organisation, an Azure region or a Bedrock region, with limits,
// a meter, a processor and a cool-down of its own. The deployments of a
// Router share the namespace's queues; each leases against its own ledger.
type Deployment struct {
	Name        string    // 1-64 of [A-Za-z0-9._-], the same in every process; it names the ledger in Redis
	Budget      Budget    // this deployment's limits
	Processor   Processor // calls this deployment
	Meter       Meter     // how it counts; nil: Config.Meter, else the Processor's, else the manager's
	Model       string    // the model it serves, for Config.Prices when the Result names none
	Concurrency int       // calls at once in this process; 0: WorkerConfig.Concurrency
	// Fallback deployments take only requests that failed over on
	// another deployment, such as a different model kept for outages.
	Fallback bool
	// DailySpendLimitUSD stops leasing for this deployment once a UTC
	// day's spend would pass it, like any other budget dimension: each
	// lease reserves the request's estimate at Config.Prices[Model],
	// trued up to the real cost when it completes. 0 means no limit.
	DailySpendLimitUSD float64
}

var deploymentName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Router runs a namespace's requests on several deployments: a
// BatchProcessor per deployment, each leasing from the shared queues what
// its own budget can afford now, so a deployment with room takes the head
// request while the others wait for theirs, and together they run at the
// sum of their limits. A 429 cools down only the deployment that got it. A
// call that fails on a deployment for any reason but the request's own
// (a Permanent error, Suspend, a cancel) — a 5xx, a timeout, a refused
// connection — cools that deployment down for 1 s, doubling while it keeps
// failing up to 30 s, and hands the request back to the head of its queue
// for another deployment at once, its retry unspent; the first lease after
// the cool-down probes the deployment back in. Every process of the
// namespace must run the same deployments under the same names.
type Router struct {
	deps  []Deployment
	procs []*BatchProcessor
}

// NewRouter returns a Router for q's namespace over deps; cfg (nil: the
// defaults) configures every deployment's worker, whose WorkerID is
// cfg.WorkerID (or a generated one) followed by "." and the deployment's
// name. A request whose estimate no deployment can ever afford stays
// queued: give the manager's Config.Budget the largest deployment's limits
// so that Add refuses it.
func NewRouter(q *QueueManager, deps []Deployment, cfg *WorkerConfig) (*Router, error) {
	if q == nil {
		return nil, errors.New("llmqueue: nil QueueManager")
	}
	if len(deps) == 0 {
		return nil, fmt.Errorf("%w: a router needs at least one deployment", ErrInvalidRequest)
	}
	var base WorkerConfig
	if cfg != nil {
		base = *cfg
	}
	if base.WorkerID == "" {
		bc, err := newBatchConfig(q, &base)
		if err != nil {
			return nil, err
		}
		base.WorkerID = bc.workerID
	}
	mode, primaries := "", 0
	for _, d := range deps {
		if !d.Fallback {
			primaries++
		}
	}
	if primaries == 0 {
		return nil, fmt.Errorf("%w: every deployment is a fallback", ErrInvalidRequest)
	}
	if len(deps) > 1 {
		mode = "shared"
	}
	r := &Router{deps: deps}
	seen := map[string]bool{}
	for _, d := range deps {
		switch {
		case !deploymentName.MatchString(d.Name):
			return nil, fmt.Errorf("%w: deployment name %q: want 1-64 of [A-Za-z0-9._-]", ErrInvalidRequest, d.Name)
		case seen[d.Name]:
			return nil, fmt.Errorf("%w: deployment %q given twice", ErrInvalidRequest, d.Name)
		case d.Processor == nil:
			return nil, fmt.Errorf("%w: deployment %q has no Processor", ErrInvalidRequest, d.Name)
		}
		seen[d.Name] = true
		if err := d.Budget.validate(); err != nil {
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		price, priced := q.cfg.prices[d.Model]
		switch {
		case d.DailySpendLimitUSD < 0 || math.IsNaN(d.DailySpendLimitUSD) || math.IsInf(d.DailySpendLimitUSD, 0):
			return nil, fmt.Errorf("%w: deployment %q: daily spend limit %v", ErrInvalidRequest, d.Name, d.DailySpendLimitUSD)
		case d.DailySpendLimitUSD > 0 && !priced:
			return nil, fmt.Errorf("%w: deployment %q: a spend limit needs its Model's price in Config.Prices", ErrInvalidRequest, d.Name)
		}
		wc := base
		wc.WorkerID = base.WorkerID + "." + d.Name
		if d.Concurrency > 0 {
			wc.Concurrency = d.Concurrency
		}
		bp, err := NewBatchProcessor(q, d.Processor, &wc)
		if err != nil {
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		bp.store = q.store.ForDeployment(d.Name)
		bp.budget, bp.meter, bp.deploy, bp.mode, bp.model = d.Budget, d.Meter, d.Name, mode, d.Model
		if d.DailySpendLimitUSD > 0 {
			bp.spend = spendLimit{
				limitNano: int64(math.Round(d.DailySpendLimitUSD * 1e9)),
				// p dollars per million tokens is 1000p nano-dollars per token.
				inNano: price.InputPerMillion * 1000, outNano: price.OutputPerMillion * 1000,
			}
		}
		if d.Fallback && len(deps) > 1 {
			bp.mode = "fallback"
		}
		if len(deps) > 1 {
			bp.breaker = &breaker{}
		}
		r.procs = append(r.procs, bp)
	}
	return r, nil
}

// Start starts every deployment's worker; ctx bounds the start-up only.
// When one fails to start, those already started are shut down.
func (r *Router) Start(ctx context.Context) error {
	for i, bp := range r.procs {
		if err := bp.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = r.shutdown(sctx, r.procs[:i])
			return fmt.Errorf("deployment %q: %w", r.deps[i].Name, err)
		}
	}
	return nil
}

// Shutdown stops every deployment's worker at once, as
// BatchProcessor.Shutdown does, and returns when all have stopped or ctx
// ends.
func (r *Router) Shutdown(ctx context.Context) error { return r.shutdown(ctx, r.procs) }

func (r *Router) shutdown(ctx context.Context, procs []*BatchProcessor) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, bp := range procs {
		wg.Go(func() {
			if err := bp.Shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("deployment %q: %w", r.deps[i].Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Status reports each deployment's worker, by deployment name.
func (r *Router) Status() map[string]WorkerStatus {
	out := make(map[string]WorkerStatus, len(r.procs))
	for i, bp := range r.procs {
		out[r.deps[i].Name] = bp.Status()
	}
	return out
}

// HealthCheck passes while at least one deployment's worker passes its
// own; else it returns every deployment's failure.
func (r *Router) HealthCheck(ctx context.Context) error {
	var errs []error
	for i, bp := range r.procs {
		err := bp.HealthCheck(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("deployment %q: %w", r.deps[i].Name, err))
	}
	return errors.Join(errs...)
}

// DeploymentUse is one deployment's budget in its current windows.
type DeploymentUse struct {
	Name            string         `json:"name"`
	Dimensions      []DimensionUse `json:"dimensions"`
	CooldownSeconds float64        `json:"cooldown_seconds"` // what is left of its cool-down (429 or failure)
}

// Usage reads each deployment's ledger and cool-down.
func (r *Router) Usage(ctx context.Context) ([]DeploymentUse, error) {
	out := make([]DeploymentUse, 0, len(r.procs))
	for i, bp := range r.procs {
		q := bp.qm
		octx, cancel := q.opCtx(ctx)
		snap, err := bp.store.Snapshot(octx, bp.budget.ledgerWindow(), q.cfg.retention.Milliseconds())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("llmqueue: deployment %q usage: %w", r.deps[i].Name, storeErr(err))
		}
		out = append(out, DeploymentUse{
			Name:            r.deps[i].Name,
			Dimensions:      dimensionsOf(budgetInfo(bp.budget), snap),
			CooldownSeconds: snap.Cooldown.Seconds(),
		})
	}
	return out, nil
}
