package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// LeaseArgs are one lease call's inputs.
type LeaseArgs struct {
	Max    int
	Lease  time.Duration
	Window time.Duration
	// Usable limits per window and per day; 0 = unlimited.
	TPM, RPM, ITPM, OTPM, TPD, RPD int64
	Cycle                          [3]int
	WorkerID                       string
	RetentionMS                    int64
	// CallID makes the call idempotent per worker: a retry with the same
	// id answers the first call's leases. Empty disables that.
	CallID string
	// TokenNonce is appended to every lease token this call hands out, so
	// tokens stay unique when the lease counter is set back (an INCR lost
	// to an AOF everysec restart or an async failover). Empty: random.
	TokenNonce string
	// Mode is "" for a namespace's only ledger, "shared" for one
	// deployment of several, "fallback" for one that takes only requests
	// that failed over (see ARGV[17] in lua/lease.lua).
	Mode string
	// SpendLimitNanoUSD is the deployment's spend per UTC day (0: none);
	// the prices, per input and output token, estimate what a lease
	// reserves of it.
	SpendLimitNanoUSD               int64
	InPriceNanoUSD, OutPriceNanoUSD float64
	// Deployment names the deployment leasing, for requests pinned to
	// some (see ARGV[21] in lua/lease.lua).
	Deployment string
}

// LeaseResult is what the lease script answered.
type LeaseResult struct {
	// Jobs are the leased requests.
	Jobs []Leased
	// Killed are the requests the call put to death on the way.
	Killed []Killed
	// Wait is how long until the head request fits, or the next retry is
	// due; negative when nothing is scheduled at all.
	Wait time.Duration
	// Reason is "ok", "empty", "cooldown" or the budget dimension that
	// binds ("tokens", "input_tokens", "output_tokens", "requests",
	// "tokens_per_day", "requests_per_day"), or "paused" while the
	// namespace's processing is paused.
	Reason string
	// Cycle is the cycle in force ("3,2,1"): the control hash's, else
	// the one the call asked for. Empty for a replayed call.
	Cycle string
	// StartPos and EndPos are the shared cycle position before and after
	// the call; Wrapped is true when it passed the cycle's end during the
	// call, and AfterWrap counts the leases made after that.
	StartPos, EndPos int
	Wrapped          bool
	AfterWrap        int
}

// Lease admits up to a.Max requests the budget can afford.
func (s *Store) Lease(ctx context.Context, a LeaseArgs) (LeaseResult, error) {
	k := s.keys
	keys := append([]string{k.Low, k.Medium, k.Long, k.Active, k.Scheduled}, k.Ledger()...)
	keys = append(keys, k.Cycle, k.Cooldown, k.Stats, k.Dead, k.LeaseSeq, k.LastLease, k.Control)
	cycle := fmt.Sprintf("%d,%d,%d", a.Cycle[0], a.Cycle[1], a.Cycle[2])
	nonce := a.TokenNonce
	if nonce == "" {
		nonce = RandomHex(6)
	}
	raw, err := leaseScript.Run(ctx, s.rdb, keys, k.Prefix, a.Max, a.Lease.Milliseconds(),
		a.Window.Milliseconds(), a.TPM, a.RPM, cycle, a.WorkerID, a.RetentionMS, k.Events, a.CallID,
		a.ITPM, a.OTPM, a.TPD, a.RPD, nonce, a.Mode, a.SpendLimitNanoUSD, a.InPriceNanoUSD, a.OutPriceNanoUSD, a.Deployment).Slice()
	if err != nil {
		return LeaseResult{}, err
	}
	if len(raw) < 5 {
		return LeaseResult{}, fmt.Errorf("lease: short reply of %d elements", len(raw))
	}
	n, err := toInt64(raw[0])
	if err != nil {
		return LeaseResult{}, fmt.Errorf("lease: count: %w", err)
	}
	wait, err := toInt64(raw[1])
	if err != nil {
		return LeaseResult{}, fmt.Errorf("lease: wait: %w", err)
	}
	reason, _ := raw[2].(string)
	res := LeaseResult{Reason: reason, Wait: time.Duration(wait) * time.Millisecond}
	if err := res.readCycle(raw[3]); err != nil {
		return LeaseResult{}, err
	}
	killed, err := toStrings(raw[4])
	if err != nil {
		return LeaseResult{}, fmt.Errorf("lease: killed: %w", err)
	}
	for i := 0; i+1 < len(killed); i += 2 {
		res.Killed = append(res.Killed, Killed{ID: killed[i], Reason: killed[i+1]})
	}
	if int64(len(raw)-5) != n {
		return LeaseResult{}, fmt.Errorf("lease: %d jobs announced, %d sent", n, len(raw)-5)
	}
	for _, j := range raw[5:] {
		flat, err := toStrings(j)
		if err != nil {
			return LeaseResult{}, fmt.Errorf("lease: job: %w", err)
		}
		h := pairs(flat)
		id := h["id"]
		delete(h, "id")
		rec, err := DecodeRecord(id, h)
		res.Jobs = append(res.Jobs, Leased{ID: id, Lease: h[fieldLease], Record: rec, Err: err})
	}
	return res, nil
}

// Killed is a request a lease call put to death, and why.
type Killed struct{ ID, Reason string }

// Leased is one request a lease call handed out. Err is a *CorruptError
// when its hash cannot be decoded: the holder of Lease must end it.
type Leased struct {
	ID, Lease string
	Record    Record
	Err       error
}

// readCycle reads the reply's {spec, start_pos, end_pos, wrapped,
// after_wrap}.
func (r *LeaseResult) readCycle(v any) error {
	parts, ok := v.([]any)
	if !ok || len(parts) != 5 {
		return fmt.Errorf("lease: cycle: want 5 elements, got %T", v)
	}
	r.Cycle, _ = parts[0].(string)
	var nums [4]int64
	for i := range nums {
		n, err := toInt64(parts[i+1])
		if err != nil {
			return fmt.Errorf("lease: cycle: %w", err)
		}
		nums[i] = n
	}
	r.StartPos, r.EndPos, r.Wrapped, r.AfterWrap = int(nums[0]), int(nums[1]), nums[2] == 1, int(nums[3])
	return nil
}

// HeartbeatArgs are one heartbeat's inputs.
type HeartbeatArgs struct {
	Lease      time.Duration
	WorkerID   string
	Instance   string // random per process: who holds WorkerID
	WorkerTTL  time.Duration
	WorkerInfo []byte
	Leases     map[string]string // id -> lease token
}

// HeartbeatResult is what a heartbeat found.
type HeartbeatResult struct {
	Lost   []string // ids whose lease another worker holds now
	Cancel []string // ids asked to cancel
	// Displaced is true when another live instance holds the worker id.
	Displaced bool
}

// Heartbeat extends held leases and registers the worker.
func (s *Store) Heartbeat(ctx context.Context, a HeartbeatArgs) (HeartbeatResult, error) {
	k := s.keys
	args := []any{k.Prefix, a.Lease.Milliseconds(), a.WorkerID, a.WorkerTTL.Milliseconds(), a.WorkerInfo, a.Instance}
	for id, tok := range a.Leases {
		args = append(args, id, tok)
	}
	raw, err := heartbeatScript.Run(ctx, s.rdb, []string{k.Active, k.Workers, k.WorkerInfo, k.LastLease, k.WorkerInst}, args...).Slice()
	if err != nil {
		return HeartbeatResult{}, err
	}
	if len(raw) != 3 {
		return HeartbeatResult{}, fmt.Errorf("heartbeat: reply of %d elements", len(raw))
	}
	var res HeartbeatResult
	if res.Lost, err = toStrings(raw[0]); err != nil {
		return HeartbeatResult{}, fmt.Errorf("heartbeat: %w", err)
	}
	if res.Cancel, err = toStrings(raw[1]); err != nil {
		return HeartbeatResult{}, fmt.Errorf("heartbeat: %w", err)
	}
	d, err := toInt64(raw[2])
	if err != nil {
		return HeartbeatResult{}, fmt.Errorf("heartbeat: displaced: %w", err)
	}
	res.Displaced = d == 1
	return res, nil
}

// Holder describes the live process that holds a worker id.
type Holder struct {
	Left time.Duration // until its registration expires unless renewed
	Info string        // its registry JSON
}

// Register claims workerID for instance. It returns a non-nil Holder, and
// claims nothing, when another live instance holds the id.
func (s *Store) Register(ctx context.Context, workerID, instance string, ttl time.Duration, info []byte) (*Holder, error) {
	k := s.keys
	raw, err := registerScript.Run(ctx, s.rdb, []string{k.Workers, k.WorkerInfo, k.WorkerInst},
		workerID, instance, ttl.Milliseconds(), info).Slice()
	if err != nil {
		return nil, err
	}
	if len(raw) == 1 {
		return nil, nil
	}
	if len(raw) != 3 {
		return nil, fmt.Errorf("register: reply of %d elements", len(raw))
	}
	left, err := toInt64(raw[1])
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	info2, _ := raw[2].(string)
	return &Holder{Left: time.Duration(left) * time.Millisecond, Info: info2}, nil
}

// Deregister removes workerID from the registry unless another instance
// holds it now.
func (s *Store) Deregister(ctx context.Context, workerID, instance string) error {
	k := s.keys
	return deregisterScript.Run(ctx, s.rdb, []string{k.Workers, k.WorkerInfo, k.WorkerInst, k.LastLease},
		workerID, instance).Err()
}

// Charge is a ledger entry's tokens: combined, input and output. A
// Tokens of -1 keeps the reservation as it is.
type Charge struct{ Tokens, InTokens, OutTokens int64 }

// Keep is the Charge that leaves a reservation as it is.
var Keep = Charge{Tokens: -1}

// Feedback is what the provider said about its window: per dimension, the
// queue's usable limit and the provider's remaining count. A limit <= 0
// (not enforced) or a remaining < 0 (not said) skips the dimension.
type Feedback struct {
	LimitTokens, RemainingTokens     int64
	LimitRequests, RemainingRequests int64
	LimitIn, RemainingIn             int64
	LimitOut, RemainingOut           int64
}

// NoFeedback says nothing.
var NoFeedback = Feedback{RemainingTokens: -1, RemainingRequests: -1, RemainingIn: -1, RemainingOut: -1}

func (f Feedback) args() []any {
	return []any{f.LimitTokens, f.RemainingTokens, f.LimitRequests, f.RemainingRequests,
		f.LimitIn, f.RemainingIn, f.LimitOut, f.RemainingOut}
}

func (c Charge) args() []any {
	if c.Tokens < 0 {
		return []any{-1, 0, 0}
	}
	return []any{c.Tokens, c.InTokens, c.OutTokens}
}

// CompleteArgs are one successful ack's inputs.
type CompleteArgs struct {
	ID, Token string
	Result    []byte
	// Settle is the call's final charge (Keep: the reservation stands).
	Settle Charge
	// Usage as the provider reported it.
	InTokens, OutTokens, CacheRead, CacheWrite int64
	Feedback                                   Feedback
	// CostNanoUSD is what the call cost (0: not priced), booked under
	// the namespace, Deployment (when set) and Model (when set).
	CostNanoUSD       int64
	Deployment, Model string
}

// Complete acks one successful attempt; ErrStale when the lease is lost.
func (s *Store) Complete(ctx context.Context, a CompleteArgs, window time.Duration, retentionMS int64) error {
	errs, err := s.CompleteMany(ctx, []CompleteArgs{a}, window, retentionMS)
	if err != nil {
		return err
	}
	return errs[0]
}

// CompleteMany acks successful attempts in one script call. It returns
// one error per ack (nil or ErrStale), or an error for the whole call.
func (s *Store) CompleteMany(ctx context.Context, acks []CompleteArgs, window time.Duration, retentionMS int64) ([]error, error) {
	k := s.keys
	args := make([]any, 0, 4+21*len(acks))
	args = append(args, k.Prefix, window.Milliseconds(), retentionMS, k.Events)
	for _, a := range acks {
		args = append(args, a.ID, a.Token, a.Result)
		args = append(args, a.Settle.args()...)
		args = append(args, a.InTokens, a.OutTokens, a.CacheRead, a.CacheWrite)
		args = append(args, a.Feedback.args()...)
		args = append(args, a.CostNanoUSD, a.Deployment, a.Model)
	}
	keys := append(append([]string{k.Active}, k.Ledger()...), k.Stats, k.LeaseSeq)
	res, err := completeScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != len(acks) {
		return nil, fmt.Errorf("complete: %d answers for %d acks", len(res), len(acks))
	}
	errs := make([]error, len(acks))
	for i, r := range res {
		if r != 1 {
			errs[i] = ErrStale
		}
	}
	return errs, nil
}

// FailArgs are one failed attempt's inputs.
type FailArgs struct {
	ID, Token      string
	Kind           string // retry | permanent | ratelimit | suspend | canceled | release
	Message        string
	Delay          time.Duration // backoff (retry) or retry-after (ratelimit)
	Settle         Charge        // Keep: the reservation stands
	Feedback       Feedback
	Window         time.Duration
	RetentionMS    int64
	MaxRateLimited int
	State          []byte
}

// Fail records a failed attempt and returns the request's new status.
func (s *Store) Fail(ctx context.Context, a FailArgs) (string, error) {
	k := s.keys
	keys := append([]string{k.Request(a.ID), k.Active}, k.Ledger()...)
	keys = append(keys, k.Stats, k.Scheduled, k.Dead, k.Suspended, k.Cooldown, k.Low, k.Medium, k.Long, k.LeaseSeq)
	args := []any{a.ID, a.Token, a.Kind, a.Message, a.Delay.Milliseconds()}
	args = append(args, a.Settle.args()...)
	args = append(args, a.Window.Milliseconds(), a.RetentionMS, k.Events, a.MaxRateLimited, a.State)
	args = append(args, a.Feedback.args()...)
	st, err := failScript.Run(ctx, s.rdb, keys, args...).Text()
	return st, scriptErr(err)
}

// Snapshot is the raw state Metrics reports.
type Snapshot struct {
	Low, Medium, Long, Active, Scheduled, Dead, Suspended int64
	TokensInWindow, RequestsInWindow                      int64
	InTokensInWindow, OutTokensInWindow                   int64
	TokensInDay, RequestsInDay                            int64
	Cooldown                                              time.Duration
	Stats                                                 map[string]int64
	Workers                                               map[string]string
	// The last minute's completed, dead, canceled and rate-limited
	// events, estimated from 10-second buckets.
	RecentCompleted, RecentFailed, RecentCanceled, RecentRateLimited int64
}

// Snapshot reads queue depths, the ledger and the counters atomically.
// Dead counts the dead requests that died within retentionMS (0: all).
func (s *Store) Snapshot(ctx context.Context, window time.Duration, retentionMS int64) (Snapshot, error) {
	k := s.keys
	keys := append([]string{k.Low, k.Medium, k.Long, k.Active, k.Scheduled, k.Dead, k.Suspended}, k.Ledger()...)
	keys = append(keys, k.Stats, k.Cooldown, k.Workers, k.WorkerInfo)
	raw, err := snapshotScript.Run(ctx, s.rdb, keys, window.Milliseconds(), retentionMS).Slice()
	if err != nil {
		return Snapshot{}, err
	}
	if len(raw) != 20 {
		return Snapshot{}, fmt.Errorf("snapshot: reply of %d elements", len(raw))
	}
	var nums [14]int64
	for i := range nums {
		if nums[i], err = toInt64(raw[i]); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot: field %d: %w", i, err)
		}
	}
	statsFlat, err := toStrings(raw[14])
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: stats: %w", err)
	}
	workersFlat, err := toStrings(raw[15])
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: workers: %w", err)
	}
	snap := Snapshot{
		Low: nums[0], Medium: nums[1], Long: nums[2], Active: nums[3], Scheduled: nums[4],
		Dead: nums[5], Suspended: nums[6], TokensInWindow: nums[7], RequestsInWindow: nums[8],
		Cooldown:         time.Duration(nums[9]) * time.Millisecond,
		InTokensInWindow: nums[10], OutTokensInWindow: nums[11], TokensInDay: nums[12], RequestsInDay: nums[13],
		Stats: map[string]int64{}, Workers: pairs(workersFlat),
	}
	for name, v := range pairs(statsFlat) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			snap.Stats[name] = n
		}
	}
	for i, dst := range []*int64{&snap.RecentCompleted, &snap.RecentFailed, &snap.RecentCanceled, &snap.RecentRateLimited} {
		if *dst, err = toInt64(raw[16+i]); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot: recent field %d: %w", i, err)
		}
	}
	return snap, nil
}
