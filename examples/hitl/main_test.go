package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRun_SuspendsForApprovalAndCompletesAfterResume(t *testing.T) {
	t.Setenv("REDIS_URL", "") // embedded miniredis
	t.Setenv("REDIS_HOST", "")
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(context.Background(), &out), "output:\n%s", out.String())
	require.Less(t, time.Since(start), deadline)
	got := out.String()
	t.Log("\n" + got)
	require.Contains(t, got, "embedded miniredis")
	require.Contains(t, got, `suspended: awaiting approval (progress "step 1/2: draft written")`)
	require.Contains(t, got, "final status: completed")
	require.Contains(t, got, `"approved_by":"alice"`)
	require.Contains(t, got, `"sent":"Dear ACME, your refund has been approved."`)
}
