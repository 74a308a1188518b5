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
}

// CUSUM parameters: allowance k, clip of a standardized value, and the
// statistic at which a shift is confirmed.
const (
	cusumK     = 0.5
	cusumClip  = 4
	cusumAlarm = 12
	maxShifts  = 64
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
	return &ChangePoint{opts: o, ref: newRolling(o.Window), recent: newRing(o.Window)}
}

// Shifts returns the stream indices (0-based, counting every point given to
// Update) where the confirmed level shifts began, oldest first; only the
// last 64 are kept.
func (d *ChangePoint) Shifts() []int { return d.shifts }

// Update scores y; see Detector.
func (d *ChangePoint) Update(y float64) float64 {
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
		return 0
	}
	x := y
	if finite(pred) {
		x = y - pred
	}
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
