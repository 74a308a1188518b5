package forecast

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/cmplx"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// HarmonicConfig is the shape of a harmonic regression.
type HarmonicConfig struct {
	// Periods are the seasons in steps, each modelled by Fourier terms.
	Periods []int `json:"periods"`
	// Orders[i] is the number of sine/cosine pairs for Periods[i]; 0 picks
	// a default (all harmonics up to 12 for periods up to 25 steps, else 20).
	Orders []int `json:"orders,omitempty"`
	// Trend adds a straight-line trend to the regression.
	Trend bool `json:"trend"`
	// Log fits log(1+y) (multiplicative seasons on positive loads).
	Log bool `json:"log"`
	// MaxAR bounds the order of the autoregression on the residuals that
	// corrects the short-memory error; the order is chosen by AIC.
	MaxAR int `json:"max_ar"`
	// Smooth replaces the fixed intercept and trend by a damped-trend
	// exponential smoothing of the seasonally adjusted series, so the level
	// follows drifts and shifts instead of reverting to the mean of the
	// whole history (the idea of MSTL + ETS).
	Smooth bool `json:"smooth"`
	// Horizon, when Smooth, is how many steps ahead the smoothed level was
	// chosen for (Options.Horizon). Beyond it, its departure from the
	// seasonally adjusted series' recent mean (Anchor) fades with
	// a half-life of Horizon steps: nothing scored the level that far,
	// and the last minutes' level held for a week carries whatever the
	// seasons missed at the origin (a weekend's edge) into every day of
	// it. 0 (a model saved before it existed) holds the level.
	Horizon int `json:"horizon,omitempty"`
}

// Harmonic is a multi-seasonal harmonic regression: an intercept, an
// optional linear trend and Fourier terms for every season, fitted by least
// squares, plus an autoregression on the residuals for the short-memory
// correction. It handles long seasons (a week of one-minute steps) with a
// handful of coefficients where Holt-Winters would need 10,080 states.
type Harmonic struct {
	HarmonicConfig
	// Coef are the regression coefficients: intercept, slope (if Trend),
	// then sin and cos of each harmonic k of each period.
	Coef []float64 `json:"coef"`
	// T is the time index of the next step, counted from the first fitted
	// point; TrendScale turns it into the trend regressor.
	T          int     `json:"t"`
	TrendScale float64 `json:"trend_scale"`
	// AR holds the residual autoregression coefficients (lag 1 first) and
	// Resid the last len(AR) residuals, most recent last.
	AR    []float64 `json:"ar"`
	Resid []float64 `json:"resid"`
	// Level is the smoother of the seasonally adjusted series when Smooth.
	Level *HoltWinters `json:"level,omitempty"`
	// Anchor is the seasonally adjusted series' recent mean that the level
	// fades to beyond Horizon: over the longest season at fit, then an
	// exponential average with that span as points stream in.
	Anchor float64 `json:"anchor,omitempty"`

	// shared[j][k-1] is whether harmonic k of Periods[j] has the
	// frequency of a harmonic of an earlier period, which carries it
	// instead; built on first use (sharedHarmonics).
	shared [][]bool

	// cache holds the regression part for times cacheStart onwards, so
	// that forecasting from consecutive origins (cross-validation, a live
	// series) does not recompute the Fourier terms every time.
	cache      []float64
	cacheStart int
}

var _ Model = (*Harmonic)(nil)

// defaultOrder is the number of Fourier pairs for a period when none is
// given: every harmonic for short periods (hourly data's daily season is
// then exact), otherwise 20: enough for a weekly profile to show a
// weekend's edges (a week of hourly steps at 20 harmonics resolves about
// eight hours; 10 measured worse on M4 Hourly, 0.800 against 0.792 MASE).
func defaultOrder(period, cap int) int {
	full := (period - 1) / 2
	k := 20
	if period <= 25 {
		k = full
	}
	if cap > 0 {
		k = min(k, cap)
	}
	return max(1, min(k, full))
}

// FitHarmonic fits a harmonic regression to y (no NaN).
func FitHarmonic(y []float64, cfg HarmonicConfig) (*Harmonic, error) {
	cfg.Periods = append([]int(nil), cfg.Periods...)
	orders := make([]int, len(cfg.Periods))
	for i, p := range cfg.Periods {
		if p < 2 {
			return nil, fmt.Errorf("%w: harmonic period %d is shorter than 2 steps", ErrBadOptions, p)
		}
		if i < len(cfg.Orders) && cfg.Orders[i] > 0 {
			orders[i] = min(cfg.Orders[i], max(1, (p-1)/2))
		} else {
			orders[i] = defaultOrder(p, 0)
		}
	}
	cfg.Orders = orders
	m := &Harmonic{HarmonicConfig: cfg, TrendScale: 1 / float64(max(1, len(y)))}
	p := m.numCoef()
	if len(y) < 2*p+cfg.MaxAR+2 {
		return nil, fmt.Errorf("%w: harmonic regression with %d coefficients needs %d points, have %d", ErrTooShort, p, 2*p+cfg.MaxAR+2, len(y))
	}
	z := make([]float64, len(y))
	for i, v := range y {
		z[i] = m.transform(v)
	}
	// A period is at most half the history when Fit asks (two cycles);
	// FitHarmonic's own callers may give a longer one, whose folds and
	// profiles (a value a phase) would outgrow the series: those take the
	// regressors point by point.
	byPhase := len(cfg.Periods) == 0 || slices.Max(cfg.Periods) <= len(z)
	var coef []float64
	var err error
	if cfg.Trend || !byPhase {
		coef, err = leastSquares(z, p, m.features)
	} else {
		coef, err = solveNormal(m.gram(len(z)), m.folded(z))
	}
	if err != nil {
		return nil, fmt.Errorf("harmonic least squares: %w", err)
	}
	m.Coef = coef
	// The regression's seasons at each phase, then the residuals from
	// them: the Fourier terms are computed once a phase, not once a point.
	resid := make([]float64, len(z))
	if byPhase {
		profiles := m.profiles()
		for t := range z {
			resid[t] = z[t] - seasonalAt(profiles, m.Periods, t)
		}
	} else {
		row := make([]float64, p)
		for t := range z {
			resid[t] = z[t] - m.seasonal(row, t)
		}
	}
	if cfg.Smooth {
		// The smoother takes over intercept and trend: it sees the series
		// less its seasons and carries the level from here on.
		level, err := FitHoltWinters(resid, HoltWintersConfig{Period: 1, Trend: true, Damped: true})
		if err != nil {
			return nil, fmt.Errorf("harmonic level smoother: %w", err)
		}
		m.Level = level
		recent := resid[max(0, len(resid)-m.anchorSpan()):]
		m.Anchor = floats.Sum(recent) / float64(len(recent))
		m.T = len(z)
		return m, nil
	}
	for t := range resid {
		resid[t] -= m.Coef[0]
		if cfg.Trend {
			resid[t] -= m.Coef[1] * float64(t) * m.TrendScale
		}
	}
	m.AR = fitAR(resid, cfg.MaxAR)
	m.Resid = append([]float64(nil), resid[len(resid)-len(m.AR):]...)
	m.T = len(z)
	return m, nil
}

// anchorSpan is the span of Anchor's mean: the longest season.
func (m *Harmonic) anchorSpan() int {
	if len(m.Periods) == 0 {
		return 1
	}
	return slices.Max(m.Periods)
}

func (m *Harmonic) numCoef() int {
	p := 1
	if m.Trend {
		p++
	}
	for j, shared := range m.sharedHarmonics() {
		p += 2 * (m.Orders[j] - count(shared))
	}
	return p
}

// sharedHarmonics marks the harmonics whose frequency an earlier period's
// harmonics already include: with a day and a week, weekly harmonics 7 and
// 14 are daily harmonics 1 and 2. Regressors of the same frequency are
// exactly collinear (the fit would carry huge cancelling coefficients), so
// only the earlier period's are kept.
func (m *Harmonic) sharedHarmonics() [][]bool {
	if len(m.shared) == len(m.Periods) || len(m.Orders) != len(m.Periods) {
		return m.shared
	}
	m.shared = make([][]bool, len(m.Periods))
	for j, pj := range m.Periods {
		m.shared[j] = make([]bool, m.Orders[j])
		for k := 1; k <= m.Orders[j]; k++ {
			// Harmonic k of pj has the frequency k/pj, which harmonic
			// k*pi/pj of pi has when that is a whole number.
			for i, pi := range m.Periods[:j] {
				if k*pi%pj == 0 && k*pi/pj <= m.Orders[i] {
					m.shared[j][k-1] = true
				}
			}
		}
	}
	return m.shared
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// features writes the regressors of time t into row.
func (m *Harmonic) features(row []float64, t int) {
	row[0] = 1
	i := 1
	if m.Trend {
		row[1] = float64(t) * m.TrendScale
		i = 2
	}
	for j := range m.Periods {
		i += m.terms(row[i:], j, t)
	}
}

// terms writes the sine and cosine of each harmonic the regression keeps
// of Periods[j] at time t into row, and returns how many it wrote.
func (m *Harmonic) terms(row []float64, j, t int) int {
	period := m.Periods[j]
	shared := m.sharedHarmonics()[j]
	// Harmonic k by rotating harmonic 1, which is cheaper than Sincos per
	// term and exact to rounding for these orders.
	s1, c1 := math.Sincos(2 * math.Pi * float64(t%period) / float64(period))
	s, c := s1, c1
	i := 0
	for k := range m.Orders[j] {
		if !shared[k] {
			row[i], row[i+1] = s, c
			i += 2
		}
		s, c = s*c1+c*s1, c*c1-s*s1
	}
	return i
}

// folded returns X'z for the regressors without a trend: an intercept,
// whose column sums z, and each period's Fourier terms, which repeat every
// period, so their products with z are those with z folded onto one
// period (the sum of its points at each phase). It costs a pass over z
// and the terms of each phase once, rather than every term of every point.
func (m *Harmonic) folded(z []float64) []float64 {
	xtz := make([]float64, 1, m.numCoef())
	for _, v := range z {
		xtz[0] += v
	}
	for j, period := range m.Periods {
		fold := make([]float64, period)
		for t, v := range z {
			fold[t%period] += v
		}
		row := make([]float64, 2*m.Orders[j])
		sums := make([]float64, m.terms(row, j, 0))
		for phase, v := range fold {
			m.terms(row, j, phase)
			for i := range sums {
				sums[i] += v * row[i]
			}
		}
		xtz = append(xtz, sums...)
	}
	return xtz
}

// profiles returns the regression's Fourier part of each period at each
// of its phases: seasonalAt sums them at a time.
func (m *Harmonic) profiles() [][]float64 {
	out := make([][]float64, len(m.Periods))
	i := 1
	if m.Trend {
		i = 2
	}
	for j, period := range m.Periods {
		row := make([]float64, 2*m.Orders[j])
		out[j] = make([]float64, period)
		var width int
		for phase := range period {
			width = m.terms(row, j, phase)
			out[j][phase] = floats.Dot(m.Coef[i:i+width], row[:width])
		}
		i += width
	}
	return out
}

// seasonalAt is the regression's Fourier part at time t, from profiles.
func seasonalAt(profiles [][]float64, periods []int, t int) float64 {
	var v float64
	for j, p := range profiles {
		v += p[t%periods[j]]
	}
	return v
}

func (m *Harmonic) deterministic(row []float64, t int) float64 {
	m.features(row, t)
	var v float64
	for i, c := range m.Coef {
		v += c * row[i]
	}
	return v
}

// regression returns the regression part (the seasonal part alone when
// Smooth) for times T..T+h-1, from the cache when it covers them.
func (m *Harmonic) regression(h int) []float64 {
	if m.T < m.cacheStart || m.T+h > m.cacheStart+len(m.cache) || m.cache == nil {
		m.cacheStart = m.T
		m.cache = m.cache[:0]
		row := make([]float64, len(m.Coef))
		for t := m.T; t < m.T+4*h; t++ {
			if m.Smooth {
				m.cache = append(m.cache, m.seasonal(row, t))
			} else {
				m.cache = append(m.cache, m.deterministic(row, t))
			}
		}
	}
	return m.cache[m.T-m.cacheStart : m.T-m.cacheStart+h]
}

// seasonal is the Fourier part alone at time t.
func (m *Harmonic) seasonal(row []float64, t int) float64 {
	m.features(row, t)
	skip := 1
	if m.Trend {
		skip = 2
	}
	var v float64
	for i := skip; i < len(m.Coef); i++ {
		v += m.Coef[i] * row[i]
	}
	return v
}

func (m *Harmonic) transform(y float64) float64 {
	if m.Log {
		return math.Log1p(max(y, 0))
	}
	return y
}

func (m *Harmonic) inverse(z float64) float64 {
	if m.Log {
		return math.Expm1(min(z, 700))
	}
	return z
}

// Observe implements Model.
func (m *Harmonic) Observe(y float64) {
	reg := m.regression(1)[0]
	if m.Level != nil {
		adjusted := math.NaN()
		if !math.IsNaN(y) {
			adjusted = m.transform(y) - reg
		}
		m.Level.Observe(adjusted)
		if !math.IsNaN(adjusted) {
			m.Anchor += (adjusted - m.Anchor) / float64(m.anchorSpan())
		}
		m.T++
		return
	}
	r := arNext(m.AR, m.Resid)
	if !math.IsNaN(y) {
		r = m.transform(y) - reg
	}
	if len(m.Resid) > 0 {
		copy(m.Resid, m.Resid[1:])
		m.Resid[len(m.Resid)-1] = r
	}
	m.T++
}

// Predict implements Model.
func (m *Harmonic) Predict(dst []float64) {
	reg := m.regression(len(dst))
	if m.Level != nil {
		m.Level.Predict(dst)
		fade, kept := 1.0, 1.0
		if m.Horizon > 0 {
			fade = math.Pow(0.5, 1/float64(m.Horizon))
		}
		for h := range dst {
			if m.Horizon > 0 && h >= m.Horizon {
				kept *= fade
				dst[h] = m.Anchor + (dst[h]-m.Anchor)*kept
			}
			dst[h] = m.inverse(dst[h] + reg[h])
		}
		return
	}
	resid := append(make([]float64, 0, len(m.Resid)+len(dst)), m.Resid...)
	for h := range dst {
		r := arNext(m.AR, resid[len(resid)-len(m.AR):])
		resid = append(resid, r)
		dst[h] = m.inverse(reg[h] + r)
	}
}

func (m *Harmonic) validate() error {
	if m.Horizon < 0 || math.IsNaN(m.Anchor) || math.IsInf(m.Anchor, 0) {
		return fmt.Errorf("%w: harmonic level horizon %d, anchor %v", ErrBadState, m.Horizon, m.Anchor)
	}
	if len(m.Orders) != len(m.Periods) {
		return fmt.Errorf("%w: harmonic model with %d periods and %d orders", ErrBadState, len(m.Periods), len(m.Orders))
	}
	for j, p := range m.Periods {
		if p < 2 || m.Orders[j] < 1 || m.Orders[j] > max(1, (p-1)/2) {
			return fmt.Errorf("%w: harmonic period %d with order %d", ErrBadState, p, m.Orders[j])
		}
	}
	if len(m.Coef) != m.numCoef() || len(m.Resid) != len(m.AR) {
		return fmt.Errorf("%w: harmonic model with %d coefficients (want %d), %d AR terms and %d residuals",
			ErrBadState, len(m.Coef), m.numCoef(), len(m.AR), len(m.Resid))
	}
	if m.Smooth != (m.Level != nil) {
		return fmt.Errorf("%w: harmonic smoothing %v without matching level state", ErrBadState, m.Smooth)
	}
	if m.Level != nil {
		return m.Level.validate()
	}
	return nil
}

// arNext is the one-step prediction of an AR process with coefficients ar
// (lag 1 first) given the recent values (most recent last).
func arNext(ar, recent []float64) float64 {
	var v float64
	for i, a := range ar {
		v += a * recent[len(recent)-1-i]
	}
	return v
}

// fitAR fits an autoregression of order 0..maxOrder to x by Yule-Walker
// (Levinson-Durbin) and returns the coefficients of the order with the
// smallest AIC.
func fitAR(x []float64, maxOrder int) []float64 {
	n := len(x)
	maxOrder = min(maxOrder, n/4)
	if maxOrder < 1 {
		return nil
	}
	mu := mean(x)
	acov := make([]float64, maxOrder+1)
	for lag := range acov {
		var s float64
		for t := lag; t < n; t++ {
			s += (x[t] - mu) * (x[t-lag] - mu)
		}
		acov[lag] = s / float64(n)
	}
	if !(acov[0] > 0) {
		return nil
	}
	best := []float64(nil)
	bestAIC := float64(n) * math.Log(acov[0])
	phi := make([]float64, 0, maxOrder)
	v := acov[0]
	for k := 1; k <= maxOrder; k++ {
		num := acov[k]
		for j, p := range phi {
			num -= p * acov[k-1-j]
		}
		refl := num / v
		next := make([]float64, k)
		for j := range phi {
			next[j] = phi[j] - refl*phi[k-2-j]
		}
		next[k-1] = refl
		phi = next
		v *= 1 - refl*refl
		if !(v > 0) {
			break
		}
		if aic := float64(n)*math.Log(v) + 2*float64(k); aic < bestAIC {
			best, bestAIC = append([]float64(nil), phi...), aic
		}
	}
	return best
}

// leastSquaresBlock is how many rows of regressors leastSquares holds at
// once.
const leastSquaresBlock = 256

// leastSquares solves min |X c - z|, where row t of X is what features
// writes for time t, through the normal equations: X'X and X'z are summed
// over blocks of rows, so X (n×p: 648 bytes a point for a daily and a
// weekly season) is never held whole. Without a trend, FitHarmonic has
// both in closed form or from one pass (gram, folded) and calls
// solveNormal itself. The regressors (an intercept, a scaled trend and
// Fourier pairs of distinct frequencies: sharedHarmonics drops the
// repeats) are well conditioned. X'X is factorized by Cholesky; when it
// is not positive definite (a series too short to tell two regressors
// apart) the solution is the minimum-norm one, from its eigendecomposition
// with the directions below a 1e-12 relative eigenvalue dropped; collinear
// columns stay collinear in the future, so it forecasts the same as any
// other solution.
func leastSquares(z []float64, p int, features func(row []float64, t int)) ([]float64, error) {
	n := len(z)
	block := mat.NewDense(min(n, leastSquaresBlock), p, nil)
	xtx := mat.NewSymDense(p, nil)
	xtz := mat.NewVecDense(p, nil)
	var part mat.VecDense
	for start := 0; start < n; start += leastSquaresBlock {
		rows := min(leastSquaresBlock, n-start)
		x := block.Slice(0, rows, 0, p).(*mat.Dense)
		for i := range rows {
			features(x.RawRowView(i), start+i)
		}
		xtx.SymRankK(xtx, 1, x.T())
		part.MulVec(x.T(), mat.NewVecDense(rows, z[start:start+rows]))
		xtz.AddVec(xtz, &part)
	}
	return solveNormal(xtx, xtz.RawVector().Data)
}

// solveNormal solves the normal equations X'X c = X'z (see leastSquares).
func solveNormal(xtx *mat.SymDense, xtzData []float64) ([]float64, error) {
	p := xtx.SymmetricDim()
	xtz := mat.NewVecDense(p, xtzData)
	var coef mat.VecDense
	var ch mat.Cholesky
	if ch.Factorize(xtx) {
		if err := ch.SolveVecTo(&coef, xtz); err == nil {
			return coef.RawVector().Data, nil
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(xtx, true) {
		return nil, errors.New("eigendecomposition of the normal equations did not converge")
	}
	values := eig.Values(nil)
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	largest := slices.Max(values)
	if !(largest > 0) {
		return nil, errors.New("no regressor varies")
	}
	out := make([]float64, p)
	for j, v := range values {
		if !(v > 1e-12*largest) {
			continue
		}
		u := vectors.ColView(j)
		w := mat.Dot(u, xtz) / v
		for i := range out {
			out[i] += w * u.AtVec(i)
		}
	}
	return out, nil
}

// gram returns X'X for the regressors of times 0..n-1 without a trend (an
// intercept and Fourier pairs), in closed form: each entry is a sum of
// cosines or sines of a whole-step frequency over the n steps, a
// geometric series (see harmonicSum). It costs p² sums instead of the n×p²
// products of forming X'X from the rows, which was the most of a harmonic
// fit (a day and a week of minutes: 77 regressors over 20,160 points),
// and agrees with it to rounding (TestHarmonicGram).
func (m *Harmonic) gram(n int) *mat.SymDense {
	// A regressor is the intercept (k = 0) or the sine or cosine of
	// harmonic k of a period: frequency k/period cycles a step.
	type column struct {
		k, period int64
		sine      bool
	}
	cols := []column{{period: 1}}
	shared := m.sharedHarmonics()
	for j, period := range m.Periods {
		for k := range m.Orders[j] {
			if !shared[j][k] {
				cols = append(cols, column{k: int64(k + 1), period: int64(period), sine: true}, column{k: int64(k + 1), period: int64(period)})
			}
		}
	}
	g := mat.NewSymDense(len(cols), nil)
	for i, a := range cols {
		for j := i; j < len(cols); j++ {
			b := cols[j]
			// Frequencies a±b as whole numbers of cycles over q steps.
			q := a.period * b.period
			sum := harmonicSum(a.k*b.period+b.k*a.period, q, n)
			diff := harmonicSum(a.k*b.period-b.k*a.period, q, n)
			var v float64
			switch {
			case a.k == 0 && b.k == 0:
				v = float64(n)
			case a.k == 0 && b.sine:
				v = imag(sum)
			case a.k == 0:
				v = real(sum)
			case a.sine && b.sine: // sin a sin b = (cos(a-b) - cos(a+b))/2
				v = (real(diff) - real(sum)) / 2
			case !a.sine && !b.sine: // cos a cos b = (cos(a-b) + cos(a+b))/2
				v = (real(diff) + real(sum)) / 2
			case a.sine: // sin a cos b = (sin(a+b) + sin(a-b))/2
				v = (imag(sum) + imag(diff)) / 2
			default: // cos a sin b = (sin(a+b) - sin(a-b))/2
				v = (imag(sum) - imag(diff)) / 2
			}
			g.SetSym(i, j, v)
		}
	}
	return g
}

// harmonicSum is the sum over t = 0..n-1 of exp(2πi·m·t/q), a geometric
// series: n when m/q is a whole number of cycles, else
// exp(iπm(n-1)/q)·sin(πmn/q)/sin(πm/q). Every angle is reduced modulo a
// full turn in whole numbers before it becomes a float, so a long series
// loses no precision to the size of m·n.
func harmonicSum(m, q int64, n int) complex128 {
	if m < 0 {
		return cmplx.Conj(harmonicSum(-m, q, n))
	}
	if m%q == 0 {
		return complex(float64(n), 0)
	}
	// angle(a) is πa/q, a taken modulo 2q: a whole number of turns less.
	turn := uint64(2 * q)
	angle := func(a, b uint64) float64 {
		hi, lo := bits.Mul64(a%turn, b%turn)
		return math.Pi * float64(bits.Rem64(hi, lo, turn)) / float64(q)
	}
	um, un := uint64(m), uint64(n)
	ratio := math.Sin(angle(um, un)) / math.Sin(angle(um, 1))
	s, c := math.Sincos(angle(um, un-1))
	return complex(c*ratio, s*ratio)
}
