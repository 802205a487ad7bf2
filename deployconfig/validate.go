package deployconfig

import (
	"errors"
	"fmt"
	"math"
	"regexp"
)

// nameRE is what llmqueue.NewRouter accepts as a deployment name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Validate checks the file as Parse does, without building anything, and
// returns every problem found, joined; each is an *Error. getenv reads the
// variables api_key_env names; nil skips that check.
func (f *File) Validate(getenv func(string) string) error {
	specs := f.Deployments
	var errs []error
	for model, p := range f.Prices {
		for field, v := range map[string]float64{"input_per_million": p.InputPerMillion,
			"cached_input_per_million": p.CachedInputPerMillion, "output_per_million": p.OutputPerMillion} {
			if !(v >= 0) || math.IsInf(v, 0) {
				errs = append(errs, &Error{Index: -1, Field: "prices." + model + "." + field,
					Err: fmt.Errorf("%w: %v: want a finite number >= 0", ErrInvalidValue, v)})
			}
		}
	}
	seen := map[string]int{}
	primaries := 0
	for i, s := range specs {
		bad := func(field string, err error) {
			errs = append(errs, &Error{Index: i, Deployment: s.Name, Field: field, Err: err})
		}
		switch {
		case s.Name == "":
			bad("name", ErrMissingField)
		case !nameRE.MatchString(s.Name):
			bad("name", fmt.Errorf("%w: want 1-64 of [A-Za-z0-9._-]", ErrInvalidValue))
		default:
			if j, ok := seen[s.Name]; ok {
				bad("name", fmt.Errorf("%w: also deployments[%d]", ErrDuplicateName, j))
			} else {
				seen[s.Name] = i
			}
		}
		if s.Model == "" {
			bad("model", ErrMissingField)
		}
		if len(s.APIKey) > 0 {
			bad("api_key", fmt.Errorf("%w: name the variable that holds the key in api_key_env", ErrSecretInFile))
		}
		switch s.Provider {
		case OpenAI, Anthropic:
			if s.Region != "" {
				bad("region", fmt.Errorf("%w: only for bedrock", ErrInvalidValue))
			}
			if s.Endpoint != "" {
				bad("endpoint", fmt.Errorf("%w: only for bedrock; use base_url", ErrInvalidValue))
			}
			if s.Provider == Anthropic && s.Organization != "" {
				bad("organization", fmt.Errorf("%w: only for openai", ErrInvalidValue))
			}
			switch {
			case s.APIKeyEnv == "":
				bad("api_key_env", ErrMissingField)
			case getenv != nil && getenv(s.APIKeyEnv) == "":
				bad("api_key_env", fmt.Errorf("%w: %s is unset or empty", ErrMissingSecret, s.APIKeyEnv))
			}
		case Bedrock:
			if s.Region == "" {
				bad("region", ErrMissingField)
			}
			for field, v := range map[string]string{"base_url": s.BaseURL, "api_key_env": s.APIKeyEnv, "organization": s.Organization} {
				if v != "" {
					bad(field, fmt.Errorf("%w: not for bedrock (credentials come from the AWS chain; endpoint overrides the URL)", ErrInvalidValue))
				}
			}
		case "":
			bad("provider", ErrMissingField)
		default:
			bad("provider", fmt.Errorf("%w %q: want openai, bedrock or anthropic", ErrUnknownProvider, s.Provider))
		}
		if s.Concurrency < 0 {
			bad("concurrency", fmt.Errorf("%w: %d is negative", ErrInvalidValue, s.Concurrency))
		}
		if s.Timeout < 0 {
			bad("timeout", fmt.Errorf("%w: negative", ErrInvalidValue))
		}
		s.Limits.check(func(field string, err error) { bad("limits."+field, err) })
		switch v := s.DailySpendLimitUSD; {
		case !(v >= 0) || math.IsInf(v, 0):
			bad("daily_spend_limit_usd", fmt.Errorf("%w: %v: want a finite number >= 0", ErrInvalidValue, v))
		case v > 0 && s.Model != "":
			if _, ok := f.Prices[s.Model]; !ok {
				bad("daily_spend_limit_usd", fmt.Errorf("%w: needs a price for %q in prices", ErrInvalidValue, s.Model))
			}
		}
		if !s.Fallback {
			primaries++
		}
	}
	if len(specs) > 0 && primaries == 0 {
		errs = append(errs, &Error{Index: -1, Field: "fallback", Err: fmt.Errorf("%w: every deployment is a fallback", ErrInvalidValue)})
	}
	return errors.Join(errs...)
}

// check reports each limit out of range.
func (l Limits) check(bad func(field string, err error)) {
	for _, f := range []struct {
		name string
		v    int64
	}{{"tpm", l.TPM}, {"rpm", l.RPM}, {"itpm", l.ITPM}, {"otpm", l.OTPM}, {"tpd", l.TPD}, {"rpd", l.RPD}} {
		if f.v < 0 {
			bad(f.name, fmt.Errorf("%w: %d is negative", ErrInvalidValue, f.v))
		}
	}
	if l.Window < 0 {
		bad("window", fmt.Errorf("%w: negative", ErrInvalidValue))
	}
	if p := l.SafetyBufferPercent; p != nil && (*p < 0 || *p >= 100) {
		bad("safety_buffer_percent", fmt.Errorf("%w: %g: want at least 0 and below 100", ErrInvalidValue, *p))
	}
}
