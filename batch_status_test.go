package llmqueue

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessorStatus_ReportsCycleHealthAndRate(t *testing.T) {
	s := redistest.StartMini(t)
	qm := newManager(t, s, &Config{Budget: Budget{TPM: 10_000, SafetyBufferPercent: -1, Window: 5 * time.Second}})
	bp, err := NewBatchProcessor(qm, newRecorder(0), &WorkerConfig{PollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, HealthStopped, bp.Status().HealthStatus)

	require.NoError(t, bp.Start(context.Background()))
	t.Cleanup(func() { _ = bp.Shutdown(context.Background()) })
	addClass(t, qm, 4, 1_000) // fits
	waitFor(t, 5*time.Second, func() bool { return bp.Status().Completed == 4 }, "four completions")
	st := bp.Status()
	assert.True(t, st.IsProcessing)
	assert.Equal(t, 4.0, st.ProcessingRatePerMinute)
	assert.Equal(t, []Priority{PriorityLow, PriorityLow, PriorityLow, PriorityMedium, PriorityMedium, PriorityLong}, st.CycleSequence)
	assert.Equal(t, 1, st.CurrentCyclePosition, "4 lows: 3 in the first cycle, then one more after medium and long gave their slots away")
	assert.Equal(t, PriorityLow, st.CurrentTaskType)
	assert.NotNil(t, st.LastProcessedTime)

	addClass(t, qm, 10, 1_000) // 6 more fit the 10,000-token window, then the budget binds
	waitFor(t, 5*time.Second, func() bool { return bp.Status().HealthStatus == HealthQuotaLimited }, "quota_limited")
	assert.Equal(t, "limited: tokens", bp.Status().QuotaStatus)

	b, err := json.Marshal(bp.Status())
	require.NoError(t, err)
	for _, key := range []string{"is_processing", "uptime_seconds", "current_cycle_position", "current_task_type",
		"cycle_sequence", "consecutive_empty_cycles", "total_requests_processed", "last_processed_time",
		"processing_rate_per_minute", "batch_config", "quota_status", "consecutive_errors", "health_status"} {
		assert.Contains(t, string(b), `"`+key+`"`)
	}
}
