package providertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBusiestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name   string
		calls  []Call
		window time.Duration
		want   Call
	}{
		{"none", nil, time.Second, Call{}},
		{"one", []Call{{At: at(0), Tokens: 5, InputTokens: 2, OutputTokens: 3}}, time.Second,
			Call{At: at(0), Tokens: 5, InputTokens: 2, OutputTokens: 3}},
		{"all in one window", []Call{{At: at(0), Tokens: 5}, {At: at(0.5), Tokens: 7}, {At: at(0.9), Tokens: 1}}, time.Second,
			Call{At: at(0), Tokens: 13}},
		{"the end is open", []Call{{At: at(0), Tokens: 5}, {At: at(1), Tokens: 7}}, time.Second,
			Call{At: at(1), Tokens: 7}},
		{"the busiest span starts later", []Call{{At: at(0), Tokens: 5}, {At: at(1.5), Tokens: 7}, {At: at(2), Tokens: 6}, {At: at(2.6), Tokens: 1}}, time.Second,
			Call{At: at(1.5), Tokens: 13}},
		{"dimensions peak apart", []Call{
			{At: at(0), Tokens: 10, InputTokens: 10},
			{At: at(0.5), Tokens: 10, InputTokens: 10},
			{At: at(2), Tokens: 30, OutputTokens: 30},
		}, time.Second, Call{At: at(2), Tokens: 30, InputTokens: 20, OutputTokens: 30}},
		{"unordered input", []Call{{At: at(2), Tokens: 6}, {At: at(0), Tokens: 5}, {At: at(1.5), Tokens: 7}}, time.Second,
			Call{At: at(1.5), Tokens: 13}},
		{"ties keep the earliest", []Call{{At: at(0), Tokens: 4}, {At: at(3), Tokens: 4}}, time.Second,
			Call{At: at(0), Tokens: 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, BusiestWindow(c.calls, c.window))
		})
	}
}

func TestUtilization(t *testing.T) {
	t0 := time.Unix(1000, 0)
	calls := []Call{
		{At: t0, Tokens: 100, InputTokens: 40, OutputTokens: 60},
		{At: t0.Add(30 * time.Second), Tokens: 100, InputTokens: 40, OutputTokens: 60},
		{At: t0.Add(60 * time.Second), Tokens: 200, InputTokens: 80, OutputTokens: 120},
		{At: t0.Add(120 * time.Second), Tokens: 999},
	}
	tokens := func(c Call) int64 { return c.Tokens }
	output := func(c Call) int64 { return c.OutputTokens }
	cases := []struct {
		name     string
		from, to time.Time
		limit    int64
		dim      func(Call) int64
		want     float64
	}{
		{"one window at the limit", t0, t0.Add(time.Minute), 200, tokens, 1},
		{"two windows, half used", t0, t0.Add(2 * time.Minute), 400, tokens, 0.5},
		{"to is exclusive, from inclusive", t0.Add(30 * time.Second), t0.Add(120 * time.Second), 300, tokens, 300.0 / 450},
		{"output dimension", t0, t0.Add(2 * time.Minute), 120, output, 1},
		{"no calls in the span", t0.Add(3 * time.Minute), t0.Add(4 * time.Minute), 100, tokens, 0},
		{"no limit", t0, t0.Add(time.Minute), 0, tokens, 0},
		{"empty span", t0, t0, 100, tokens, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.InDelta(t, c.want, Utilization(calls, c.from, c.to, time.Minute, c.limit, c.dim), 1e-9)
		})
	}
}
