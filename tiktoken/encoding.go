package tiktoken

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// CountTokens returns the number of tokens text encodes to with the
// encoding of model (see Estimator for the mapping; unknown models use
// cl100k_base). Special-token markers such as "<|endoftext|>" are counted as
// ordinary text, as they are when they occur in a user's message. It is
// safe for concurrent use.
func CountTokens(model, text string) (int, error) {
	codec, err := codecForModel(model)
	if err != nil {
		return 0, err
	}
	n, err := tokenCount(codec, text)
	return int(n), err
}

// tokenCount counts s with codec; the empty string is 0 without asking
// the codec.
func tokenCount(codec tokenizer.Codec, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := codec.Count(s)
	if err != nil {
		return 0, fmt.Errorf("tiktoken: count tokens with %s: %w", codec.GetName(), err)
	}
	return int64(n), nil
}

// The vocabularies take milliseconds and megabytes to build, so each is
// built once, on first use, and shared; tokenizer codecs are safe for
// concurrent Count calls.
var (
	o200kCodec  = sync.OnceValues(func() (tokenizer.Codec, error) { return tokenizer.Get(tokenizer.O200kBase) })
	cl100kCodec = sync.OnceValues(func() (tokenizer.Codec, error) { return tokenizer.Get(tokenizer.Cl100kBase) })
)

// o200kPrefixes are the model families on o200k_base, after tiktoken's
// MODEL_PREFIX_TO_ENCODING (gpt-oss uses o200k_harmony, which only adds
// special tokens, so ordinary text counts the same). Every other model,
// including gpt-4, gpt-3.5 and the embedding models, uses cl100k_base, which
// is also tiktoken's fallback.
var o200kPrefixes = [...]string{
	"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "gpt-oss",
	"o1", "o3", "o4",
}

// encodingForModel maps a model name to its encoding. Fine-tune names
// ("ft:gpt-4o-mini:org::id") and routed names ("openai/gpt-4o") resolve to
// their base model.
func encodingForModel(model string) tokenizer.Encoding {
	m := strings.ToLower(strings.TrimSpace(model))
	m = strings.TrimPrefix(m, "ft:")
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range o200kPrefixes {
		if strings.HasPrefix(m, p) {
			return tokenizer.O200kBase
		}
	}
	return tokenizer.Cl100kBase
}

func codecForModel(model string) (tokenizer.Codec, error) {
	enc := encodingForModel(model)
	load := cl100kCodec
	if enc == tokenizer.O200kBase {
		load = o200kCodec
	}
	codec, err := load()
	if err != nil {
		return nil, fmt.Errorf("tiktoken: load %s tokenizer: %w", enc, err)
	}
	return codec, nil
}
