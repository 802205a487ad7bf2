package tiktoken_test

import (
	"encoding/json"
	"fmt"

	"github.com/llmqueue/llmqueue/tiktoken"
)

func ExampleEstimator() {
	est := tiktoken.NewEstimator()
	payload := json.RawMessage(`{
		"model": "gpt-4o",
		"messages": [{"role": "user", "content": "tiktoken is great!"}],
		"max_tokens": 100
	}`)
	n, err := est.EstimateTokens(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	// 3 (message) + 1 ("user") + 6 (content) + 3 (reply priming) + 100.
	fmt.Println(n)
	// Output: 113
}

func ExampleCountTokens() {
	n, err := tiktoken.CountTokens("gpt-4", "tiktoken is great!")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n)
	// Output: 6
}
