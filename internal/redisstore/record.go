package redisstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fields of a request hash. The Lua scripts spell them too; in Go this
// is the only place.
const (
	fieldStatus     = "status"
	fieldPriority   = "prio"
	fieldTokens     = "tokens"
	fieldInTokens   = "cin" // the reserved charge's input tokens
	fieldOutTokens  = "cout"
	fieldAttempts   = "att"
	fieldMaxRetries = "maxr"
	fieldTimeout    = "tmo" // ms; 0 = the processor's default
	fieldUsageIn    = "uin"
	fieldUsageOut   = "uout"
	fieldCacheRead  = "ucr"
	fieldCacheWrite = "ucw"
	fieldError      = "err"
	fieldReason     = "reason" // why a request is suspended
	fieldCancel     = "cxl"
	fieldCreated    = "ct"
	fieldUpdated    = "ut"
	fieldStarted    = "st"
	fieldFinished   = "ft"
	fieldPayload    = "payload"
	fieldResult     = "res"
	fieldLease      = "lease"
	fieldInput      = "input" // a resumed request's input
	fieldState      = "state" // a suspended request's saved state
	fieldDigest     = "rh"    // the content digest Add compares
	fieldCost       = "cost"  // nano-USD, set at completion when priced
	fieldDeployment = "dep"   // the Deployment that completed it
	metaPrefix      = "m:"
)

// Record is a stored request, decoded and checked.
type Record struct {
	ID, Status, Priority string
	// Tokens is the estimate; InTokens and OutTokens its reserved charge
	// (a request stored before they were tracked counts all as input).
	Tokens, InTokens, OutTokens int64
	Attempts, MaxRetries        int64
	TimeoutMS                   int64
	// Usage as the provider reported it.
	UsageIn, UsageOut, CacheRead, CacheWrite int64
	Err                                      string
	// Reason is the suspension's reason, set only while suspended.
	Reason          string
	CancelRequested bool
	Created         time.Time
	Updated         time.Time
	Started         time.Time
	Finished        time.Time
	// Payload is nil when the stored one is not JSON; Result is nil when
	// the request has none.
	Payload []byte
	Result  []byte
	// Meta maps each key to its value as JSON.
	Meta map[string][]byte
	// Lease is the lease token while active.
	Lease string
	// CostNanoUSD is what the completed call cost, in billionths of a
	// dollar; Deployment names the deployment that completed it.
	CostNanoUSD int64
	Deployment  string
	// Input is set (even to "null") when the request was resumed.
	Input    []byte
	HasInput bool
	State    []byte
}

// CorruptError says a stored request cannot be decoded.
type CorruptError struct{ Detail string }

// Error says what is wrong.
func (e *CorruptError) Error() string { return "corrupt request: " + e.Detail }

// maxUnixMilli is the last millisecond of year 9999: a later time cannot
// be written as JSON (RFC 3339), so it can only come from a corrupt hash.
const maxUnixMilli = 253402300799999

// fieldReader decodes fields of a request hash, keeping the first bad one
// so a corrupt hash gives one clear error.
type fieldReader struct {
	h   map[string]string
	err error
}

func (r *fieldReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &CorruptError{Detail: fmt.Sprintf(format, args...)}
	}
}

func (r *fieldReader) int(field string, required bool) int64 {
	v, ok := r.h[field]
	if !ok || v == "" {
		if required {
			r.fail("missing %q", field)
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail("field %q is %q", field, v)
	}
	return n
}

func (r *fieldReader) time(field string) time.Time {
	ms := r.int(field, false)
	if ms == 0 {
		return time.Time{}
	}
	if ms < 0 || ms > maxUnixMilli {
		r.fail("field %q is not a time", field)
	}
	return time.UnixMilli(ms)
}

// DecodeRecord checks and decodes request id's hash fields. It returns a
// *CorruptError for a hash no transition could have written.
func DecodeRecord(id string, h map[string]string) (Record, error) {
	r := &fieldReader{h: h}
	rec := Record{
		ID: id, Status: h[fieldStatus], Priority: h[fieldPriority],
		Tokens:     r.int(fieldTokens, true),
		Attempts:   r.int(fieldAttempts, true),
		MaxRetries: r.int(fieldMaxRetries, true),
		TimeoutMS:  r.int(fieldTimeout, false),
		UsageIn:    r.int(fieldUsageIn, false), UsageOut: r.int(fieldUsageOut, false),
		CacheRead: r.int(fieldCacheRead, false), CacheWrite: r.int(fieldCacheWrite, false),
		Err:             h[fieldError],
		CancelRequested: h[fieldCancel] == "1",
		Created:         r.time(fieldCreated), Updated: r.time(fieldUpdated),
		Started: r.time(fieldStarted), Finished: r.time(fieldFinished),
		Lease:       h[fieldLease],
		CostNanoUSD: r.int(fieldCost, false), Deployment: h[fieldDeployment],
	}
	// The charge is advisory here: the lease script validates it before
	// reserving, and Status must not fail over it.
	rec.InTokens, rec.OutTokens = rec.Tokens, 0
	if v, err := strconv.ParseInt(h[fieldInTokens], 10, 64); err == nil {
		rec.InTokens = v
	}
	if v, err := strconv.ParseInt(h[fieldOutTokens], 10, 64); err == nil {
		rec.OutTokens = v
	}
	// Resume and Cancel clear the reason, but a hash written before they
	// did may still hold it: it describes a suspension only.
	if rec.Status == "suspended" {
		rec.Reason = h[fieldReason]
	}
	if rec.Tokens < 0 || rec.Attempts < 0 || rec.MaxRetries < 0 {
		r.fail("negative tokens, attempts or retries")
	}
	if r.err != nil {
		return Record{}, r.err
	}
	switch rec.Status {
	case "queued", "active", "retrying", "completed", "dead", "suspended", "canceled":
	default:
		return Record{}, &CorruptError{Detail: fmt.Sprintf("unknown status %q", rec.Status)}
	}
	switch rec.Priority {
	case "low", "medium", "long":
	default:
		return Record{}, &CorruptError{Detail: fmt.Sprintf("unknown priority %q", rec.Priority)}
	}
	if p := h[fieldPayload]; json.Valid([]byte(p)) {
		rec.Payload = []byte(p)
	}
	if res, ok := h[fieldResult]; ok && res != "" {
		if !json.Valid([]byte(res)) {
			return Record{}, &CorruptError{Detail: "result is not JSON"}
		}
		rec.Result = []byte(res)
	}
	if in, ok := h[fieldInput]; ok {
		rec.Input, rec.HasInput = []byte(in), true
	}
	if s := h[fieldState]; s != "" {
		rec.State = []byte(s)
	}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, metaPrefix); ok {
			if rec.Meta == nil {
				rec.Meta = map[string][]byte{}
			}
			if json.Valid([]byte(v)) {
				rec.Meta[name] = []byte(v)
			} else {
				rec.Meta[name], _ = json.Marshal(v)
			}
		}
	}
	return rec, nil
}
