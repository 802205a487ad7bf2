package burndown

import "testing"

func TestRate(t *testing.T) {
	cases := []struct {
		id    string
		extra map[string]float64
		want  float64
	}{
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", nil, 5},
		{"us.anthropic.claude-sonnet-4-20250514-v1:0", nil, 5},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", nil, 5},
		{"eu.anthropic.claude-opus-4-1-20250805-v1:0", nil, 5},
		{"anthropic.claude-haiku-4-5-20251001-v1:0", nil, 5},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-20250514-v1:0", nil, 5},
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", nil, 1},
		{"anthropic.claude-3-haiku-20240307-v1:0", nil, 1},
		{"amazon.nova-pro-v1:0", nil, 1},
		{"meta.llama3-70b-instruct-v1:0", nil, 1},
		{"", nil, 1},
		{"amazon.nova-pro-v1:0", map[string]float64{"amazon.nova": 2}, 2},
		{"anthropic.claude-sonnet-4-x", map[string]float64{"anthropic.claude": 3, "anthropic.claude-sonnet": 7}, 7},
		{"anthropic.claude-sonnet-4-x", map[string]float64{"anthropic.claude": -1}, 5},
	}
	for _, c := range cases {
		if got := Rate(c.id, c.extra); got != c.want {
			t.Errorf("Rate(%q, %v) = %v, want %v", c.id, c.extra, got, c.want)
		}
	}
}
