package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// converseReply is what a test reads back from the fake.
type converseReply struct {
	status int
	header http.Header
	body   struct {
		StopReason string `json:"stopReason"`
		Usage      struct {
			InputTokens  int64 `json:"inputTokens"`
			OutputTokens int64 `json:"outputTokens"`
			TotalTokens  int64 `json:"totalTokens"`
		} `json:"usage"`
		Message string `json:"message"`
	}
}

// postConverse sends a SigV4-signed Converse request, as the SDK would.
func postConverse(t *testing.T, s *BedrockServer, model, body string) converseReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/model/"+url.PathEscape(model)+"/converse", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	creds, err := s.Credentials().Retrieve(context.Background())
	require.NoError(t, err)
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", TestRegion, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := converseReply{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r.body))
	return r
}

// converseBody has a system prompt and one message: 40 characters, a
// 10-token input.
func converseBody(maxTokens int) string {
	b := `{"system":[{"text":"` + strings.Repeat("s", 20) + `"}],"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("u", 20) + `"}]}]`
	if maxTokens > 0 {
		b += `,"inferenceConfig":{"maxTokens":` + strconv.Itoa(maxTokens) + `}`
	}
	return b + `}`
}

const (
	claude37    = "us.anthropic.claude-3-7-sonnet-20250219-v1:0" // burndown 5
	claudeHaiku = "anthropic.claude-3-haiku-20240307-v1:0"       // burndown 1
)

func TestBedrockServer_Metering(t *testing.T) {
	cases := []struct {
		name      string
		opts      BedrockOptions
		model     string
		maxTokens int
		admitted  int // of three identical calls
		usage     [2]int64
		stop      string
		call      Call // its settled charge
		peak      Stats
	}{
		{"burndown 1 settles to input + output", BedrockOptions{Limits: Limits{TPM: 200}}, claudeHaiku, 50, 3,
			[2]int64{10, 50}, "max_tokens", Call{Tokens: 60, InputTokens: 10, OutputTokens: 50},
			Stats{PeakWindowTokens: 180, PeakWindowInputTokens: 30, PeakWindowOutputTokens: 150, PeakWindowRequests: 3}},
		{"short reply settles down", BedrockOptions{Limits: Limits{TPM: 200}, OutputFraction: 0.2}, claudeHaiku, 100, 3,
			[2]int64{10, 20}, "end_turn", Call{Tokens: 30, InputTokens: 10, OutputTokens: 20},
			// 110 then 30; 30+110 then 60; 60+110 then 90.
			Stats{PeakWindowTokens: 170, PeakWindowInputTokens: 30, PeakWindowOutputTokens: 140, PeakWindowRequests: 3}},
		{"burndown 5 settles up past the reservation", BedrockOptions{Limits: Limits{TPM: 250}}, claude37, 40, 1,
			// 50 reserved, 10 + 40 x 5 = 210 settled; then 210 + 50 > 250.
			[2]int64{10, 40}, "max_tokens", Call{Tokens: 210, InputTokens: 10, OutputTokens: 200},
			Stats{PeakWindowTokens: 210, PeakWindowInputTokens: 10, PeakWindowOutputTokens: 200, PeakWindowRequests: 1}},
		{"extra burndown rates", BedrockOptions{Burndown: map[string]float64{"amazon.nova": 2.5}}, "amazon.nova-pro-v1:0", 3, 3,
			[2]int64{10, 3}, "max_tokens", Call{Tokens: 18, InputTokens: 10, OutputTokens: 8},
			Stats{PeakWindowTokens: 54, PeakWindowInputTokens: 30, PeakWindowOutputTokens: 24, PeakWindowRequests: 3}},
		{"default max tokens", BedrockOptions{Limits: Limits{RPM: 2}}, claudeHaiku, 0, 2,
			[2]int64{10, DefaultCompletionTokens}, "max_tokens", Call{Tokens: 10 + DefaultCompletionTokens, InputTokens: 10, OutputTokens: DefaultCompletionTokens},
			Stats{PeakWindowTokens: 52, PeakWindowInputTokens: 20, PeakWindowOutputTokens: 32, PeakWindowRequests: 2}},
		{"input dimension", BedrockOptions{Limits: Limits{ITPM: 25}}, claudeHaiku, 5, 2,
			[2]int64{10, 5}, "max_tokens", Call{Tokens: 15, InputTokens: 10, OutputTokens: 5},
			Stats{PeakWindowTokens: 30, PeakWindowInputTokens: 20, PeakWindowOutputTokens: 10, PeakWindowRequests: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Window = 3 * time.Second
			srv := NewBedrockServer(c.opts)
			t.Cleanup(srv.Close)
			for i := range 3 {
				r := postConverse(t, srv, c.model, converseBody(c.maxTokens))
				if i < c.admitted {
					require.Equal(t, http.StatusOK, r.status, "call %d: %s", i, r.body.Message)
					u := r.body.Usage
					assert.Equal(t, c.usage, [2]int64{u.InputTokens, u.OutputTokens})
					assert.Equal(t, u.InputTokens+u.OutputTokens, u.TotalTokens, "the reported total has no burndown")
					assert.Equal(t, c.stop, r.body.StopReason)
					continue
				}
				require.Equal(t, http.StatusTooManyRequests, r.status, "call %d", i)
				assert.True(t, strings.HasPrefix(r.header.Get("X-Amzn-ErrorType"), "ThrottlingException"))
				assert.Empty(t, r.header.Get("Retry-After"), "Bedrock sends no wait")
				for k := range r.header {
					assert.NotContains(t, strings.ToLower(k), "ratelimit")
				}
			}
			calls := srv.Calls()
			require.Len(t, calls, c.admitted)
			for _, call := range calls {
				call.At = time.Time{}
				assert.Equal(t, c.call, call)
			}
			st := srv.Stats()
			assert.Equal(t, int64(3-c.admitted), st.RateLimited)
			assert.Equal(t, int64(c.admitted)*c.call.Tokens, st.TokensCharged)
			assert.Equal(t, c.peak, Stats{PeakWindowTokens: st.PeakWindowTokens, PeakWindowInputTokens: st.PeakWindowInputTokens,
				PeakWindowOutputTokens: st.PeakWindowOutputTokens, PeakWindowRequests: st.PeakWindowRequests})
		})
	}
}

// TestBedrockServer_ReservedWhileRunning: until the reply ends the call
// holds input + maxTokens; the settle then frees (or takes) the rest.
func TestBedrockServer_ReservedWhileRunning(t *testing.T) {
	srv := NewBedrockServer(BedrockOptions{Limits: Limits{TPM: 150, Window: 5 * time.Second},
		Latency: 300 * time.Millisecond, OutputFraction: 0.1})
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	var first converseReply
	wg.Go(func() { first = postConverse(t, srv, claudeHaiku, converseBody(90)) })
	time.Sleep(100 * time.Millisecond)
	during := postConverse(t, srv, claudeHaiku, converseBody(90))
	wg.Wait()
	assert.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, http.StatusTooManyRequests, during.status, "100 reserved + 100 > 150")
	assert.Equal(t, http.StatusOK, postConverse(t, srv, claudeHaiku, converseBody(90)).status, "19 settled + 100 fits")
	assert.Equal(t, int64(119), srv.Stats().PeakWindowTokens)
}

// TestBedrockServer_SettleCountsInBusiestWindow: the calls a test reads
// back carry the settled charge, so BusiestWindow sees a burndown overrun.
func TestBedrockServer_SettleCountsInBusiestWindow(t *testing.T) {
	srv := NewBedrockServer(BedrockOptions{Limits: Limits{TPM: 100, Window: time.Second}})
	t.Cleanup(srv.Close)
	for range 2 {
		require.Equal(t, http.StatusOK, postConverse(t, srv, claude37, converseBody(8)).status, "18 reserved, 50 settled")
	}
	require.Equal(t, http.StatusTooManyRequests, postConverse(t, srv, claude37, converseBody(8)).status, "100 + 18 > 100")
	assert.Equal(t, int64(100), BusiestWindow(srv.Calls(), time.Second).Tokens)
}
