package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// TestForecastFromPrometheus backfills two weeks of one-minute load into a
// real Prometheus and forecasts the next hour from it through the CLI.
func TestForecastFromPrometheus(t *testing.T) {
	end := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	load := promtest.Series{
		Name:   "prescale_test_load",
		Labels: map[string]string{"job": "web"},
		Start:  end.Add(-14 * 24 * time.Hour),
		Step:   time.Minute,
		Values: make([]float64, 14*24*60),
	}
	daily := func(t time.Time) float64 {
		return 100 + 40*math.Sin(2*math.Pi*float64(t.Sub(load.Start))/float64(24*time.Hour))
	}
	for i := range load.Values {
		load.Values[i] = daily(load.Time(i)) + float64(i%7)
	}
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{load}})

	code, out, stderr := runCLI(t, "forecast", "--prometheus.url", srv.URL, "--query", load.Selector(),
		"--range", "14d", "--step", "1m", "--end", end.Format(time.RFC3339), "--horizon", "1h", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Timestamps []time.Time `json:"timestamps"`
		Forecast   struct {
			Seasons []int     `json:"seasons"`
			Point   []float64 `json:"point"`
		} `json:"forecast"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(r.Forecast.Point) != 60 || !r.Timestamps[0].Equal(end) {
		t.Fatalf("%d points from %v, want 60 from %v", len(r.Forecast.Point), r.Timestamps[0], end)
	}
	for i, v := range r.Forecast.Point {
		if want := daily(r.Timestamps[i]) + 3; math.Abs(v-want) > 10 {
			t.Fatalf("step %d: forecast %.1f, the load's pattern says about %.1f", i+1, v, want)
		}
	}

	code, _, stderr = runCLI(t, "forecast", "--prometheus.url", srv.URL, "--query", `absent_metric_for_prescale`,
		"--range", "1d", "--end", end.Format(time.RFC3339), "--horizon", "1h")
	if code != 1 || !strings.Contains(stderr, "no data") {
		t.Errorf("a query with no series: exit %d, stderr %q; want exit 1 saying no data", code, stderr)
	}
	srv.Kill()
	code, _, stderr = runCLI(t, "forecast", "--prometheus.url", srv.URL, "--query", load.Selector(),
		"--range", "1d", "--end", end.Format(time.RFC3339), "--horizon", "1h", "--prometheus.timeout", "2s")
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("Prometheus down: exit %d, stderr %q; want exit 1 saying connection refused", code, stderr)
	}
}

// TestForecastPrometheusHTTPConfig checks that --prometheus.http-config
// takes Prometheus's http_config YAML: the bearer token and an extra header
// reach the server (a stand-in that checks them; the real server ignores
// them).
func TestForecastPrometheusHTTPConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Scope-OrgID") != "team-a" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		start, err := strconv.ParseFloat(r.Form.Get("start"), 64)
		if err != nil {
			at, err := time.Parse(time.RFC3339Nano, r.Form.Get("start"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			start = float64(at.UnixMilli()) / 1000
		}
		var values []string
		for i := range 120 {
			values = append(values, fmt.Sprintf(`[%.3f,"%d"]`, start+float64(60*i), 10+i%5))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(values, ","))
	}))
	defer srv.Close()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	cfg := filepath.Join(dir, "http.yml")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("authorization:\n  credentials_file: "+token+"\nhttp_headers:\n  X-Scope-OrgID:\n    values: [team-a]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"forecast", "--prometheus.url", srv.URL, "--query", "load", "--range", "2h", "--end", "2024-03-04T00:00:00Z", "--horizon", "5"}
	if code, _, stderr := runCLI(t, append(args, "--prometheus.http-config", cfg)...); code != 0 {
		t.Fatalf("with the http config: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, args...); code != 1 || !strings.Contains(stderr, "401 Unauthorized") {
		t.Errorf("without it: exit %d, stderr %q; want exit 1 and the 401", code, stderr)
	}
}
