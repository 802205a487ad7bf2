package otel

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPayloadModel(t *testing.T) {
	long := strings.Repeat("m", maxPayloadModelByteLen+1)
	tests := []struct {
		payload, want string
	}{
		{`{"model":"gpt-4o"}`, "gpt-4o"},
		{` { "messages" : [ {"role":"user","content":"a \"model\": \"x\" {[" } ] , "model" : "gpt-4o" } `, "gpt-4o"},
		{`{"nested":{"model":"inner"},"model":"outer"}`, "outer"},
		{`{"nested":{"model":"inner"}}`, ""},
		{`{"modelId":"amazon.nova-lite-v1:0"}`, "amazon.nova-lite-v1:0"},
		{`{"model":"","modelId":"b"}`, "b"},
		{`{"model":null,"modelId":"b"}`, "b"},
		{`{"modelId":"a","modelId":"b"}`, "a"},
		{`{"model":"a","model":"b"}`, "a"},
		{`{"mod\u0065l":"esc\u00e9"}`, "escé"},
		{`{"n":-1.5e3,"t":true,"f":false,"z":null,"model":"m"}`, "m"},
		{`{"model":"` + long + `"}`, ""},
		{`{"model":"` + long + `","modelId":"short"}`, "short"},
		{`{}`, ""},
		{`[]`, ""},
		{`"model"`, ""},
		{`null`, ""},
		{``, ""},
		{`{"model"`, ""},
		{`{"model":"unterminated`, ""},
		{`{"a":[1,2,{"b":"c"}]`, ""},
		{`{"a" 1, "model":"x"}`, ""},
		{`{"modelId":"x" garbage`, ""},
		{"{\"model\":\"bad\xffutf8\"}", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, payloadModel([]byte(tt.payload)), "payload %q", tt.payload)
	}
}

func TestPayloadModel_DoesNotAllocateForAModelFirstPayload(t *testing.T) {
	p := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<16) + `"}]}`)
	allocs := testing.AllocsPerRun(100, func() { _ = payloadModel(p) })
	assert.LessOrEqual(t, allocs, 1.0, "only the model string")
}

// refModel is payloadModel by encoding/json: slower, but obviously right on
// valid JSON.
func refModel(p []byte) string {
	dec := json.NewDecoder(bytes.NewReader(p))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	modelID := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return ""
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil || len(s) > maxPayloadModelByteLen {
			continue
		}
		switch {
		case key == "model" && s != "":
			return s
		case key == "modelId" && modelID == "":
			modelID = s
		}
	}
	return modelID
}

func FuzzPayloadModel(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"modelId":"a","x":{"model":"b"},"y":[1,"2",{"z":null}]}`,
		`{"mod\u0065l":"\ud83d\ude00"}`,
		`[{"model":"a"}]`,
		`{"model":"a"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		got := payloadModel(p) // must not panic, whatever p is
		if json.Valid(p) {
			if want := refModel(p); got != want {
				t.Fatalf("payloadModel(%q) = %q, encoding/json reads %q", p, got, want)
			}
		}
	})
}
