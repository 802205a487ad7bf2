package llmqueue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/llmqueue/llmqueue/internal/redisstore"
)

// RequestStatus is a snapshot of one request, as Status and Wait return it.
type RequestStatus struct {
	ID              string                     `json:"id"`                         // the request's ID
	Status          Status                     `json:"status"`                     // where it is now
	Priority        Priority                   `json:"priority"`                   // its size class
	Payload         json.RawMessage            `json:"payload,omitempty"`          // the JSON payload as added
	EstimatedTokens int64                      `json:"estimated_tokens"`           // the reserved estimate
	Attempts        int                        `json:"attempts"`                   // attempts started so far
	MaxRetries      int                        `json:"max_retries"`                // the retry limit
	Timeout         time.Duration              `json:"-"`                          // per attempt; 0: WorkerConfig.JobTimeout
	TimeoutMS       int64                      `json:"timeout_ms,omitempty"`       // Timeout in ms, for JSON
	Result          json.RawMessage            `json:"result,omitempty"`           // a completed request's Output
	Usage           Usage                      `json:"usage"`                      // the completing call's usage
	Error           string                     `json:"error,omitempty"`            // the last failure's message
	SuspendReason   string                     `json:"suspend_reason,omitempty"`   // Suspend's reason, while suspended
	CancelRequested bool                       `json:"cancel_requested,omitempty"` // Cancel asked while it ran
	Meta            map[string]json.RawMessage `json:"meta,omitempty"`             // meta values as JSON
	CreatedAt       time.Time                  `json:"created_at"`                 // when added
	UpdatedAt       time.Time                  `json:"updated_at"`                 // the last change
	StartedAt       time.Time                  `json:"started_at,omitzero"`        // the latest lease; zero before
	FinishedAt      time.Time                  `json:"finished_at,omitzero"`       // when terminal; zero before
	CostUSD         float64                    `json:"cost_usd,omitempty"`         // the completing call's cost at Config.Prices
	Deployment      string                     `json:"deployment,omitempty"`       // the Deployment that completed it
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
		CostUSD: nanoUSD(rec.CostNanoUSD), Deployment: rec.Deployment,
	}
	if len(rec.Meta) > 0 {
		s.Meta = make(map[string]json.RawMessage, len(rec.Meta))
		for k, v := range rec.Meta {
			s.Meta[k] = json.RawMessage(v)
		}
	}
	return s, nil
}
