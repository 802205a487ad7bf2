package llmqueue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/llmqueue/llmqueue/internal/redisstore"
	"github.com/redis/go-redis/v9"
)

// QueueManager adds requests to a namespace's queues and reports on them.
// Any number of managers in any number of processes may share a namespace.
// It is safe for concurrent use.
type QueueManager struct {
	cfg   managerConfig
	store *redisstore.Store
	waits waitHub // serves Wait; see waiter.go
}

// NewQueueManager returns a manager on rdb (a single, Sentinel failover or
// Cluster client). A nil cfg takes every default.
func NewQueueManager(rdb redis.UniversalClient, cfg *Config) (*QueueManager, error) {
	if rdb == nil {
		return nil, errors.New("llmqueue: nil redis client")
	}
	c, err := newManagerConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &QueueManager{cfg: c, store: redisstore.New(rdb, c.namespace)}, nil
}

// Namespace returns the manager's namespace.
func (q *QueueManager) Namespace() string { return q.cfg.namespace }

// Budget returns the budget with its defaults applied.
func (q *QueueManager) Budget() Budget { return q.cfg.budget }

// Ping checks that the namespace's Redis answers.
func (q *QueueManager) Ping(ctx context.Context) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return storeErr(q.store.Ping(ctx))
}

func (q *QueueManager) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, q.cfg.opTimeout)
}

// Add validates, estimates, classifies and queues one request and returns
// its ID. Adding the same request under a stored ID succeeds without queueing
// it twice: after an *AddOutcomeUnknownError, retry with WithID.
func (q *QueueManager) Add(ctx context.Context, req *Request) (string, error) {
	// Errors: a negative estimate fails with ErrInvalidTokens, a payload
	// that is not JSON with ErrInvalidPayload, an estimate above the usable
	// limit with ErrOverBudget.
	//
	// Limits, checked before anything is sent, with or without a Budget
	// (see prepare, packMeta, estimate and Request.validate): every
	// estimate (the caller's or the Estimator's, input, output and their
	// sum) must be within 0..MaxTokens (ErrInvalidTokens), and the Meter's
	// charge is clamped into that range; the payload must be valid JSON in
	// valid UTF-8, not null, and at most Config.MaxPayloadBytes long
	// (ErrInvalidPayload); the ID and meta must be valid UTF-8, and meta at
	// most 256 entries and 64 KiB (ErrInvalidRequest). A size over its
	// limit is a *LimitError.
	//
	// Idempotence: the ID is fixed before the first send (a new one is
	// generated when the request has none), and adding a request that is
	// already stored under its ID, with the same payload and options,
	// answers success with that ID and queues nothing twice; a different
	// request under a stored ID fails with ErrDuplicateID. A stored request
	// counts until its retention ends. When Redis gives no answer (a
	// timeout or a broken connection after the call was sent), Add cannot
	// know whether the request was stored: it fails with
	// *AddOutcomeUnknownError, which names the ID and matches
	// ErrUnavailable. A retry with the same ID (WithID) makes sure it is
	// queued exactly once.
	ids, err := q.AddMany(ctx, []*Request{req})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// AddMany queues a batch atomically in one round trip: every request or
// none. Like Add, it can be retried with the same IDs.
func (q *QueueManager) AddMany(ctx context.Context, reqs []*Request) ([]string, error) {
	// Requests already stored under their ID with the same content count
	// as queued (see Add), so a batch can be retried after an
	// *AddOutcomeUnknownError, whose IDs are the batch's.
	if len(reqs) == 0 {
		return nil, nil
	}
	batch := make([]redisstore.NewRequest, len(reqs))
	ids := make([]string, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for i, r := range reqs {
		nr, err := q.prepare(r)
		if err != nil {
			return nil, fmt.Errorf("llmqueue: add request %d: %w", i, err)
		}
		if seen[nr.ID] {
			return nil, fmt.Errorf("llmqueue: add %s: %w", nr.ID, ErrDuplicateID)
		}
		seen[nr.ID] = true
		batch[i], ids[i] = nr, nr.ID
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("llmqueue: add: %w", err) // nothing sent: known not added
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	if err := q.store.Add(ctx, batch); err != nil {
		var dup *redisstore.DuplicateError
		if errors.As(err, &dup) {
			return nil, fmt.Errorf("llmqueue: add %s: %w", dup.ID, ErrDuplicateID)
		}
		if outcomeUnknown(err) {
			return nil, fmt.Errorf("llmqueue: add: %w", &AddOutcomeUnknownError{ID: ids[0], IDs: ids, Err: storeErr(err)})
		}
		return nil, fmt.Errorf("llmqueue: add: %w", storeErr(err))
	}
	if err := q.confirmDurable(ctx, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// outcomeUnknown reports whether a failed add script call may have run
// anyway: the call went out (or may have, on an earlier go-redis retry)
// and no answer came. A reply from Redis, even an error reply, means the
// script did not store anything.
func outcomeUnknown(err error) bool {
	return redisUnavailable(err) || errors.Is(err, context.Canceled)
}

func (q *QueueManager) prepare(r *Request) (redisstore.NewRequest, error) {
	if r == nil {
		return redisstore.NewRequest{}, fmt.Errorf("%w: nil request", ErrInvalidRequest)
	}
	if n := len(r.Payload); n > q.cfg.maxPayload {
		return redisstore.NewRequest{}, &LimitError{What: "payload bytes", Size: int64(n), Limit: int64(q.cfg.maxPayload), Err: ErrInvalidPayload}
	}
	if err := r.validate(); err != nil {
		return redisstore.NewRequest{}, err
	}
	if q.cfg.validator != nil {
		if err := q.cfg.validator.Validate(r.Payload); err != nil {
			return redisstore.NewRequest{}, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
		}
	}
	est, err := q.estimate(r)
	if err != nil {
		return redisstore.NewRequest{}, err
	}
	charge := q.meterFor(r.Payload).Reserve(est).clamp()
	if err := q.cfg.budget.fits(charge); err != nil {
		return redisstore.NewRequest{}, err
	}
	id := r.ID
	if id == "" {
		id = newID()
	}
	meta, err := packMeta(r.Meta)
	if err != nil {
		return redisstore.NewRequest{}, err
	}
	prio := r.Priority
	if prio == "" {
		prio = q.cfg.thresholds.Classify(charge.Tokens)
	}
	return redisstore.NewRequest{
		ID: id, Priority: string(prio), Tokens: charge.Tokens,
		InTokens: charge.InputTokens, OutTokens: charge.OutputTokens, MaxRetries: r.MaxRetries, TimeoutMS: r.Timeout.Milliseconds(), Payload: r.Payload, Meta: meta,
	}, nil
}

// packMeta checks a request's meta against maxMetaEntries and maxMetaBytes
// and marshals each value to compact JSON. Keys and values must be valid
// UTF-8 and keys free of control characters (the compact queued form
// separates fields with tabs and newlines).
func packMeta(m map[string]any) (map[string][]byte, error) {
	if len(m) > maxMetaEntries {
		return nil, &LimitError{What: "meta entries", Size: int64(len(m)), Limit: maxMetaEntries, Err: ErrInvalidRequest}
	}
	meta := make(map[string][]byte, len(m))
	size := 0
	for k, v := range m {
		if k == "" || strings.ContainsFunc(k, unicode.IsControl) || !utf8.ValidString(k) {
			return nil, fmt.Errorf("%w: meta key %q is empty, not valid UTF-8 or holds a control character", ErrInvalidRequest, k)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: meta %q: %v", ErrInvalidRequest, k, err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%w: meta %q: value is not valid UTF-8", ErrInvalidRequest, k)
		}
		if size += len(k) + len(b); size > maxMetaBytes {
			return nil, &LimitError{What: "meta bytes", Size: int64(size), Limit: maxMetaBytes, Err: ErrInvalidRequest}
		}
		meta[k] = b
	}
	return meta, nil
}

// idDigits are the digits of generated IDs, in ASCII order, so IDs of
// equal length sort as their numbers do: URL-safe and nothing a shell or a
// command line treats specially.
const idDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns a time-ordered random ID of 19 characters: 8 base-62
// digits of Unix milliseconds (fixed width until the year 8888) and 11 of
// 64 random bits. It is shorter than the 27 hex digits it replaced, which
// matters for a queued request's memory: the ID is in its key and its
// queue entry.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	var id [19]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 7; i >= 0; i-- {
		id[i] = idDigits[ms%62]
		ms /= 62
	}
	r := binary.LittleEndian.Uint64(b[:])
	for i := 18; i >= 8; i-- {
		id[i] = idDigits[r%62]
		r /= 62
	}
	return string(id[:])
}

// Status returns a request's current state, or ErrNotFound for an unknown
// or expired ID.
func (q *QueueManager) Status(ctx context.Context, id string) (*RequestStatus, error) {
	// A stored hash that cannot be decoded fails with ErrCorrupt.
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	rec, err := q.store.Get(ctx, id)
	var ce *redisstore.CorruptError
	if err != nil && !errors.As(err, &ce) {
		return nil, q.wrap("status", id, err)
	}
	return statusFromRecord(id, rec, err)
}

// Cancel cancels a request and returns StatusCanceled, or StatusActive when
// it is running: its processor's context is then canceled (Wait tells when
// it ends). A completed or dead request fails with ErrInvalidState.
func (q *QueueManager) Cancel(ctx context.Context, id string) (Status, error) {
	// A queued, retrying or suspended request is canceled at once. An
	// active one is flagged: the process that runs it cancels its
	// processor's context and it ends canceled. A request already canceled
	// is canceled again without effect and Cancel returns StatusCanceled,
	// so a retry after a lost reply succeeds.
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	res, err := q.store.Cancel(ctx, id, q.cfg.retention.Milliseconds())
	if err != nil {
		return "", q.wrap("cancel", id, err)
	}
	if res == "canceling" {
		return StatusActive, nil
	}
	return StatusCanceled, nil
}

// Resume queues a suspended request again; its processor gets input,
// marshalled to JSON, as Job.ResumeInput. A nil input fails with
// ErrInvalidPayload; json.RawMessage("null") answers JSON null.
func (q *QueueManager) Resume(ctx context.Context, id string, input any) error {
	// The processor sees its saved state as Job.State. A json.RawMessage is
	// taken as is. input is the answer the request was suspended for, so it
	// is required: nil (or an empty json.RawMessage) fails with
	// ErrInvalidPayload and leaves the request suspended.
	b, err := marshalInput(input)
	if err != nil {
		return fmt.Errorf("llmqueue: resume %s: %w", id, err)
	}
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrap("resume", id, q.store.Resume(ctx, id, string(StatusSuspended), b))
}

// Requeue queues a dead request again with its attempts reset.
func (q *QueueManager) Requeue(ctx context.Context, id string) error {
	ctx, cancel := q.opCtx(ctx)
	defer cancel()
	return q.wrap("requeue", id, q.store.Resume(ctx, id, string(StatusDead), nil))
}

func marshalInput(input any) ([]byte, error) {
	switch v := input.(type) {
	case nil:
		return nil, fmt.Errorf("%w: input is required (json.RawMessage(\"null\") answers null)", ErrInvalidPayload)
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, fmt.Errorf("%w: input is not valid JSON", ErrInvalidPayload)
		}
		return v, nil
	}
	b, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	return b, nil
}

// wrap maps store errors to the exported sentinels.
func (q *QueueManager) wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	var st *redisstore.StateError
	switch {
	case redisUnavailable(err):
		err = storeErr(err)
	case errors.Is(err, redisstore.ErrNotFound):
		err = ErrNotFound
	case errors.Is(err, redisstore.ErrStale):
		err = ErrStaleLease
	case errors.As(err, &st):
		err = fmt.Errorf("%w: request is %s", ErrInvalidState, st.Status)
	}
	return fmt.Errorf("llmqueue: %s %s: %w", op, id, err)
}

// estimate returns a request's estimated usage: the caller's, else the
// estimator's (split into input and output when it can), capped at
// MaxTokens. An estimate the caller gave as one number counts as input.
func (q *QueueManager) estimate(r *Request) (Usage, error) {
	switch {
	case r.split:
		return r.EstimatedUsage, nil
	case r.estimated:
		return Usage{InputTokens: r.EstimatedTokens}, nil
	}
	var est Usage
	if ue, ok := q.cfg.estimator.(UsageEstimator); ok {
		u, err := ue.EstimateUsage(r.Payload)
		if err != nil {
			return Usage{}, fmt.Errorf("estimate: %w", err)
		}
		est = u
	} else {
		n, err := q.cfg.estimator.EstimateTokens(r.Payload)
		if err != nil {
			return Usage{}, fmt.Errorf("estimate: %w", err)
		}
		est = Usage{InputTokens: n}
	}
	if est.InputTokens < 0 || est.OutputTokens < 0 || est.CacheReadInputTokens < 0 || est.CacheCreationInputTokens < 0 {
		return Usage{}, fmt.Errorf("%w: estimator returned %d input and %d output tokens",
			ErrInvalidTokens, est.InputTokens, est.OutputTokens)
	}
	for _, n := range []int64{addTokensSat(est.InputTokens, est.OutputTokens), est.CacheReadInputTokens, est.CacheCreationInputTokens} {
		if n > MaxTokens {
			return Usage{}, fmt.Errorf("estimator: %w", &LimitError{What: "estimated tokens", Size: n, Limit: MaxTokens, Err: ErrInvalidTokens})
		}
	}
	return est, nil
}

// meterFor returns the meter that reserves and settles a call of payload:
// Config.Meter, else the estimator's when it declares one, else ExactMeter.
// The BatchProcessor prefers its Processor's declaration (see
// BatchProcessor.meterFor).
func (q *QueueManager) meterFor(payload json.RawMessage) Meter {
	if q.cfg.meter != nil {
		return q.cfg.meter
	}
	if m, ok := q.cfg.estimator.(Metered); ok {
		if mm := m.MeterFor(payload); mm != nil {
			return mm
		}
	}
	return ExactMeter{}
}
