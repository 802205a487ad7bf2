// Package estimate answers planning questions about llmqueue requests
// without touching Redis: how long a call takes (ProcessingTime), how long
// a Budget takes to admit a backlog (DrainTime), and whether a caller's
// token estimate is sane for its payload (Check).
//
// A call's time is a fixed latency, plus the prompt read in parallel at
// thousands of tokens per second, plus the reply written one token at a
// time at tens to about a hundred per second: output dominates. OpenAI's
// latency guide explains why:
// https://platform.openai.com/docs/guides/latency-optimization. Speeds
// differ tenfold between models and hosts; the defaults lean slow, so
// calibrate a SpeedProfile from your own calls.
//
// A caller's estimate should reserve what the provider charges when the
// call arrives: the input plus the output allowance (max_tokens). Less
// risks 429s; much more holds budget idle. Check says which.
package estimate
