package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestEvalPanel runs the panel on a short synthetic flash-crowd trace (the
// real traces take minutes; make backtest-panel runs them all) and checks
// what it reports: both figures, the frontiers compared, the coverage
// overall and within the top 5% of load changes.
func TestEvalPanel(t *testing.T) {
	code, out, stderr := runCLI(t, "eval", "panel", "--traces", "synthetic", "--synthetic.days", "4", "--synthetic.seeds", "7", "--workers", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Panel []struct {
			Trace  string  `json:"trace"`
			Seed   *uint64 `json:"seed"`
			Result struct {
				Settings struct {
					HPA struct {
						Name string `json:"name"`
					} `json:"hpa"`
				} `json:"settings"`
				Reduction *float64 `json:"reduction_at_equal_cost"`
				EqualCost *struct {
					Compared int    `json:"frontier_compared"`
					Note     string `json:"note"`
				} `json:"equal_cost"`
				Baseline *struct {
					ReplicaHours float64 `json:"replica_hours"`
				} `json:"equal_cost_vs_baseline_hpa"`
				Forecast *struct {
					Points    int     `json:"points"`
					Coverage  float64 `json:"quantile_coverage"`
					TopPoints int     `json:"top_change_points"`
					TopCover  float64 `json:"top_change_quantile_coverage"`
				} `json:"forecast"`
			} `json:"result"`
		} `json:"panel"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(r.Panel) != 1 || r.Panel[0].Trace != "synthetic" || r.Panel[0].Seed == nil || *r.Panel[0].Seed != 7 {
		t.Fatalf("panel %+v, want the synthetic trace of seed 7 alone", r.Panel)
	}
	res := r.Panel[0].Result
	if res.Settings.HPA.Name != "shipped" {
		t.Errorf("the panel ran on the %q HPA, want shipped", res.Settings.HPA.Name)
	}
	if res.EqualCost == nil || (res.Reduction == nil) == (res.EqualCost.Note == "") || res.Baseline == nil || !(res.Baseline.ReplicaHours > 0) {
		t.Errorf("equal cost %+v, reduction %v, second figure %+v: want a reduction or a note, and the baseline's cost", res.EqualCost, res.Reduction, res.Baseline)
	}
	f := res.Forecast
	if f == nil || f.Points < 1440 || f.TopPoints < f.Points/25 || f.TopPoints > f.Points/15 ||
		!(f.Coverage > 0.5 && f.Coverage <= 1) || math.IsNaN(f.TopCover) || f.TopCover < 0 || f.TopCover > 1 {
		t.Errorf("forecast %+v: want a day or more of points, about 5%% of them in the top changes, coverages in [0, 1]", f)
	}

	code, out, stderr = runCLI(t, "eval", "panel", "--traces", "synthetic", "--synthetic.days", "3", "--synthetic.seeds", "1, 2", "--workers", "2")
	if code != 0 {
		t.Fatalf("table: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"synthetic seed 1 ", "synthetic seed 2 ", "vs cluster defaults", "top 5% changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--traces", "nasa,moon"}, `unknown trace "moon"`},
		{[]string{"--behavior", "custom"}, "--behavior"},
		{[]string{"--traces", "nasa", "--data", t.TempDir()}, "nasa_http"},
		{[]string{"--traces", "synthetic", "--synthetic.days", "-2"}, "Days"},
		{[]string{"--traces", "synthetic", "--synthetic.seeds", "1,x"}, `--synthetic.seeds: "x" is not a seed`},
		{[]string{"--traces", "synthetic", "--synthetic.seeds", "3,3"}, "seed 3 is listed twice"},
		{[]string{"--traces", "synthetic", "--synthetic.seeds", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21"}, "21 seeds, at most 20"},
	} {
		code, _, stderr := runCLI(t, append([]string{"eval", "panel"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("eval panel %s: exit %d, stderr %q; want a failure naming %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}
