package forecast_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/prescale/prescale/forecast"
)

// TestProvisionSpendsByDensity checks the provisioned load against the rule
// it follows: the q-quantile where the spread is the usual one, the same
// forecast density at the provisioned load wherever it can be had (so the
// last replica buys the same chance of covering a minute everywhere), the
// point forecast where no replica buys that much, six spreads at most, and
// the calibrated quantile itself without a reference.
func TestProvisionSpendsByDensity(t *testing.T) {
	const point, ref, q = 1000.0, 50.0, 0.9
	cal := forecast.Calibration{ReferenceSpread: ref}
	core := func(sigma float64) float64 { return sigma * distuv.UnitNormal.Quantile(forecast.CoreLevel) }
	zq := distuv.UnitNormal.Quantile(q)
	density := func(sigma, provisioned float64) float64 {
		return distuv.Normal{Mu: point, Sigma: sigma}.Prob(provisioned)
	}

	// The usual spread: the calibrated quantile, to rounding.
	if got, want := cal.Provision(point, core(ref), core(ref), q, 1), cal.Apply(point, core(ref), 1); math.Abs(got-want) > 1e-9 {
		t.Errorf("at the usual spread: %v, want the calibrated 0.9-quantile %v", got, want)
	}
	// Another level at the usual spread: the normal core's quantile.
	if got, want := cal.Provision(point, 99, core(ref), 0.99, 1.5), point+distuv.UnitNormal.Quantile(0.99)*ref*1.5; math.Abs(got-want) > 1e-9 {
		t.Errorf("q 0.99 at the usual spread, scale 1.5: %v, want the normal core's quantile %v", got, want)
	}
	// Narrower and wider spreads: the same density as at the usual spread.
	want := density(ref, point+zq*ref)
	for _, sigma := range []float64{10, 25, 80, 100} {
		got := cal.Provision(point, core(sigma), core(sigma), q, 1)
		if d := density(sigma, got); math.Abs(d-want) > 1e-9*want {
			t.Errorf("spread %v: provisions %v, density %.6g there, want %.6g", sigma, got, d, want)
		}
		if z := (got - point) / sigma; (sigma < ref) != (z > zq) {
			t.Errorf("spread %v: %.2f spreads above the point, want %s than %.2f", sigma, z, map[bool]string{true: "more", false: "fewer"}[sigma < ref], zq)
		}
	}
	// So wide that the density is lower even at the point forecast: the
	// point; so narrow that it would take more than six spreads: six.
	if got := cal.Provision(point, core(500), core(500), q, 1); got != point {
		t.Errorf("spread 500: provisions %v, want the point forecast %v", got, point)
	}
	if got := cal.Provision(point, core(1e-6), core(1e-6), q, 1); math.Abs(got-(point+6e-6)) > 1e-9 {
		t.Errorf("spread 1e-6: provisions %v, want six spreads above the point", got)
	}
	// The interval scale widens what is provisioned, not the density's
	// judgement of how sure the forecast is.
	if a, b := cal.Provision(point, core(25), core(25), q, 1), cal.Provision(point, core(25), core(25), q, 2); math.Abs((b-point)-2*(a-point)) > 1e-9 {
		t.Errorf("scale 2 provisions %v above the point, want twice %v", b-point, a-point)
	}
	// The median: the same rule, from z 0.
	if got := cal.Provision(point, 0, core(25), 0.5, 1); !(got > point) {
		t.Errorf("q 0.5 at a narrow spread: %v, want above the point", got)
	}
	// The calibrated quantile itself: below the median, without a
	// reference, or with no spread to judge.
	for name, tc := range map[string]struct {
		cal        forecast.Calibration
		q, off, co float64
	}{
		"q 0.3":        {cal, 0.3, -20, core(25)},
		"no reference": {forecast.Calibration{}, q, 70, core(25)},
		"no spread":    {cal, q, 0, 0},
	} {
		if got, want := tc.cal.Provision(point, tc.off, tc.co, tc.q, 1.5), tc.cal.Apply(point, tc.off, 1.5); got != want {
			t.Errorf("%s: %v, want the calibrated quantile %v", name, got, want)
		}
	}
}

// TestProvisionRelativeSpendsOnQuietHours checks that a calibration whose
// errors grow with the load provisions more of a margin, in proportion,
// where the load is low: the quiet hours cost few replicas to cover.
func TestProvisionRelativeSpendsOnQuietHours(t *testing.T) {
	const core, q = 0.08, 0.9 // the 0.9 quantile 8% above the forecast
	sigma := core / distuv.UnitNormal.Quantile(forecast.CoreLevel)
	cal := forecast.Calibration{Relative: true, ReferenceSpread: 1000 * sigma}
	margin := func(point float64) float64 { return cal.Provision(point, core, core, q, 1)/point - 1 }
	if m := margin(1000); math.Abs(m-core) > 1e-9 {
		t.Errorf("at the usual load: a margin of %.4f, want the calibrated %.4f", m, core)
	}
	if night, day, crowd := margin(200), margin(1000), margin(3000); !(night > day && day > crowd) {
		t.Errorf("margins %.4f at 200, %.4f at 1000, %.4f at 3000: want them falling with the load", night, day, crowd)
	}
}

// TestFitReferenceSpread checks that a fit for a lead sets the reference
// spread (the core spread at the lead, at the history's busy hours), that
// a fit without one leaves it 0, and that a saved model with a bad one is
// refused.
func TestFitReferenceSpread(t *testing.T) {
	y := daily(20*96, 8, 1)
	f := fitLead(t, y, 6)
	cal := &f.Calibration
	level := 1.0
	if cal.Relative { // the busy hours: the history's 95th percentile
		sorted := slices.Sorted(slices.Values(y))
		level = sorted[int(0.95*float64(len(y)-1))]
	}
	if got, want := cal.ReferenceSpread, cal.CoreSpread(level, cal.Offset(6, forecast.CoreLevel)); !(got > 0) || math.Abs(got-want) > 1e-9*want {
		t.Errorf("reference spread %v, want %v", got, want)
	}
	if plain := fitLead(t, y, 0); plain.Calibration.ReferenceSpread != 0 {
		t.Errorf("a fit without a lead has reference spread %v, want 0", plain.Calibration.ReferenceSpread)
	}

	back := roundTrip(t, f)
	if back.Calibration.ReferenceSpread != cal.ReferenceSpread {
		t.Errorf("restored reference spread %v, want %v", back.Calibration.ReferenceSpread, cal.ReferenceSpread)
	}
	back.Calibration.ReferenceSpread = -1
	if _, err := back.Forecast(3, nil); !errors.Is(err, forecast.ErrBadState) {
		t.Errorf("a negative reference spread forecasts with error %v, want ErrBadState", err)
	}
}
