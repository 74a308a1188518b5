package anomaly

import "math"

// RobustZ scores the residual of each point from a light predictor by a
// robust z-score: (r - median) / (1.4826 MAD) over the residuals of the
// trailing Window points, turned into the two-sided normal tail probability
// p and scored -log10(p)/10, capped at 1. The predictor is the median of the
// same phase in the last Seasons seasons for a seasonal stream, else the
// median of the last few points.
type RobustZ struct {
	opts      Options
	season    *seasonal
	recent    *rolling // last levelSpan finite values, for the level predictor
	residuals *rolling
	seen      int
	z         float64
}

// levelSpan is how many recent points the non-seasonal predictor takes the
// median of.
const levelSpan = 5

var _ Detector = (*RobustZ)(nil)

func newRobustZ(o Options) *RobustZ { return newRobustZOn(o, newSeasonal(o)) }

// newRobustZOn returns a RobustZ with the seasonal predictor season.
func newRobustZOn(o Options, season *seasonal) *RobustZ {
	return &RobustZ{
		opts:      o,
		season:    season,
		recent:    newRolling(levelSpan),
		residuals: newRolling(o.Window),
	}
}

// Z returns the signed robust z-score of the last finite point (0 before
// MinHistory points, ±Inf for a departure from a constant history).
func (d *RobustZ) Z() float64 { return d.z }

// Update scores y; see Detector.
func (d *RobustZ) Update(y float64) float64 {
	y = held(y)
	pred := d.season.predict()
	d.season.observe(y)
	return d.score(y, pred)
}

// score scores y given the seasonal prediction made before y was observed
// (NaN when there is none; the median of the last few points stands in).
func (d *RobustZ) score(y, seasonal float64) float64 {
	if !finite(y) {
		return 0
	}
	pred := seasonal
	if !finite(pred) {
		pred = d.recent.median()
	}
	d.recent.push(y)
	d.z = 0
	if !finite(pred) {
		return 0
	}
	r := y - pred
	d.seen++
	score := 0.0
	if d.seen > d.opts.MinHistory && d.residuals.len() > 0 {
		d.z = robustZ(d.residuals, r)
		score = evidenceScore(gaussTail(d.z))
	}
	d.residuals.push(r)
	return score
}

// robustZ returns (x - median)/scale of window w, ±Inf when the window is
// constant and x departs from it, 0 when it does not.
func robustZ(w *rolling, x float64) float64 {
	med := w.median()
	dev := held(x) - med
	if dev == 0 {
		return 0
	}
	s := robustScale(w.sorted, med)
	if s > 0 {
		return dev / s
	}
	return math.Copysign(math.Inf(1), dev)
}
