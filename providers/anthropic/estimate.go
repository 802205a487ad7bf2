package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/llmqueue/llmqueue"
)

// charsPerToken is the rule of thumb llmqueue.HeuristicEstimator and the
// fake servers in providers/providertest use.
const charsPerToken = 4

// CountTokensTimeout bounds a count_tokens call (WithTokenCounting) when
// the Processor has no WithTimeout: the estimate runs inside
// QueueManager.Add, which has no context of its own to bound it.
const CountTokensTimeout = 10 * time.Second

// MeterFor returns llmqueue.AnthropicMeter for every payload: Anthropic
// meters every model the same way (see the package doc).
func (p *Processor) MeterFor(json.RawMessage) llmqueue.Meter { return llmqueue.AnthropicMeter{} }

// EstimateTokens returns EstimateUsage's input + output: the request's
// input estimate plus max_tokens.
func (p *Processor) EstimateTokens(payload json.RawMessage) (int64, error) {
	u, err := p.EstimateUsage(payload)
	if err != nil {
		return 0, err
	}
	return min(u.InputTokens+u.OutputTokens, llmqueue.MaxTokens), nil
}

// EstimateUsage splits the estimate the way Anthropic charges a call when
// it arrives: InputTokens against ITPM (ceil(characters / 4) of the system
// prompt and the messages' text, or count_tokens' count with
// WithTokenCounting), OutputTokens against OTPM (max_tokens). With
// WithEstimator it returns that estimator's split when it implements
// llmqueue.UsageEstimator, else its whole estimate as InputTokens.
func (p *Processor) EstimateUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	if p.estimator != nil {
		return p.customUsage(payload)
	}
	req, err := p.decode(payload)
	if err != nil {
		return llmqueue.Usage{}, err
	}
	in := req.charTokens()
	if p.tokenCounting {
		n, err := p.countTokens(req)
		switch {
		case err == nil:
			in = n
		case errors.Is(err, llmqueue.ErrInvalidPayload):
			return llmqueue.Usage{}, err
		}
		// Any other failure (count_tokens' own rate limit, an outage)
		// keeps the heuristic: an estimate is better than a failed Add.
	}
	return llmqueue.Usage{
		InputTokens:  min(in, llmqueue.MaxTokens),
		OutputTokens: req.params.MaxTokens,
	}, nil
}

// customUsage asks the estimator given to WithEstimator.
func (p *Processor) customUsage(payload json.RawMessage) (llmqueue.Usage, error) {
	if ue, ok := p.estimator.(llmqueue.UsageEstimator); ok {
		u, err := ue.EstimateUsage(payload)
		if err != nil {
			return llmqueue.Usage{}, fmt.Errorf("%s: estimate tokens: %w", providerName, err)
		}
		return llmqueue.Usage{
			InputTokens:  min(max(u.InputTokens, 0), llmqueue.MaxTokens),
			OutputTokens: min(max(u.OutputTokens, 0), llmqueue.MaxTokens),
		}, nil
	}
	n, err := p.estimator.EstimateTokens(payload)
	if err != nil {
		return llmqueue.Usage{}, fmt.Errorf("%s: estimate tokens: %w", providerName, err)
	}
	return llmqueue.Usage{InputTokens: min(max(n, 0), llmqueue.MaxTokens)}, nil
}

// charTokens is ceil(characters of the system prompt and messages / 4).
func (r *request) charTokens() int64 {
	chars := textChars(r.fields["system"])
	var msgs []struct {
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(r.fields["messages"], &msgs) // checked by decodeRequest
	for _, m := range msgs {
		chars += textChars(m.Content)
	}
	return (chars + charsPerToken - 1) / charsPerToken
}

// contentBlock is the part of a content block the heuristic reads.
type contentBlock struct {
	Type    string          `json:"type"`
	Text    *string         `json:"text"`
	Content json.RawMessage `json:"content"` // tool_result
	Input   json.RawMessage `json:"input"`   // tool_use
	Source  *struct {
		Type string `json:"type"`
		Data string `json:"data"`
	} `json:"source"` // document
}

// textChars counts the characters of a content value: a string, or an
// array of blocks whose text it counts: text blocks, the content of
// tool_result blocks, the input of tool_use blocks as JSON, and plain-text
// documents. Images, PDFs and thinking blocks count nothing.
func textChars(raw json.RawMessage) int64 {
	if s, ok := jsonString(raw); ok {
		return int64(utf8.RuneCountInString(s))
	}
	var blocks []json.RawMessage
	if json.Unmarshal(raw, &blocks) != nil {
		return 0
	}
	var chars int64
	for _, b := range blocks {
		var blk contentBlock
		if json.Unmarshal(b, &blk) != nil {
			continue
		}
		switch {
		case blk.Text != nil:
			chars += int64(utf8.RuneCountInString(*blk.Text))
		case blk.Type == "tool_result":
			chars += textChars(blk.Content)
		case blk.Type == "tool_use" || blk.Type == "server_tool_use":
			chars += int64(utf8.RuneCount(bytes.TrimSpace(blk.Input)))
		case blk.Type == "document" && blk.Source != nil && blk.Source.Type == "text":
			chars += int64(utf8.RuneCountInString(blk.Source.Data))
		}
	}
	return chars
}

// countTokensFields are the top-level fields count_tokens takes, read from
// the SDK's MessageCountTokensParams so they follow the SDK. The endpoint
// refuses the fields only a Messages call takes (max_tokens, temperature,
// ...), so the payload is filtered rather than sent whole.
var countTokensFields = func() map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeFor[anthropic.MessageCountTokensParams]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}()

// countTokens asks count_tokens for the request's input tokens. A payload
// the endpoint refuses is an error wrapping llmqueue.ErrInvalidPayload;
// any other failure is returned as it is.
func (p *Processor) countTokens(req *request) (int64, error) {
	body := map[string]json.RawMessage{}
	for k, v := range req.fields {
		if countTokensFields[k] {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("%s: count tokens: %w", providerName, err)
	}
	timeout := p.timeout
	if timeout <= 0 {
		timeout = CountTokensTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The body replaces the params: like Process, send the payload's own
	// JSON rather than what the SDK's lenient decoder kept of it.
	res, err := p.client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{},
		option.WithRequestBody("application/json", b))
	if err != nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			switch apiErr.StatusCode {
			case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
				if !isQuota(apiErr) {
					return 0, fmt.Errorf("%s: %w: count_tokens refused the request: %w", providerName, llmqueue.ErrInvalidPayload, &apiError{apiErr})
				}
			}
		}
		return 0, fmt.Errorf("%s: count tokens: %w", providerName, err)
	}
	return max(res.InputTokens, 0), nil
}
