package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// HoltWintersConfig is the shape of a Holt-Winters model.
type HoltWintersConfig struct {
	Period         int  `json:"period"`
	Trend          bool `json:"trend"`
	Damped         bool `json:"damped"`
	Multiplicative bool `json:"multiplicative"`
}

// HoltWintersParams are the smoothing parameters. Phi is 1 when the trend
// is not damped; Beta is unused without a trend.
type HoltWintersParams struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	Gamma float64 `json:"gamma"`
	Phi   float64 `json:"phi"`
}

// Parameter bounds for fitting. The damping range is the usual one of
// automatic ETS (Hyndman et al.): below 0.8 a damped trend is no trend.
const (
	hwMinSmoothing = 1e-4
	hwMaxSmoothing = 0.9999
	hwMaxBeta      = 0.5
	hwMinPhi       = 0.8
	hwMaxPhi       = 0.98
	hwMaxEvals     = 250
)

// HoltWinters is triple exponential smoothing in the error-correction form
// that statsmodels' ExponentialSmoothing uses, with additive or
// multiplicative seasonality and an optional (damped) additive trend. With
// b = 0 and Phi = 1 when there is no trend, and s the season of the step:
//
//	additive:       l' = α(y - s) + (1-α)(l + φb)
//	                s' = γ(y - l - φb) + (1-γ)s
//	multiplicative: l' = α y/s + (1-α)(l + φb)
//	                s' = γ y/(l + φb) + (1-γ)s
//	trend:          b' = β(l' - l) + (1-β)φb
//
// and the h-step forecast is (l + (φ+φ²+…+φʰ)b) combined with the season
// of that step (added or multiplied).
type HoltWinters struct {
	HoltWintersConfig
	HoltWintersParams
	Level float64 `json:"level"`
	Slope float64 `json:"slope"`
	// Season is a ring of Period seasonal states; Season[Pos] belongs to the
	// next step.
	Season []float64 `json:"season"`
	Pos    int       `json:"pos"`
}

var _ Model = (*HoltWinters)(nil)

// newHoltWinters returns a model in a known state: level and slope before
// the first observation, and initialSeason[j] the season of step j
// (j < Period), as statsmodels' initialization_method="known". The tests
// check the recursions against statsmodels with it.
func newHoltWinters(cfg HoltWintersConfig, p HoltWintersParams, level, slope float64, initialSeason []float64) (*HoltWinters, error) {
	if cfg.Period < 1 || len(initialSeason) != cfg.Period {
		return nil, fmt.Errorf("%w: Holt-Winters period %d with %d initial seasons", ErrBadOptions, cfg.Period, len(initialSeason))
	}
	m := &HoltWinters{HoltWintersConfig: cfg, HoltWintersParams: p, Level: level, Slope: slope, Season: append([]float64(nil), initialSeason...)}
	if !cfg.Trend {
		m.Slope, m.Beta = 0, 0
	}
	if !cfg.Damped {
		m.Phi = 1
	}
	return m, m.validate()
}

// FitHoltWinters fits a Holt-Winters model of the given shape to y (no NaN,
// at least two seasons; positive when multiplicative). Initial states come
// from the first two seasons; the smoothing parameters minimize the sum of
// squared one-step errors (Nelder-Mead over bounded parameters).
func FitHoltWinters(y []float64, cfg HoltWintersConfig) (*HoltWinters, error) {
	return fitHoltWinters(y, cfg, nil)
}

// fitHoltWinters is FitHoltWinters starting the search at start (nil for
// the default start).
func fitHoltWinters(y []float64, cfg HoltWintersConfig, start *HoltWintersParams) (*HoltWinters, error) {
	m := cfg.Period
	if m < 1 {
		return nil, fmt.Errorf("%w: Holt-Winters needs a period of at least 1, have %d", ErrBadOptions, m)
	}
	if m == 1 {
		cfg.Multiplicative = false // no season: Holt's linear method
	}
	if len(y) < max(2*m, 4) {
		return nil, fmt.Errorf("%w: Holt-Winters with period %d needs %d points, have %d", ErrTooShort, m, max(2*m, 4), len(y))
	}
	if cfg.Multiplicative {
		for i, v := range y {
			if !(v > 0) {
				return nil, fmt.Errorf("%w: multiplicative seasonality needs positive values, index %d is %v", ErrInvalidValue, i, v)
			}
		}
	}
	if !cfg.Trend {
		cfg.Damped = false
	}
	level, slope, season := hwInitialStates(y, cfg)
	model := &HoltWinters{HoltWintersConfig: cfg, Season: make([]float64, m)}
	reset := func(p HoltWintersParams) {
		model.HoltWintersParams = p
		model.Level, model.Slope, model.Pos = level, slope, 0
		copy(model.Season, season)
	}
	loss := func(x []float64) float64 {
		reset(hwParams(x, cfg))
		sse := model.sse(y)
		if math.IsNaN(sse) || math.IsInf(sse, 0) {
			return math.MaxFloat64
		}
		return sse
	}
	p0 := HoltWintersParams{Alpha: 0.3, Beta: 0.05, Gamma: 0.1, Phi: 0.95}
	if start != nil {
		p0 = *start
	}
	x0 := hwUnbounded(p0, cfg)
	best := append([]float64(nil), x0...)
	bestLoss := loss(x0)
	// An optimizer error (say, a non-finite loss everywhere it looked)
	// still leaves the start point, which is a sound model.
	// From a warm start (parameters fitted on most of the same history)
	// a small simplex and a quarter of the evaluations suffice.
	evals, simplex := hwMaxEvals, 1.0
	if start != nil {
		evals, simplex = hwMaxEvals/4, 0.25
	}
	res, _ := optimize.Minimize(optimize.Problem{Func: loss}, x0, &optimize.Settings{
		FuncEvaluations: evals,
		Converger:       &optimize.FunctionConverge{Relative: 1e-4, Iterations: 15},
	}, &optimize.NelderMead{SimplexSize: simplex})
	if res != nil && res.F < bestLoss {
		best = res.X
	}
	reset(hwParams(best, cfg))
	for _, v := range y {
		model.Observe(v)
	}
	return model, nil
}

// sse runs the recursions over y from the current state and returns the
// sum of squared one-step errors. It is Observe and Predict(1) fused for
// speed, since fitting calls it hundreds of times, and written in the
// error-correction form, with lb = l + φb the level the step predicts:
//
//	additive:       e = y - lb - s,    l' = lb + αe,    b' = φb + αβe,    s' = s + γe
//	multiplicative: e = y - lb·s,      l' = lb + αe/s,  b' = φb + αβe/s,  s' = s + γe/lb
//
// which is the same recursion (TestHoltWintersSSE). The loop carries lb
// rather than l, since lb' = (lb + φ²b) + α(1+φβ)e/s: one product and one
// sum after e, where the recursion as written above chains five
// operations from one level to the next. Each step waits on the last, so
// that chain is what a step costs.
func (m *HoltWinters) sse(y []float64) float64 {
	b, pos := m.Slope, m.Pos
	a, beta, g, phi := m.Alpha, m.Beta, m.Gamma, m.Phi
	lb := m.Level + phi*b
	kl, kb, phi2 := a*(1+phi*beta), a*beta, phi*phi
	s := m.Season
	period := len(s)
	var total, e, r float64 // r: the error in level units (e, or e/s)
	if len(y) == 0 {
		return 0
	}
	if m.Multiplicative {
		for _, v := range y {
			sp := s[pos]
			e = v - lb*sp
			r = e / sp
			s[pos] = sp + g*e/lb
			lb, b = lb+phi2*b+kl*r, phi*b+kb*r
			if pos++; pos == period {
				pos = 0
			}
			total += e * e
		}
	} else if period == 1 {
		// Holt's method: the one season stays in a register rather than
		// round memory between steps.
		sp := s[0]
		for _, v := range y {
			e = v - sp - lb
			r = e
			sp += g * e
			lb, b = lb+phi2*b+kl*r, phi*b+kb*r
			total += e * e
		}
		s[0] = sp
	} else {
		for _, v := range y {
			sp := s[pos]
			e = v - sp - lb
			r = e
			s[pos] = sp + g*e
			lb, b = lb+phi2*b+kl*r, phi*b+kb*r
			if pos++; pos == period {
				pos = 0
			}
			total += e * e
		}
	}
	// lb is now l' + φb', with b' = b.
	m.Level, m.Slope, m.Pos = lb-phi*b, b, pos
	return total
}

// Observe implements Model.
func (m *HoltWinters) Observe(y float64) {
	if math.IsNaN(y) {
		var p [1]float64
		m.Predict(p[:])
		y = p[0]
	}
	s := m.Season[m.Pos]
	lb := m.Level + m.Phi*m.Slope
	var nl float64
	if m.Multiplicative {
		nl = m.Alpha*y/s + (1-m.Alpha)*lb
		m.Season[m.Pos] = m.Gamma*y/lb + (1-m.Gamma)*s
	} else {
		nl = m.Alpha*(y-s) + (1-m.Alpha)*lb
		m.Season[m.Pos] = m.Gamma*(y-lb) + (1-m.Gamma)*s
	}
	m.Slope = m.Beta*(nl-m.Level) + (1-m.Beta)*m.Phi*m.Slope
	m.Level = nl
	m.Pos = (m.Pos + 1) % len(m.Season)
}

// Predict implements Model.
func (m *HoltWinters) Predict(dst []float64) {
	damp, phiK := 0.0, 1.0
	for h := range dst {
		phiK *= m.Phi
		damp += phiK
		lb := m.Level + damp*m.Slope
		s := m.Season[(m.Pos+h)%len(m.Season)]
		if m.Multiplicative {
			dst[h] = lb * s
		} else {
			dst[h] = lb + s
		}
	}
}

func (m *HoltWinters) validate() error {
	if m.Period < 1 || len(m.Season) != m.Period || m.Pos < 0 || m.Pos >= m.Period {
		return fmt.Errorf("%w: Holt-Winters period %d with %d seasons at position %d", ErrBadState, m.Period, len(m.Season), m.Pos)
	}
	for _, v := range []float64{m.Alpha, m.Beta, m.Gamma, m.Phi} {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("%w: Holt-Winters parameter %v outside [0,1]", ErrBadState, v)
		}
	}
	return nil
}

// hwInitialStates estimates the states before the first observation from
// the first two seasons: the slope from the difference of their means, the
// level from the first season's mean moved back to step -1, and each
// season as the first season's detrended deviation (or ratio) from it,
// normalized to sum to 0 (or average 1).
func hwInitialStates(y []float64, cfg HoltWintersConfig) (level, slope float64, season []float64) {
	m := cfg.Period
	if m == 1 {
		if cfg.Trend {
			slope = (y[min(len(y)-1, 3)] - y[0]) / float64(min(len(y)-1, 3))
		}
		return y[0] - slope, slope, []float64{0}
	}
	mean1, mean2 := mean(y[:m]), mean(y[m:2*m])
	if cfg.Trend {
		slope = (mean2 - mean1) / float64(m)
	}
	center := float64(m-1) / 2
	level = mean1 - (center+1)*slope
	season = make([]float64, m)
	var sum float64
	for j := range season {
		base := mean1 + (float64(j)-center)*slope
		if cfg.Multiplicative {
			season[j] = y[j] / base
		} else {
			season[j] = y[j] - base
		}
		sum += season[j]
	}
	for j := range season {
		if cfg.Multiplicative {
			season[j] *= float64(m) / sum
		} else {
			season[j] -= sum / float64(m)
		}
	}
	return level, slope, season
}

// hwParams maps unbounded optimizer coordinates to bounded parameters with
// a logistic function, so Nelder-Mead searches an unconstrained space.
func hwParams(x []float64, cfg HoltWintersConfig) HoltWintersParams {
	p := HoltWintersParams{Phi: 1}
	p.Alpha, x = bounded(x[0], hwMinSmoothing, hwMaxSmoothing), x[1:]
	if cfg.Period > 1 {
		p.Gamma, x = bounded(x[0], hwMinSmoothing, hwMaxSmoothing), x[1:]
	}
	if cfg.Trend {
		p.Beta, x = bounded(x[0], hwMinSmoothing, hwMaxBeta), x[1:]
	}
	if cfg.Damped {
		p.Phi = bounded(x[0], hwMinPhi, hwMaxPhi)
	}
	return p
}

func hwUnbounded(p HoltWintersParams, cfg HoltWintersConfig) []float64 {
	x := []float64{unbounded(p.Alpha, hwMinSmoothing, hwMaxSmoothing)}
	if cfg.Period > 1 {
		x = append(x, unbounded(p.Gamma, hwMinSmoothing, hwMaxSmoothing))
	}
	if cfg.Trend {
		x = append(x, unbounded(p.Beta, hwMinSmoothing, hwMaxBeta))
	}
	if cfg.Damped {
		x = append(x, unbounded(p.Phi, hwMinPhi, hwMaxPhi))
	}
	return x
}

func bounded(x, lo, hi float64) float64 { return lo + (hi-lo)/(1+math.Exp(-x)) }

func unbounded(v, lo, hi float64) float64 {
	r := min(max((v-lo)/(hi-lo), 1e-6), 1-1e-6)
	return math.Log(r / (1 - r))
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
