package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prescale/prescale/feed/feedtest"
)

// runCLI runs the command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func dataDir(t *testing.T) string { return feedtest.DataDir(t) }

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"forecast without input", []string{"forecast", "--horizon", "3"}, 2, "give exactly one of --input, --prometheus.url and --load"},
		{"url without query", []string{"forecast", "--prometheus.url", "http://127.0.0.1:9", "--horizon", "3"}, 2, "--prometheus.url and --query go together"},
		{"bad format", []string{"forecast", "--input", "x.csv", "--horizon", "3", "--format", "xml"}, 2, `--format "xml"`},
		{"bad quantile", []string{"forecast", "--input", "x.csv", "--horizon", "3", "--quantiles", "1.5"}, 2, `"1.5" is not a level in (0,1)`},
		{"unknown benchmark", []string{"eval", "m5"}, 2, `unknown benchmark "m5"`},
		{"missing file", []string{"forecast", "--input", "/nonexistent.csv", "--horizon", "3"}, 1, "/nonexistent.csv"},
		{"Go-only duration", []string{"forecast", "--input", "x.csv", "--horizon", "3", "--step", "1.5m"}, 2, `invalid value "1.5m" for flag -step`},
		{"Prometheus durations in serve", []string{"serve", "--stale-after", "1d12h", "--snapshot.interval", "90s",
			"--config.watch-interval", "1m30s", "--prometheus.timeout", "2m", "--workers", "0"}, 2, "--workers 0: want at least 1"},
		{"negative duration", []string{"serve", "--stale-after", "-1m"}, 2, `invalid value "-1m" for flag -stale-after`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.inStderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.inStderr)
			}
		})
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "prescale ") || !strings.Contains(out, "\n  revision:   ") ||
			!strings.Contains(out, "\n  build date: ") || !strings.Contains(out, "\n  go version: go1.") {
			t.Errorf("%v: exit %d, output %q; want the version, revision, build date and Go version", args, code, out)
		}
	}
}

func writeCSV(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "load.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestForecastBadCSVNamesFileAndLine(t *testing.T) {
	path := writeCSV(t, "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,abc\n")
	code, _, stderr := runCLI(t, "forecast", "--input", path, "--horizon", "3")
	if code != 1 || !strings.Contains(stderr, path+":3:") {
		t.Fatalf("exit %d, stderr %q; want the file and line 3", code, stderr)
	}
}

func TestForecastHorizonBounded(t *testing.T) {
	path := writeCSV(t, "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n2024-01-01 00:02:00,3\n")
	code, _, stderr := runCLI(t, "forecast", "--input", path, "--horizon", "7d")
	if want := `--horizon: "7d" is 10080 steps of 1m0s; at most 10000`; code != 2 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

// TestForecastRealTrace forecasts NYC taxi demand (NAB's nyc_taxi: 30-minute
// steps, daily and weekly cycles) in every format and checks that a saved
// model forecasts the same numbers when loaded.
func TestForecastRealTrace(t *testing.T) {
	input := filepath.Join(dataDir(t), "nab", "data", "realKnownCause", "nyc_taxi.csv")
	model := filepath.Join(t.TempDir(), "model.json")
	code, table, stderr := runCLI(t, "forecast", "--input", input, "--horizon", "2d", "--save", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"model:", "seasons:", "336 steps (168h0m0s)", "detected: 48 (acf", "q0.95", "2015-02-02T23:30:00Z"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	code, fresh, stderr := runCLI(t, "forecast", "--input", input, "--horizon", "96", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, loaded, stderr := runCLI(t, "forecast", "--load", model, "--horizon", "2d", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	type out struct {
		Timestamps []string `json:"timestamps"`
		Forecast   struct {
			Model     string    `json:"model"`
			Point     []float64 `json:"point"`
			Quantiles []struct {
				Level  float64   `json:"level"`
				Values []float64 `json:"values"`
			} `json:"quantiles"`
		} `json:"forecast"`
	}
	var a, b out
	if err := json.Unmarshal([]byte(fresh), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(loaded), &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Forecast.Point) != 96 || len(a.Timestamps) != 96 || len(a.Forecast.Quantiles) != 4 {
		t.Fatalf("json: %d points, %d timestamps, %d quantiles", len(a.Forecast.Point), len(a.Timestamps), len(a.Forecast.Quantiles))
	}
	for i := range a.Forecast.Point {
		if a.Forecast.Point[i] != b.Forecast.Point[i] {
			t.Fatalf("step %d: fitted %v, loaded %v", i+1, a.Forecast.Point[i], b.Forecast.Point[i])
		}
	}
	// The fit does not depend on the horizon asked: a shorter one gives
	// the same numbers, quantiles included, over its steps.
	code, short, stderr := runCLI(t, "forecast", "--input", input, "--horizon", "5", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c out
	if err := json.Unmarshal([]byte(short), &c); err != nil {
		t.Fatal(err)
	}
	if c.Forecast.Model != a.Forecast.Model || len(c.Forecast.Quantiles) != len(a.Forecast.Quantiles) {
		t.Fatalf("--horizon 5 fitted %s with %d quantiles, --horizon 96 %s with %d", c.Forecast.Model, len(c.Forecast.Quantiles), a.Forecast.Model, len(a.Forecast.Quantiles))
	}
	for i := range c.Forecast.Point {
		if c.Forecast.Point[i] != a.Forecast.Point[i] {
			t.Errorf("step %d: --horizon 5 forecast %v, --horizon 96 %v", i+1, c.Forecast.Point[i], a.Forecast.Point[i])
		}
		for k, q := range c.Forecast.Quantiles {
			if q.Values[i] != a.Forecast.Quantiles[k].Values[i] {
				t.Errorf("step %d q%v: --horizon 5 gives %v, --horizon 96 %v", i+1, q.Level, q.Values[i], a.Forecast.Quantiles[k].Values[i])
			}
		}
	}
	code, csvOut, stderr := runCLI(t, "forecast", "--input", input, "--horizon", "5", "--model", "naive", "--format", "csv", "--quantiles", "0.9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	if len(lines) != 6 || lines[0] != "timestamp,point,q0.9" {
		t.Fatalf("csv output:\n%s", csvOut)
	}
}

func TestEvalM4JSON(t *testing.T) {
	code, out, stderr := runCLI(t, "eval", "m4", "--data", dataDir(t), "--models", "naive,auto", "--limit", "12", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Series  int `json:"series"`
		Horizon int `json:"horizon"`
		Models  map[string]struct {
			MASE       float64 `json:"mase"`
			SMAPE      float64 `json:"smape"`
			OWA        float64 `json:"owa"`
			Coverage80 float64 `json:"coverage80"`
			Coverage95 float64 `json:"coverage95"`
			FitMS      float64 `json:"fit_ms_per_series"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Series != 12 || r.Horizon != 48 || len(r.Models) != 2 {
		t.Fatalf("got %+v", r)
	}
	for name, m := range r.Models {
		if !(m.MASE > 0 && m.SMAPE > 0 && m.OWA > 0 && m.Coverage80 > 0 && m.Coverage95 >= m.Coverage80 && m.FitMS > 0) {
			t.Errorf("%s: implausible figures %+v", name, m)
		}
	}
}

// TestEvalOutage checks that anomaly-aware training keeps the NASA trace's
// August 1995 outage from dragging down the forecasts of the two weekdays
// after it (`prescale eval outage` prints all four days).
func TestEvalOutage(t *testing.T) {
	code, out, stderr := runCLI(t, "eval", "outage", "--data", dataDir(t), "--origins", "1995-08-03 06:00:00,1995-08-04 00:00:00", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Days []outageDay `json:"days"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Days) != 2 {
		t.Fatalf("%d days, want 2", len(r.Days))
	}
	var asIs, cleaned, level, actual float64
	for _, d := range r.Days {
		t.Logf("%+v", d)
		asIs += d.AsIsMAE
		cleaned += d.CleanedMAE
		level += d.CleanedMean
		actual += d.ActualMean
	}
	if cleaned >= asIs {
		t.Errorf("next-day MAE %.2f with anomaly-aware training, not below %.2f without", cleaned/2, asIs/2)
	}
	if level < 0.8*actual {
		t.Errorf("cleaned forecasts average %.1f against an actual %.1f: dragged down", level/2, actual/2)
	}
}

// TestDurationFlagHelp checks that -h names a Prometheus duration flag's
// value and says how durations are written.
func TestDurationFlagHelp(t *testing.T) {
	code, _, stderr := runCLI(t, "forecast", "-h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"\n  -range duration\n", "(default 2w)", "\n  -step duration\n", "\n  -prometheus.timeout duration\n",
		"Durations (--prometheus.timeout, --range, --step) are written the Prometheus way",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("forecast -h lacks %q:\n%s", want, stderr)
		}
	}
}
