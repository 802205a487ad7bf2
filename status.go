package llmqueue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RequestStatus is a snapshot of one request. SuspendReason is the reason
// given to Suspend while the request is suspended, empty otherwise.
type RequestStatus struct {
	ID              string                     `json:"id"`
	Status          Status                     `json:"status"`
	Priority        Priority                   `json:"priority"`
	Payload         json.RawMessage            `json:"payload,omitempty"`
	EstimatedTokens int64                      `json:"estimated_tokens"`
	Attempts        int                        `json:"attempts"`
	MaxRetries      int                        `json:"max_retries"`
	Timeout         time.Duration              `json:"-"`
	TimeoutMS       int64                      `json:"timeout_ms,omitempty"`
	Result          json.RawMessage            `json:"result,omitempty"`
	Usage           Usage                      `json:"usage"`
	Error           string                     `json:"error,omitempty"`
	SuspendReason   string                     `json:"suspend_reason,omitempty"`
	CancelRequested bool                       `json:"cancel_requested,omitempty"`
	Meta            map[string]json.RawMessage `json:"meta,omitempty"`
	CreatedAt       time.Time                  `json:"created_at"`
	UpdatedAt       time.Time                  `json:"updated_at"`
	StartedAt       time.Time                  `json:"started_at,omitzero"`
	FinishedAt      time.Time                  `json:"finished_at,omitzero"`
}

// hashReader decodes fields of a stored request hash, remembering the first
// bad one so a corrupt hash gives one clear ErrCorrupt.
type hashReader struct {
	h   map[string]string
	err error
}

func (r *hashReader) int(field string, required bool) int64 {
	v, ok := r.h[field]
	if !ok || v == "" {
		if required && r.err == nil {
			r.err = fmt.Errorf("%w: missing %q", ErrCorrupt, field)
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: field %q is %q", ErrCorrupt, field, v)
	}
	return n
}

// maxUnixMilli is the last millisecond of year 9999: a later time cannot
// be written as JSON (RFC 3339), so it can only come from a corrupt hash.
const maxUnixMilli = 253402300799999

func (r *hashReader) time(field string) time.Time {
	ms := r.int(field, false)
	if ms == 0 {
		return time.Time{}
	}
	if (ms < 0 || ms > maxUnixMilli) && r.err == nil {
		r.err = fmt.Errorf("%w: field %q is not a time", ErrCorrupt, field)
	}
	return time.UnixMilli(ms)
}

func decodeStatus(id string, h map[string]string) (*RequestStatus, error) {
	r := &hashReader{h: h}
	s := &RequestStatus{
		ID:              id,
		Status:          Status(h["status"]),
		Priority:        Priority(h["prio"]),
		EstimatedTokens: r.int("tokens", true),
		Attempts:        int(r.int("att", true)),
		MaxRetries:      int(r.int("maxr", true)),
		TimeoutMS:       r.int("tmo", false),
		Usage: Usage{InputTokens: r.int("uin", false), OutputTokens: r.int("uout", false),
			CacheReadInputTokens: r.int("ucr", false), CacheCreationInputTokens: r.int("ucw", false)},
		Error:           h["err"],
		CancelRequested: h["cxl"] == "1",
		CreatedAt:       r.time("ct"),
		UpdatedAt:       r.time("ut"),
		StartedAt:       r.time("st"),
		FinishedAt:      r.time("ft"),
	}
	s.Timeout = time.Duration(s.TimeoutMS) * time.Millisecond
	// Resume and Cancel clear the reason, but a hash written before they
	// did may still hold it: it describes a suspension only.
	if s.Status == StatusSuspended {
		s.SuspendReason = h["reason"]
	}
	if r.err == nil && (s.EstimatedTokens < 0 || s.Attempts < 0 || s.MaxRetries < 0) {
		r.err = fmt.Errorf("%w: negative tokens, attempts or retries", ErrCorrupt)
	}
	if r.err != nil {
		return nil, fmt.Errorf("llmqueue: status %s: %w", id, r.err)
	}
	switch s.Status {
	case StatusQueued, StatusActive, StatusRetrying, StatusCompleted, StatusDead, StatusSuspended, StatusCanceled:
	default:
		return nil, fmt.Errorf("llmqueue: status %s: %w: unknown status %q", id, ErrCorrupt, s.Status)
	}
	switch s.Priority {
	case PriorityLow, PriorityMedium, PriorityLong:
	default:
		return nil, fmt.Errorf("llmqueue: status %s: %w: unknown priority %q", id, ErrCorrupt, s.Priority)
	}
	if p := h["payload"]; json.Valid([]byte(p)) {
		s.Payload = json.RawMessage(p)
	}
	if res, ok := h["res"]; ok && res != "" {
		if !json.Valid([]byte(res)) {
			return nil, fmt.Errorf("llmqueue: status %s: %w: result is not JSON", id, ErrCorrupt)
		}
		s.Result = json.RawMessage(res)
	}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, "m:"); ok {
			if s.Meta == nil {
				s.Meta = map[string]json.RawMessage{}
			}
			if json.Valid([]byte(v)) {
				s.Meta[name] = json.RawMessage(v)
			} else {
				s.Meta[name], _ = json.Marshal(v)
			}
		}
	}
	return s, nil
}
