package llmqueue

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeStatus feeds arbitrary request hashes to the decoder that reads
// what Redis holds: it must return a status or ErrCorrupt, never panic.
func FuzzDecodeStatus(f *testing.F) {
	f.Add("queued", "low", "10", "0", "3", `{"a":1}`, `{"ok":true}`, `"v"`, "1700000000000")
	f.Add("active", "long", "-5", "x", "", "", "", "", "")
	f.Add("", "", "", "", "", "{", "{", "{", "-1")
	f.Add("completed", "medium", "99999999999999999999", "1", "1", "null", "[]", "1e400", "9223372036854775807")
	f.Fuzz(func(t *testing.T, status, prio, tokens, att, maxr, payload, res, meta, ts string) {
		h := map[string]string{"status": status, "prio": prio, "tokens": tokens, "att": att, "maxr": maxr,
			"payload": payload, "res": res, "m:k": meta, "ct": ts, "st": ts}
		st, err := decodeStatus("id", h)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if _, err := json.Marshal(st); err != nil {
			t.Fatalf("decoded status does not marshal: %v", err)
		}
	})
}

// FuzzRequestPayload checks that any payload bytes give a valid request or a
// typed error, and that accepted payloads are valid JSON.
func FuzzRequestPayload(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`), int64(10))
	f.Add([]byte(`{`), int64(-1))
	f.Add([]byte{}, int64(0))
	f.Add([]byte("\xff\xfe"), int64(1<<62))
	f.Fuzz(func(t *testing.T, payload []byte, tokens int64) {
		r := NewRequest(payload, WithEstimatedTokens(tokens))
		err := r.validate()
		switch {
		case err == nil:
			if !json.Valid(r.Payload) || tokens < 0 {
				t.Fatalf("accepted payload %q with %d tokens", payload, tokens)
			}
		case errors.Is(err, ErrInvalidPayload), errors.Is(err, ErrInvalidTokens):
		default:
			t.Fatalf("untyped error %v", err)
		}
		if err == nil {
			if _, err := (HeuristicEstimator{}).EstimateTokens(r.Payload); err != nil {
				t.Fatalf("estimator refused a valid payload: %v", err)
			}
		}
	})
}
