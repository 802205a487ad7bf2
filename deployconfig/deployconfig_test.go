package deployconfig_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/deployconfig"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var exampleEnv = env(map[string]string{"OPENAI_API_KEY_ORG_A": "sk-a", "OPENAI_API_KEY_ORG_B": "sk-b"})

func TestParse_TheREADMEExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/example.json")
	require.NoError(t, err)
	cfg, err := deployconfig.Parse(strings.NewReader(string(raw)), exampleEnv)
	require.NoError(t, err)
	deps := cfg.Deployments
	require.NoError(t, err)
	require.Len(t, deps, 3)

	assert.Equal(t, "openai-org-a", deps[0].Name)
	assert.Equal(t, llmqueue.Budget{TPM: 2_000_000, RPM: 5_000}, deps[0].Budget)
	assert.Equal(t, 32, deps[0].Concurrency)
	assert.False(t, deps[0].Fallback)
	assert.Equal(t, "openai-org-b", deps[1].Name)
	assert.Equal(t, "bedrock-us-east-1", deps[2].Name)
	assert.Equal(t, llmqueue.Budget{TPM: 400_000, RPM: 400, Window: time.Minute, SafetyBufferPercent: 5}, deps[2].Budget)
	assert.True(t, deps[2].Fallback)
	for _, d := range deps {
		assert.NotNil(t, d.Processor, d.Name)
		_, metered := d.Processor.(llmqueue.Metered)
		assert.True(t, metered, "%s: the provider's meter stays visible to the Router", d.Name)
	}

	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(readme), strings.TrimSpace(string(raw))), "README's Deployments example is testdata/example.json")
}

func TestParse_Limits(t *testing.T) {
	tests := []struct {
		name   string
		limits string
		want   llmqueue.Budget
	}{
		{"none", `{}`, llmqueue.Budget{}},
		{"all", `{"tpm":1,"rpm":2,"itpm":3,"otpm":4,"tpd":5,"rpd":6}`,
			llmqueue.Budget{TPM: 1, RPM: 2, ITPM: 3, OTPM: 4, TPD: 5, RPD: 6}},
		{"window as a duration", `{"tpm":10,"window":"10s"}`, llmqueue.Budget{TPM: 10, Window: 10 * time.Second}},
		{"window in seconds", `{"tpm":10,"window":2.5}`, llmqueue.Budget{TPM: 10, Window: 2500 * time.Millisecond}},
		{"no buffer", `{"tpm":10,"safety_buffer_percent":0}`, llmqueue.Budget{TPM: 10, SafetyBufferPercent: -1}},
		{"buffer", `{"tpm":10,"safety_buffer_percent":20}`, llmqueue.Budget{TPM: 10, SafetyBufferPercent: 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := `{"deployments":[{"name":"a","provider":"bedrock","model":"m","region":"us-east-1","limits":` + tc.limits + `}]}`
			cfg, err := deployconfig.Parse(strings.NewReader(file), env(nil))
			require.NoError(t, err)
			deps := cfg.Deployments
			require.NoError(t, err)
			assert.Equal(t, tc.want, deps[0].Budget)
		})
	}
}

func TestParse_RefusesBadFiles(t *testing.T) {
	const ok = `{"name":"a","provider":"openai","model":"m","api_key_env":"K"}`
	tests := []struct {
		name  string
		file  string
		want  error
		field string // the *Error's field, when one
		index int
	}{
		{"empty", ``, deployconfig.ErrSyntax, "", -1},
		{"not JSON", `deployments: []`, deployconfig.ErrSyntax, "", -1},
		{"trailing data", `{"deployments":[` + ok + `]} {}`, deployconfig.ErrSyntax, "", -1},
		{"typo in a field", `{"deployments":[{"name":"a","provider":"openai","modle":"m","api_key_env":"K"}]}`, deployconfig.ErrSyntax, "", -1},
		{"no deployments", `{"deployments":[]}`, deployconfig.ErrNoDeployments, "deployments", -1},
		{"unknown provider", `{"deployments":[{"name":"a","provider":"azure","model":"m"}]}`, deployconfig.ErrUnknownProvider, "provider", 0},
		{"no provider", `{"deployments":[{"name":"a","model":"m"}]}`, deployconfig.ErrMissingField, "provider", 0},
		{"duplicate name", `{"deployments":[` + ok + `,` + ok + `]}`, deployconfig.ErrDuplicateName, "name", 1},
		{"no name", `{"deployments":[{"provider":"openai","model":"m","api_key_env":"K"}]}`, deployconfig.ErrMissingField, "name", 0},
		{"bad name", `{"deployments":[{"name":"a b","provider":"openai","model":"m","api_key_env":"K"}]}`, deployconfig.ErrInvalidValue, "name", 0},
		{"missing model", `{"deployments":[{"name":"a","provider":"openai","api_key_env":"K"}]}`, deployconfig.ErrMissingField, "model", 0},
		{"key in the file", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key":"sk-live"}]}`, deployconfig.ErrSecretInFile, "api_key", 0},
		{"no key variable", `{"deployments":[{"name":"a","provider":"anthropic","model":"m"}]}`, deployconfig.ErrMissingField, "api_key_env", 0},
		{"key variable unset", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"UNSET"}]}`, deployconfig.ErrMissingSecret, "api_key_env", 0},
		{"bedrock without region", `{"deployments":[{"name":"a","provider":"bedrock","model":"m"}]}`, deployconfig.ErrMissingField, "region", 0},
		{"bedrock with a key", `{"deployments":[{"name":"a","provider":"bedrock","model":"m","region":"r","api_key_env":"K"}]}`, deployconfig.ErrInvalidValue, "api_key_env", 0},
		{"region on openai", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","region":"r"}]}`, deployconfig.ErrInvalidValue, "region", 0},
		{"negative tpm", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","limits":{"tpm":-1}}]}`, deployconfig.ErrInvalidValue, "limits.tpm", 0},
		{"buffer of 100", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","limits":{"safety_buffer_percent":100}}]}`, deployconfig.ErrInvalidValue, "limits.safety_buffer_percent", 0},
		{"bad window", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","limits":{"window":"a minute"}}]}`, deployconfig.ErrInvalidValue, "", -1},
		{"negative window", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","limits":{"window":"-1s"}}]}`, deployconfig.ErrInvalidValue, "limits.window", 0},
		{"negative concurrency", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","concurrency":-2}]}`, deployconfig.ErrInvalidValue, "concurrency", 0},
		{"only fallbacks", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","fallback":true}]}`, deployconfig.ErrInvalidValue, "fallback", -1},
		{"negative price", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K"}],"prices":{"m":{"output_per_million":-1}}}`, deployconfig.ErrInvalidValue, "prices.m.output_per_million", -1},
		{"price as text", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K"}],"prices":{"m":{"output_per_million":"1"}}}`, deployconfig.ErrSyntax, "", -1},
		{"negative spend limit", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","daily_spend_limit_usd":-5}],"prices":{"m":{}}}`, deployconfig.ErrInvalidValue, "daily_spend_limit_usd", 0},
		{"spend limit without a price", `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","daily_spend_limit_usd":5}],"prices":{"other":{}}}`, deployconfig.ErrInvalidValue, "daily_spend_limit_usd", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := deployconfig.Parse(strings.NewReader(tc.file), env(map[string]string{"K": "sk-test"}))
			require.Error(t, err)
			assert.Nil(t, cfg)
			assert.ErrorIs(t, err, tc.want)
			var de *deployconfig.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.index, de.Index)
			if tc.field != "" {
				assert.Equal(t, tc.field, de.Field)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "deployconfig: "), err.Error())
			assert.NotContains(t, err.Error(), "sk-test", "no secret in an error")
		})
	}
}

func TestParse_ReportsEveryProblem(t *testing.T) {
	file := `{"deployments":[{"name":"a","provider":"azure"},{"name":"a","provider":"openai","model":"m"}]}`
	_, err := deployconfig.Parse(strings.NewReader(file), env(nil))
	require.Error(t, err)
	for _, want := range []error{deployconfig.ErrUnknownProvider, deployconfig.ErrMissingField, deployconfig.ErrDuplicateName} {
		assert.ErrorIs(t, err, want)
	}
	assert.Contains(t, err.Error(), `deployments[1] "a": name: duplicate name: also deployments[0]`)
}

func TestLoad(t *testing.T) {
	_, err := deployconfig.Load(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	path := filepath.Join(t.TempDir(), "deployments.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"DEPLOYCONFIG_TEST_KEY"}]}`), 0o600))
	_, err = deployconfig.Load(path)
	require.ErrorIs(t, err, deployconfig.ErrMissingSecret)
	assert.Contains(t, err.Error(), path)

	t.Setenv("DEPLOYCONFIG_TEST_KEY", "sk-test")
	cfg, err := deployconfig.Load(path)
	require.NoError(t, err)
	deps := cfg.Deployments
	require.NoError(t, err)
	require.Len(t, deps, 1)
}

// An OpenAI deployment built from a file calls its server with its key,
// its organisation and its model.
func TestParse_OpenAIDeploymentCallsItsServer(t *testing.T) {
	srv := providertest.NewOpenAIServer(providertest.OpenAIOptions{APIKey: "sk-org-b"})
	t.Cleanup(srv.Close)
	file := `{"deployments":[{"name":"org-b","provider":"openai","model":"gpt-4.1-mini","base_url":"` + srv.BaseURL() +
		`","api_key_env":"KEY_B","organization":"org-b","timeout":"5s"}]}`
	cfg, err := deployconfig.Parse(strings.NewReader(file), env(map[string]string{"KEY_B": "sk-org-b"}))
	require.NoError(t, err)
	deps := cfg.Deployments
	require.NoError(t, err)
	res, err := deps[0].Processor.Process(context.Background(), &llmqueue.Job{ID: "1", Attempt: 1,
		Payload: json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":10}`)})
	require.NoError(t, err)
	var out struct {
		Model string `json:"model"`
	}
	require.NoError(t, json.Unmarshal(res.Output, &out))
	assert.Equal(t, "gpt-4.1-mini", out.Model, "the deployment's model replaced the payload's")
	assert.Equal(t, int64(1), srv.Stats().Requests)
}

func TestParse_AnUnbuildableDeploymentIsAProviderError(t *testing.T) {
	file := `{"deployments":[{"name":"a","provider":"openai","model":"m","api_key_env":"K","base_url":"::not a url"}]}`
	_, err := deployconfig.Parse(strings.NewReader(file), env(map[string]string{"K": "k"}))
	if err == nil {
		t.Skip("the adapter accepts any base URL at construction")
	}
	assert.True(t, errors.Is(err, deployconfig.ErrProvider), err.Error())
}

// The file's prices and spend limits reach the manager's Config.Prices and
// the deployments.
func TestParse_PricesAndSpendLimit(t *testing.T) {
	file := `{"deployments":[
		{"name":"a","provider":"openai","model":"gpt-4o-mini","api_key_env":"K","daily_spend_limit_usd":12.5},
		{"name":"b","provider":"bedrock","model":"haiku","region":"us-east-1"}],
	 "prices":{"gpt-4o-mini":{"input_per_million":0.15,"cached_input_per_million":0.075,"output_per_million":0.6},
	           "haiku":{"input_per_million":0.8,"output_per_million":4}}}`
	cfg, err := deployconfig.Parse(strings.NewReader(file), env(map[string]string{"K": "sk-test"}))
	require.NoError(t, err)
	assert.Equal(t, map[string]llmqueue.Price{
		"gpt-4o-mini": {InputPerMillion: 0.15, CachedInputPerMillion: 0.075, OutputPerMillion: 0.6},
		"haiku":       {InputPerMillion: 0.8, OutputPerMillion: 4},
	}, cfg.Prices)
	require.Len(t, cfg.Deployments, 2)
	assert.Equal(t, 12.5, cfg.Deployments[0].DailySpendLimitUSD)
	assert.Zero(t, cfg.Deployments[1].DailySpendLimitUSD)
}
