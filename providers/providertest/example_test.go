package providertest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmqueue/llmqueue/providers/providertest"
)

// A fake Anthropic server meters output at max_tokens when the call arrives
// and settles it to the real output when the reply ends.
func ExampleNewAnthropicServer() {
	srv := providertest.NewAnthropicServer(providertest.AnthropicOptions{
		Limits:         providertest.Limits{RPM: 50, ITPM: 10000, OTPM: 2000},
		APIKey:         "sk-ant-test",
		OutputFraction: 0.25,
	})
	defer srv.Close()

	body := `{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"Say hello, briefly."}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL()+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", "sk-ant-test")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)

	fmt.Println(resp.StatusCode, resp.Header.Get("anthropic-ratelimit-output-tokens-remaining"))
	c := srv.Calls()[0]
	fmt.Printf("input %d, output %d\n", c.InputTokens, c.OutputTokens)
	fmt.Println("peak output", srv.Stats().PeakWindowOutputTokens)
	// Output:
	// 200 1975
	// input 5, output 25
	// peak output 100
}

// BusiestWindow finds the span that held the most, settles included, and
// Utilization how much of a limit a run used.
func ExampleBusiestWindow() {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := []providertest.Call{
		{At: t0, Tokens: 400},
		{At: t0.Add(40 * time.Second), Tokens: 500},
		{At: t0.Add(70 * time.Second), Tokens: 450},
	}
	busiest := providertest.BusiestWindow(calls, time.Minute)
	fmt.Println(busiest.Tokens, busiest.At.Sub(t0))
	tokens := func(c providertest.Call) int64 { return c.Tokens }
	fmt.Printf("%.2f\n", providertest.Utilization(calls, t0, t0.Add(2*time.Minute), time.Minute, 1000, tokens))
	// Output:
	// 950 40s
	// 0.68
}
