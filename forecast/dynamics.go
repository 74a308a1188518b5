package forecast

import (
	"fmt"
	"math"
	"slices"
)

// Dynamics is a forecaster's short-horizon part, what the last minutes
// say that a seasonal model cannot: the load is climbing fast right now.
// It keeps two damped local-trend (Holt) states: one on the observations
// (the local trend), and one on the seasonal models' one-step errors (the
// residual trend: what they are missing right now, a crowd their cycle
// does not hold, added to their own forecast, so that the shape they
// expect over the next minutes is kept). It scores both and the seasonal
// models at the lead time the caller cares about (Options.Lead) as each
// point arrives, and combines the three by the inverse of their recent
// mean squared errors there, over the last lead or so: which of them is
// right changes within minutes on bursty load. It also tracks the
// combined forecast's recent error at the lead against the error the
// calibration was made for, and widens or narrows the intervals by their
// ratio (IntervalScale): residuals scaled by local volatility.
//
// Everything is updated online, point by point (Fitted.Observe), not only
// at refit. A Dynamics is plain data, saved and restored with its Fitted.
type Dynamics struct {
	// Lead is the step ahead, counted from the last observation, that the
	// weights and the interval scale are scored at.
	Lead int `json:"lead"`
	// Alpha, Beta and Phi are the local-trend smoothing of the level, of
	// the trend and the trend's damping, chosen at fit time by the error
	// at Lead on the recent history.
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	Phi   float64 `json:"phi"`
	Level float64 `json:"level"`
	Trend float64 `json:"trend"`
	// ResidualLevel and ResidualTrend are the residual trend's state,
	// with the same smoothing, on the errors of the seasonal models'
	// one-step forecasts; OneStep is their forecast of the next point
	// (OneStepSet: a finite one was made; else OneStep is 0 and the next
	// point's error is a gap to the residual trend).
	ResidualLevel float64 `json:"residual_level,omitempty"`
	ResidualTrend float64 `json:"residual_trend,omitempty"`
	OneStep       float64 `json:"one_step,omitempty"`
	OneStepSet    bool    `json:"one_step_set,omitempty"`
	// Decay is the weight each point's error keeps per later point in
	// CombinedMAE (the interval scale), from a half-life of
	// dynamicsHalfLives leads.
	Decay float64 `json:"decay"`
	// WeightDecay is the same in the three mean squared errors that
	// weight the mix (SeasonalMSE, LocalMSE, ResidualMSE), from a
	// half-life of weightHalfLife leads, at least one point, as points
	// stream in (the errors they start from at a fit are averages over the
	// history); 0 in a state saved before it, which weights them by Decay,
	// as then.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// SeasonalMSE and LocalMSE are the exponentially weighted mean squared
	// errors at Lead of the seasonal models' and the local trend's
	// forecasts; CombinedMAE the mean absolute error of the combined
	// forecast as the caller provisions it (Fitted.ObserveAdjusted),
	// relative to it when Relative (as the calibration's), each error
	// taken as at most what alone widens the intervals to their widest.
	SeasonalMSE float64 `json:"seasonal_mse"`
	LocalMSE    float64 `json:"local_mse"`
	// ResidualMSE is the residual trend's, as the seasonal forecast plus
	// the residual trend's.
	ResidualMSE float64 `json:"residual_mse,omitempty"`
	CombinedMAE float64 `json:"combined_mae"`
	// ReferenceMAE is the calibration's mean absolute error at Lead: the
	// spread its intervals stand for.
	ReferenceMAE float64 `json:"reference_mae"`
	Relative     bool    `json:"relative,omitempty"`
	// Pending holds, for each of the last Lead points, the seasonal, local
	// and combined forecasts made for the point Lead steps ahead of it: a
	// ring of Lead triples, the next to score at Next, Filled of them set.
	Pending []float64 `json:"pending"`
	Next    int       `json:"next"`
	Filled  int       `json:"filled"`
	// PendingResidual holds, in the same ring, the residual trend's
	// forecasts: Lead values, or none in a state saved before the residual
	// trend existed, which leaves it out.
	PendingResidual []float64 `json:"pending_residual,omitempty"`
}

// The constants of Dynamics, chosen before any trace was scored and not
// tuned on one, but for weightHalfLife: errors are forgotten with a
// half-life of four leads in the interval scale (a spread is judged by a
// few lead times of evidence), and of half a lead, at least one point, in
// the weights of the mix (which part is right is judged by the last
// lead's errors: a burst on the Twitter stream is over in two leads).
// weightHalfLife was four leads too until it was measured on the whole
// panel, every trace at once (see the README): no trace lost at any step
// from four leads down to half a lead. The interval scale
// stays within a quarter and four times the calibrated width, the local
// trend's parameters come from a small grid scored on up to three days of
// recent history, and its correction fades beyond the lead with a
// half-life of one lead (it was scored at the lead only).
const (
	dynamicsHalfLives = 4
	weightHalfLife    = 0.5
	minScale          = 0.25
	maxScale          = 4
	dynamicsWindow    = 3 * 1440
	// MaxLead bounds Options.Lead.
	MaxLead = 10_000
)

var (
	dynamicsAlphas = []float64{0.1, 0.2, 0.35, 0.5, 0.7, 0.9}
	dynamicsBetas  = []float64{0.02, 0.1, 0.3}
	dynamicsPhis   = []float64{0.8, 0.9, 0.98}
)

// newDynamics fits the local trend to the end of y (the cleaned history
// the seasonal models were fitted on) and starts the scores: the local
// trend's from its own errors at lead over that history, the seasonal
// models' and the combination's from the calibration's errors at lead.
// With observed (nil: y's), the last dynamicsWindow points of the history
// with what the caller kept out of training as it was observed
// (Options.Observed; see asObserved), the local trend's
// smoothing is chosen on it and its state ends on it: the load as the
// trend will follow it in service, known events included. Its error is
// still scored on y, where the seasonal models' is, so that their weights
// compare alike.
func newDynamics(y, observed []float64, lead int, cal *Calibration) *Dynamics {
	d := &Dynamics{Lead: lead, Relative: cal.Relative, Pending: make([]float64, 3*lead), PendingResidual: make([]float64, lead)}
	d.Decay = math.Pow(0.5, 1/float64(dynamicsHalfLives*lead))
	d.WeightDecay = math.Pow(0.5, 1/max(1, weightHalfLife*float64(lead)))
	from := max(0, len(y)-dynamicsWindow)
	w := y[from:]
	if observed != nil {
		w = observed
	}
	best := math.Inf(1)
	for _, a := range dynamicsAlphas {
		for _, b := range dynamicsBetas {
			for _, p := range dynamicsPhis {
				trial := Dynamics{Lead: lead, Alpha: a, Beta: b, Phi: p, Decay: d.Decay}
				if mse := trial.warm(w); mse < best {
					best, d.Alpha, d.Beta, d.Phi = mse, a, b, p
					d.Level, d.Trend, d.LocalMSE = trial.Level, trial.Trend, trial.LocalMSE
				}
			}
		}
	}
	if observed != nil {
		trial := Dynamics{Lead: lead, Alpha: d.Alpha, Beta: d.Beta, Phi: d.Phi, Decay: d.Decay}
		trial.warm(y[from:])
		d.LocalMSE = trial.LocalMSE
	}
	// The calibration's errors at lead: mean absolute and mean squared,
	// over its quantiles from 2.5% to 97.5% (the errors may be thinned).
	var mae, mse float64
	const levels = 20
	for i := range levels {
		e := cal.Offset(lead, (float64(i)+0.5)/levels)
		mae += math.Abs(e) / levels
		mse += e * e / levels
	}
	if cal.Relative {
		mse *= d.Level * d.Level
	}
	d.ReferenceMAE, d.CombinedMAE, d.SeasonalMSE = mae, mae, mse
	// The residual trend starts at zero (the seasonal models were just
	// fitted to the history) with no score of its own: it starts as the
	// worse of the other two, and earns its weight as points arrive.
	d.ResidualMSE = math.Max(d.LocalMSE, d.SeasonalMSE)
	return d
}

// start sets the residual trend's first one-step forecast, that of m (the
// fitted seasonal models, past the history).
func (d *Dynamics) start(m Model) {
	var one [1]float64
	m.Predict(one[:])
	d.setOneStep(one[0])
}

// setOneStep keeps v as the seasonal models' forecast of the next point,
// if it is finite.
func (d *Dynamics) setOneStep(v float64) {
	d.OneStep, d.OneStepSet = v, !math.IsNaN(v) && !math.IsInf(v, 0)
	if !d.OneStepSet {
		d.OneStep = 0
	}
}

// warm runs the local trend over y from its first value and returns the
// mean squared error of its forecasts at Lead, leaving the final state
// and that error, exponentially weighted, in d.
func (d *Dynamics) warm(y []float64) float64 {
	if len(y) == 0 {
		return math.Inf(1)
	}
	d.Level, d.Trend = y[0], 0
	ring := make([]float64, d.Lead)
	var sum float64
	n := 0
	for i, v := range y {
		if i >= d.Lead {
			e := v - ring[i%d.Lead]
			sum += e * e
			n++
			d.LocalMSE = d.Decay*d.LocalMSE + (1-d.Decay)*e*e
		}
		if i > 0 {
			d.smooth(v)
		}
		ring[i%d.Lead] = d.local(d.Lead)
	}
	if n == 0 {
		return math.Inf(1)
	}
	return sum / float64(n)
}

// smooth takes one observation into the local trend; a NaN coasts.
func (d *Dynamics) smooth(v float64) {
	d.Level, d.Trend = d.holt(d.Level, d.Trend, v)
}

// smoothResidual takes the error of the seasonal models' one-step
// forecast of y into the residual trend (a NaN, or no forecast, coasts).
func (d *Dynamics) smoothResidual(y float64) {
	r := math.NaN()
	if d.OneStepSet {
		r = y - d.OneStep
	}
	d.ResidualLevel, d.ResidualTrend = d.holt(d.ResidualLevel, d.ResidualTrend, r)
}

// holt is one step of the damped trend's smoothing of level and trend
// with v; a NaN coasts.
func (d *Dynamics) holt(level, trend, v float64) (float64, float64) {
	if math.IsNaN(v) {
		return level + d.Phi*trend, d.Phi * trend
	}
	next := d.Alpha*v + (1-d.Alpha)*(level+d.Phi*trend)
	return next, d.Beta*(next-level) + (1-d.Beta)*d.Phi*trend
}

// local is the local trend's forecast h steps ahead: the level plus
// phi + phi² + ... + phi^h trends.
func (d *Dynamics) local(h int) float64 { return d.Level + d.trendSum(h)*d.Trend }

// residual is the residual trend's forecast h steps ahead: what to add to
// the seasonal models' forecast.
func (d *Dynamics) residual(h int) float64 {
	return d.ResidualLevel + d.trendSum(h)*d.ResidualTrend
}

// trendSum is phi + phi² + ... + phi^h.
func (d *Dynamics) trendSum(h int) float64 {
	if d.Phi < 1 {
		return d.Phi * (1 - math.Pow(d.Phi, float64(h))) / (1 - d.Phi)
	}
	return float64(h)
}

// weights are the shares of the seasonal models, the local trend and the
// residual trend in the forecast at Lead, by the inverse of their mean
// squared errors there (the residual trend's 0 when left out: its error
// taken as infinite). An error of 0 takes it all, the seasonal models
// first. Each inverse is taken relative to the smallest error, so that
// errors decayed to the edge of the floating-point range (an idle target
// for days) give no infinity.
func (d *Dynamics) weights() (seasonal, local, residual float64) {
	s, l, r := d.SeasonalMSE, d.LocalMSE, math.Inf(1)
	if d.residualOn() {
		r = d.ResidualMSE
	}
	switch {
	case !(s > 0):
		return 1, 0, 0
	case !(l > 0):
		return 0, 1, 0
	case !(r > 0):
		return 0, 0, 1
	}
	least := min(s, l, r)
	s, l, r = least/s, least/l, least/r
	total := s + l + r
	if !(total >= 1 && total <= 3) { // an infinite or NaN error
		return 1, 0, 0
	}
	return s / total, l / total, r / total
}

// weightDecay is the decay of the errors that weight the mix: Decay in a
// state saved before WeightDecay existed.
func (d *Dynamics) weightDecay() float64 {
	if d.WeightDecay > 0 {
		return d.WeightDecay
	}
	return d.Decay
}

// residualOn reports whether the residual trend takes part: not in a
// state saved before it existed.
func (d *Dynamics) residualOn() bool { return len(d.PendingResidual) == d.Lead }

// weight is the share of the last minutes (the local and the residual
// trends) in the forecast at Lead.
func (d *Dynamics) weight() float64 {
	s, _, _ := d.weights()
	return 1 - s
}

// observe scores the forecasts made Lead steps before the point y, takes
// y into the local and residual trends, and makes the forecasts for Lead
// steps after it; m is the seasonal model, which has already taken y, and scratch
// holds at least Lead values. The combined forecast is kept, to score,
// as adjust maps it (nil: as it is).
func (d *Dynamics) observe(y float64, m Model, scratch []float64, adjust func(float64) float64) {
	slot := d.Pending[3*d.Next : 3*d.Next+3]
	if d.Filled >= d.Lead && !math.IsNaN(y) {
		s, l, c := slot[0], slot[1], slot[2]
		w := d.weightDecay()
		d.SeasonalMSE = w*d.SeasonalMSE + (1-w)*(y-s)*(y-s)
		d.LocalMSE = w*d.LocalMSE + (1-w)*(y-l)*(y-l)
		e := math.Abs(y - c)
		if d.Relative {
			e = 0
			if c > 0 {
				e = math.Abs(y-c) / c
			}
		}
		// One error counts for at most what widens the intervals to their
		// widest at once: a load back after days at zero, against a
		// forecast shrunk to the edge of the floating-point range, has an
		// error relative to it that is astronomical or infinite, and would
		// hold them at their widest for weeks, or break the state.
		e = math.Min(e, maxScale*d.ReferenceMAE/(1-d.Decay))
		d.CombinedMAE = d.Decay*d.CombinedMAE + (1-d.Decay)*e
		if d.residualOn() {
			r := d.PendingResidual[d.Next]
			d.ResidualMSE = w*d.ResidualMSE + (1-w)*(y-r)*(y-r)
		}
	}
	d.smooth(y)
	m.Predict(scratch[:d.Lead])
	s, l := scratch[d.Lead-1], d.local(d.Lead)
	var r float64 // a state without the residual trend keeps none of it
	if d.residualOn() {
		d.smoothResidual(y)
		d.setOneStep(scratch[0])
		r = s + d.residual(d.Lead)
		d.PendingResidual[d.Next] = r
	}
	ws, wl, wr := d.weights()
	c := math.Max(0, ws*s+wl*l+wr*r)
	if adjust != nil {
		c = adjust(c)
	}
	slot[0], slot[1], slot[2] = s, l, c
	d.Next = (d.Next + 1) % d.Lead
	d.Filled = min(d.Filled+1, d.Lead)
}

// combine mixes the local and residual trends into the seasonal point
// forecasts, steps 1..len(point): up to Lead, the weighted mean of the
// three; beyond it, the correction made at Lead fades with a half-life of
// one lead, since the weights were scored at Lead only and a trend
// extrapolated far is a guess.
func (d *Dynamics) combine(point []float64) {
	ws, wl, wr := d.weights()
	if ws == 1 {
		return
	}
	fade := math.Pow(0.5, 1/float64(d.Lead))
	var correction float64
	for i, s := range point {
		if h := i + 1; h <= d.Lead {
			correction = wl*(d.local(h)-s) + wr*d.residual(h)
		} else {
			correction *= fade
		}
		point[i] = s + correction
	}
}

// scale is the interval scale: the combined forecast's recent error at
// Lead over the calibration's, within [minScale, maxScale].
func (d *Dynamics) scale() float64 {
	if !(d.ReferenceMAE > 0) {
		return 1
	}
	return min(max(d.CombinedMAE/d.ReferenceMAE, minScale), maxScale)
}

// Clone is a copy of d that shares nothing with it (nil for nil): the
// state keeps changing as points stream in.
func (d *Dynamics) Clone() *Dynamics {
	if d == nil {
		return nil
	}
	c := *d
	c.Pending = slices.Clone(d.Pending)
	c.PendingResidual = slices.Clone(d.PendingResidual)
	return &c
}

// validate checks a restored state.
func (d *Dynamics) validate() error {
	if d.Lead < 1 || d.Lead > MaxLead || len(d.Pending) != 3*d.Lead || d.Next < 0 || d.Next >= d.Lead || d.Filled < 0 || d.Filled > d.Lead {
		return fmt.Errorf("%w: dynamics: lead %d with %d pending values (next %d, filled %d)", ErrBadState, d.Lead, len(d.Pending), d.Next, d.Filled)
	}
	if n := len(d.PendingResidual); n != 0 && n != d.Lead {
		return fmt.Errorf("%w: dynamics: lead %d with %d pending residual values", ErrBadState, d.Lead, n)
	}
	scalars := [...]float64{d.Alpha, d.Beta, d.Phi, d.Level, d.Trend, d.Decay, d.WeightDecay, d.SeasonalMSE, d.LocalMSE, d.CombinedMAE, d.ReferenceMAE,
		d.ResidualLevel, d.ResidualTrend, d.OneStep, d.ResidualMSE}
	for _, vs := range [][]float64{scalars[:], d.Pending, d.PendingResidual} {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: dynamics: a value is %v", ErrBadState, v)
			}
		}
	}
	if !(d.Alpha > 0 && d.Alpha <= 1 && d.Beta >= 0 && d.Beta <= 1 && d.Phi > 0 && d.Phi <= 1 && d.Decay > 0 && d.Decay < 1 && d.WeightDecay >= 0 && d.WeightDecay < 1) {
		return fmt.Errorf("%w: dynamics: smoothing %v, %v, %v and decays %v, %v out of range", ErrBadState, d.Alpha, d.Beta, d.Phi, d.Decay, d.WeightDecay)
	}
	return nil
}
