package backtest

import (
	"math"
	"strings"
	"testing"
	"time"
)

// The expected values below are worked out by hand from the Kubernetes
// documentation (tasks/run-application/horizontal-pod-autoscale: algorithm
// details, default behavior, scaling policies, stabilization window) and
// kube-controller-manager v1.37.2's pkg/controller/podautoscaler
// (replica_calculator.go GetExternalPerPodMetricReplicas, Tolerances.isWithin;
// horizontal.go stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate, calculateScaleUpLimitWithScalingRules,
// calculateScaleDownLimitWithBehaviors, storeScaleEvent). Cases marked
// "horizontal_test.go" are ported from that file's TestScalingWithRules.

// hpaT0 is the time of the first sync in the HPA tests.
var hpaT0 = time.Date(2025, 1, 6, 12, 0, 0, 0, time.UTC)

func TestExternalAverageValue(t *testing.T) {
	// The HPA reads quantities in milli-units (Quantity.MilliValue rounds
	// up), keeps the current count while
	// 1-tolerance <= usage/(target*current) <= 1+tolerance, and otherwise
	// proposes ceil(usage/target), capped at MaxInt32.
	tests := []struct {
		name          string
		current       int
		usage, target float64
		want          int
	}{
		// 105000m / (10000m * 10) = 1.05, within 0.1: keep 10.
		{"ratio 1.05 keeps the current count", 10, 105, 10, 10},
		// 0.95: within: keep.
		{"ratio 0.95 keeps the current count", 10, 95, 10, 10},
		// 120000m / 100000m = 1.2 > 1.1: ceil(120/10) = 12.
		{"ratio 1.2 scales to ceil(usage/target)", 10, 120, 10, 12},
		// 1.21: ceil(12.1) = 13.
		{"ratio 1.21 rounds up", 10, 121, 10, 13},
		// 0.5 < 0.9: ceil(50/10) = 5.
		{"ratio 0.5 scales down", 10, 50, 10, 5},
		// 89900m / 100000m = 0.899 < 0.9: ceil(8.99) = 9.
		{"just below the band scales down", 10, 89.9, 10, 9},
		// 110000m / 100000m = 1.1 and isWithin tests 1.1 <= 1.0+0.1: keep 10.
		{"exactly 10% above keeps", 10, 110, 10, 10},
		// 0.9 and 1.0-0.1 <= 0.9: keep 10.
		{"exactly 10% below keeps", 10, 90, 10, 10},
		// The same boundary at other sizes: 22000m/(10000m*2), 33000m/(1000m*30).
		{"exactly 10% above keeps (2 replicas)", 2, 22, 10, 2},
		{"exactly 10% above keeps (30 replicas)", 30, 33, 1, 30},
		// 18000m/(10000m*2) = 0.9: keep.
		{"exactly 10% below keeps (2 replicas)", 2, 18, 10, 2},
		// Current 0: the ratio is +Inf (or NaN for no usage), never within
		// the band: ceil(35/10) = 4, ceil(0/10) = 0.
		{"current 0 proposes ceil(usage/target)", 0, 35, 10, 4},
		{"current 0 and no usage proposes 0", 0, 0, 10, 0},
		// 0 / 30000m = 0 < 0.9: ceil(0) = 0.
		{"no usage proposes 0", 3, 0, 10, 0},
		// A target of 0.0004 is ceil(0.4) = 1m, a usage of 0.004 is 4m:
		// ceil(4/1) = 4, not 0.004/0.0004 = 10.
		{"the target rounds up to whole milli-units", 0, 0.004, 0.0004, 4},
		// A usage of 0.0011 is ceil(1.1) = 2m against a 1m target: the ratio
		// is 2 (not 1.1, which would be kept), so ceil(2/1) = 2.
		{"the usage rounds up to whole milli-units", 1, 0.0011, 0.001, 2},
		// 1e12 / 1 = 1e12 replicas: capped at MaxInt32.
		{"a huge usage is capped at MaxInt32", 10, 1e12, 1, math.MaxInt32},
		// Exactly MaxInt32 replicas' worth stays MaxInt32.
		{"MaxInt32 replicas' worth", 1, math.MaxInt32, 1, math.MaxInt32},
		// 1e9 * 1000m / 1000m = 1e9 fits an int32.
		{"a large usage below the cap", 1, 1e9, 1, 1e9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := externalAverageValue(tc.current, tc.usage, tc.target, DefaultTolerance, DefaultTolerance); got != tc.want {
				t.Errorf("externalAverageValue(%d, %v, %v, 0.1) = %d, want %d", tc.current, tc.usage, tc.target, got, tc.want)
			}
		})
	}
}

func TestBehaviorProposeTolerances(t *testing.T) {
	// HPAScalingRules.tolerance replaces the controller's tolerance for its
	// direction (tolerancesForHpa): a ratio below 1 is tested against the
	// scale-down tolerance, above 1 against the scale-up one.
	down, up := 0.5, 0.01
	b := DefaultBehavior()
	b.ScaleDown.Tolerance = &down
	b.ScaleUp.Tolerance = &up
	tests := []struct {
		name    string
		current int
		usage   float64
		want    int
	}{
		// 60/100 = 0.6 >= 1-0.5: keep 10 (with 0.1 it would be 6).
		{"within the scale-down tolerance", 10, 60, 10},
		// 0.49 < 0.5: ceil(4.9) = 5.
		{"outside the scale-down tolerance", 10, 49, 5},
		// 1.02 > 1.01: ceil(10.2) = 11 (with 0.1 it would be kept).
		{"outside the scale-up tolerance", 10, 102, 11},
		// 1.005 <= 1.01: keep.
		{"within the scale-up tolerance", 10, 100.5, 10},
		// 101000m/100000m = 1.01 and 1.01 <= 1.0+0.01: keep.
		{"exactly at the scale-up tolerance keeps", 10, 101, 10},
		// 50000m/100000m = 0.5 and 1.0-0.5 <= 0.5: keep.
		{"exactly at the scale-down tolerance keeps", 10, 50, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.Propose(tc.current, tc.usage, 10); got != tc.want {
				t.Errorf("Propose(%d, %v, 10) = %d, want %d", tc.current, tc.usage, got, tc.want)
			}
		})
	}
	// Without per-direction tolerances Propose is externalAverageValue with one tolerance.
	d := DefaultBehavior()
	for _, usage := range []float64{60, 89.9, 95, 105, 120} {
		if got, want := d.Propose(10, usage, 10), externalAverageValue(10, usage, 10, DefaultTolerance, DefaultTolerance); got != want {
			t.Errorf("default Propose(10, %v, 10) = %d, externalAverageValue gives %d", usage, got, want)
		}
	}
}

func TestDefaultBehavior(t *testing.T) {
	// The documented default: scale up by max(4 pods, 100%) per 15 s with
	// no window; scale down by 100% per 15 s after a 300 s window.
	b := DefaultBehavior()
	if err := b.Validate(); err != nil {
		t.Fatalf("the default behavior does not validate: %v", err)
	}
	if b.ScaleUp.StabilizationWindow != 0 || b.ScaleUp.SelectPolicy != SelectMax || len(b.ScaleUp.Policies) != 2 ||
		b.ScaleUp.Policies[0] != (ScalingPolicy{PodsPolicy, 4, 15 * time.Second}) ||
		b.ScaleUp.Policies[1] != (ScalingPolicy{PercentPolicy, 100, 15 * time.Second}) {
		t.Errorf("scale up %+v, want 0 s window, Max of Pods 4/15s and Percent 100/15s", b.ScaleUp)
	}
	if b.ScaleDown.StabilizationWindow != 300*time.Second || b.ScaleDown.SelectPolicy != SelectMax || len(b.ScaleDown.Policies) != 1 ||
		b.ScaleDown.Policies[0] != (ScalingPolicy{PercentPolicy, 100, 15 * time.Second}) {
		t.Errorf("scale down %+v, want 300 s window, Percent 100/15s", b.ScaleDown)
	}
	if b.Tolerance != 0.1 || b.ScaleUp.Tolerance != nil || b.ScaleDown.Tolerance != nil {
		t.Errorf("tolerances %v, %v, %v; want 0.1 and no per-direction ones", b.Tolerance, b.ScaleUp.Tolerance, b.ScaleDown.Tolerance)
	}
}

// syncStep is one HPA sync: at (since hpaT0) the metric proposes proposal
// and the HPA must set want replicas.
type syncStep struct {
	at       time.Duration
	proposal int
	want     int
}

// syncsEvery is the syncs from from to to (inclusive), each interval apart,
// all with the same proposal and outcome.
func syncsEvery(from, to, interval time.Duration, proposal, want int) []syncStep {
	var out []syncStep
	for at := from; at <= to; at += interval {
		out = append(out, syncStep{at, proposal, want})
	}
	return out
}

func syncSeq(parts ...[]syncStep) []syncStep {
	var out []syncStep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func secs(s int) time.Duration { return time.Duration(s) * time.Second }

// runSyncs drives h from current through steps, the scale following every
// decision as the Deployment's spec.replicas would.
func runSyncs(t *testing.T, h *HPA, current int, steps []syncStep) {
	t.Helper()
	for _, s := range steps {
		got := h.Sync(hpaT0.Add(s.at), current, s.proposal)
		if got != s.want {
			t.Fatalf("sync at +%v (current %d, proposal %d) = %d, want %d", s.at, current, s.proposal, got, s.want)
		}
		current = got
	}
}

func TestHPASync(t *testing.T) {
	def := DefaultBehavior()

	// The documentation's scale-down example: at most 4 pods or 10% per
	// minute, selectPolicy Max (the bigger change) or Min (the smaller).
	docsDown := func(sel string) Behavior {
		b := DefaultBehavior()
		b.ScaleDown = ScalingRules{SelectPolicy: sel, Policies: []ScalingPolicy{
			{Type: PodsPolicy, Value: 4, Period: 60 * time.Second},
			{Type: PercentPolicy, Value: 10, Period: 60 * time.Second},
		}}
		return b
	}
	disabledDown := DefaultBehavior()
	disabledDown.ScaleDown.SelectPolicy = SelectDisabled
	disabledUp := DefaultBehavior()
	disabledUp.ScaleUp.SelectPolicy = SelectDisabled
	upWindow := DefaultBehavior()
	upWindow.ScaleUp.StabilizationWindow = 60 * time.Second
	noDownWindow := DefaultBehavior()
	noDownWindow.ScaleDown.StabilizationWindow = 0

	tests := []struct {
		name     string
		behavior Behavior
		min, max int
		current  int
		steps    []syncStep
	}{
		{
			// From 1 replica the first sync may add max(4 pods, 100%):
			// max(1+4, 2*1) = 5. 15 s later the event at +0 is not after
			// now-15s, so the period starts at 5: max(9, 10) = 10, then
			// max(14, 20) = 20, and the proposal is reached.
			name: "default scale-up from 1", behavior: def, min: 1, max: 100, current: 1,
			steps: []syncStep{{0, 20, 5}, {secs(15), 20, 10}, {secs(30), 20, 20}, {secs(45), 20, 20}},
		},
		{
			// Doubling up to the max: 1, 5, 10, 20, 40, 80, then
			// min(proposal 150, max 100, limit 160) = 100.
			name: "default scale-up to the max", behavior: def, min: 1, max: 100, current: 1,
			steps: []syncStep{
				{0, 150, 5}, {secs(15), 150, 10}, {secs(30), 150, 20}, {secs(45), 150, 40},
				{secs(60), 150, 80}, {secs(75), 150, 100}, {secs(90), 150, 100},
			},
		},
		{
			// From 10: max(10+4, 2*10) = 20 (horizontal_test.go: "scaleUp
			// with default behavior", 10 -> 50 gives 20), then max(24, 40)
			// = 40, then 50.
			name: "default scale-up from 10", behavior: def, min: 1, max: 1000, current: 10,
			steps: []syncStep{{0, 50, 20}, {secs(15), 50, 40}, {secs(30), 50, 50}},
		},
		{
			// With 10 s syncs the period is still 15 s: at +10 the event of
			// +0 (4 pods) is after now-15s = -5 s, so the period started at
			// 5-4 = 1 and the limit is max(1+4, 2) = 5 again. At +20 it is
			// out (0 is not after 5): limit max(9, 10) = 10. At +30 the
			// event of +20 (5 pods) counts: start 10-5 = 5, limit 10. At +40
			// it is out: max(14, 20) = 20.
			name: "default scale-up counts the events of the period", behavior: def, min: 1, max: 100, current: 1,
			steps: []syncStep{{0, 20, 5}, {secs(10), 20, 5}, {secs(20), 20, 10}, {secs(30), 20, 10}, {secs(40), 20, 20}},
		},
		{
			// The 300 s scale-down window keeps the highest recommendation
			// made after now-300s. Recommendations: 10 at +0, 6 at +15, 8 at
			// +30, then 4. Up to +285 the 10 of +0 is inside: keep 10. At
			// +300 it sits exactly at the cutoff, and After(cutoff) is false:
			// the highest left is the 8 of +30, so 10 -> 8 (100% per 15 s
			// allows it). At +315 the 8 is still inside (30 > 15). At +330 it
			// is at the cutoff: 4.
			name: "default scale-down stabilization", behavior: def, min: 1, max: 100, current: 10,
			steps: syncSeq(
				[]syncStep{{0, 10, 10}, {secs(15), 6, 10}, {secs(30), 8, 10}},
				syncsEvery(secs(45), secs(285), secs(15), 4, 10),
				[]syncStep{{secs(300), 4, 8}, {secs(315), 4, 8}, {secs(330), 4, 4}, {secs(345), 4, 4}},
			),
		},
		{
			// A single high recommendation holds for the window, and a
			// sync at exactly +300 no longer sees it.
			name: "scale-down window boundary", behavior: def, min: 1, max: 100, current: 6,
			steps: syncSeq(
				[]syncStep{{0, 6, 6}},
				syncsEvery(secs(15), secs(285), secs(15), 2, 6),
				[]syncStep{{secs(299), 2, 6}, {secs(300), 2, 2}},
			),
		},
		{
			// Documentation, selectPolicy Max: from 80, 10% gives
			// int(80*0.9) = 72 and 4 pods give 76; Max is the bigger change:
			// 72. Within the same 60 s the event counts (the period started
			// at 72+8 = 80), so the limit stays 72. At +60 the event of +0
			// is out (not after the cutoff): 72 -> min(int(64.8), 68) = 64;
			// then 64 -> min(57, 60) = 57, 57 -> min(51, 53) = 51,
			// 51 -> min(45, 47) = 45, 45 -> min(40, 41) = 40,
			// 40 -> min(36, 36) = 36, 36 -> min(32, 32) = 32; below 40 pods
			// the Pods policy removes more: 32 -> min(28, 28) = 28,
			// 28 -> min(25, 24) = 24, 24 -> min(21, 20) = 20,
			// 20 -> min(18, 16) = 16, 16 -> min(14, 12) = 12, and
			// 12 -> min(10, 8) = 8 is held at the proposal 10.
			name: "docs scale-down policies, Max", behavior: docsDown(SelectMax), min: 1, max: 100, current: 80,
			steps: syncSeq(
				[]syncStep{{0, 10, 72}, {secs(15), 10, 72}, {secs(30), 10, 72}, {secs(45), 10, 72}},
				[]syncStep{
					{secs(60), 10, 64}, {secs(120), 10, 57}, {secs(180), 10, 51}, {secs(240), 10, 45},
					{secs(300), 10, 40}, {secs(360), 10, 36}, {secs(420), 10, 32}, {secs(480), 10, 28},
					{secs(540), 10, 24}, {secs(600), 10, 20}, {secs(660), 10, 16}, {secs(720), 10, 12},
					{secs(780), 10, 10}, {secs(840), 10, 10},
				},
			),
		},
		{
			// selectPolicy Min: the smaller change. From 80: max(76, 72) =
			// 76; within the period the start is still 80: 76 stays. At +60:
			// start 76: max(72, int(68.4)) = 72; at +120: max(68, int(64.8))
			// = 68.
			name: "docs scale-down policies, Min", behavior: docsDown(SelectMin), min: 1, max: 100, current: 80,
			steps: []syncStep{{0, 10, 76}, {secs(15), 10, 76}, {secs(45), 10, 76}, {secs(60), 10, 72}, {secs(120), 10, 68}},
		},
		{
			// selectPolicy Disabled: no scale-down, however long; scale-up
			// still works (10 -> max(14, 20) = 20).
			name: "scale-down Disabled", behavior: disabledDown, min: 1, max: 100, current: 10,
			steps: syncSeq(syncsEvery(0, secs(900), secs(15), 2, 10), []syncStep{{secs(915), 50, 20}}),
		},
		{
			name: "scale-up Disabled", behavior: disabledUp, min: 1, max: 100, current: 2,
			steps: syncsEvery(0, secs(120), secs(15), 8, 2),
		},
		{
			// A 60 s scale-up window takes the lowest recommendation made
			// after now-60s. 2 at +0..+45, then 8. At +60 the 2s of
			// +15..+45 are inside (the +0 one is at the cutoff): 2. At +90 the
			// 2 of +45 is inside. At +105 it is at the cutoff; the rest are 8:
			// scale, limited to max(2+4, 2*2) = 6. At +120 the event of +105
			// is out of its 15 s period: max(10, 12) >= 8: 8.
			name: "scale-up stabilization window", behavior: upWindow, min: 1, max: 100, current: 2,
			steps: syncSeq(
				syncsEvery(0, secs(45), secs(15), 2, 2),
				[]syncStep{{secs(60), 8, 2}, {secs(75), 8, 2}, {secs(90), 8, 2}, {secs(105), 8, 6}, {secs(120), 8, 8}},
			),
		},
		{
			// Above the max: the max, whatever the metric (no metric is
			// read).
			name: "current above max", behavior: def, min: 1, max: 10, current: 12,
			steps: []syncStep{{0, 1, 10}},
		},
		{
			name: "current above max with a high proposal", behavior: def, min: 1, max: 10, current: 12,
			steps: []syncStep{{0, 50, 10}},
		},
		{
			name: "current below min", behavior: def, min: 3, max: 10, current: 1,
			steps: []syncStep{{0, 1, 3}},
		},
		{
			// Scaling is disabled while the target has 0 replicas and the
			// HPA has a minimum (ScalingActive=False, ScalingDisabled).
			name: "current 0 with min above 0 is disabled", behavior: def, min: 1, max: 10, current: 0,
			steps: []syncStep{{0, 5, 0}, {secs(15), 5, 0}},
		},
		{
			// With min 0 the HPA may scale to zero and back from it
			// (HPAScaleToZero, beta and on by default in 1.37, for an HPA
			// with an External metric that scaled to zero itself): from 0
			// the limit is max(0+4, ceil(0*2)) = 4, then max(8, 8) >= 5.
			name: "scale from zero with min 0", behavior: noDownWindow, min: 0, max: 10, current: 2,
			steps: []syncStep{{0, 0, 0}, {secs(15), 5, 4}, {secs(30), 5, 5}},
		},
		{
			// A proposal above the max: min(50, max 10, limit 16) = 10.
			name: "proposal above max", behavior: def, min: 1, max: 10, current: 8,
			steps: []syncStep{{0, 50, 10}},
		},
		{
			// A proposal below the min: max(1, min 3, limit 0) = 3.
			name: "proposal below min", behavior: noDownWindow, min: 3, max: 10, current: 8,
			steps: []syncStep{{0, 1, 3}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &HPA{Behavior: tc.behavior, MinReplicas: tc.min, MaxReplicas: tc.max}
			runSyncs(t, h, tc.current, tc.steps)
		})
	}
}

// eventAgo is a scale event n replicas big, age before hpaT0.
func eventAgo(age time.Duration, n int) timedValue { return timedValue{hpaT0.Add(-age), n} }

// policyRules is generateScalingRules of horizontal_test.go: a Pods and/or a
// Percent policy (0 leaves it out), selectPolicy Max.
func policyRules(pods int, podsPeriod time.Duration, percent int, percentPeriod time.Duration, window time.Duration) ScalingRules {
	r := ScalingRules{SelectPolicy: SelectMax, StabilizationWindow: window}
	if pods != 0 {
		r.Policies = append(r.Policies, ScalingPolicy{PodsPolicy, pods, podsPeriod})
	}
	if percent != 0 {
		r.Policies = append(r.Policies, ScalingPolicy{PercentPolicy, percent, percentPeriod})
	}
	return r
}

func TestHPALimitWithEvents(t *testing.T) {
	// Ported from horizontal_test.go's TestScalingWithRules. Its
	// generateEventsUniformDistribution(events, 120) puts events in the
	// middle of equal segments of the last 120 s: three events at 100, 60
	// and 20 s ago; one at 60 s ago. The one at exactly now-60s is outside
	// a 60 s period (After is strict).
	three := func(a, b, c int) []timedValue {
		return []timedValue{eventAgo(100*time.Second, a), eventAgo(60*time.Second, b), eventAgo(20*time.Second, c)}
	}
	tests := []struct {
		name              string
		up, down          []timedValue
		scaleUp           *ScalingRules
		scaleDown         *ScalingRules
		min, max          int
		current, proposal int
		want              int
	}{
		{
			// Period start 100-1-5-9 = 85: 85+150 = 235.
			name: "scaleUp with pod policy and previous scale up events",
			up:   three(1, 5, 9), scaleUp: new(policyRules(150, 120*time.Second, 0, 0, 0)),
			min: 1, max: 1000, current: 100, proposal: 500, want: 235,
		},
		{
			// 85 * (1+200%) = 255.
			name: "scaleUp with percent policy and previous scale up events",
			up:   three(1, 5, 9), scaleUp: new(policyRules(0, 0, 200, 120*time.Second, 0)),
			min: 1, max: 1000, current: 100, proposal: 500, want: 255,
		},
		{
			// 85+5 = 90 < 100: no scale-up until the events age out.
			name: "scaleUp with a lot of recent scale up events",
			up:   three(1, 5, 9), scaleUp: new(policyRules(5, 120*time.Second, 0, 0, 0)),
			min: 1, max: 1000, current: 100, proposal: 500, want: 100,
		},
		{
			// Within 60 s only the 9 of 20 s ago counts: 91+300 = 391 > max
			// 200: 200.
			name: "scaleUp limited by max with large pod policy and events",
			up:   three(1, 5, 9), scaleUp: new(policyRules(300, 60*time.Second, 0, 0, 0)),
			min: 1, max: 200, current: 100, proposal: 500, want: 200,
		},
		{
			// Start 6-4+2 = 4: ceil(4 * (1+300%)) = 16.
			name: "scaleUp with percent policy and previous scale up and down events",
			up:   []timedValue{eventAgo(60*time.Second, 4)}, down: []timedValue{eventAgo(60*time.Second, 2)},
			scaleUp: new(policyRules(0, 0, 300, 300*time.Second, 0)),
			min:     1, max: 1000, current: 6, proposal: 24, want: 16,
		},
		{
			// Start 100+2+4+6 = 112: int(112 * 50%) = 56.
			name: "scaleDown with percent policy limitation and previous events",
			down: three(2, 4, 6), scaleDown: new(policyRules(0, 0, 50, 120*time.Second, 300*time.Second)),
			min: 1, max: 1000, current: 100, proposal: 0, want: 56,
		},
		{
			// Start 100+15 = 115: 115-5 = 110 > 100: keep 100.
			name: "scaleDown with pod policy limitation and previous events",
			down: three(1, 5, 9), scaleDown: new(policyRules(5, 120*time.Second, 0, 0, 300*time.Second)),
			min: 1, max: 1000, current: 100, proposal: 2, want: 100,
		},
		{
			// Start 10-2+4 = 12: int(12 * 50%) = 6.
			name: "scaleDown with percent policy and previous scale up and down events",
			up:   []timedValue{eventAgo(60*time.Second, 2)}, down: []timedValue{eventAgo(60*time.Second, 4)},
			scaleDown: new(policyRules(0, 0, 50, 180*time.Second, 0)),
			min:       1, max: 1000, current: 10, proposal: 1, want: 6,
		},
		{
			// Start 130: int(130 * 90%) = 117 > 100: keep 100.
			name: "scaleDown with previous events preventing further scale down",
			down: three(10, 10, 10), scaleDown: new(policyRules(0, 0, 10, 120*time.Second, 300*time.Second)),
			min: 1, max: 1000, current: 100, proposal: 0, want: 100,
		},
		{
			// Start 130 - 1000% < 0, below the proposal 5: 5.
			name: "scaleDown with previous events still allowing more scale down",
			down: three(10, 10, 10), scaleDown: new(policyRules(0, 0, 1000, 120*time.Second, 300*time.Second)),
			min: 1, max: 1000, current: 10, proposal: 5, want: 5,
		},
		{
			// The default scale-down (100% per 15 s) with old events: 5.
			name: "scaleDown with default policy and previous events",
			down: three(1, 5, 9),
			min:  1, max: 1000, current: 10, proposal: 5, want: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := DefaultBehavior()
			if tc.scaleUp != nil {
				b.ScaleUp = *tc.scaleUp
			}
			if tc.scaleDown != nil {
				b.ScaleDown = *tc.scaleDown
			}
			h := &HPA{Behavior: b, MinReplicas: tc.min, MaxReplicas: tc.max, upEvents: tc.up, downEvents: tc.down}
			if got := h.limit(hpaT0, tc.current, tc.proposal); got != tc.want {
				t.Errorf("limit(current %d, desired %d) = %d, want %d", tc.current, tc.proposal, got, tc.want)
			}
		})
	}

	// TestCalculateScaleUpLimitWithScalingRules and
	// TestCalculateScaleDownLimitWithBehaviors: selectPolicy Min with
	// Pods 2/60s and Percent 50/60s. Up from 1: min(1+2, ceil(1.5)) = 2.
	// Down from 5: max(5-2, int(2.5)) = 3.
	minRules := ScalingRules{SelectPolicy: SelectMin, Policies: []ScalingPolicy{
		{PodsPolicy, 2, 60 * time.Second}, {PercentPolicy, 50, 60 * time.Second},
	}}
	if got := scaleUpLimit(hpaT0, 1, nil, nil, &minRules); got != 2 {
		t.Errorf("scale-up limit with Min from 1 = %d, want 2", got)
	}
	if got := scaleDownLimit(hpaT0, 5, nil, nil, &minRules); got != 3 {
		t.Errorf("scale-down limit with Min from 5 = %d, want 3", got)
	}
}

func TestHPAKeepsOutdatedEventsAsKubernetes(t *testing.T) {
	// storeScaleEvent marks the events older than its direction's longest
	// period outdated (Before(cutoff)) and overwrites one of them, the
	// last; the other outdated ones stay in the list and
	// getReplicasChangePerPeriod still counts them for the other
	// direction's longer periods (horizontal_test.go TestStoreScaleEvents,
	// "replace one entry, use policies with different periods": the
	// outdated {7} is kept).
	//
	// Scale-down: 100 pods per 15 s, no window; scale-up: 1 pod per 60 s.
	// +0:  20 -> 15, down event 5.
	// +10: 15 -> 12 (the period started at 20: limit -80), down event 3;
	//      the +0 event is not outdated (0 is not before -5): kept.
	// +40: 12 -> 10, down event 2; +0 and +10 are both before 25: the
	//      controller overwrites the last outdated one (+10) and keeps +0.
	//      Down events: {+0: 5, +40: 2}.
	// +45: proposal 30. The scale-up period (60 s) starts after -15: up
	//      events none, down events 5+2 = 7. Start 10-0+7 = 17, limit
	//      17+1 = 18.
	b := DefaultBehavior()
	b.ScaleDown = policyRules(100, 15*time.Second, 0, 0, 0)
	b.ScaleUp = policyRules(1, 60*time.Second, 0, 0, 0)
	h := &HPA{Behavior: b, MinReplicas: 1, MaxReplicas: 100}
	runSyncs(t, h, 20, []syncStep{{0, 15, 15}, {secs(10), 12, 12}, {secs(40), 10, 10}, {secs(45), 30, 18}})
}

func TestBehaviorValidate(t *testing.T) {
	neg, one := -0.1, 1.0
	tests := []struct {
		name   string
		modify func(b *Behavior)
		field  string // "" for valid
	}{
		{"default", func(b *Behavior) {}, ""},
		{"zero tolerance", func(b *Behavior) { b.Tolerance = 0 }, ""},
		{"disabled without policies", func(b *Behavior) {
			b.ScaleDown = ScalingRules{SelectPolicy: SelectDisabled}
		}, ""},
		{"empty select policy", func(b *Behavior) { b.ScaleUp.SelectPolicy = "" }, ""},
		{"window of an hour", func(b *Behavior) { b.ScaleDown.StabilizationWindow = time.Hour }, ""},
		{"period of 30 minutes", func(b *Behavior) { b.ScaleUp.Policies[0].Period = 30 * time.Minute }, ""},
		{"tolerance 1 (Kubernetes asks only for a non-negative one)", func(b *Behavior) { b.Tolerance = 1 }, ""},
		{"negative tolerance", func(b *Behavior) { b.Tolerance = -0.1 }, "tolerance"},
		{"NaN tolerance", func(b *Behavior) { b.Tolerance = math.NaN() }, "tolerance"},
		{"negative scale-up tolerance", func(b *Behavior) { b.ScaleUp.Tolerance = &neg }, "scaleUp.tolerance"},
		{"scale-down tolerance 1", func(b *Behavior) { b.ScaleDown.Tolerance = &one }, ""},
		{"infinite scale-down tolerance", func(b *Behavior) { inf := math.Inf(1); b.ScaleDown.Tolerance = &inf }, "scaleDown.tolerance"},
		{"window over an hour", func(b *Behavior) { b.ScaleUp.StabilizationWindow = time.Hour + time.Second }, "scaleUp.stabilizationWindowSeconds"},
		{"negative window", func(b *Behavior) { b.ScaleDown.StabilizationWindow = -time.Second }, "scaleDown.stabilizationWindowSeconds"},
		{"unknown select policy", func(b *Behavior) { b.ScaleDown.SelectPolicy = "Largest" }, "scaleDown.selectPolicy"},
		{"no policies", func(b *Behavior) { b.ScaleUp.Policies = nil }, "scaleUp.policies"},
		{"unknown policy type", func(b *Behavior) { b.ScaleUp.Policies[1].Type = "Replicas" }, "scaleUp.policies[1].type"},
		{"zero value", func(b *Behavior) { b.ScaleDown.Policies[0].Value = 0 }, "scaleDown.policies[0].value"},
		{"zero period", func(b *Behavior) { b.ScaleUp.Policies[0].Period = 0 }, "scaleUp.policies[0].periodSeconds"},
		{"period over 30 minutes", func(b *Behavior) { b.ScaleDown.Policies[0].Period = 31 * time.Minute }, "scaleDown.policies[0].periodSeconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := DefaultBehavior()
			tc.modify(&b)
			err := b.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.field != "" && err == nil:
				t.Errorf("Validate() = nil, want an error naming %s", tc.field)
			case tc.field != "" && !strings.HasPrefix(err.Error(), tc.field+":"):
				t.Errorf("Validate() = %q, want it to start with %q", err, tc.field+":")
			}
		})
	}
}
