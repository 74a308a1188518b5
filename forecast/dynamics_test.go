package forecast_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prescale/prescale/forecast"
)

// daily is n points of a period-96 cycle on a level of 200, with seeded
// Gaussian noise of sd noise.
func daily(n int, noise float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	for t := range y {
		y[t] = 200 + 60*math.Sin(2*math.Pi*float64(t)/96) + noise*rng.NormFloat64()
	}
	return y
}

// fitLead fits y for horizon 12 with or without a lead of 6 steps.
func fitLead(t *testing.T, y []float64, lead int) *forecast.Fitted {
	t.Helper()
	f, err := forecast.Fit(y, &forecast.Options{Horizon: 12, Lead: lead, Periods: []int{96}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// atLead is the point and 0.9 quantile 6 steps ahead.
func atLead(t *testing.T, f *forecast.Fitted) (point, q90 float64) {
	t.Helper()
	r, err := f.Forecast(6, []float64{0.9})
	if err != nil {
		t.Fatal(err)
	}
	return r.Point[5], r.Quantiles[0].Values[5]
}

// roundTrip is f saved as JSON and restored.
func roundTrip(t *testing.T, f *forecast.Fitted) *forecast.Fitted {
	t.Helper()
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g forecast.Fitted
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// withoutResidual is f saved and restored as a state saved before the
// residual trend existed (none of its fields).
func withoutResidual(t *testing.T, f *forecast.Fitted) *forecast.Fitted {
	t.Helper()
	g := roundTrip(t, f)
	d := g.Dynamics
	d.ResidualMSE, d.PendingResidual, d.ResidualLevel, d.ResidualTrend, d.OneStep, d.OneStepSet = 0, nil, 0, 0, 0, false
	return g
}

// TestDynamicsFollowAFlashCrowd streams a ramp of 3× over 60 steps on top
// of the cycle into models fitted before it: the one with dynamics
// forecasts the climb 6 steps ahead much better than the seasonal one
// alone, and its 0.9 quantile covers more of it.
func TestDynamicsFollowAFlashCrowd(t *testing.T) {
	const n = 96 * 14
	all := daily(n+120, 4, 1)
	for i := range 120 {
		if i < 60 {
			all[n+i] *= 1 + 2*float64(i+1)/60
		} else {
			all[n+i] *= 3
		}
	}
	var errSeasonal, errDynamics float64
	var coverSeasonal, coverDynamics int
	seasonal, dynamic := fitLead(t, all[:n], 0), fitLead(t, all[:n], 6)
	for i := n; i+6 < n+70; i++ {
		for _, f := range []*forecast.Fitted{seasonal, dynamic} {
			if err := f.Observe(all[i]); err != nil {
				t.Fatal(err)
			}
		}
		actual := all[i+6]
		p, q := atLead(t, seasonal)
		errSeasonal += math.Abs(actual - p)
		if actual <= q {
			coverSeasonal++
		}
		p, q = atLead(t, dynamic)
		errDynamics += math.Abs(actual - p)
		if actual <= q {
			coverDynamics++
		}
	}
	t.Logf("climb: error at lead %.0f with dynamics, %.0f without; 0.9 quantile covers %d and %d of 64; scale %.2f",
		errDynamics, errSeasonal, coverDynamics, coverSeasonal, dynamic.IntervalScale())
	if !(errDynamics < 0.6*errSeasonal) {
		t.Errorf("during the climb, the error 6 steps ahead is %.0f with dynamics and %.0f without; want at most 60%%", errDynamics, errSeasonal)
	}
	if coverDynamics <= coverSeasonal {
		t.Errorf("the 0.9 quantile covered %d points of the climb with dynamics, %d without; want more", coverDynamics, coverSeasonal)
	}
	if s := dynamic.IntervalScale(); !(s > 1) {
		t.Errorf("the interval scale after the climb is %v, want above 1", s)
	}
}

// TestDynamicsStayOutOfACalmCycle streams more of the same clean cycle:
// the local trend gets little weight, so the forecast stays within a few
// percent of the seasonal one, and the intervals keep about their width.
func TestDynamicsStayOutOfACalmCycle(t *testing.T) {
	const n = 96 * 14
	all := daily(n+400, 4, 2)
	seasonal, dynamic := fitLead(t, all[:n], 0), fitLead(t, all[:n], 6)
	var diff, level float64
	for i := n; i < n+400; i++ {
		for _, f := range []*forecast.Fitted{seasonal, dynamic} {
			if err := f.Observe(all[i]); err != nil {
				t.Fatal(err)
			}
		}
		ps, _ := atLead(t, seasonal)
		pd, _ := atLead(t, dynamic)
		diff += math.Abs(ps - pd)
		level += ps
	}
	t.Logf("calm: forecasts differ by %.2f%%, scale %.2f", 100*diff/level, dynamic.IntervalScale())
	if diff > 0.03*level {
		t.Errorf("on a calm cycle the forecasts with and without dynamics differ by %.1f%% on average, want at most 3%%", 100*diff/level)
	}
	if s := dynamic.IntervalScale(); s < 0.5 || s > 2 {
		t.Errorf("the interval scale on a calm cycle is %v, want within [0.5, 2]", s)
	}
}

// TestDynamicsSavedAndRestored checks that a model with dynamics saved
// as JSON and restored forecasts the same after the same points, and that
// a corrupted state is refused.
func TestDynamicsSavedAndRestored(t *testing.T) {
	y := daily(96*10, 4, 3)
	f := fitLead(t, y[:96*9], 6)
	if f.Dynamics == nil || f.Dynamics.Lead != 6 {
		t.Fatalf("dynamics %+v, want a lead of 6", f.Dynamics)
	}
	g := roundTrip(t, f)
	for _, v := range y[96*9:] {
		if err := errors.Join(f.Observe(v), g.Observe(v)); err != nil {
			t.Fatal(err)
		}
	}
	p1, q1 := atLead(t, f)
	p2, q2 := atLead(t, g)
	if p1 != p2 || q1 != q2 {
		t.Errorf("restored model forecasts %v (q %v), the original %v (q %v)", p2, q2, p1, q1)
	}

	g.Dynamics.PendingResidual = g.Dynamics.PendingResidual[:3]
	if _, err := g.Forecast(6, nil); !errors.Is(err, forecast.ErrBadState) {
		t.Errorf("a dynamics state with 3 pending residual values: %v, want ErrBadState", err)
	}
	g.Dynamics.PendingResidual = nil // as saved before the residual trend: left out
	if _, err := g.Forecast(6, nil); err != nil {
		t.Errorf("a dynamics state without the residual trend: %v", err)
	}
	g.Dynamics.ResidualLevel = math.NaN()
	if _, err := g.Forecast(6, nil); !errors.Is(err, forecast.ErrBadState) {
		t.Errorf("a residual level of NaN: %v, want ErrBadState", err)
	}
	g.Dynamics.ResidualLevel = 0
	g.Dynamics.WeightDecay = 1
	if _, err := g.Forecast(6, nil); !errors.Is(err, forecast.ErrBadState) {
		t.Errorf("a weight decay of 1: %v, want ErrBadState", err)
	}
	g.Dynamics.WeightDecay = 0 // as saved before it: the errors weighted by Decay
	if _, err := g.Forecast(6, nil); err != nil {
		t.Errorf("a dynamics state without a weight decay: %v", err)
	}
	g.Dynamics.Pending = g.Dynamics.Pending[:3]
	if _, err := g.Forecast(6, nil); !errors.Is(err, forecast.ErrBadState) {
		t.Errorf("a dynamics state with 3 pending values: %v, want ErrBadState", err)
	}
}

func TestLeadOptions(t *testing.T) {
	y := daily(96*4, 4, 4)
	for _, tc := range []struct {
		name string
		opts forecast.Options
	}{
		{"negative", forecast.Options{Horizon: 12, Lead: -1}},
		{"beyond the horizon", forecast.Options{Horizon: 12, Lead: 13}},
		{"beyond the default horizon", forecast.Options{Lead: 49}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := forecast.Fit(y, &tc.opts); !errors.Is(err, forecast.ErrBadOptions) || !strings.Contains(err.Error(), "lead") {
				t.Errorf("Fit = %v, want ErrBadOptions naming the lead", err)
			}
		})
	}
	f, err := forecast.Fit(y, &forecast.Options{Horizon: 12})
	if err != nil || f.Dynamics != nil || f.IntervalScale() != 1 {
		t.Errorf("without a lead: %v, dynamics %+v, scale %v; want none and 1", err, f.Dynamics, f.IntervalScale())
	}
}

// TestObserveAdjusted streams the climb of TestDynamicsFollowAFlashCrowd
// into three models fitted before it: with Observe, with ObserveAdjusted
// and no adjustment (the same), and with a caller that adjusts each
// forecast at the lead to what comes (as a known event's effect may).
// The point forecasts stay the model's; only the interval scale follows
// the adjusted forecast's errors: narrow for the caller that knew, wide
// for the model that did not.
func TestObserveAdjusted(t *testing.T) {
	const n = 96 * 14
	all := daily(n+120, 4, 1)
	for i := range 120 {
		all[n+i] *= 1 + 2*float64(min(i+1, 60))/60
	}
	own, same, knew := fitLead(t, all[:n], 6), fitLead(t, all[:n], 6), fitLead(t, all[:n], 6)
	for i := n; i+6 < n+70; i++ {
		ahead := all[i+6]
		err := errors.Join(own.Observe(all[i]), same.ObserveAdjusted(all[i], nil),
			knew.ObserveAdjusted(all[i], func(float64) float64 { return ahead }))
		if err != nil {
			t.Fatal(err)
		}
		p1, q1 := atLead(t, own)
		p2, q2 := atLead(t, same)
		p3, _ := atLead(t, knew)
		if p1 != p2 || q1 != q2 || p1 != p3 {
			t.Fatalf("step %d: point forecasts %v, %v and %v (quantiles %v and %v); want the model's, and the same quantiles without an adjustment", i-n, p1, p2, p3, q1, q2)
		}
	}
	t.Logf("interval scale after the climb: %.2f scored on the model's forecast, %.2f on the caller's", own.IntervalScale(), knew.IntervalScale())
	if s, k := own.IntervalScale(), knew.IntervalScale(); !(s > 1) || !(k < 1) {
		t.Errorf("after the climb, the interval scale is %v scored on the model's forecast and %v on one that knew the climb; want above 1 and below 1", s, k)
	}
}

// TestDynamicsTunedOnObservedLoad fits a history whose crowds the caller
// keeps out of training (known events: NaN in the values), with and
// without Options.Observed. With it, the local trend's smoothing is
// chosen on the load as observed, crowds included, as a fit of the
// unmasked load chooses it, and it ends on the observed load; its weight
// against the seasonal models is scored on the fit's history, where the
// seasonal models' is. A new crowd like the past ones is then followed
// better 6 steps ahead than by the local trend tuned on the calm load the
// fit was left with. A crowd that ends at once, not by a decay, picks a
// trend that climbs less (its figures are logged).
func TestDynamicsTunedOnObservedLoad(t *testing.T) {
	const n, ramp = 96 * 14, 24
	crowd := func(y []float64, at int, decay bool) {
		for i := range 3 * ramp {
			f := 3.0
			switch {
			case i < ramp:
				f = 1 + 2*float64(i+1)/ramp
			case i >= 2*ramp && decay:
				f = 3 - 2*float64(i+1-2*ramp)/ramp
			case i >= 2*ramp:
				f = 1
			}
			y[at+i] *= f
		}
	}
	opts := func(observed []float64) *forecast.Options {
		return &forecast.Options{Horizon: 12, Lead: 6, Periods: []int{96}, Observed: observed}
	}
	for _, decay := range []bool{true, false} {
		for seed := range uint64(3) {
			observed := daily(n+3*ramp, 4, seed)
			values := make([]float64, n)
			copy(values, observed)
			for _, at := range []int{2*96 + 10, 5*96 + 40, 8*96 + 70, 11*96 + 20, 13*96 + 10} {
				crowd(observed, at, decay)
				for i := at; i < at+3*ramp; i++ {
					values[i] = math.NaN()
				}
			}
			crowd(observed, n, decay) // the crowd to come
			tuned := must(forecast.Fit(values, opts(observed[:n])))(t)
			calm := must(forecast.Fit(values, opts(nil)))(t)
			whole := must(forecast.Fit(observed[:n], opts(nil)))(t)
			td, wd, cd := tuned.Dynamics, whole.Dynamics, calm.Dynamics
			if td.Alpha != wd.Alpha || td.Beta != wd.Beta || td.Phi != wd.Phi {
				t.Errorf("decay %v, seed %d: smoothing %v %v %v, want the unmasked fit's %v %v %v", decay, seed, td.Alpha, td.Beta, td.Phi, wd.Alpha, wd.Beta, wd.Phi)
			}
			if math.Abs(td.Level-observed[n-1]) > 30 {
				t.Errorf("decay %v, seed %d: level %.1f at the end, the load %.1f", decay, seed, td.Level, observed[n-1])
			}
			if cd.Alpha == td.Alpha && cd.Beta == td.Beta && cd.Phi == td.Phi && td.LocalMSE != cd.LocalMSE {
				t.Errorf("decay %v, seed %d: same smoothing, local error %v against %v: not scored on the fit's history", decay, seed, td.LocalMSE, cd.LocalMSE)
			}
			miss := func(f *forecast.Fitted) float64 {
				var sum float64
				for i := n; i < n+3*ramp-5; i++ {
					p, _ := atLead(t, f)
					sum += math.Abs(observed[i+5] - p)
					if err := f.Observe(observed[i]); err != nil {
						t.Fatal(err)
					}
				}
				return sum / float64(3*ramp-5)
			}
			m, c := miss(tuned), miss(calm)
			t.Logf("decay %v, seed %d: smoothing %v %v %v (calm %v %v %v); mean error 6 steps ahead over the new crowd %.1f, %.1f tuned on the calm load",
				decay, seed, td.Alpha, td.Beta, td.Phi, cd.Alpha, cd.Beta, cd.Phi, m, c)
			if decay && !(m < c) {
				t.Errorf("seed %d: error over a crowd like the past ones %.1f, against %.1f tuned on the calm load", seed, m, c)
			}
		}
	}
	// Nothing kept out: the same model as without.
	y := daily(n, 4, 9)
	pa, _ := atLead(t, fitLead(t, y, 6))
	if pb, _ := atLead(t, must(forecast.Fit(y, opts(y)))(t)); pa != pb {
		t.Errorf("with nothing kept out, the forecast is %v, against %v without Observed", pb, pa)
	}
	if _, err := forecast.Fit(y, opts(y[1:])); !errors.Is(err, forecast.ErrBadOptions) || !strings.Contains(err.Error(), "observed") {
		t.Errorf("observed of the wrong length: %v, want ErrBadOptions naming it", err)
	}
}

func must(f *forecast.Fitted, err error) func(*testing.T) *forecast.Fitted {
	return func(t *testing.T) *forecast.Fitted {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
}

// TestResidualTrendKeepsTheShape streams, into a model of a cycle with a
// sharp burst at the same phase of every cycle, a lasting rise of 40% the
// model was not fitted on: the residual trend adds the rise to the
// seasonal forecast, burst included, where the local trend alone (a state
// saved before the residual trend existed) would draw the rise flat
// through the burst.
func TestResidualTrendKeepsTheShape(t *testing.T) {
	const n = 96 * 14
	all := daily(n+96, 4, 5)
	for i := range all {
		if p := i % 96; p >= 40 && p < 46 {
			all[i] += 200
		}
		if i >= n {
			all[i] *= 1.4
		}
	}
	with := fitLead(t, all[:n], 6)
	if with.Dynamics == nil || !(with.Dynamics.ResidualMSE > 0) || len(with.Dynamics.PendingResidual) != 6 {
		t.Fatalf("dynamics %+v, want the residual trend on", with.Dynamics)
	}
	without := withoutResidual(t, with)

	var errWith, errWithout float64
	for i := n; i+6 < n+96; i++ {
		for _, f := range []*forecast.Fitted{with, without} {
			if err := f.Observe(all[i]); err != nil {
				t.Fatal(err)
			}
		}
		if p := (i + 6) % 96; p < 40 || p >= 46 {
			continue
		}
		pw, _ := atLead(t, with)
		po, _ := atLead(t, without)
		errWith += math.Abs(all[i+6] - pw)
		errWithout += math.Abs(all[i+6] - po)
	}
	t.Logf("the burst after the rise: error at lead %.0f with the residual trend, %.0f without; last minutes' weight %.2f and %.2f",
		errWith, errWithout, with.LocalWeight(), without.LocalWeight())
	if !(errWith < 0.8*errWithout) {
		t.Errorf("through the burst after the rise, the error 6 steps ahead is %.0f with the residual trend and %.0f without; want at most 80%%", errWith, errWithout)
	}
}

// TestDynamicsIdleForDays streams a constant load for longer than its
// errors take to decay to the edge of the floating-point range (4,000
// leads and more): the weights stay finite, so the model keeps observing
// and forecasting the load, with the residual trend and in a state saved
// before it.
func TestDynamicsIdleForDays(t *testing.T) {
	with := fitLead(t, daily(96*7, 4, 6), 6)
	without := withoutResidual(t, with)
	for i := range 40_000 {
		for _, f := range []*forecast.Fitted{with, without} {
			if err := f.Observe(100); err != nil {
				t.Fatalf("point %d of a constant load: %v", i, err)
			}
		}
	}
	if d := without.Dynamics; d.ResidualLevel != 0 || d.OneStepSet || d.PendingResidual != nil {
		t.Errorf("a state saved before the residual trend took some of it: level %v, one step set %v, ring %v", d.ResidualLevel, d.OneStepSet, d.PendingResidual)
	}
	for _, f := range []*forecast.Fitted{with, without} {
		p, q := atLead(t, f)
		if math.Abs(p-100) > 1 || q < p || math.IsInf(q, 0) {
			t.Errorf("after 40,000 points of 100: forecast %v, 0.9 quantile %v; want about 100", p, q)
		}
	}
}

// TestDynamicsWeightsTurnWithinALead streams into a model of a calm cycle
// a burst it was not fitted on: 8 steps at 3 times the load. Both the
// seasonal models and the local trend miss the burst at the lead; once it
// is over, the local trend still draws it on while the seasonal models are
// right again. The weights, scored on the last lead's errors, turn back to
// the seasonal models within a lead or two, where weights that forgot the
// burst's errors over four leads (a state saved before WeightDecay, which
// weights by Decay) draw the burst on for longer.
func TestDynamicsWeightsTurnWithinALead(t *testing.T) {
	const n = 96 * 14
	all := daily(n+120, 4, 7)
	for i := n + 40; i < n+48; i++ {
		all[i] *= 3
	}
	fast := fitLead(t, all[:n], 6)
	if d := fast.Dynamics; d == nil || !(d.WeightDecay > 0 && d.WeightDecay < d.Decay) {
		t.Fatalf("dynamics %+v, want the weights' errors forgotten faster than the scale's", fast.Dynamics)
	}
	slow := roundTrip(t, fast)
	slow.Dynamics.WeightDecay = 0

	var errFast, errSlow float64
	for i := n; i+6 < n+120; i++ {
		for _, f := range []*forecast.Fitted{fast, slow} {
			if err := f.Observe(all[i]); err != nil {
				t.Fatal(err)
			}
		}
		if i < n+48 { // from the end of the burst on
			continue
		}
		pf, _ := atLead(t, fast)
		ps, _ := atLead(t, slow)
		errFast += math.Abs(all[i+6] - pf)
		errSlow += math.Abs(all[i+6] - ps)
	}
	t.Logf("after the burst: error at lead %.0f with the weights scored on the last lead, %.0f on four leads", errFast, errSlow)
	if !(errFast < 0.8*errSlow) {
		t.Errorf("after the burst, the error 6 steps ahead is %.0f with the weights scored on the last lead and %.0f on four leads; want at most 80%%", errFast, errSlow)
	}
}

// TestDynamicsBackFromDaysAtZero streams into a model of a positive load
// (its errors relative to the forecast) days of zeros, long enough for the
// forecast to shrink to the edge of the floating-point range, and then the
// load again: the error relative to so small a forecast (infinite) counts
// for no more than widening the intervals to their widest, so the state
// stays finite and the model keeps forecasting.
func TestDynamicsBackFromDaysAtZero(t *testing.T) {
	f := fitLead(t, daily(96*7, 4, 9), 6)
	if !f.Calibration.Relative {
		t.Fatal("want a calibration relative to the forecast")
	}
	for i := range 10_000 {
		if err := f.Observe(0); err != nil {
			t.Fatalf("point %d of zeros: %v", i, err)
		}
	}
	for i := range 100 {
		if err := f.Observe(2 * float64(i+1)); err != nil {
			t.Fatalf("point %d after the zeros: %v", i, err)
		}
	}
	p, q := atLead(t, f)
	if !(p > 0 && q >= p && !math.IsInf(q, 0)) {
		t.Errorf("after days of zeros and a ramp back to 200: forecast %v, 0.9 quantile %v; want finite and positive", p, q)
	}
}
