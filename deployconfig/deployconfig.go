// Package deployconfig reads a Router's deployments from a JSON file, so
// that the endpoints serving a namespace, their limits and which of them
// are fallbacks change without a rebuild.
//
// The file lists the deployments in order; each names its provider and
// where it is, the model it serves, its limits and, for OpenAI and
// Anthropic, the environment variable that holds its API key. Secrets are
// never in the file: a key in it is refused.
//
//	{
//	  "deployments": [
//	    {"name": "openai-org-a", "provider": "openai", "model": "gpt-4o-mini",
//	     "api_key_env": "OPENAI_KEY_ORG_A", "organization": "org-a",
//	     "limits": {"tpm": 2000000, "rpm": 5000}, "daily_spend_limit_usd": 50},
//	    {"name": "bedrock-us-east-1", "provider": "bedrock",
//	     "model": "anthropic.claude-3-5-haiku-20241022-v1:0", "region": "us-east-1",
//	     "limits": {"tpm": 400000, "rpm": 400}, "fallback": true}
//	  ],
//	  "prices": {
//	    "gpt-4o-mini": {"input_per_million": 0.15, "cached_input_per_million": 0.075, "output_per_million": 0.6}
//	  }
//	}
//
// Load reads the file that LLM_QUEUE_DEPLOYMENTS_FILE names (EnvFile) in the
// example worker; Parse reads any reader, with the environment as a
// function, for tests. Both return a Config: the deployments for
// llmqueue.NewRouter and the prices for llmqueue.Config.Prices.
//
// # Cost
//
// "prices" maps a model, as a deployment or a reply names it, to its price
// in US dollars per million tokens (llmqueue.Price): input_per_million,
// cached_input_per_million, output_per_million. Nothing is fetched: the
// table is yours. "daily_spend_limit_usd" on a deployment stops leasing to
// it once its calls of the UTC day cost that much; it needs a price
// for the deployment's model, or it could never bind, so Parse refuses it
// without one.
//
// # One model, several deployments
//
// The namespace queues one model's requests; each deployment serves it
// under its own name. Before each call the deployment's model replaces the
// payload's ("model" for OpenAI and Anthropic, "modelId" for Bedrock), and a
// payload in OpenAI's chat-completions shape is rewritten into the
// deployment's provider's shape (see Translate), so requests queued for an
// OpenAI deployment can fail over to a Bedrock or Anthropic one.
//
// # Limits
//
// "limits" holds the provider's limits for this deployment as
// llmqueue.Budget does: tpm, rpm, itpm, otpm per window, tpd and rpd per
// day, all 0 (unlimited) when absent; "window" is a Go duration ("1m",
// "10s") or a number of seconds, one minute when absent;
// "safety_buffer_percent" is held back, 10 when absent, and 0 means none,
// as LLM_QUEUE_SAFETY_BUFFER_PERCENT does.
package deployconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue"
)

// EnvFile is the environment variable that names the deployments file.
const EnvFile = "LLM_QUEUE_DEPLOYMENTS_FILE"

// The providers a deployment may name.
const (
	OpenAI    = "openai"
	Bedrock   = "bedrock"
	Anthropic = "anthropic"
)

// What a bad file is wrong with; every error Parse returns wraps one of
// them, inside an *Error that says where.
var (
	// ErrSyntax: the file is not JSON of the expected shape (a typo in a
	// field name included).
	ErrSyntax = errors.New("not a deployments file")
	// ErrNoDeployments: the file lists none.
	ErrNoDeployments = errors.New("no deployments")
	// ErrUnknownProvider: provider is not openai, bedrock or anthropic.
	ErrUnknownProvider = errors.New("unknown provider")
	// ErrDuplicateName: two deployments have the same name.
	ErrDuplicateName = errors.New("duplicate name")
	// ErrMissingField: a required field is absent or empty.
	ErrMissingField = errors.New("missing field")
	// ErrInvalidValue: a field's value is out of range or malformed.
	ErrInvalidValue = errors.New("invalid value")
	// ErrSecretInFile: the file holds an API key instead of naming the
	// variable that does.
	ErrSecretInFile = errors.New("secret in the file")
	// ErrMissingSecret: the variable api_key_env names is unset or empty.
	ErrMissingSecret = errors.New("missing secret")
	// ErrProvider: the provider's adapter refused its settings.
	ErrProvider = errors.New("provider setup failed")
)

// Error is one thing wrong with a deployments file. Err wraps one of the
// Err sentinels; check with errors.Is.
type Error struct {
	Index      int    // the deployment's position in the file, from 0; -1 for the file as a whole
	Deployment string // its name, when it has one
	Field      string // the JSON field at fault, when there is one
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("deployconfig: ")
	if e.Index >= 0 {
		fmt.Fprintf(&b, "deployments[%d]", e.Index)
		if e.Deployment != "" {
			fmt.Fprintf(&b, " %q", e.Deployment)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// File is the JSON document: {"deployments": [...], "prices": {...}}.
type File struct {
	Deployments []Spec `json:"deployments"`
	// Prices maps a model to its price; optional.
	Prices map[string]llmqueue.Price `json:"prices,omitempty"`
}

// Config is what a deployments file sets up: the Router's deployments, in
// the file's order, and the prices for llmqueue.Config.Prices (nil when
// the file has none).
type Config struct {
	Deployments []llmqueue.Deployment
	Prices      map[string]llmqueue.Price
}

// Spec is one deployment as the file gives it.
type Spec struct {
	// Name names the deployment and its ledger in Redis: 1-64 of
	// [A-Za-z0-9._-], the same in every process. Required.
	Name string `json:"name"`
	// Provider is openai, bedrock or anthropic. Required.
	Provider string `json:"provider"`
	// Model is the model as this deployment names it. Required.
	Model string `json:"model"`
	// BaseURL is the API's URL (openai, anthropic); empty means the
	// provider's public API. Azure and OpenAI-compatible servers set it.
	BaseURL string `json:"base_url,omitempty"`
	// APIKeyEnv names the variable that holds the API key (openai,
	// anthropic). Required for them.
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// Organization is the OpenAI-Organization header (openai), optional.
	Organization string `json:"organization,omitempty"`
	// Region is the AWS region (bedrock). Required for it.
	Region string `json:"region,omitempty"`
	// Endpoint overrides the Bedrock runtime endpoint (bedrock), optional.
	Endpoint string `json:"endpoint,omitempty"`
	// Timeout bounds one call; empty means the adapter's default.
	Timeout Duration `json:"timeout,omitzero"`
	// Limits are this deployment's provider limits.
	Limits Limits `json:"limits"`
	// Concurrency is the calls at once per process; 0 means the worker's.
	Concurrency int `json:"concurrency,omitempty"`
	// Fallback deployments take only requests that failed over.
	Fallback bool `json:"fallback,omitempty"`
	// DailySpendLimitUSD stops leasing to the deployment once its calls
	// of the UTC day cost this much at the file's prices; 0 means
	// no limit.
	DailySpendLimitUSD float64 `json:"daily_spend_limit_usd,omitempty"`

	// APIKey is never accepted; it is here to refuse it by name.
	APIKey json.RawMessage `json:"api_key,omitempty"`
}

// Limits are a deployment's provider limits, as llmqueue.Budget holds them.
type Limits struct {
	TPM  int64 `json:"tpm,omitempty"`
	RPM  int64 `json:"rpm,omitempty"`
	ITPM int64 `json:"itpm,omitempty"`
	OTPM int64 `json:"otpm,omitempty"`
	TPD  int64 `json:"tpd,omitempty"`
	RPD  int64 `json:"rpd,omitempty"`
	// Window is the window of tpm, rpm, itpm and otpm; 0 means one minute.
	Window Duration `json:"window,omitzero"`
	// SafetyBufferPercent is held back: nil means 10, 0 means none.
	SafetyBufferPercent *float64 `json:"safety_buffer_percent,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("10s", "1m30s") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON reads "10s" or 10.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%w: duration %q: want e.g. \"10s\" or \"1m\"", ErrInvalidValue, s)
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("%w: duration %s: want a string such as \"10s\" or a number of seconds", ErrInvalidValue, b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Load reads the deployments file at path, with the API keys from the
// process's environment.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("deployconfig: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(f, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads a deployments file from r and builds each deployment's
// Processor; getenv reads the variables api_key_env names. It checks the
// whole file before building anything and returns every problem it finds,
// joined, each an *Error.
func Parse(r io.Reader, getenv func(string) string) (*Config, error) {
	f, err := Decode(r)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(getenv); err != nil {
		return nil, err
	}
	cfg := &Config{Deployments: make([]llmqueue.Deployment, 0, len(f.Deployments)), Prices: f.Prices}
	for i, s := range f.Deployments {
		d, err := s.Deployment(getenv)
		if err != nil {
			return nil, &Error{Index: i, Deployment: s.Name, Err: fmt.Errorf("%w: %w", ErrProvider, err)}
		}
		cfg.Deployments = append(cfg.Deployments, d)
	}
	return cfg, nil
}

// Decode reads the file without checking what it says.
func Decode(r io.Reader) (*File, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{Index: -1, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, ErrInvalidValue) {
			return nil, &Error{Index: -1, Err: err}
		}
		return nil, &Error{Index: -1, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Index: -1, Err: fmt.Errorf("%w: trailing data after the document", ErrSyntax)}
	}
	if len(f.Deployments) == 0 {
		return nil, &Error{Index: -1, Field: "deployments", Err: ErrNoDeployments}
	}
	return &f, nil
}
