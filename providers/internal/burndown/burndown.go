// Package burndown holds Amazon Bedrock's output-token burndown rates:
// how many tokens of the tokens-per-minute quota one output token
// consumes, per model. The adapter (providers/bedrock) and the fake Bedrock
// server (providers/providertest) read the same table, so a test meters
// exactly like the adapter expects.
//
// Source: "How tokens are counted in Amazon Bedrock",
// https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html
// as read on 2026-12-04: the burndown rate is 5x for output tokens of
// Anthropic Claude 3.7 Sonnet and the Claude 4 family (Opus 4, Sonnet 4 and
// the 4.x models after them), 1x for every other model.
package burndown

import "strings"

// Default is the rate of a model the table does not name.
const Default = 1.0

// fiveX lists the model-ID prefixes, after the provider "anthropic.", whose
// output burns down at 5x. A later Claude generation is matched by the
// family-first naming Anthropic has used since Claude 4
// ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5").
var fiveX = []string{
	"claude-3-7-sonnet",
	"claude-opus-4", "claude-sonnet-4", "claude-haiku-4",
	"claude-opus-5", "claude-sonnet-5", "claude-haiku-5",
}

// Rate returns the output burndown rate of modelID, which may carry a
// cross-Region inference prefix ("us.", "eu.", "apac.", "global.") or be an
// ARN whose last path element is the model or profile ID. extra, when not
// nil, is consulted first: its keys are model-ID prefixes (after the
// Region prefix), the longest matching key wins.
func Rate(modelID string, extra map[string]float64) float64 {
	id := Base(modelID)
	best, rate := -1, 0.0
	for prefix, r := range extra {
		if strings.HasPrefix(id, prefix) && len(prefix) > best && r > 0 {
			best, rate = len(prefix), r
		}
	}
	if best >= 0 {
		return rate
	}
	if rest, ok := strings.CutPrefix(id, "anthropic."); ok {
		for _, p := range fiveX {
			if strings.HasPrefix(rest, p) {
				return 5
			}
		}
	}
	return Default
}

// Base strips an ARN's path and a cross-Region inference prefix from
// modelID: "arn:aws:bedrock:us-east-1::foundation-model/anthropic.x" and
// "us.anthropic.x" both become "anthropic.x".
func Base(modelID string) string {
	id := modelID
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	for _, region := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."} {
		if rest, ok := strings.CutPrefix(id, region); ok {
			return rest
		}
	}
	return id
}
