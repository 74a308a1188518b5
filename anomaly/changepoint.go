package anomaly

import "math"

// ChangePoint detects level shifts with a two-sided CUSUM on standardized
// deseasonalized values. Each value is standardized by the median and
// 1.4826 MAD of the trailing Window values, clipped to ±cusumClip so that a
// lone spike cannot raise an alarm alone, and accumulated as
// S⁺ = max(0, S⁺ + z - k), S⁻ = max(0, S⁻ - z - k) with k = 0.5. For
// Gaussian noise the stationary tail of S is about exp(-2kS), so the score
// is -log10 of that, over 10. When S passes cusumAlarm the shift is taken
// as real: the reference window restarts from the points since the shift
// began, so a lasting shift is learned as the new normal.
//
// A residual is divided by the square root of its prediction first (at
// least 1): the noise of a count, such as requests a minute, grows with
// the load, and a scale taken over night and day alike would read the
// busy hours' noise as evidence.
//
// Residuals of a seasonal prediction are autocorrelated: a daily ramp the
// prediction lags leaves a long run of residuals of one sign, and a CUSUM
// of autocorrelated z-scores drifts as if the level had shifted (on a
// clean daily cycle it confirmed a shift on every ramp). So each z-score is
// divided by the square root of the AR(1) long-run variance factor
// (1+ρ)/(1-ρ), where ρ, the lag-1 autocorrelation of the clipped
// z-scores, is exponentially weighted over Window points: the CUSUM then
// accumulates evidence at the rate independent points would give.
type ChangePoint struct {
	opts   Options
	season *seasonal
	ref    *rolling
	recent *ring // raw residual history, to reseed ref after an alarm
	up     float64
	down   float64
	upAt   int // index where the current run of S⁺ > 0 started
	downAt int
	n      int // finite points seen
	t      int // points seen
	shifts []int
	// The lag-1 autocorrelation of the z-scores: exponentially weighted
	// means of z² and of z times the previous z (NaN after a gap).
	zz, zlag, prevZ float64
}

// CUSUM parameters: allowance k, clip of a standardized value, and the
// statistic at which a shift is confirmed.
const (
	cusumK     = 0.5
	cusumClip  = 4
	cusumAlarm = 12
	maxShifts  = 64
	// maxRho bounds the autocorrelation the z-scores are corrected for:
	// at most a factor of 6.2 on their scale.
	maxRho = 0.95
)

var _ Detector = (*ChangePoint)(nil)

func newChangePoint(o Options) *ChangePoint {
	d := newChangePointScorer(o)
	d.season = newSeasonal(o)
	return d
}

// newChangePointScorer returns a ChangePoint without a seasonal predictor
// of its own, for a caller that scores it with the predictions of one it
// shares (see score); its Update must not be called.
func newChangePointScorer(o Options) *ChangePoint {
	return &ChangePoint{opts: o, ref: newRolling(o.Window), recent: newRing(o.Window), zz: 1, prevZ: math.NaN()}
}

// Shifts returns the stream indices (0-based, counting every point given to
// Update) where the confirmed level shifts began, oldest first; only the
// last 64 are kept.
func (d *ChangePoint) Shifts() []int { return d.shifts }

// Update scores y; see Detector.
func (d *ChangePoint) Update(y float64) float64 {
	y = held(y)
	pred := d.season.predict()
	d.season.observe(y)
	return d.score(y, pred)
}

// score scores y given the seasonal prediction made before y was observed
// (NaN when there is none).
func (d *ChangePoint) score(y, pred float64) float64 {
	t := d.t
	d.t++
	if !finite(y) {
		d.recent.push(math.NaN())
		d.prevZ = math.NaN()
		return 0
	}
	x := y
	if finite(pred) {
		x = (y - pred) / math.Sqrt(max(math.Abs(pred), 1))
	}
	x = held(x)
	d.recent.push(x)
	d.n++
	if d.ref.len() < d.opts.MinHistory {
		d.ref.push(x)
		return 0
	}
	med := d.ref.median()
	s := robustScale(d.ref.sorted, med)
	var z float64
	switch {
	case s > 0:
		z = (x - med) / s
	case x != med:
		z = math.Copysign(cusumClip, x-med)
	}
	z = max(-cusumClip, min(cusumClip, z))
	z /= d.longRun(z)
	if d.up == 0 {
		d.upAt = t
	}
	if d.down == 0 {
		d.downAt = t
	}
	d.up = max(0, d.up+z-cusumK)
	d.down = max(0, d.down-z-cusumK)
	stat := max(d.up, d.down)
	score := evidenceScore(2 * cusumK * stat / math.Ln10)
	if stat >= cusumAlarm {
		start := d.upAt
		if d.down > d.up {
			start = d.downAt
		}
		d.confirm(start, t)
		return score
	}
	d.ref.push(x)
	return score
}

// longRun takes the clipped z-score z into the autocorrelation estimate
// and returns the square root of the long-run variance factor to divide z
// by.
func (d *ChangePoint) longRun(z float64) float64 {
	decay := 1 - 1/float64(d.opts.Window)
	d.zz = decay*d.zz + (1-decay)*z*z
	if !math.IsNaN(d.prevZ) {
		d.zlag = decay*d.zlag + (1-decay)*z*d.prevZ
	}
	d.prevZ = z
	rho := 0.0
	if d.zz > 0 {
		rho = min(max(d.zlag/d.zz, 0), maxRho)
	}
	return math.Sqrt((1 + rho) / (1 - rho))
}

// confirm restarts the reference from the values since the shift began.
func (d *ChangePoint) confirm(start, t int) {
	if len(d.shifts) == maxShifts {
		d.shifts = append(d.shifts[:0], d.shifts[1:]...)
	}
	d.shifts = append(d.shifts, start)
	d.up, d.down = 0, 0
	d.ref = newRolling(d.opts.Window)
	for k := min(t-start, d.recent.n-1); k >= 0; k-- {
		if v := d.recent.ago(k); finite(v) {
			d.ref.push(v)
		}
	}
}
