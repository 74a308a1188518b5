package forecast

import (
	"cmp"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Season is a seasonal period found in a series.
type Season struct {
	// Period is the length of one cycle in steps.
	Period int `json:"period"`
	// ACF is the series' autocorrelation at that lag (after removing a
	// linear trend): how strongly one cycle repeats the one before.
	ACF float64 `json:"acf"`
}

// Season detection thresholds.
const (
	minSeasonACF   = 0.2  // an autocorrelation below this is no season
	multipleMargin = 0.02 // a multiple of a season must repeat better than it
	maxSeasons     = 3
	periodogramTop = 8 // strongest periodogram peaks proposed as periods
)

// DetectSeasons finds the seasonal periods of y (no NaN) up to maxPeriod
// steps (0 means len(y)/2; a period needs two full cycles). Candidates are
// the strongest peaks of the periodogram of the linearly detrended series,
// plus seven times each confirmed period (the weekly cycle over a daily
// one, which shows in a periodogram mostly as sidebands). A candidate is
// confirmed when the autocorrelation has a local maximum of at least 0.2
// within 5% of it; the lag of that maximum is the period. A period that is
// a multiple of a shorter confirmed one is kept only if it repeats better
// (higher autocorrelation) than the shorter one. At most three seasons are
// returned, shortest first.
func DetectSeasons(y []float64, maxPeriod int) []Season {
	n := len(y)
	if maxPeriod <= 0 || maxPeriod > n/2 {
		maxPeriod = n / 2
	}
	if n < 8 || maxPeriod < 2 {
		return nil
	}
	x := detrend(y)
	size := 1
	for size < 2*n {
		size *= 2
	}
	padded := make([]float64, size)
	copy(padded, x)
	fft := fourier.NewFFT(size)
	coef := fft.Coefficients(nil, padded)
	power := make([]float64, len(coef))
	for i, c := range coef {
		power[i] = real(c)*real(c) + imag(c)*imag(c)
	}
	// Autocorrelation by Wiener-Khinchin: the inverse transform of power.
	spec := make([]complex128, len(coef))
	for i, p := range power {
		spec[i] = complex(p, 0)
	}
	acov := fft.Sequence(nil, spec)
	if !(acov[0] > 0) {
		return nil // constant after detrending
	}
	acf := make([]float64, maxPeriod+2)
	for lag := range acf {
		if lag < n {
			acf[lag] = acov[lag] / acov[0]
		}
	}

	// Periodogram peaks, strongest first. Frequency bin k has period size/k.
	type peak struct {
		k     int
		power float64
	}
	var peaks []peak
	for k := 2; k < len(power)-1; k++ {
		period := float64(size) / float64(k)
		if period < 2 || period > float64(maxPeriod)*1.05 {
			continue
		}
		if power[k] > power[k-1] && power[k] >= power[k+1] {
			peaks = append(peaks, peak{k, power[k]})
		}
	}
	slices.SortFunc(peaks, func(a, b peak) int { return cmp.Compare(b.power, a.power) })
	if len(peaks) > periodogramTop {
		peaks = peaks[:periodogramTop]
	}

	confirm := func(nominal float64) (Season, bool) {
		lo := max(2, int(math.Floor(nominal*0.95)))
		hi := min(maxPeriod, int(math.Ceil(nominal*1.05)))
		best := -1
		for lag := lo; lag <= hi; lag++ {
			if acf[lag] >= acf[lag-1] && acf[lag] >= acf[lag+1] && (best < 0 || acf[lag] > acf[best]) {
				best = lag
			}
		}
		if best < 0 || acf[best] < minSeasonACF {
			return Season{}, false
		}
		return Season{Period: best, ACF: acf[best]}, true
	}
	found := map[int]Season{}
	for _, p := range peaks {
		if s, ok := confirm(float64(size) / float64(p.k)); ok {
			found[s.Period] = s
		}
	}
	for _, s := range slices.Collect(maps.Values(found)) {
		if w, ok := confirm(float64(7 * s.Period)); ok {
			found[w.Period] = w
		}
	}
	candidates := slices.Collect(maps.Values(found))
	slices.SortFunc(candidates, func(a, b Season) int { return cmp.Compare(a.Period, b.Period) })

	var kept []Season
	for _, c := range candidates {
		ok := true
		for _, k := range kept {
			if isMultiple(c.Period, k.Period) && c.ACF <= k.ACF+multipleMargin {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	if len(kept) > maxSeasons {
		slices.SortFunc(kept, func(a, b Season) int { return cmp.Compare(b.ACF, a.ACF) })
		kept = kept[:maxSeasons]
		slices.SortFunc(kept, func(a, b Season) int { return cmp.Compare(a.Period, b.Period) })
	}
	return kept
}

// isMultiple reports whether p is (within one step per cycle) a whole
// multiple of q > 0.
func isMultiple(p, q int) bool {
	m := int(math.Round(float64(p) / float64(q)))
	return m >= 2 && abs(p-m*q) <= m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// detrend returns y minus its least-squares straight line.
func detrend(y []float64) []float64 {
	n := float64(len(y))
	var sy, sty float64
	for t, v := range y {
		sy += v
		sty += float64(t) * v
	}
	tm := (n - 1) / 2
	stt := n * (n*n - 1) / 12 // sum of (t - tm)^2
	slope := (sty - tm*sy) / stt
	mean := sy / n
	out := make([]float64, len(y))
	for t, v := range y {
		out[t] = v - mean - slope*(float64(t)-tm)
	}
	return out
}

// primarySeason picks the season that single-season models use: the one
// that repeats best among those with at least three cycles in n points,
// else the shortest.
func primarySeason(seasons []Season, n int) int {
	best := 0
	bestACF := math.Inf(-1)
	for _, s := range seasons {
		if 3*s.Period <= n && s.ACF > bestACF {
			best, bestACF = s.Period, s.ACF
		}
	}
	if best == 0 && len(seasons) > 0 {
		best = seasons[0].Period
	}
	return best
}
