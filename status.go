package llmqueue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
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

// statusFromRecord turns a stored request into its status. The store has
// checked the record; a *redisstore.CorruptError becomes ErrCorrupt.
func statusFromRecord(id string, rec redisstore.Record, err error) (*RequestStatus, error) {
	if err != nil {
		var ce *redisstore.CorruptError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("llmqueue: status %s: %w: %s", id, ErrCorrupt, ce.Detail)
		}
		return nil, err
	}
	s := &RequestStatus{
		ID: rec.ID, Status: Status(rec.Status), Priority: Priority(rec.Priority),
		EstimatedTokens: rec.Tokens, Attempts: int(rec.Attempts), MaxRetries: int(rec.MaxRetries),
		TimeoutMS: rec.TimeoutMS, Timeout: time.Duration(rec.TimeoutMS) * time.Millisecond,
		Usage: Usage{InputTokens: rec.UsageIn, OutputTokens: rec.UsageOut,
			CacheReadInputTokens: rec.CacheRead, CacheCreationInputTokens: rec.CacheWrite},
		Error: rec.Err, SuspendReason: rec.Reason, CancelRequested: rec.CancelRequested,
		CreatedAt: rec.Created, UpdatedAt: rec.Updated, StartedAt: rec.Started, FinishedAt: rec.Finished,
		Payload: json.RawMessage(rec.Payload), Result: json.RawMessage(rec.Result),
	}
	if len(rec.Meta) > 0 {
		s.Meta = make(map[string]json.RawMessage, len(rec.Meta))
		for k, v := range rec.Meta {
			s.Meta[k] = json.RawMessage(v)
		}
	}
	return s, nil
}
