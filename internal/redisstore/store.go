// Package redisstore holds llmqueue's Lua scripts and the thin Go wrappers
// that call them. Every state change of a request is one script call.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Errors a script reports. The root package maps them to its exported
// sentinels.
var (
	ErrStale    = errors.New("stale lease")
	ErrNotFound = errors.New("not found")
)

// StateError says a request was in a status the operation does not accept.
type StateError struct{ Status string }

// Error names the status.
func (e *StateError) Error() string { return "request is " + e.Status }

// DuplicateError names an ID that already exists.
type DuplicateError struct{ ID string }

// Error names the ID.
func (e *DuplicateError) Error() string { return "duplicate id " + e.ID }

// Store runs the scripts of one namespace on a Redis client. It is safe
// for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	keys Keys
}

// New returns a Store for namespace ns.
func New(rdb redis.UniversalClient, ns string) *Store {
	return &Store{rdb: rdb, keys: NewKeys(ns)}
}

// ForDeployment returns a Store on the same client whose budget ledger and
// cool-down are deployment name's (see Keys.ForDeployment).
func (s *Store) ForDeployment(name string) *Store {
	return &Store{rdb: s.rdb, keys: s.keys.ForDeployment(name)}
}

// scriptErr turns the scripts' error replies into typed errors.
func scriptErr(err error) error {
	if err == nil {
		return nil
	}
	// Redis 7 prefixes a script's error reply with "ERR " unless it carries
	// its own code; accept both forms.
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	switch {
	case msg == "STALE":
		return ErrStale
	case msg == "NOTFOUND":
		return ErrNotFound
	case strings.HasPrefix(msg, "STATE "):
		return &StateError{Status: strings.TrimPrefix(msg, "STATE ")}
	}
	return err
}

// NewRequest is one request as Add stores it. Meta keys must not hold
// tabs or newlines and meta values must be compact JSON: they are packed
// into a tab-separated header.
type NewRequest struct {
	ID       string
	Priority string
	// Tokens, InTokens and OutTokens are the charge reserved when the
	// request is leased: combined, input and output tokens.
	Tokens, InTokens, OutTokens int64
	MaxRetries                  int
	TimeoutMS                   int64
	Payload                     []byte
	Meta                        map[string][]byte
}

// header packs what materialize (lua/lib.lua) unpacks after
// "Q4\t<ct>\t<digest>\t". Tokens are left out when they are input +
// output, as they usually are. Meta pairs are in key order, so the same
// request always packs the same (see digest).
func (r NewRequest) header() string {
	var b strings.Builder
	if r.Tokens != r.InTokens+r.OutTokens {
		b.WriteString(strconv.FormatInt(r.Tokens, 10))
	}
	b.WriteByte('\t')
	b.WriteString(r.Priority)
	b.WriteByte('\t')
	b.WriteString(strconv.Itoa(r.MaxRetries))
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(r.TimeoutMS, 10))
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(r.InTokens, 10))
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(r.OutTokens, 10))
	for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
		b.WriteByte('\t')
		b.WriteString(k)
		b.WriteByte('\t')
		b.Write(r.Meta[k])
	}
	return b.String()
}

// digest identifies a request's content: 16 hex digits (64 bits) of the
// SHA-256 of its ID, header and payload. The add script compares it with
// the stored request's to tell a replay of the same Add from a different
// request under the same ID; a request stored by an older release holds 32
// digits, whose first 16 are these.
func digest(id, header string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(header))
	h.Write([]byte{'\n'})
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Add stores and queues reqs atomically, in one round trip. A request
// already stored under its ID with the same content (the same digest) is
// taken as added, so a resent call answers success; a different one under
// a stored ID fails the whole call with *DuplicateError.
func (s *Store) Add(ctx context.Context, reqs []NewRequest) error {
	args := make([]any, 0, 3+len(reqs)*5)
	args = append(args, s.keys.Prefix, len(reqs), s.keys.Added)
	for _, r := range reqs {
		h := r.header()
		args = append(args, r.ID, r.Priority, digest(r.ID, h, r.Payload), h, r.Payload)
	}
	k := s.keys
	res, err := addScript.Run(ctx, s.rdb, []string{k.Low, k.Medium, k.Long, k.Stats}, args...).Slice()
	if err != nil {
		return err
	}
	if len(res) == 2 {
		if id, ok := res[1].(string); ok {
			return &DuplicateError{ID: id}
		}
	}
	if len(res) != 1 {
		return fmt.Errorf("add: unexpected reply %v", res)
	}
	return nil
}

// Get returns a request (a queued one is unpacked from its compact form):
// ErrNotFound when it does not exist, a *CorruptError when it cannot be
// decoded.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	h, err := s.getFields(ctx, id)
	if err != nil {
		return Record{}, err
	}
	return DecodeRecord(id, h)
}

// getFields returns a request's fields as its hash holds them.
func (s *Store) getFields(ctx context.Context, id string) (map[string]string, error) {
	// MULTI/EXEC, not a plain pipeline: the lease script turns the compact
	// form into the hash between two pipelined reads, and a reader that saw
	// neither would call a live request not found. Both keys share the
	// namespace's hash tag, so this works on Cluster too.
	pipe := s.rdb.TxPipeline()
	hash := pipe.HGetAll(ctx, s.keys.Request(id))
	packed := pipe.Get(ctx, s.keys.Queued(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if h := hash.Val(); len(h) > 0 {
		return h, nil
	}
	if packed.Err() == nil {
		return Unpack(packed.Val()), nil
	}
	return nil, ErrNotFound
}

// Unpack reads a queued request's compact form into the fields its hash
// would hold, like materialize in lua/lib.lua. A malformed value gives
// fields that decode as corrupt.
func Unpack(packed string) map[string]string {
	header, payload, _ := strings.Cut(packed, "\n")
	f := strings.Split(header, "\t")
	// Q1 is the form before input and output charges were stored, Q2 the
	// one before the content digest, Q3 the one that always wrote tokens.
	metaAt := map[string]int{"Q1": 6, "Q2": 8, "Q3": 9, "Q4": 9}[f[0]]
	if metaAt == 0 || len(f) < metaAt {
		return map[string]string{fieldStatus: "queued", fieldPriority: "low", fieldTokens: "corrupt",
			fieldAttempts: "0", fieldMaxRetries: "0", fieldPayload: payload}
	}
	h := map[string]string{fieldStatus: "queued", fieldCreated: f[1], fieldUpdated: f[1], fieldAttempts: "0",
		fieldPayload: payload}
	if f[0] == "Q4" && f[3] == "" {
		// Digits only, as materialize reads them: ParseUint takes no sign.
		in, err1 := strconv.ParseUint(f[7], 10, 62)
		out, err2 := strconv.ParseUint(f[8], 10, 62)
		if err1 == nil && err2 == nil {
			f[3] = strconv.FormatUint(in+out, 10)
		}
	}
	if f[0] == "Q3" || f[0] == "Q4" {
		h[fieldDigest] = f[2]
		f = append(f[:2:2], f[3:]...) // the rest as in Q2
		metaAt--
	}
	h[fieldTokens], h[fieldPriority], h[fieldMaxRetries], h[fieldTimeout] = f[2], f[3], f[4], f[5]
	if metaAt >= 8 {
		h[fieldInTokens], h[fieldOutTokens] = f[6], f[7]
	}
	for i := metaAt; i+1 < len(f); i += 2 {
		h[metaPrefix+f[i]] = f[i+1]
	}
	return h
}

// SetMeta stores one meta value while the lease is held.
func (s *Store) SetMeta(ctx context.Context, id, token, key string, value []byte) error {
	_, err := setMetaScript.Run(ctx, s.rdb, []string{s.keys.Request(id)}, token, key, value).Result()
	return scriptErr(err)
}

// Cancel cancels a request; it answers "canceled" or "canceling" (active).
func (s *Store) Cancel(ctx context.Context, id string, retentionMS int64) (string, error) {
	k := s.keys
	res, err := cancelScript.Run(ctx, s.rdb,
		[]string{k.Request(id), k.Low, k.Medium, k.Long, k.Scheduled, k.Suspended, k.Stats},
		id, retentionMS, k.Events, k.Cancels, k.Prefix).Text()
	return res, scriptErr(err)
}

// Resume moves a request from status `from` ("suspended" or "dead") back
// to its queue, attaching input when resuming.
func (s *Store) Resume(ctx context.Context, id, from string, input []byte) error {
	k := s.keys
	_, err := resumeScript.Run(ctx, s.rdb,
		[]string{k.Request(id), k.Low, k.Medium, k.Long, k.Suspended, k.Dead},
		id, from, input, k.Prefix).Result()
	return scriptErr(err)
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("unexpected reply type %T", v)
}

func toStrings(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected reply type %T", v)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected element type %T", e)
		}
		out = append(out, s)
	}
	return out, nil
}

// pairs turns a flat key/value list into a map.
func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

// Restamp moves a leased request's reservation to the current time; it
// reports false when the lease or the reservation is gone.
func (s *Store) Restamp(ctx context.Context, id, token string) (bool, error) {
	n, err := restampScript.Run(ctx, s.rdb, []string{s.keys.Request(id), s.keys.BudgetLog, s.keys.BudgetDayLog},
		token).Int()
	return n == 1, err
}
