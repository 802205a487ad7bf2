package llmqueue

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanCases are payloads where scanning and decoding could part ways.
var scanCases = []string{
	`{"messages":[{"role":"user","content":"hello"}],"max_tokens":100}`,
	`{"messages":[{"content":"h\u00e9llo \ud83d\ude00 \ud83d x \ude00 \ud83d\u0041 \n\t\"\\\/"}]}`,
	`{"messages":[{"content":"a"},null,{"content":null},{"content":[{"text":"bc"},"de",{"type":"image"},null,5,{"text":7}]}]}`,
	`{"messages":[{"content":"a"},5]}`,
	`{"messages":[],"system":"sys"}`,
	`{"messages":null,"prompt":"p"}`,
	`{"messages":{"content":"x"}}`,
	`{"messages":[{"content":"a","content":"bbbb"}],"messages":[{"content":"cc"}]}`,
	`{"m\u0065ssages":[{"content":"a"}]}`,
	`{"messages":[{"cont\u0065nt":"a"}]}`,
	`{"system":[{"text":"a"},{"t\u0065xt":"b"}]}`,
	`{"system":[{"text":"a","text":"zz"}],"instructions":"ins","instructions":5}`,
	`{"prompt":["a","b",null],"input":"in"}`,
	`{"prompt":["a",1],"input":[{"content":"x"}]}`,
	`{"input":["a","b"]}`,
	`{"input":[{"content":"abc"},null]}`,
	`{"input":[{"content":"abc"},"x"]}`,
	`{"input":null}`,
	`{"max_tokens":1e400,"n":3}`,
	`{"max_tokens":-5,"max_completion_tokens":2.5,"max_output_tokens":"9","maxTokens":null}`,
	`{"inferenceConfig":{"maxTokens":77,"maxTokens":88}}`,
	`{"inferenceConfig":{"m\u0061xTokens":77}}`,
	`{"inferenceConfig":null,"n":0}`,
	`{"inferenceConfig":[1],"n":"2"}`,
	`{"n":2.5,"max_tokens":10}`,
	`  { "messages" : [ { "content" : [ { "text" : "x y" } ] } ] , "max_tokens" : 3 }  `,
	`{}`,
	`{"other":"field"}`,
	"{\"messages\":[{\"content\":\"\xff\xfe bad \xe2\x82 utf8\"}]}",
	`[1,2,3]`,
	`"string"`,
	`null`,
	`12`,
	`{"messages":[{"content":"x"}]`,
	``,
	`{"a":{"b":[{"c":"}]\"{["}]},"messages":[{"content":"ok"}]}`,
}

func checkScanAgrees(t *testing.T, h HeuristicEstimator, payload string) {
	t.Helper()
	cpt := h.CharsPerToken
	if !(cpt > 0) {
		cpt = defaultCharsPerToken
	}
	want, wantErr := h.decodeUsage(json.RawMessage(payload), cpt)
	got, gotErr := h.EstimateUsage(json.RawMessage(payload))
	if wantErr != nil {
		require.Error(t, gotErr, "payload %q", payload)
		assert.Equal(t, wantErr.Error(), gotErr.Error(), "payload %q", payload)
		return
	}
	require.NoError(t, gotErr, "payload %q", payload)
	assert.Equal(t, want, got, "payload %q", payload)
}

// TestScanUsage_AgreesWithDecoding: the scanner gives the decoding path's
// figures, on hand-made cases and on random JSON built from the fields the
// estimator reads.
func TestScanUsage_AgreesWithDecoding(t *testing.T) {
	t.Parallel()
	for _, h := range []HeuristicEstimator{{}, {CharsPerToken: 3, DefaultMaxTokens: -1}, {DefaultMaxTokens: 50}} {
		for _, p := range scanCases {
			checkScanAgrees(t, h, p)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkScanAgrees(t, HeuristicEstimator{}, randomPayload(r, 0))
	}
}

func TestScanUsage_UsedForAPlainObject(t *testing.T) {
	_, ok := scanUsage([]byte(scanCases[0]), 4, 1024)
	assert.True(t, ok)
	_, ok = scanUsage([]byte(scanCases[8]), 4, 1024)
	assert.False(t, ok, "an escaped key goes to the decoding path")
}

var randomKeys = []string{"messages", "system", "instructions", "prompt", "input", "content", "text",
	"max_tokens", "max_completion_tokens", "max_output_tokens", "maxTokens", "inferenceConfig", "n", "role",
	`cont\u0065nt`, "other"}

var randomStrings = []string{`""`, `"a"`, `"héllo"`, `"\u00e9\n"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`,
	`"\ud83d\u0041"`, `"\\\"/"`, "\"\xff\xe2\x82\"", `"日本語"`}

// randomPayload builds random JSON, mostly objects holding the fields the
// estimator reads, at depth below 4.
func randomPayload(r *rand.Rand, depth int) string {
	k := r.IntN(10)
	if depth > 3 {
		k = 5 + r.IntN(5)
	}
	ws := func() string { return []string{"", " ", "\n\t"}[r.IntN(3)] }
	switch {
	case k <= 3 || depth == 0 && r.IntN(10) > 0:
		var b strings.Builder
		b.WriteString("{" + ws())
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteString("," + ws())
			}
			fmt.Fprintf(&b, "%q%s:%s%s", randomKeys[r.IntN(len(randomKeys))], ws(), ws(), randomPayload(r, depth+1))
		}
		b.WriteString(ws() + "}")
		return strings.ReplaceAll(b.String(), `"cont\\u0065nt"`, `"cont\u0065nt"`)
	case k <= 5:
		var b strings.Builder
		b.WriteString("[")
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteString("," + ws())
			}
			b.WriteString(randomPayload(r, depth+1))
		}
		return b.String() + "]"
	case k <= 7:
		return randomStrings[r.IntN(len(randomStrings))]
	case k == 8:
		return []string{"null", "true", "0", "3", "-2", "2.5", "1e3", "1e400"}[r.IntN(8)]
	}
	return "null"
}

func BenchmarkHeuristicEstimatorScanVsDecode(b *testing.B) {
	p := json.RawMessage(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},` +
		`{"role":"user","content":"Summarise the following paragraph in one sentence, please: lorem ipsum dolor sit amet."}],"max_tokens":256}`)
	for _, name := range []string{"scan", "decode"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if name == "scan" {
					_, _ = HeuristicEstimator{}.EstimateUsage(p)
				} else {
					_, _ = HeuristicEstimator{}.decodeUsage(p, 4)
				}
			}
		})
	}
}

func FuzzScanUsage(f *testing.F) {
	for _, p := range scanCases {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		checkScanAgrees(t, HeuristicEstimator{}, payload)
	})
}
