package llmqueue

import (
	"fmt"
	"math"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens. llmqueue
// fetches no prices: the table in Config.Prices is the user's, kept as
// current as their contract.
type Price struct {
	InputPerMillion       float64 `json:"input_per_million"`        // uncached input, and cache writes
	CachedInputPerMillion float64 `json:"cached_input_per_million"` // input read from the provider's cache
	OutputPerMillion      float64 `json:"output_per_million"`
}

// cost is what u costs at p, in billionths of a dollar, rounded once, so
// counters added up over many calls stay exact.
func (p Price) cost(u Usage) int64 {
	nano := (float64(u.InputTokens)+float64(u.CacheCreationInputTokens))*p.InputPerMillion*1000 +
		float64(u.CacheReadInputTokens)*p.CachedInputPerMillion*1000 +
		float64(u.OutputTokens)*p.OutputPerMillion*1000
	if nano <= 0 || math.IsNaN(nano) {
		return 0
	}
	return int64(math.Round(min(nano, float64(MaxTokens))))
}

func (p Price) validate(model string) error {
	for _, v := range []float64{p.InputPerMillion, p.CachedInputPerMillion, p.OutputPerMillion} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("llmqueue: price of %q: %v per million tokens: want a finite number >= 0", model, v)
		}
	}
	if model == "" || len(model) > 200 {
		return fmt.Errorf("llmqueue: prices: model name %q: want 1-200 bytes", model)
	}
	return nil
}

// spendLimit is a Deployment's daily spend limit and the prices that
// estimate what a lease reserves of it, in nano-USD (per token for the
// prices).
type spendLimit struct {
	limitNano       int64
	inNano, outNano float64
}

// nanoUSD turns a counter of billionths of a dollar into dollars.
func nanoUSD(n int64) float64 { return float64(n) / 1e9 }

// costsOf reads the cost counters of the stats hash: the namespace's total
// and the totals per deployment and per model.
func costsOf(stats map[string]int64) (total float64, byDeployment, byModel map[string]float64) {
	for k, v := range stats {
		switch {
		case k == "cost_nusd":
			total = nanoUSD(v)
		case strings.HasPrefix(k, "cost_nusd:dep:"):
			if byDeployment == nil {
				byDeployment = map[string]float64{}
			}
			byDeployment[strings.TrimPrefix(k, "cost_nusd:dep:")] = nanoUSD(v)
		case strings.HasPrefix(k, "cost_nusd:model:"):
			if byModel == nil {
				byModel = map[string]float64{}
			}
			byModel[strings.TrimPrefix(k, "cost_nusd:model:")] = nanoUSD(v)
		}
	}
	return total, byDeployment, byModel
}
