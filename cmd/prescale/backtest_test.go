package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed/prometheus/promtest"
	"github.com/prescale/prescale/models/backtest"
)

// writeLoadCSV writes days of one-minute load with a daily cycle, a dip
// to zero for three hours on the second day (an outage), and a surge.
func writeLoadCSV(t *testing.T, days int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,requests\n")
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range days * 1440 {
		at := start.Add(time.Duration(i) * time.Minute)
		v := 100 + 80*math.Sin(2*math.Pi*float64(i)/1440) + float64(i%5)
		switch {
		case i >= 1440+600 && i < 1440+780:
			v = 0
		case i >= 2*1440+300 && i < 2*1440+330:
			v *= 2
		}
		fmt.Fprintf(&b, "%s,%.0f\n", at.Format("2006-01-02 15:04:05"), v)
	}
	path := filepath.Join(t.TempDir(), "load.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type backtestJSON struct {
	Input struct {
		Points   int `json:"points"`
		ZeroRuns []struct {
			Start, End time.Time
		} `json:"zero_runs"`
		EvaluatedMinutes float64 `json:"evaluated_minutes"`
	} `json:"input"`
	Policies map[string]struct {
		UnderprovisionedMinutes *float64 `json:"underprovisioned_minutes"`
		UnservedFraction        *float64 `json:"unserved_fraction"`
		ReplicaHours            *float64 `json:"replica_hours"`
		Overprovisioning        *float64 `json:"overprovisioning"`
		ScaleEvents             *int     `json:"scale_events"`
		HPA                     string   `json:"hpa"`
	} `json:"policies"`
	Forecast *struct {
		Fits int     `json:"fits"`
		MASE float64 `json:"mase"`
	} `json:"forecast"`
	Frontier map[string][]struct {
		Knob                    *float64 `json:"knob"`
		ReplicaHours            *float64 `json:"replica_hours"`
		UnderprovisionedMinutes *float64 `json:"underprovisioned_minutes"`
	} `json:"frontier"`
	Settings struct {
		HPA         hpaJSON  `json:"hpa"`
		BaselineHPA *hpaJSON `json:"baseline_hpa"`
	} `json:"settings"`
	Reduction         *float64 `json:"reduction_at_equal_cost"`
	BaselineEqualCost *struct {
		ReferenceHeadroom float64 `json:"reference_headroom"`
	} `json:"equal_cost_vs_baseline_hpa"`
	EqualCost *struct {
		ReferenceHeadroom float64 `json:"reference_headroom"`
		Note              string  `json:"note"`
	} `json:"equal_cost"`
}

type hpaJSON struct {
	Name    string `json:"name"`
	ScaleUp struct {
		Tolerance *float64 `json:"tolerance"`
	} `json:"scale_up"`
}

// TestBacktestCSV runs the command on a CSV file with every output: the
// JSON document, the HTML report, the trace and the progress lines.
func TestBacktestCSV(t *testing.T) {
	in := writeLoadCSV(t, 4)
	dir := t.TempDir()
	report, trace := filepath.Join(dir, "report.html"), filepath.Join(dir, "trace.csv")
	code, out, stderr := runCLI(t, "backtest", "--input", in, "--capacity", "20", "--startup", "3m", "--lag", "2m",
		"--warmup", "1d", "--missing-zeros", "1h", "--history", "3d", "--sweep", "--workers", "2",
		"--format", "json", "--report", report, "--trace", trace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r backtestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Input.Points != 4*1440 || len(r.Input.ZeroRuns) != 1 {
		t.Errorf("input: %d points, %d zero runs; want %d and 1 (the 3-hour outage)", r.Input.Points, len(r.Input.ZeroRuns), 4*1440)
	}
	if want := 3*1440.0 - 180; r.Input.EvaluatedMinutes != want {
		t.Errorf("evaluated %v minutes, want %v (three days less the outage)", r.Input.EvaluatedMinutes, want)
	}
	for _, p := range []string{"reactive", "margin", "prescale", "oracle"} {
		m, ok := r.Policies[p]
		if !ok || m.UnderprovisionedMinutes == nil || m.UnservedFraction == nil || m.ReplicaHours == nil ||
			m.Overprovisioning == nil || m.ScaleEvents == nil {
			t.Fatalf("policy %s: missing or incomplete in %s", p, out)
		}
		// Three days of 1 to 10 replicas.
		if h := *m.ReplicaHours; h < 72 || h > 72*12 {
			t.Errorf("policy %s: %v replica-hours, want within [72, 864]", p, h)
		}
	}
	if *r.Policies["oracle"].UnderprovisionedMinutes > *r.Policies["reactive"].UnderprovisionedMinutes {
		t.Errorf("the oracle was under-provisioned longer than the reactive HPA")
	}
	if *r.Policies["margin"].ReplicaHours <= *r.Policies["reactive"].ReplicaHours {
		t.Errorf("a 20%% margin cost no more than none")
	}
	if r.Forecast == nil || r.Forecast.Fits < 48 {
		t.Errorf("forecast: %+v, want at least the 48 hourly fits of two days", r.Forecast)
	}
	if nr, nq := len(backtest.DefaultSweepHeadrooms), len(backtest.DefaultSweepQuantiles); len(r.Frontier["reactive"]) != nr || len(r.Frontier["prescale"]) != nq || len(r.Frontier["reactive-baseline"]) != nr {
		t.Errorf("frontier: %d reactive, %d prescale and %d baseline points, want %d, %d and %d",
			len(r.Frontier["reactive"]), len(r.Frontier["prescale"]), len(r.Frontier["reactive-baseline"]), nr, nq, nr)
	}
	if r.Settings.HPA.Name != "shipped" || r.Settings.HPA.ScaleUp.Tolerance == nil || *r.Settings.HPA.ScaleUp.Tolerance != 0 ||
		r.Settings.BaselineHPA == nil || r.Settings.BaselineHPA.Name != "cluster-defaults" {
		t.Errorf("settings: HPA %+v, baseline %+v; want shipped (scale-up tolerance 0) and cluster-defaults", r.Settings.HPA, r.Settings.BaselineHPA)
	}
	for p, m := range r.Policies {
		if m.HPA != "shipped" {
			t.Errorf("policy %s ran on the %q HPA, want shipped", p, m.HPA)
		}
	}
	if r.BaselineEqualCost == nil || r.BaselineEqualCost.ReferenceHeadroom != 0.2 {
		t.Errorf("no second figure against the cluster's defaults: %+v", r.BaselineEqualCost)
	}
	if r.EqualCost == nil || r.EqualCost.ReferenceHeadroom != 0.2 || (r.Reduction == nil) == (r.EqualCost.Note == "") {
		t.Errorf("equal cost: %+v, reduction %v: want the 20%% reference and either a reduction or a note", r.EqualCost, r.Reduction)
	}

	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "<svg") || !strings.Contains(string(html), "reactive") {
		t.Errorf("the report has no chart or no policy")
	}

	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4*1440+1 || rows[0][0] != "time" || !strings.Contains(strings.Join(rows[0], ","), "prescale_ready") {
		t.Errorf("trace: %d rows, header %v", len(rows), rows[0])
	}
	if !strings.Contains(stderr, "backtest: fit") || !strings.Contains(stderr, "backtest: replay") {
		t.Errorf("no progress lines on stderr: %q", stderr)
	}

	code, out, stderr = runCLI(t, "backtest", "--input", in, "--capacity", "20", "--startup", "2m..4m",
		"--warmup", "1d", "--history", "3d", "--policies", "reactive,oracle", "--sweep")
	if code != 0 {
		t.Fatalf("table: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"under-provisioned min", "reactive", "oracle", "frontier:", "reduction at equal cost", "zeros from",
		"every policy: shipped: scale-up tolerance 0", "against the reactive HPA on cluster-defaults"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
}

// TestBacktestErrors checks that bad input is a clear error naming what
// was wrong and where.
func TestBacktestErrors(t *testing.T) {
	in := writeLoadCSV(t, 2)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("timestamp,requests\n2024-03-01 00:00:00,5\n2024-03-01 00:01:00,lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	behavior := filepath.Join(t.TempDir(), "behavior.yaml")
	if err := os.WriteFile(behavior, []byte("scaleDown:\n  policies:\n  - type: Pods\n    value: 0\n    periodSeconds: 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	calendar := filepath.Join(t.TempDir(), "events.yaml")
	if err := os.WriteFile(calendar, []byte("events:\n  - name: match\n    start: 2024-03-01T19:00:00\n    timeZone: Europe/Pariss\n    duration: 2h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(t.TempDir(), "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("scaleUp:\n  stabilizationWindow: 60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--input", in}, 2, "--capacity"},
		{[]string{"--capacity", "10"}, 2, "exactly one of --input and --prometheus.url"},
		{[]string{"--input", in, "--capacity", "10", "--startup", "soon"}, 2, `"soon" is not a duration`},
		{[]string{"--input", in, "--capacity", "10", "--startup", "4m..2m"}, 2, "empty"},
		{[]string{"--input", in, "--capacity", "10", "--policies", "reactive,psychic"}, 2, `unknown policy "psychic"`},
		{[]string{"--input", in, "--capacity", "10", "--quantile", "1"}, 2, "quantile"},
		{[]string{"--input", in, "--capacity", "10", "--warmup", "3d"}, 1, "warm-up"},
		{[]string{"--input", in, "--capacity", "10", "--format", "xml"}, 2, "--format"},
		{[]string{"--input", bad, "--capacity", "10"}, 1, "bad.csv:3"},
		{[]string{"--input", in, "--capacity", "10", "--behavior", behavior}, 1, "scaleDown.policies[0].value"},
		{[]string{"--input", in, "--capacity", "10", "--behavior", unknown}, 1, "stabilizationWindow"},
		{[]string{"--input", in, "--capacity", "10", "--baseline-behavior", ""}, 2, "--baseline-behavior"},
		{[]string{"--input", in, "--capacity", "10", "--behavior", "shiped"}, 1, "shiped"},
		{[]string{"--input", in, "--capacity", "10", "--events", calendar}, 2, `events.yaml:2: event "match": timeZone "Europe/Pariss": not an IANA time zone`},
		{[]string{"--input", in, "--capacity", "10", "--events", calendar + ".missing"}, 2, "--events"},
		{[]string{"--input", in, "--capacity", "10", "--events", calendar, "--measure-events", calendar}, 2, "give one"},
	} {
		code, _, stderr := runCLI(t, append([]string{"backtest"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("backtest %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}

// TestShippedBehavior checks that the backtest's built-in "shipped"
// behavior is the one of the HPAs deploy/ ships, read as --behavior reads
// a file.
func TestShippedBehavior(t *testing.T) {
	want := backtest.ShippedBehavior()
	for _, f := range []string{"hpa.yaml", "hpa-forecast-load.yaml"} {
		got, err := loadBehavior(filepath.Join("..", "..", "deploy", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: behavior\n%s\nwant the backtest's %q\n%s", f, got.Settings(f), backtest.ShippedHPA, want.Settings(backtest.ShippedHPA))
		}
	}
}

// TestBacktestBehavior checks that a behavior file reaches the HPA: with
// scale-down disabled the reactive policy never scales down, so it makes
// fewer scale events at a higher cost than with the default behavior.
func TestBacktestBehavior(t *testing.T) {
	in := writeLoadCSV(t, 2)
	behavior := filepath.Join(t.TempDir(), "hpa.yaml")
	hpa := `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 100
  behavior:
    scaleDown:
      selectPolicy: Disabled
`
	if err := os.WriteFile(behavior, []byte(hpa), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) backtestJSON {
		args := append([]string{"backtest", "--input", in, "--capacity", "20", "--warmup", "1h", "--policies", "reactive", "--format", "json"}, extra...)
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r backtestJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	def, held := run("--behavior", "cluster-defaults"), run("--behavior", behavior)
	d, h := def.Policies["reactive"], held.Policies["reactive"]
	if !(*h.ReplicaHours > *d.ReplicaHours && *h.ScaleEvents < *d.ScaleEvents) {
		t.Errorf("scale-down disabled: %v replica-hours and %d events; default %v and %d: want more hours and fewer events",
			*h.ReplicaHours, *h.ScaleEvents, *d.ReplicaHours, *d.ScaleEvents)
	}
}

// TestBacktestFromPrometheus replays a range read from a real Prometheus.
func TestBacktestFromPrometheus(t *testing.T) {
	end := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	load := promtest.Series{
		Name:   "prescale_backtest_load",
		Labels: map[string]string{"job": "web"},
		Start:  end.Add(-3 * 24 * time.Hour),
		Step:   time.Minute,
		Values: make([]float64, 3*1440),
	}
	for i := range load.Values {
		load.Values[i] = 100 + 80*math.Sin(2*math.Pi*float64(i)/1440) + float64(i%7)
	}
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{load}})
	code, out, stderr := runCLI(t, "backtest", "--prometheus.url", srv.URL, "--query", load.Selector(),
		"--range", "3d", "--step", "1m", "--end", end.Format(time.RFC3339), "--capacity", "20",
		"--warmup", "1d", "--history", "2d", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r backtestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Input.Points != 3*1440 || r.Forecast == nil || r.Forecast.Fits == 0 || len(r.Policies) != 4 {
		t.Errorf("from Prometheus: %d points, forecast %+v, %d policies; want %d points, fits and 4 policies",
			r.Input.Points, r.Forecast, len(r.Policies), 3*1440)
	}
	srv.Kill()
	code, _, stderr = runCLI(t, "backtest", "--prometheus.url", srv.URL, "--query", load.Selector(),
		"--range", "1d", "--end", end.Format(time.RFC3339), "--capacity", "20", "--prometheus.timeout", "2s")
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("Prometheus down: exit %d, stderr %q; want exit 1 saying connection refused", code, stderr)
	}
}

// TestBacktestMarginZero checks that --headroom 0 means no head room (not
// the default): the margin policy then does what the reactive one does.
func TestBacktestMarginZero(t *testing.T) {
	in := writeLoadCSV(t, 2)
	code, out, stderr := runCLI(t, "backtest", "--input", in, "--capacity", "20", "--warmup", "1h",
		"--policies", "reactive,margin", "--headroom", "0", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r backtestJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	re, m := r.Policies["reactive"], r.Policies["margin"]
	if *m.ReplicaHours != *re.ReplicaHours || *m.UnderprovisionedMinutes != *re.UnderprovisionedMinutes {
		t.Errorf("--headroom 0: margin %v replica-hours, %v minutes short; reactive %v and %v: want the same",
			*m.ReplicaHours, *m.UnderprovisionedMinutes, *re.ReplicaHours, *re.UnderprovisionedMinutes)
	}
}
