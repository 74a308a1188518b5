package prometheus

import (
	"slices"
	"testing"
)

func TestRawCounters(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"http_requests_total", []string{"http_requests_total"}},
		{`http_requests_total{job="api"}`, []string{"http_requests_total"}},
		{"sum(http_requests_total)", []string{"http_requests_total"}},
		{"sum by (job) (http_requests_total)", []string{"http_requests_total"}},
		{"max_over_time(http_requests_total[1h])", []string{"http_requests_total"}},
		{"rate(http_requests_total[5m])", nil},
		{`sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))`, nil},
		{"sum(irate(x_total[1m])) / sum(increase(y_count[1h]))", nil},
		{"histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))", nil},
		{"rate(latency_seconds_sum[5m]) / rate(latency_seconds_count[5m])", nil},
		{"rate(a_total[5m]) + b_total", []string{"b_total"}},
		{"rate(a_total[5m:1m] offset 5m)", nil},
		{"up", nil},
		{"node_load1", nil},
		{"sum(kube_pod_container_status_restarts_total) by (namespace)", []string{"kube_pod_container_status_restarts_total"}},
		{`sum(up{job="total_count"})`, nil},
		{`{__name__="x_total"}`, nil},
		{"a_total and on(instance) b", []string{"a_total"}},
		{"deriv(process_cpu_seconds_total[5m])", nil},
		{"# comment x_total\nup", nil},
		{"1e3 * rate(x_total[5m])", nil},
	}
	for _, tt := range tests {
		if got := rawCounters(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("rawCounters(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func FuzzRawCounters(f *testing.F) {
	f.Add("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))")
	f.Add("a_total{")
	f.Add(`"unterminated`)
	f.Fuzz(func(t *testing.T, query string) {
		_ = rawCounters(query) // must not panic or loop
	})
}
