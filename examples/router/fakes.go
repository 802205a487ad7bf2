package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers/openai"
	"github.com/llmqueue/llmqueue/providers/providertest"
)

// fakeKey is the API key the fake servers accept.
const fakeKey = "sk-fake"

// fakeDeployment is one fake server and what the demo knows of it.
type fakeDeployment struct {
	name    string
	limit   int64 // TPM per window
	failing bool  // every other call answers 500
	srv     *providertest.OpenAIServer
	url     string // what the processor calls: the server, or the failing proxy in front of it
	proxy   *httptest.Server
	refused atomic.Int64 // 500s the proxy sent
}

type fakes struct {
	deps      []*fakeDeployment
	estimator *openai.Processor // counts a request as the fake servers do
}

// startFakes starts the three servers: TPM 20,000, 40,000 and 60,000 per
// window, the second behind a proxy that fails every other call.
func startFakes(window time.Duration) (*fakes, error) {
	f := &fakes{}
	for i, limit := range []int64{20_000, 40_000, 60_000} {
		d := &fakeDeployment{name: fmt.Sprintf("dep-%c", 'a'+i), limit: limit, failing: i == 1}
		d.srv = providertest.NewOpenAIServer(providertest.OpenAIOptions{APIKey: fakeKey,
			Limits:  providertest.Limits{TPM: limit, Window: window},
			Latency: 50 * time.Millisecond, OutputFraction: 0.5})
		d.url = d.srv.BaseURL()
		if d.failing {
			d.proxy = halfFailing(d.srv.URL, &d.refused)
			d.url = d.proxy.URL + "/v1"
		}
		f.deps = append(f.deps, d)
	}
	est, err := openai.New(openai.WithAPIKey(fakeKey))
	if err != nil {
		f.close()
		return nil, err
	}
	f.estimator = est
	return f, nil
}

// halfFailing is a proxy to target that answers every other call with
// OpenAI's 500 server_error, without passing it on.
func halfFailing(target string, refused *atomic.Int64) *httptest.Server {
	u, _ := url.Parse(target) // an httptest URL always parses
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
}

func (f *fakes) close() {
	for _, d := range f.deps {
		if d.proxy != nil {
			d.proxy.Close()
		}
		d.srv.Close()
	}
}

// deployments are the Router's: the providers/openai Processor pointed at
// each fake, its Budget the fake's limits with no safety buffer.
func (f *fakes) deployments(window time.Duration) []llmqueue.Deployment {
	var out []llmqueue.Deployment
	for _, d := range f.deps {
		proc, err := openai.New(openai.WithAPIKey(fakeKey), openai.WithBaseURL(d.url), openai.WithTimeout(10*time.Second))
		if err != nil {
			panic(err) // unreachable: these options cannot fail
		}
		out = append(out, llmqueue.Deployment{Name: d.name, Processor: proc,
			Budget: llmqueue.Budget{TPM: d.limit, Window: window, SafetyBufferPercent: -1}})
	}
	return out
}

// burst is n chat requests: most short, one in five a longer document,
// max_tokens 100-800.
func burst(n int) []*llmqueue.Request {
	rng := rand.New(rand.NewPCG(13, 13))
	reqs := make([]*llmqueue.Request, n)
	for i := range reqs {
		text := fmt.Sprintf("Request %d: summarize the rate limit policy in one line.", i)
		if i%5 == 4 {
			text = fmt.Sprintf("Request %d: summarize this document. %0*d", i, 400+rng.IntN(1200), 0)
		}
		reqs[i] = llmqueue.NewRequest(map[string]any{"model": "gpt-4o-mini", "max_tokens": 100 + rng.IntN(701),
			"messages": []map[string]string{{"role": "user", "content": text}}})
	}
	return reqs
}

// sampleUsage polls r.Usage every 100 ms until the returned function is
// called, which returns each deployment's peak ledger tokens ÷ usable.
func sampleUsage(ctx context.Context, r *llmqueue.Router) func() map[string]float64 {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	peaks := map[string]float64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			use, err := r.Usage(ctx)
			if err != nil {
				continue
			}
			mu.Lock()
			for _, u := range use {
				for _, d := range u.Dimensions {
					if d.Name == "tokens" && d.Usable > 0 {
						peaks[u.Name] = max(peaks[u.Name], float64(d.Used)/float64(d.Usable))
					}
				}
			}
			mu.Unlock()
		}
	}()
	return func() map[string]float64 {
		cancel()
		<-done
		return peaks
	}
}
