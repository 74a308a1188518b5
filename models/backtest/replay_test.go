package backtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
)

// The replay tests run small synthetic series whose metrics are worked out
// by hand in the comments. Unless said otherwise: one point a minute, the
// HPA syncing every 15 s (4 ticks a minute, 0.25 min each), a capacity of
// 10 per replica and the default behavior. A tick's replica-hours are its
// pods * 0.25/60; the metrics cover the ticks after the warm-up where the
// demand is known.

const metricTol = 1e-9

var replayStart = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

func minuteSeries(values []float64) *feed.Series {
	return &feed.Series{Name: "demand", Start: replayStart, Step: time.Minute, Values: values}
}

// demandOf is the pairs (count, value) one after another: count points of value.
func demandOf(parts ...float64) []float64 {
	var out []float64
	for i := 0; i+1 < len(parts); i += 2 {
		for range int(parts[i]) {
			out = append(out, parts[i+1])
		}
	}
	return out
}

func fixedStartup(d time.Duration) Startup { return Startup{Kind: StartupFixed, A: d} }

// replayConfig is the reactive HPA and the oracle with the given start-up
// delay and metric lag.
// replayConfig is the configuration of the replay tests, whose expected
// values are worked out for the HPA's default behavior.
func replayConfig(startup, lag time.Duration) Config {
	b := DefaultBehavior()
	return Config{
		Behavior:           &b,
		BehaviorName:       ClusterDefaultHPA,
		Headroom:           DefaultHeadroom,
		CapacityPerReplica: 10,
		Startup:            fixedStartup(startup),
		Lag:                lag,
		MinReplicas:        1,
		MaxReplicas:        100,
		Policies:           []string{Reactive, Oracle},
		KeepTraces:         true,
	}
}

func runReplay(t *testing.T, values []float64, c Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), minuteSeries(values), c)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= metricTol }

// checkMetrics compares every metric, within metricTol for the floats.
func checkMetrics(t *testing.T, policy string, got *Metrics, want Metrics) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no metrics", policy)
	}
	type field struct {
		name      string
		got, want float64
	}
	for _, f := range []field{
		{"UnderprovisionedMinutes", got.UnderprovisionedMinutes, want.UnderprovisionedMinutes},
		{"UnservedFraction", got.UnservedFraction, want.UnservedFraction},
		{"ReplicaHours", got.ReplicaHours, want.ReplicaHours},
		{"Overprovisioning", got.Overprovisioning, want.Overprovisioning},
		{"MeanReplicas", got.MeanReplicas, want.MeanReplicas},
		{"Knob", got.Knob, want.Knob},
		{"Elasticity.UnderAccuracy", got.Elasticity.UnderAccuracy, want.Elasticity.UnderAccuracy},
		{"Elasticity.OverAccuracy", got.Elasticity.OverAccuracy, want.Elasticity.OverAccuracy},
		{"Elasticity.UnderTimeshare", got.Elasticity.UnderTimeshare, want.Elasticity.UnderTimeshare},
		{"Elasticity.OverTimeshare", got.Elasticity.OverTimeshare, want.Elasticity.OverTimeshare},
	} {
		if !closeTo(f.got, f.want) {
			t.Errorf("%s: %s = %.12g, want %.12g", policy, f.name, f.got, f.want)
		}
	}
	if got.ScaleEvents != want.ScaleEvents {
		t.Errorf("%s: ScaleEvents = %d, want %d", policy, got.ScaleEvents, want.ScaleEvents)
	}
}

// stepTrace is an expected trace of ticks values: v[i] from tick at[i] on.
func stepTrace(ticks int, at []int, v []int32) []int32 {
	out := make([]int32, ticks)
	for k := range out {
		for i := range at {
			if k >= at[i] {
				out[k] = v[i]
			}
		}
	}
	return out
}

func checkTrace(t *testing.T, what string, got, want []int32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d ticks, want %d", what, len(got), len(want))
	}
	for k := range got {
		if got[k] != want[k] {
			t.Errorf("%s: tick %d (+%v) = %d, want %d", what, k, time.Duration(k)*DefaultSync, got[k], want[k])
			return
		}
	}
}

func TestReplayConstantDemand(t *testing.T) {
	// An hour (60 points, 240 ticks) of constant demand, start-up 0, lag 0.
	tests := []struct {
		name   string
		load   float64
		policy map[string]Metrics
	}{
		{
			// 30 = 3 replicas exactly. The reactive HPA and the oracle start
			// at ceil(30/10) = 3 and the ratio 30000m/(10000m*3) = 1 keeps
			// them there: 3 replicas * 1 h = 3 replica-hours, no surplus, no
			// shortfall, no scale event. The margin policy proposes for
			// 30*1.2 = 36: ratio 1.2 > 1.1, ceil(3.6) = 4 at the first tick
			// (one event, limit max(7, 6)): 4 replica-hours, ready at once,
			// overprovisioning (40-30)/30 = 1/3, over timeshare 100% and
			// over accuracy 100 * (4-3)/3.
			name: "at a capacity multiple", load: 30,
			policy: map[string]Metrics{
				Reactive: {ReplicaHours: 3, MeanReplicas: 3},
				Oracle:   {ReplicaHours: 3, MeanReplicas: 3},
				Margin: {ReplicaHours: 4, MeanReplicas: 4, Overprovisioning: 1.0 / 3, ScaleEvents: 1, Knob: 0.2,
					Elasticity: Elasticity{OverAccuracy: 100.0 / 3, OverTimeshare: 100}},
			},
		},
		{
			// 25 needs ceil(2.5) = 3 replicas: 3 replica-hours,
			// overprovisioning (30-25)/25 = 0.2 of the demand, but the
			// elasticity metrics count replicas: 3 needed, 3 ready, all 0.
			// The margin policy's 25*1.2 = 30 is a ratio of 1 at 3: kept.
			name: "between multiples", load: 25,
			policy: map[string]Metrics{
				Reactive: {ReplicaHours: 3, MeanReplicas: 3, Overprovisioning: 0.2},
				Oracle:   {ReplicaHours: 3, MeanReplicas: 3, Overprovisioning: 0.2},
				Margin:   {ReplicaHours: 3, MeanReplicas: 3, Overprovisioning: 0.2, Knob: 0.2},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := replayConfig(0, 0)
			c.Policies = []string{Reactive, Margin, Oracle}
			res := runReplay(t, demandOf(60, tc.load), c)
			if !closeTo(res.Input.EvaluatedMinutes, 60) || res.Input.Missing != 0 {
				t.Errorf("evaluated %v min with %d missing, want 60 and 0", res.Input.EvaluatedMinutes, res.Input.Missing)
			}
			if !slices.Equal(res.Order, []string{Reactive, Margin, Oracle}) {
				t.Errorf("order %v", res.Order)
			}
			for p, want := range tc.policy {
				checkMetrics(t, p, res.Policies[p], want)
			}
		})
	}
}

func TestReplayStepUp(t *testing.T) {
	// 10 minutes at 20 (2 replicas) then 20 minutes at 60 (6): 30 points,
	// 120 ticks; the step is at tick 40 (+10m). Start-up 2m.
	//
	// The reactive HPA at tick t sees the demand of t-lag. With a lag of
	// 1m the first tick to see 60 is +11m (tick 44): ratio
	// 60000m/(10000m*2) = 3, proposal ceil(6) = 6, within the scale-up
	// limit max(2+4, 2*2) = 6. The new pods are ready at +13m (tick 52).
	// Under-provisioned: ticks 40..51, 12 ticks = 3 min = lag 1m + 0 ticks
	// of waiting + start-up 2m, each short by 60-20 = 40.
	//   unserved fraction 12*40 / (40*20 + 80*60) = 480/5600
	//   pod-ticks 44*2 + 76*6 = 544: 544 * 0.25/60 = 2.2666... replica-h
	//   mean replicas 544/120
	//   under timeshare 100 * 12/120 = 10; under accuracy
	//   100/120 * 12 * (6-2)/6 = 6.666...
	//   nothing over: the demand is a capacity multiple before and after.
	// With a lag of 65s, +11m sees +9m55s (20); the first tick to see 60 is
	// +11m15s (tick 45), ready at +13m15s (tick 53): 13 ticks = 3.25 min =
	// 65s + 10s of waiting for the next sync + 2m.
	//   unserved 13*40/5600 = 520/5600
	//   pod-ticks 45*2 + 75*6 = 540: 2.25 replica-h, mean 4.5
	//   under timeshare 100*13/120; under accuracy 100/120 * 13 * 4/6
	//
	// The oracle looks at the highest demand in [t, t+2m15s] (start-up max
	// + sync); at +7m45s (tick 31) the window reaches +10m: 2 -> 6, ready
	// at +9m45s (tick 39). Never short; tick 39 has 60 for a demand of 20:
	//   overprovisioning 40/5600; over timeshare 100/120; over accuracy
	//   100/120 * (6-2)/2
	//   pod-ticks 31*2 + 89*6 = 596: 596/240 replica-h
	oracle := Metrics{
		ReplicaHours: 596.0 / 240, MeanReplicas: 596.0 / 120, Overprovisioning: 40.0 / 5600, ScaleEvents: 1,
		Elasticity: Elasticity{OverTimeshare: 100.0 / 120, OverAccuracy: 100.0 / 120 * 2},
	}
	tests := []struct {
		name     string
		lag      time.Duration
		actTick  int // the reactive scale-up
		reactive Metrics
	}{
		{
			name: "lag 1m", lag: time.Minute, actTick: 44,
			reactive: Metrics{
				UnderprovisionedMinutes: 3, UnservedFraction: 480.0 / 5600,
				ReplicaHours: 544.0 / 240, MeanReplicas: 544.0 / 120, ScaleEvents: 1,
				Elasticity: Elasticity{UnderTimeshare: 10, UnderAccuracy: 100.0 / 120 * 12 * 4 / 6},
			},
		},
		{
			name: "lag 65s", lag: 65 * time.Second, actTick: 45,
			reactive: Metrics{
				UnderprovisionedMinutes: 3.25, UnservedFraction: 520.0 / 5600,
				ReplicaHours: 2.25, MeanReplicas: 4.5, ScaleEvents: 1,
				Elasticity: Elasticity{UnderTimeshare: 100.0 * 13 / 120, UnderAccuracy: 100.0 / 120 * 13 * 4 / 6},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runReplay(t, demandOf(10, 20, 20, 60), replayConfig(2*time.Minute, tc.lag))
			checkMetrics(t, Reactive, res.Policies[Reactive], tc.reactive)
			checkMetrics(t, Oracle, res.Policies[Oracle], oracle)
			if res.Policies[Oracle].UnderprovisionedMinutes != 0 {
				t.Errorf("the oracle was under-provisioned")
			}
			startupTicks := 8 // 2m / 15s
			tr := res.Traces[Reactive]
			checkTrace(t, "reactive pods", tr.Pods, stepTrace(120, []int{0, tc.actTick}, []int32{2, 6}))
			checkTrace(t, "reactive ready", tr.Ready, stepTrace(120, []int{0, tc.actTick + startupTicks}, []int32{2, 6}))
			to := res.Traces[Oracle]
			checkTrace(t, "oracle pods", to.Pods, stepTrace(120, []int{0, 31}, []int32{2, 6}))
			checkTrace(t, "oracle ready", to.Ready, stepTrace(120, []int{0, 39}, []int32{2, 6}))
		})
	}
}

func TestReplayStepDown(t *testing.T) {
	// 10 minutes at 60 then 20 minutes at 20, lag 0: 120 ticks, the drop
	// at tick 40 (+10m). From +10m the HPA proposes ceil(20/10) = 2, but
	// the 300 s window keeps the highest recommendation made after
	// now-300s; the last 6 was made at +9m45s and leaves the window when
	// it sits at the cutoff: at +14m45s (tick 59), 4m45s after the drop
	// was first seen. 6 -> 2 at once (100% per 15 s).
	//   pod-ticks 59*6 + 61*2 = 476: 476/240 replica-h, mean 476/120
	//   surplus ticks 40..58: 19 * (60-20) = 760 over a demand of
	//   40*60 + 80*20 = 4000: 0.19
	//   over timeshare 100*19/120; over accuracy 100/120 * 19 * (6-2)/2
	// Without a window the HPA scales down at tick 40: pod-ticks
	// 40*6 + 80*2 = 400; the window costs 19 ticks * 4 pods = 76 pod-ticks,
	// 76 * 0.25/60 = 0.31666... replica-hours.
	values := demandOf(10, 60, 20, 20)
	res := runReplay(t, values, replayConfig(2*time.Minute, 0))
	checkMetrics(t, Reactive, res.Policies[Reactive], Metrics{
		ReplicaHours: 476.0 / 240, MeanReplicas: 476.0 / 120, Overprovisioning: 0.19, ScaleEvents: 1,
		Elasticity: Elasticity{OverTimeshare: 100.0 * 19 / 120, OverAccuracy: 100.0 / 120 * 19 * 2},
	})
	checkTrace(t, "pods", res.Traces[Reactive].Pods, stepTrace(120, []int{0, 59}, []int32{6, 2}))
	checkTrace(t, "ready", res.Traces[Reactive].Ready, stepTrace(120, []int{0, 59}, []int32{6, 2}))

	c := replayConfig(2*time.Minute, 0)
	b := DefaultBehavior()
	b.ScaleDown.StabilizationWindow = 0
	c.Behavior = &b
	noWindow := runReplay(t, values, c)
	checkMetrics(t, Reactive+" without a window", noWindow.Policies[Reactive], Metrics{
		ReplicaHours: 400.0 / 240, MeanReplicas: 400.0 / 120, ScaleEvents: 1,
	})
	if extra := res.Policies[Reactive].ReplicaHours - noWindow.Policies[Reactive].ReplicaHours; !closeTo(extra, 76*0.25/60) {
		t.Errorf("the window costs %v replica-hours, want %v", extra, 76*0.25/60)
	}
}

func TestReplayMissingData(t *testing.T) {
	// 60 points at 30 with points 20..29 (+20m..+29m) missing: 3 replicas
	// throughout (start-up 0, lag 0); the 40 ticks of the gap are left out
	// of every metric: 200 ticks, 50 minutes, 3 * 200 * 0.25/60 = 2.5
	// replica-hours (3 if the gap counted). Had a NaN load been counted,
	// the sums would be NaN.
	values := demandOf(20, 30, 10, math.NaN(), 30, 30)
	res := runReplay(t, values, replayConfig(0, 0))
	if res.Input.Missing != 10 || res.Input.Points != 60 || !closeTo(res.Input.EvaluatedMinutes, 50) {
		t.Errorf("input %+v, want 10 missing of 60 points, 50 minutes evaluated", res.Input)
	}
	for _, p := range []string{Reactive, Oracle} {
		checkMetrics(t, p, res.Policies[p], Metrics{ReplicaHours: 2.5, MeanReplicas: 3})
	}
	// The replica counts go on through the gap (the pods exist), they are
	// just not scored.
	checkTrace(t, "reactive pods", res.Traces[Reactive].Pods, stepTrace(240, []int{0}, []int32{3}))
	for i, v := range res.Demand {
		if (i >= 20 && i < 30) != math.IsNaN(v) {
			t.Errorf("demand[%d] = %v", i, v)
		}
	}
}

func TestReplayZeroRuns(t *testing.T) {
	// 60 points at 30 with a 3-minute run of zeros (points 10..12) and a
	// 10-minute one (30..39). ZeroRunsMissing 5m: a run of at least 5
	// points is missing data, the short one stays zero demand.
	values := demandOf(10, 30, 3, 0, 17, 30, 10, 0, 20, 30)
	c := replayConfig(0, 0)
	c.Policies = []string{Reactive}
	c.ZeroRunsMissing = 5 * time.Minute
	res := runReplay(t, values, c)
	wantRuns := []TimeSpan{{replayStart.Add(30 * time.Minute), replayStart.Add(40 * time.Minute)}}
	if !slices.Equal(res.Input.ZeroRuns, wantRuns) {
		t.Errorf("zero runs %v, want %v", res.Input.ZeroRuns, wantRuns)
	}
	if res.Input.Missing != 10 || !closeTo(res.Input.EvaluatedMinutes, 50) {
		t.Errorf("missing %d, evaluated %v min; want 10 and 50", res.Input.Missing, res.Input.EvaluatedMinutes)
	}
	// The short run's proposals of 0 are held by the 300 s window: 3
	// replicas throughout. Over the 200 known ticks:
	//   pod-ticks 600: 2.5 replica-hours
	//   demand 30 * (200-12) = 5640, surplus 12 * 30 = 360
	//   over timeshare 100 * 12/200 = 6; over accuracy
	//   100/200 * 12 * (3-0)/max(0, 1) = 18
	checkMetrics(t, Reactive, res.Policies[Reactive], Metrics{
		ReplicaHours: 2.5, MeanReplicas: 3, Overprovisioning: 360.0 / 5640,
		Elasticity: Elasticity{OverTimeshare: 6, OverAccuracy: 18},
	})

	// Without ZeroRunsMissing the long run is zero demand: the last 3 is
	// recommended at +29m45s, so at +34m45s (tick 139) the HPA goes to
	// max(0, min 1) = 1; at +40m (tick 160) 30 comes back: ratio 3 at 1
	// replica, 1 -> 3 (limit max(5, 2)). Two events, 21 ticks at 1 replica.
	//   pod-ticks 240*3 - 21*2 = 678: 678/240 replica-hours, mean 678/240
	//   demand 30 * (240 - 12 - 40) = 5640
	//   surplus: the short run's 12 ticks * 30, the long run's ticks
	//   120..138 at 3 replicas: 19 * 30, ticks 139..159 at 1: 21 * 10
	//   over timeshare 100 * 52/240 (every zero tick); over accuracy
	//   100/240 * ((12+19) * 3 + 21 * 1) (replicas over max(0, 1))
	c.ZeroRunsMissing = 0
	zeros := runReplay(t, values, c)
	if zeros.Input.Missing != 0 || zeros.Input.ZeroRuns != nil || !closeTo(zeros.Input.EvaluatedMinutes, 60) {
		t.Errorf("without ZeroRunsMissing: input %+v", zeros.Input)
	}
	checkMetrics(t, Reactive+" without ZeroRunsMissing", zeros.Policies[Reactive], Metrics{
		ReplicaHours: 678.0 / 240, MeanReplicas: 678.0 / 240, Overprovisioning: (12*30 + 19*30 + 21*10) / 5640.0,
		ScaleEvents: 2,
		Elasticity:  Elasticity{OverTimeshare: 100.0 * 52 / 240, OverAccuracy: 100.0 / 240 * (31*3 + 21*1)},
	})
	checkTrace(t, "pods without ZeroRunsMissing", zeros.Traces[Reactive].Pods, stepTrace(240, []int{0, 139, 160}, []int32{3, 1, 3}))
}

func TestReplayWarmup(t *testing.T) {
	// 5 minutes at 20, then 25 at 60 (step at tick 20); lag 1m, start-up
	// 2m: the reactive HPA acts at +6m (tick 24), ready at +8m (tick 32):
	// 12 ticks = 3 min short, one event. After a 10-minute warm-up (from
	// tick 40) it has 6 ready for 60 throughout: 80 ticks * 6 pods =
	// 480 * 0.25/60 = 2 replica-hours, nothing short, no event counted.
	values := demandOf(5, 20, 25, 60)
	c := replayConfig(2*time.Minute, time.Minute)
	c.Policies = []string{Reactive}

	all := runReplay(t, values, c)
	checkMetrics(t, "no warm-up", all.Policies[Reactive], Metrics{
		UnderprovisionedMinutes: 3, UnservedFraction: 12 * 40 / (20*20 + 100*60.0),
		ReplicaHours: (24*2 + 96*6) / 240.0, MeanReplicas: (24*2 + 96*6) / 120.0, ScaleEvents: 1,
		Elasticity: Elasticity{UnderTimeshare: 10, UnderAccuracy: 100.0 / 120 * 12 * 4 / 6},
	})

	tests := []struct {
		warmup  time.Duration
		from    time.Duration // EvaluatedFrom
		minutes float64
		ticks   float64
	}{
		// The metrics start at the first tick at or after the warm-up's
		// end: +10m (tick 40), or +10m15s (tick 41) for 10m5s.
		{10 * time.Minute, 10 * time.Minute, 20, 80},
		{10*time.Minute + 5*time.Second, 10*time.Minute + 15*time.Second, 19.75, 79},
	}
	for _, tc := range tests {
		t.Run(tc.warmup.String(), func(t *testing.T) {
			c.Warmup = tc.warmup
			res := runReplay(t, values, c)
			if !res.Input.EvaluatedFrom.Equal(replayStart.Add(tc.from)) || !closeTo(res.Input.EvaluatedMinutes, tc.minutes) {
				t.Errorf("evaluated from %v for %v min, want +%v for %v", res.Input.EvaluatedFrom, res.Input.EvaluatedMinutes, tc.from, tc.minutes)
			}
			checkMetrics(t, Reactive, res.Policies[Reactive], Metrics{ReplicaHours: tc.ticks * 6 * 0.25 / 60, MeanReplicas: 6})
		})
	}
}

func TestParseStartup(t *testing.T) {
	tests := []struct {
		in   string
		want Startup
		max  time.Duration
	}{
		{"3m", Startup{StartupFixed, 3 * time.Minute, 0}, 3 * time.Minute},
		{"0s", Startup{StartupFixed, 0, 0}, 0},
		{"2m..4m", Startup{StartupUniform, 2 * time.Minute, 4 * time.Minute}, 4 * time.Minute},
		{" 90s .. 2m ", Startup{StartupUniform, 90 * time.Second, 2 * time.Minute}, 2 * time.Minute},
		{"2m..2m", Startup{StartupUniform, 2 * time.Minute, 2 * time.Minute}, 2 * time.Minute},
		// Normal: mean 3m, sd 30s; Max is the mean plus 3 sd.
		{"3m~30s", Startup{StartupNormal, 3 * time.Minute, 30 * time.Second}, 4*time.Minute + 30*time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseStartup(tc.in)
			if err != nil {
				t.Fatalf("ParseStartup(%q): %v", tc.in, err)
			}
			if got != tc.want || got.Max() != tc.max {
				t.Errorf("ParseStartup(%q) = %+v (max %v), want %+v (max %v)", tc.in, got, got.Max(), tc.want, tc.max)
			}
			if again, err := ParseStartup(got.String()); err != nil || again != got {
				t.Errorf("ParseStartup(%q) = %+v, %v; want %+v back", got.String(), again, err, got)
			}
		})
	}

	bad := []struct {
		in, names string // names: the part the message must quote or show
	}{
		{"", `""`},
		{"abc", `"abc"`},
		{"3", `"3"`},
		{"-1m", `"-1m" is negative`},
		{"4m..2m", "4m..2m is empty"},
		{"2m..", `""`},
		{"..2m", `""`},
		{"2m..x", `"x"`},
		{"3m~", `""`},
		{"3m~-5s", `"-5s" is negative`},
		{"x~30s", `"x"`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.in, func(t *testing.T) {
			_, err := ParseStartup(tc.in)
			if err == nil {
				t.Fatalf("ParseStartup(%q) = nil error", tc.in)
			}
			msg := err.Error()
			if !strings.Contains(msg, "start-up delay "+strconv.Quote(tc.in)) || !strings.Contains(msg, tc.names) {
				t.Errorf("ParseStartup(%q) error %q: want it to name %s and %s", tc.in, msg, strconv.Quote(tc.in), tc.names)
			}
		})
	}
}

func TestStartupDraw(t *testing.T) {
	s := Startup{Kind: StartupUniform, A: 2 * time.Minute, B: 4 * time.Minute}
	r1, r2 := rand.New(rand.NewPCG(7, 1)), rand.New(rand.NewPCG(7, 1))
	lo, hi := s.B, s.A
	for range 1000 {
		d1, d2 := s.draw(r1), s.draw(r2)
		if d1 != d2 {
			t.Fatalf("the same seed drew %v and %v", d1, d2)
		}
		if d1 < s.A || d1 > s.B {
			t.Fatalf("drew %v outside %v", d1, s)
		}
		lo, hi = min(lo, d1), max(hi, d1)
	}
	// 1000 uniform draws cover most of the range.
	if lo > 2*time.Minute+10*time.Second || hi < 4*time.Minute-10*time.Second {
		t.Errorf("draws span only %v..%v of %v", lo, hi, s)
	}
	n := Startup{Kind: StartupNormal, A: 10 * time.Second, B: time.Minute}
	for range 1000 {
		if d := n.draw(r1); d < 0 {
			t.Fatalf("normal draw %v below zero", d)
		}
	}
	f := fixedStartup(90 * time.Second)
	if d := f.draw(r1); d != 90*time.Second {
		t.Errorf("fixed draw %v", d)
	}
}

func TestReplayUniformStartup(t *testing.T) {
	// The step-up of TestReplayStepUp (lag 1m: scale-up at tick 44) with
	// start-ups uniform in 1m..3m: the 4 new pods are ready between +12m
	// and +14m, so ready stays 2 up to tick 47 and is 6 from tick 52 on.
	// The same seed replays the same delays.
	c := replayConfig(0, time.Minute)
	c.Startup = Startup{Kind: StartupUniform, A: time.Minute, B: 3 * time.Minute}
	c.Policies = []string{Reactive}
	c.Seed = 42
	values := demandOf(10, 20, 20, 60)
	a, b := runReplay(t, values, c), runReplay(t, values, c)
	ta, tb := a.Traces[Reactive], b.Traces[Reactive]
	if !slices.Equal(ta.Pods, tb.Pods) || !slices.Equal(ta.Ready, tb.Ready) || *a.Policies[Reactive] != *b.Policies[Reactive] {
		t.Errorf("the same seed replayed differently")
	}
	checkTrace(t, "pods", ta.Pods, stepTrace(120, []int{0, 44}, []int32{2, 6}))
	for k, r := range ta.Ready {
		switch {
		case k < 48 && r != 2:
			t.Errorf("tick %d: %d ready before the shortest start-up", k, r)
		case k >= 56 && r != 6:
			t.Errorf("tick %d: %d ready after the longest start-up", k, r)
		case k > 0 && r < ta.Ready[k-1]:
			t.Errorf("tick %d: ready fell from %d to %d", k, ta.Ready[k-1], r)
		}
	}
	// Under-provisioned from +10m (tick 40) until the last new pod is
	// ready, some time in (+12m, +14m]: up to a tick in 49..56, so 9 to
	// 16 ticks, 2.25 to 4 minutes.
	if u := a.Policies[Reactive].UnderprovisionedMinutes; u < 2.25 || u > 4 {
		t.Errorf("under-provisioned %v min, want between 2.25 and 4", u)
	}
}

func TestEqualCost(t *testing.T) {
	reactive := []FrontierPoint{
		{Knob: 0, ReplicaHours: 10, UnderprovisionedMinutes: 100},
		{Knob: 0.2, ReplicaHours: 12, UnderprovisionedMinutes: 60},
		{Knob: 0.4, ReplicaHours: 14, UnderprovisionedMinutes: 30},
	}
	// Out of order on purpose: equalCost sorts by replica-hours.
	prescale := []FrontierPoint{
		{Knob: 0.9, ReplicaHours: 13, UnderprovisionedMinutes: 20},
		{Knob: 0.5, ReplicaHours: 9, UnderprovisionedMinutes: 120},
		{Knob: 0.7, ReplicaHours: 11, UnderprovisionedMinutes: 70},
	}

	t.Run("interpolated", func(t *testing.T) {
		// Reference margin 0.2: 12 replica-hours, 60 minutes. Prescale at 12
		// is halfway between 11 and 13: 70 + 0.5*(20-70) = 45 minutes at
		// quantile 0.7 + 0.5*0.2 = 0.8. Reduction 100*(1 - 45/60) = 25%.
		// The reactive settings within 9..13 replica-hours are 10 and 12;
		// at 10 prescale has 120 + 0.5*(70-120) = 95 < 100, at 12 45 < 60:
		// below at 2 of 2.
		e, red := equalCost(reactive, prescale, 0.2)
		if red == nil {
			t.Fatalf("no reduction: %+v", e)
		}
		if !closeTo(*red, 25) || !closeTo(e.PrescaleUnderprovisionedMinutes, 45) || !closeTo(e.PrescaleQuantile, 0.8) ||
			e.ReplicaHours != 12 || e.ReactiveUnderprovisionedMinutes != 60 || e.ReferenceHeadroom != 0.2 ||
			e.FrontierCompared != 2 || e.FrontierBelowAt != 2 || e.Note != "" {
			t.Errorf("equalCost = %+v, %v; want 25%% at 45 min, q 0.8, below at 2 of 2", e, *red)
		}
	})
	t.Run("below at some", func(t *testing.T) {
		// The knob-0 reactive setting at 90 minutes: prescale's 95 is not
		// below: 1 of 2.
		r := slices.Clone(reactive)
		r[0].UnderprovisionedMinutes = 90
		e, _ := equalCost(r, prescale, 0.2)
		if e.FrontierCompared != 2 || e.FrontierBelowAt != 1 {
			t.Errorf("below at %d of %d, want 1 of 2", e.FrontierBelowAt, e.FrontierCompared)
		}
	})
	t.Run("at a point", func(t *testing.T) {
		// The reference moved to 11 replica-hours, exactly a prescale
		// setting: 70 minutes at 0.7, 100*(1 - 70/60) = -16.666...%
		// (prescale worse).
		r := slices.Clone(reactive)
		r[1].ReplicaHours = 11
		e, red := equalCost(r, prescale, 0.2)
		if red == nil || !closeTo(*red, 100*(1-70.0/60)) || !closeTo(e.PrescaleQuantile, 0.7) {
			t.Errorf("equalCost = %+v, %v; want -16.67%% at q 0.7", e, red)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		// Reference 0.4 at 14 replica-hours: prescale reaches 13 at most.
		e, red := equalCost(reactive, prescale, 0.4)
		if red != nil || !strings.Contains(e.Note, "does not reach") || e.ReplicaHours != 14 || e.ReactiveUnderprovisionedMinutes != 30 {
			t.Errorf("equalCost = %+v, %v; want no reduction and a note", e, red)
		}
		// And below the range: a reference at 8.
		r := slices.Clone(reactive)
		r[0].ReplicaHours = 8
		if e, red := equalCost(r, prescale, 0); red != nil || !strings.Contains(e.Note, "does not reach") {
			t.Errorf("equalCost below the range = %+v, %v", e, red)
		}
	})
	t.Run("no reference", func(t *testing.T) {
		e, red := equalCost(reactive, prescale, 0.3)
		if red != nil || e.Note == "" {
			t.Errorf("equalCost without the reference = %+v, %v", e, red)
		}
		if e, red := equalCost(reactive, nil, 0.2); red != nil || e.Note == "" {
			t.Errorf("equalCost without prescale = %+v, %v", e, red)
		}
	})
	t.Run("reference never under-provisioned", func(t *testing.T) {
		r := slices.Clone(reactive)
		r[1].UnderprovisionedMinutes = 0
		e, red := equalCost(r, prescale, 0.2)
		if red != nil || !strings.Contains(e.Note, "never under-provisioned") || !closeTo(e.PrescaleUnderprovisionedMinutes, 45) {
			t.Errorf("equalCost = %+v, %v", e, red)
		}
	})
	t.Run("interpolate", func(t *testing.T) {
		pts := []FrontierPoint{{Knob: 0.5, ReplicaHours: 9, UnderprovisionedMinutes: 120}, {Knob: 0.7, ReplicaHours: 11, UnderprovisionedMinutes: 70}}
		for _, tc := range []struct {
			rh, under, knob float64
			ok              bool
		}{
			{9, 120, 0.5, true},
			{9.5, 107.5, 0.55, true}, // 120 - 0.25*50, 0.5 + 0.25*0.2
			{11, 70, 0.7, true},
			{8.99, 0, 0, false},
			{11.01, 0, 0, false},
		} {
			u, k, ok := interpolate(pts, tc.rh)
			if ok != tc.ok || !closeTo(u, tc.under) || !closeTo(k, tc.knob) {
				t.Errorf("interpolate(%v) = %v, %v, %v; want %v, %v, %v", tc.rh, u, k, ok, tc.under, tc.knob, tc.ok)
			}
		}
		// Two settings at the same cost: the first.
		flat := []FrontierPoint{{Knob: 0.5, ReplicaHours: 9, UnderprovisionedMinutes: 120}, {Knob: 0.6, ReplicaHours: 9, UnderprovisionedMinutes: 100}}
		if u, k, ok := interpolate(flat, 9); !ok || u != 120 || k != 0.5 {
			t.Errorf("interpolate on a flat segment = %v, %v, %v", u, k, ok)
		}
		one := []FrontierPoint{{Knob: 0.9, ReplicaHours: 5, UnderprovisionedMinutes: 3}}
		if u, k, ok := interpolate(one, 5); !ok || u != 3 || k != 0.9 {
			t.Errorf("interpolate on one point = %v, %v, %v", u, k, ok)
		}
		if _, _, ok := interpolate(one, 5.5); ok {
			t.Errorf("interpolate off the one point found a value")
		}
		if _, _, ok := interpolate(nil, 5); ok {
			t.Errorf("interpolate on no points found a value")
		}
	})
}

func TestConfigErrors(t *testing.T) {
	values := demandOf(10, 10)
	tests := []struct {
		name   string
		modify func(c *Config)
		names  []string
	}{
		{"capacity 0", func(c *Config) { c.CapacityPerReplica = 0 }, []string{"capacity:"}},
		{"capacity NaN", func(c *Config) { c.CapacityPerReplica = math.NaN() }, []string{"capacity:"}},
		{"capacity infinite", func(c *Config) { c.CapacityPerReplica = math.Inf(1) }, []string{"capacity:"}},
		{"quantile 1", func(c *Config) { c.Quantile = 1 }, []string{"quantile:"}},
		{"negative quantile", func(c *Config) { c.Quantile = -0.5 }, []string{"quantile:"}},
		{"unknown policy", func(c *Config) { c.Policies = []string{Reactive, "pessimist"} }, []string{`policies: unknown policy "pessimist"`}},
		{"negative lag", func(c *Config) { c.Lag = -time.Second }, []string{"lag:"}},
		{"sync below a second", func(c *Config) { c.Sync = time.Millisecond }, []string{"sync:"}},
		{"max below min", func(c *Config) { c.MinReplicas, c.MaxReplicas = 5, 3 }, []string{"max:"}},
		{"bad behavior", func(c *Config) {
			b := DefaultBehavior()
			b.ScaleDown.SelectPolicy = "Largest"
			c.Behavior = &b
		}, []string{"behavior: scaleDown.selectPolicy"}},
		{"bad startup", func(c *Config) { c.Startup = Startup{Kind: StartupUniform, A: time.Minute, B: time.Second} }, []string{"startup:"}},
		{"unknown model", func(c *Config) { c.Model = "crystal-ball" }, []string{"model:"}},
		{"bad sweep quantile", func(c *Config) { c.SweepQuantiles = []float64{0.5, 1} }, []string{"sweep quantiles[1]"}},
		{"two problems", func(c *Config) { c.CapacityPerReplica, c.Quantile = 0, 1 }, []string{"capacity:", "quantile:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := replayConfig(0, 0)
			tc.modify(&c)
			res, err := Run(context.Background(), minuteSeries(values), c)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Run = %v, %v; want an ErrConfig", res, err)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %q", err, n)
				}
			}
		})
	}
}

func TestRunInputErrors(t *testing.T) {
	c := replayConfig(0, 0)
	neg := demandOf(10, 10)
	neg[3] = -1
	inf := demandOf(10, 10)
	inf[0] = math.Inf(1)
	tests := []struct {
		name   string
		series *feed.Series
		cfg    Config
		names  []string
	}{
		{"nil series", nil, c, []string{"empty"}},
		{"no values", minuteSeries(nil), c, []string{"empty"}},
		{"no step", &feed.Series{Start: replayStart, Values: demandOf(10, 10)}, c, []string{"step"}},
		// Point 3 is at 00:03.
		{"negative value", minuteSeries(neg), c, []string{"2025-01-06T00:03:00Z", "index 3", "-1"}},
		{"infinite value", minuteSeries(inf), c, []string{"2025-01-06T00:00:00Z", "index 0", "+Inf"}},
		{"all missing", minuteSeries(demandOf(10, math.NaN())), c, []string{"no point"}},
		{"all zero runs", minuteSeries(demandOf(10, 0)), func() Config { c := c; c.ZeroRunsMissing = time.Minute; return c }(), []string{"no point"}},
		{"warm-up as long as the series", minuteSeries(demandOf(10, 10)), func() Config { c := c; c.Warmup = 10 * time.Minute; return c }(), []string{"warm-up"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.series, tc.cfg)
			if !errors.Is(err, ErrInput) {
				t.Fatalf("Run = %v, %v; want an ErrInput", res, err)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %q", err, n)
				}
			}
		})
	}
}

func finiteMetrics(m *Metrics) bool {
	for _, v := range []float64{
		m.UnderprovisionedMinutes, m.UnservedFraction, m.ReplicaHours, m.Overprovisioning, m.MeanReplicas, m.Knob,
		m.Elasticity.UnderAccuracy, m.Elasticity.OverAccuracy, m.Elasticity.UnderTimeshare, m.Elasticity.OverTimeshare,
	} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return false
		}
	}
	return true
}

func TestReplayPrescaleCausal(t *testing.T) {
	// Three days of a daily sine every 5 minutes; the model's first fit
	// waits for a day of data and sees at most two. The replay must never
	// use data it could not have seen: raising the demand from T = +60h on
	// may change no prescale decision before T + lag, when the first
	// changed point becomes visible.
	const step = 5 * time.Minute
	day := int(24 * time.Hour / step)
	values := make([]float64, 3*day)
	for i := range values {
		values[i] = 100 + 50*math.Sin(2*math.Pi*float64(i)/float64(day))
	}
	c := Config{
		CapacityPerReplica: 10,
		Startup:            fixedStartup(2 * time.Minute),
		Lag:                time.Minute,
		MinReplicas:        1,
		MaxReplicas:        100,
		MinHistory:         24 * time.Hour,
		History:            48 * time.Hour,
		RefitInterval:      6 * time.Hour,
		Policies:           []string{Prescale},
		KeepTraces:         true,
	}
	runOn := func(v []float64) *Result {
		t.Helper()
		res, err := Run(context.Background(), &feed.Series{Start: replayStart, Step: step, Values: v}, c)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		return res
	}
	base := runOn(values)
	if base.Forecast == nil || base.Forecast.Fits == 0 || base.Forecast.FailedFits != 0 || base.Timing.Fits == 0 {
		t.Fatalf("forecast %+v: want fits and no failed one", base.Forecast)
	}
	m := base.Policies[Prescale]
	if m == nil || !finiteMetrics(m) || m.ReplicaHours == 0 || m.Knob != 0.9 {
		t.Fatalf("prescale metrics %+v", m)
	}

	const changeAt = 60 * time.Hour
	changed := slices.Clone(values)
	for i := int(changeAt / step); i < len(changed); i++ {
		changed[i] *= 3
	}
	other := runOn(changed)
	// The first tick that can see the point at T: T + lag.
	visible := int((changeAt + c.Lag) / DefaultSync)
	a, b := base.Traces[Prescale], other.Traces[Prescale]
	for k := range visible {
		if a.Pods[k] != b.Pods[k] || a.Ready[k] != b.Ready[k] {
			t.Fatalf("tick %d (+%v), before the change at +%v is visible: %d/%d pods, %d/%d ready",
				k, time.Duration(k)*DefaultSync, changeAt, a.Pods[k], b.Pods[k], a.Ready[k], b.Ready[k])
		}
	}
	// The change is big enough to be acted on once seen.
	if slices.Equal(a.Pods[visible:], b.Pods[visible:]) {
		t.Errorf("tripling the demand from +%v changed no decision", changeAt)
	}
}

func TestReplayShippedBehaviorFollowsEveryStep(t *testing.T) {
	// 10 minutes at 200 then 20 at 210, capacity 10, lag 0: the reactive
	// HPA without a margin wants 20 then 21 replicas. 21/20 is within the
	// default 10% tolerance, so the cluster's defaults stay at 20; the
	// behavior prescale ships (scale-up tolerance 0) takes the step.
	values := demandOf(10, 200, 20, 210)
	for _, tc := range []struct {
		name     string
		behavior *Behavior
		wantHPA  string
		want     int32
	}{
		{"shipped (the default)", nil, ShippedHPA, 21},
		{"cluster defaults", func() *Behavior { b := DefaultBehavior(); return &b }(), "custom", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := replayConfig(0, 0)
			c.Behavior, c.BehaviorName = tc.behavior, ""
			c.Policies = []string{Reactive}
			res := runReplay(t, values, c)
			if got := res.Traces[Reactive].Pods[119]; got != tc.want {
				t.Errorf("replicas at the end: %d, want %d", got, tc.want)
			}
			if got := res.Policies[Reactive].HPA; got != tc.wantHPA {
				t.Errorf("the policy's HPA is named %q, want %q", got, tc.wantHPA)
			}
			if got := res.Settings.HPA.Name; got != tc.wantHPA {
				t.Errorf("settings name the HPA %q, want %q", got, tc.wantHPA)
			}
		})
	}
}

func TestSweepComparesWithTheBaselineHPA(t *testing.T) {
	// The demand climbs by one replica's load every 5 minutes from 20
	// replicas: each step is within the default tolerance, so the
	// reactive HPA on the cluster's defaults lags it, and the second
	// figure runs the reactive sweep under that behavior too.
	var values []float64
	for i := range 120 {
		values = append(values, float64(200+10*(i/5)))
	}
	c := replayConfig(0, time.Minute)
	c.Behavior, c.BehaviorName = nil, ""
	c.Policies = []string{Reactive, Margin}
	c.Sweep, c.SweepHeadrooms = true, []float64{0, 0.2, 0.5}
	res := runReplay(t, values, c)
	if res.Settings.HPA.Name != ShippedHPA || res.Settings.BaselineHPA == nil || res.Settings.BaselineHPA.Name != ClusterDefaultHPA {
		t.Fatalf("settings name the HPAs %+v and %+v; want %s and %s", res.Settings.HPA, res.Settings.BaselineHPA, ShippedHPA, ClusterDefaultHPA)
	}
	if got := res.Settings.HPA.ScaleUp.Tolerance; got != 0 {
		t.Errorf("the shipped scale-up tolerance reads %v, want 0", got)
	}
	if got := res.Settings.BaselineHPA.ScaleUp.Tolerance; got != DefaultTolerance {
		t.Errorf("the baseline's scale-up tolerance reads %v, want %v", got, DefaultTolerance)
	}
	shipped, baseline := res.Frontier[Reactive], res.Frontier[ReactiveBaseline]
	if len(shipped) != 3 || len(baseline) != 3 {
		t.Fatalf("frontiers of %d and %d points, want 3 each", len(shipped), len(baseline))
	}
	for i := range shipped {
		if baseline[i].UnderprovisionedMinutes < shipped[i].UnderprovisionedMinutes {
			t.Errorf("margin %g: the cluster's defaults are short %.1f minutes, the shipped behavior %.1f; a tolerance cannot help a climb",
				shipped[i].Knob, baseline[i].UnderprovisionedMinutes, shipped[i].UnderprovisionedMinutes)
		}
	}
	if shipped[0].UnderprovisionedMinutes >= baseline[0].UnderprovisionedMinutes {
		t.Errorf("without a margin the shipped behavior is short %.1f minutes, the defaults %.1f; want fewer",
			shipped[0].UnderprovisionedMinutes, baseline[0].UnderprovisionedMinutes)
	}
	if res.EqualCostVsBaseline == nil {
		t.Fatal("no second figure")
	}
	if got, want := res.EqualCostVsBaseline.ReactiveUnderprovisionedMinutes, baseline[1].UnderprovisionedMinutes; got != want {
		t.Errorf("the second figure's reference is short %.1f minutes, want the baseline at +20%%: %.1f", got, want)
	}

	// A baseline named as the behavior is not run again.
	c.BaselineName = ShippedHPA
	res = runReplay(t, values, c)
	if res.Frontier[ReactiveBaseline] != nil || res.Settings.BaselineHPA != nil || res.EqualCostVsBaseline != nil {
		t.Error("the baseline ran though it is the behavior every policy runs under")
	}
}
