package anomaly

import (
	"math"
)

// minACF is the autocorrelation a lag needs to count as a season.
const minACF = 0.3

// DetectPeriod returns the seasonal period of y in steps, between 2 and
// maxPeriod, or 0 if y shows none: the lag of the highest local maximum of
// the autocorrelation of the linearly detrended series after it first
// drops below zero, if it reaches 0.3
// and the series holds at least two such periods. NaN and ±Inf values count
// as the mean.
func DetectPeriod(y []float64, maxPeriod int) int {
	n := len(y)
	maxPeriod = min(maxPeriod, n/2)
	if maxPeriod < 2 {
		return 0
	}
	// Detrend by least squares on finite values.
	var sx, sy, sxx, sxy, cnt float64
	for i, v := range y {
		if finite(v) {
			x := float64(i)
			sx += x
			sy += v
			sxx += x * x
			sxy += x * v
			cnt++
		}
	}
	if cnt < 4 {
		return 0
	}
	den := cnt*sxx - sx*sx
	slope := 0.0
	if den != 0 {
		slope = (cnt*sxy - sx*sy) / den
	}
	icpt := (sy - slope*sx) / cnt
	r := make([]float64, n)
	var c0 float64
	for i, v := range y {
		if finite(v) {
			r[i] = v - icpt - slope*float64(i)
		}
		c0 += r[i] * r[i]
	}
	if !(c0 > 0) || math.IsInf(c0, 0) {
		return 0
	}
	acf := make([]float64, maxPeriod+2)
	for lag := 1; lag < len(acf) && lag < n; lag++ {
		var s float64
		for i := lag; i < n; i++ {
			s += r[i] * r[i-lag]
		}
		acf[lag] = s / c0
	}
	// Search past the first dip below zero, so the smooth decay of the
	// first lags is not taken for a season.
	from := 2
	for from <= maxPeriod && acf[from] > 0 {
		from++
	}
	best, bestACF := 0, minACF
	for lag := from; lag <= maxPeriod; lag++ {
		a := acf[lag]
		if a >= acf[lag-1] && a > acf[lag+1] && a > bestACF {
			best, bestACF = lag, a
		}
	}
	return best
}

// seasonal is the light built-in predictor the detectors take residuals
// from: the median of the same phase in the last few seasons, or nothing
// (NaN) for a non-seasonal stream or before a season is known. It detects
// the period from the first WarmUp points when none is given.
type seasonal struct {
	period    int // > 0 known; 0 detecting; < 0 none
	seasons   int
	maxPeriod int
	warmUp    int
	warm      []float64
	hist      *ring
	shared    bool // hist is the caller's, who pushes every value to it
	scratch   []float64
	sorted    []float64
}

func newSeasonal(o Options) *seasonal {
	s := &seasonal{period: o.Period, seasons: o.Seasons, maxPeriod: o.MaxPeriod, warmUp: o.WarmUp}
	if s.period > 0 {
		s.hist = newRing(s.period * s.seasons)
	}
	return s
}

// newSharedSeasonal returns a seasonal that reads its history off hist, to
// which the caller pushes every value, NaN included, before observe: one
// history serves the predictor and the caller's other readers. The
// seasonal grows hist to a season's length when it needs more.
func newSharedSeasonal(o Options, hist *ring) *seasonal {
	s := &seasonal{period: o.Period, seasons: o.Seasons, maxPeriod: o.MaxPeriod, warmUp: o.WarmUp, hist: hist, shared: true}
	if s.period > 0 {
		hist.grow(s.period * s.seasons)
	}
	return s
}

// Period returns the period in use: > 0, or 0 for none (yet).
func (s *seasonal) Period() int { return max(s.period, 0) }

// predict returns the median of the same phase in the last seasons held,
// or NaN when there is none.
func (s *seasonal) predict() float64 {
	if s.period <= 0 {
		return math.NaN()
	}
	s.scratch = s.scratch[:0]
	for j := 1; j <= s.seasons; j++ {
		if v := s.hist.ago(j*s.period - 1); finite(v) {
			s.scratch = append(s.scratch, v)
		}
	}
	if len(s.scratch) == 0 {
		return math.NaN()
	}
	var m float64
	m, s.sorted = median(s.scratch, s.sorted)
	return m
}

// observe records the next value, NaN included so phases stay aligned.
func (s *seasonal) observe(y float64) {
	switch {
	case s.period > 0:
		if !s.shared {
			s.hist.push(y)
		}
	case s.period == 0:
		s.warm = append(s.warm, y)
		if len(s.warm) < s.warmUp {
			return
		}
		s.period = DetectPeriod(s.warm, s.maxPeriod)
		switch {
		case s.period == 0:
			s.period = -1
		case s.shared:
			// The warm-up is every value so far, as the history may
			// have held fewer.
			if s.hist.grow(s.period * s.seasons) {
				s.hist.reset()
				for _, v := range s.warm {
					s.hist.push(v)
				}
			}
		default:
			s.hist = newRing(s.period * s.seasons)
			for _, v := range s.warm {
				s.hist.push(v)
			}
		}
		s.warm = nil
	}
}
