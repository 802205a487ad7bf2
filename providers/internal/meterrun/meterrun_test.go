package meterrun

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmqueue/llmqueue"
)

// Each provider's adapter is what the meter runs need: a Processor that
// also estimates and validates payloads at Add.
func TestNewProcessor(t *testing.T) {
	for _, provider := range []string{"openai", "bedrock", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			proc, err := NewProcessor(provider, "http://127.0.0.1:1")
			require.NoError(t, err)
			assert.Implements(t, (*llmqueue.Estimator)(nil), proc)
			assert.Implements(t, (*llmqueue.Validator)(nil), proc)
		})
	}
	_, err := NewProcessor("azure", "http://127.0.0.1:1")
	assert.ErrorContains(t, err, `unknown provider "azure"`)
}

func TestIsRouter(t *testing.T) {
	tests := []struct {
		spec string
		want bool
	}{
		{`{"provider":"openai","deployments":[{"name":"a"}]}`, true},
		{`{"provider":"openai","deployments":[]}`, false},
		{`{"provider":"openai"}`, false},
		{`not json`, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, IsRouter(tc.spec), tc.spec)
	}
}

// A spec that cannot be read ends the worker with exit code 2.
func TestRun_BadSpecExitsWithTwo(t *testing.T) {
	assert.Equal(t, 2, Run(`{`))
	assert.Equal(t, 2, Run(`{"provider":"azure"}`))
	assert.Equal(t, 2, Run(`{"provider":"openai","redis_url":"::bad"}`))
}
