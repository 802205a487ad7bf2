package prom

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// These helpers stand in for prometheus/testutil (CollectAndCompare,
// CollectAndCount, CollectAndLint), whose diff dependency
// (github.com/kylelemons/godebug) is not in the module's go.sum. They work
// the same way: register in a pedantic registry, gather, compare the text
// exposition.

// gather registers c in a fresh pedantic registry and gathers the families
// named (all when none are).
func gather(t *testing.T, c prometheus.Collector, names ...string) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	if len(names) == 0 {
		return mfs
	}
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		if slices.Contains(names, mf.GetName()) {
			out = append(out, mf)
		}
	}
	return out
}

// collectAndCompare checks that c's families named in names read exactly as
// the text exposition want.
func collectAndCompare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(strings.NewReader(want))
	require.NoError(t, err)
	var wantMFs []*dto.MetricFamily
	for _, mf := range parsed {
		if slices.Contains(names, mf.GetName()) {
			sort.Slice(mf.Metric, func(i, j int) bool {
				return labelKey(mf.Metric[i]) < labelKey(mf.Metric[j])
			})
			wantMFs = append(wantMFs, mf)
		}
	}
	sort.Slice(wantMFs, func(i, j int) bool { return wantMFs[i].GetName() < wantMFs[j].GetName() })
	require.Equal(t, encode(t, wantMFs), encode(t, gather(t, c, names...)))
}

func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		fmt.Fprintf(&b, "%s=%s,", l.GetName(), l.GetValue())
	}
	return b.String()
}

func encode(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var buf bytes.Buffer
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&buf, mf)
		require.NoError(t, err)
	}
	return buf.String()
}

// collectAndCount returns how many series c reports under name.
func collectAndCount(t *testing.T, c prometheus.Collector, name string) int {
	t.Helper()
	n := 0
	for _, mf := range gather(t, c, name) {
		n += len(mf.GetMetric())
	}
	return n
}

// lint runs promlint over everything c reports.
func lint(t *testing.T, c prometheus.Collector) []promlint.Problem {
	t.Helper()
	problems, err := promlint.NewWithMetricFamilies(gather(t, c)).Lint()
	require.NoError(t, err)
	return problems
}
