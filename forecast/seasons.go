package forecast

import (
	"cmp"
	"math"
	"slices"

	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/floats"
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
	minSeasonACF   = 0.2 // an autocorrelation below this is no season
	maxSeasons     = 3
	periodogramTop = 8 // strongest periodogram peaks proposed as periods
	// minRankSmooth is the smoothing width from which a season the
	// autocorrelation misses is looked for in the ranks too: from
	// periods of 192 steps, where a flash crowd of a few hours spans many
	// steps. On coarser series (a day of hours: M4 Hourly) the ranks
	// accepted weekly cycles that forecast worse (MASE 0.801 against
	// 0.792).
	minRankSmooth = 4
)

// DetectSeasons finds the seasonal periods of y (no NaN) up to maxPeriod
// steps (0 means len(y)/2; a period needs two full cycles), shortest first,
// at most three.
//
// Candidates are the strongest peaks of the periodogram of the linearly
// detrended series (a peak must top its neighbours over two side lobes of
// the zero padding; its frequency is refined by a parabola), plus seven
// times each confirmed period (the weekly cycle over a daily one, which a
// periodogram shows mostly as side bands). Of candidates within 10% of each
// other only the strongest stays. Each is then confirmed, strongest first,
// by the classical decomposition test: remove the slower variation with a
// centred moving average one period long, remove the profile of every
// shorter season already confirmed (but its own harmonics: a half or a
// third of it, which it replaces), smooth and rank-transform what is left
// (denoise), and require its autocorrelation to reach 0.2 at a lag within
// 1% of the candidate (half a step for short periods), where it must be a
// local peak of the lightly smoothed autocorrelation. So a daily cycle is
// not mistaken for a weekly one, a smooth series is not mistaken for a
// two-step cycle, and neither Poisson noise at a few requests a minute nor
// flash crowds hide a daily cycle.
//
// natural lists calendar periods in steps (a day and a week, when the
// step is known). They are tested first, shortest first, and are never
// replaced by a multiple. A candidate within 10% of one is that period
// (tested there, and if that fails within 1% of it, where a peak more than
// a step off still counts as the calendar period: a noisy peak a few steps
// off a day is a day); and a candidate longer than a day that is not a
// week is no season, as on a calendar grid such a peak (33 hours, a sixth
// of a week, four days) is the echo of excursions or of the weekend's
// edges. Shorter seasons stay: a burst every two hours needs a shape of
// its own, finer than the day's harmonics draw it.
func DetectSeasons(y []float64, maxPeriod int, natural ...int) []Season {
	n := len(y)
	if maxPeriod <= 0 || maxPeriod > n/2 {
		maxPeriod = n / 2
	}
	if n < 8 || maxPeriod < 2 {
		return nil
	}
	nominals := candidatePeriods(y, maxPeriod, natural)
	if nominals == nil {
		return nil // constant after detrending
	}

	// Strongest candidates first. A candidate that is a half or a third of
	// a kept season is one of its harmonics, which the season's own shape
	// holds already; a candidate that a kept season is a half or a third
	// of replaces it when it passes.
	var kept []Season
	consider := func(nominal float64) {
		if len(natural) > 0 && nominal > 1.05*float64(slices.Min(natural)) &&
			!slices.ContainsFunc(natural, func(p int) bool { return math.Abs(float64(p)-nominal) <= 0.1*float64(p) }) {
			// On a calendar grid a season longer than a day is a week:
			// a peak elsewhere (33 hours, four days) is the echo of
			// excursions that do not repeat.
			return
		}
		if nominal < 2 || nominal > float64(maxPeriod)+0.5 {
			return
		}
		if slices.ContainsFunc(kept, func(k Season) bool {
			return math.Abs(nominal-float64(k.Period)) <= 0.1*float64(k.Period) || harmonicOf(nominal, float64(k.Period))
		}) {
			return
		}
		// A calendar period is never replaced: a candidate it is a half
		// or a third of is tested with its profile removed, like any
		// longer one.
		replaceable := func(k Season) bool {
			return !slices.Contains(natural, k.Period) && harmonicOf(float64(k.Period), nominal)
		}
		var shorter []Season
		for _, k := range kept {
			if float64(k.Period) < nominal && !replaceable(k) {
				shorter = append(shorter, k)
			}
		}
		if s, ok := confirmSeason(y, nominal, maxPeriod, shorter, natural); ok {
			kept = slices.DeleteFunc(kept, replaceable)
			kept = append(kept, s)
			slices.SortFunc(kept, func(a, b Season) int { return cmp.Compare(a.Period, b.Period) })
		}
	}
	// Calendar periods go first, shortest first: a multiple of a day
	// repeats as well as the day does, so it must be tested with the
	// day's profile removed, or two days could replace one.
	for _, p := range slices.Sorted(slices.Values(natural)) {
		consider(float64(p))
	}
	for _, p := range nominals {
		consider(p)
	}
	for _, s := range slices.Clone(kept) {
		consider(float64(7 * s.Period))
	}
	if len(kept) > maxSeasons {
		slices.SortFunc(kept, func(a, b Season) int { return cmp.Compare(b.ACF, a.ACF) })
		kept = kept[:maxSeasons]
		slices.SortFunc(kept, func(a, b Season) int { return cmp.Compare(a.Period, b.Period) })
	}
	return kept
}

// candidatePeriods are the periods worth confirming as seasons, strongest
// first: the top peaks of the detrended series' periodogram (padded to a
// power of two, each period refined between bins), then the natural
// periods no peak is near. It is nil when the detrended series is constant.
func candidatePeriods(y []float64, maxPeriod int, natural []int) []float64 {
	n := len(y)
	x := detrend(y)
	size := 1
	for size < 2*n {
		size *= 2
	}
	padded := make([]float64, size)
	copy(padded, x)
	coef := fourier.NewFFT(size).Coefficients(nil, padded)
	power := make([]float64, len(coef))
	var total float64
	for i, c := range coef {
		power[i] = real(c)*real(c) + imag(c)*imag(c)
		total += power[i]
	}
	if !(total > 0) {
		return nil
	}

	type peak struct {
		period float64
		power  float64
	}
	reach := max(1, 2*size/n)
	var peaks []peak
	for k := 2; k < len(power)-1; k++ {
		period := float64(size) / float64(k)
		if period < 2 || period > float64(maxPeriod)*1.05 {
			continue
		}
		top := true
		for j := max(1, k-reach); j <= min(len(power)-1, k+reach) && top; j++ {
			top = j == k || power[j] < power[k] || (power[j] == power[k] && j > k)
		}
		if top {
			peaks = append(peaks, peak{float64(size) / peakBin(power, k), power[k]})
		}
	}
	slices.SortFunc(peaks, func(a, b peak) int { return cmp.Compare(b.power, a.power) })
	if len(peaks) > periodogramTop {
		peaks = peaks[:periodogramTop]
	}
	// Calendar periods are candidates too, unless a peak is near them: a
	// strong trend can crowd them out of the top of the periodogram.
	var nominals []float64
	for _, p := range peaks {
		if !slices.ContainsFunc(nominals, func(q float64) bool { return math.Abs(p.period-q) <= 0.1*q }) {
			nominals = append(nominals, p.period)
		}
	}
	for _, p := range natural {
		if !slices.ContainsFunc(nominals, func(q float64) bool { return math.Abs(float64(p)-q) <= 0.1*q }) {
			nominals = append(nominals, float64(p))
		}
	}
	return nominals
}

// harmonicOf reports whether period a is a half or a third of period b
// (within 2%).
func harmonicOf(a, b float64) bool {
	for _, k := range []float64{2, 3} {
		if math.Abs(a*k-b) <= 0.02*b {
			return true
		}
	}
	return false
}

// confirmSeason applies the decomposition test of DetectSeasons to one
// candidate period: at the calendar period within 10% of it, if any, else
// at the lags within 1% of it.
func confirmSeason(y []float64, nominal float64, maxPeriod int, shorter []Season, natural []int) (Season, bool) {
	near := func(p float64) (lo, hi int) {
		r := math.Max(0.5, 0.01*p)
		return max(2, int(math.Ceil(p-r))), min(maxPeriod, int(math.Floor(p+r)))
	}
	for _, p := range natural {
		if math.Abs(float64(p)-nominal) > 0.1*float64(p) {
			continue
		}
		if p > maxPeriod {
			return Season{}, false
		}
		if s, ok := testSeason(y, p, p, shorter); ok {
			return s, true
		}
		// A peak within 1% of the calendar period is that period: the
		// few steps off are the noise of where the bursts fell (a day of
		// 1440 minutes was found as 1,421). A step off is kept as found,
		// as close as a coarse grid can tell.
		lo, hi := near(float64(p))
		s, ok := testSeason(y, max(2, min(lo, p-1)), max(hi, min(maxPeriod, p+1)), shorter)
		if ok && (s.Period < p-1 || s.Period > p+1) {
			s.Period = p
		}
		return s, ok
	}
	lo, hi := near(nominal)
	return testSeason(y, lo, hi, shorter)
}

// testSeason looks for a season at lags lo..hi.
func testSeason(y []float64, lo, hi int, shorter []Season) (Season, bool) {
	if lo > hi {
		return Season{}, false
	}
	z := removeSlower(y, (lo+hi)/2)
	for _, s := range shorter {
		removeProfile(z, s.Period)
	}
	w := max(1, hi/48)
	if len(z) <= hi+2*w {
		return Season{}, false
	}
	// The autocorrelation of the smoothed series, and if that shows no
	// season, of its ranks: a cycle of sharp bursts lives in its few top
	// values, which ranks would flatten, while ranks keep the cycle that
	// flash crowds (excursions that do not repeat) would swamp.
	smooth(z, w)
	if s, ok := peakAutocorrelation(z, lo, hi, w); ok || w < minRankSmooth {
		return s, ok
	}
	rank(z, max(1, w/2))
	return peakAutocorrelation(z, lo, hi, w)
}

// peakAutocorrelation finds the lag in lo..hi where z's autocorrelation
// is highest, and accepts it when it reaches minSeasonACF and is a peak
// of the autocorrelation averaged over w lags on either side.
func peakAutocorrelation(z []float64, lo, hi, w int) (Season, bool) {
	acf := autocorrelation(z, max(0, lo-2*w), hi+2*w)
	best := -1
	for lag := lo; lag <= hi; lag++ {
		if best < 0 || acf(lag) > acf(best) {
			best = lag
		}
	}
	if acf(best) < minSeasonACF || !smoothPeak(acf, best, w) {
		return Season{}, false
	}
	return Season{Period: best, ACF: acf(best)}, true
}

// smooth replaces z, in place, by its centred moving average over w
// steps, which takes out the noise faster than a cycle of about 48w steps
// (the Poisson counts of a low-volume series, which would otherwise hold
// the autocorrelation of a plain daily cycle under the threshold).
func smooth(z []float64, w int) {
	if w <= 1 {
		return
	}
	prefix := make([]float64, len(z)+1)
	for i, v := range z {
		prefix[i+1] = prefix[i] + v
	}
	for i := range z {
		lo, hi := max(0, i-w/2), min(len(z), i-w/2+w)
		z[i] = (prefix[hi] - prefix[lo]) / float64(hi-lo)
	}
}

// rank replaces each value of z, in place, by its mid-rank among a sample
// of every stride-th value: a rank transform, robust to excursions of any
// size, for the cost of sorting len(z)/stride values (z is smoothed over
// about 2*stride steps, so the sample misses little).
func rank(z []float64, stride int) {
	sample := make([]float64, 0, len(z)/stride+1)
	for i := 0; i < len(z); i += stride {
		sample = append(sample, z[i])
	}
	slices.Sort(sample)
	// below(v, strict, from) counts the sample values under v (strict)
	// or at most v, searching outwards from index from: z is smooth, so
	// its next value's place is near the last one's. z has no NaN.
	below := func(v float64, strict bool, from int) int {
		under := func(i int) bool { return sample[i] < v || !strict && sample[i] == v }
		lo, hi := from, from // the answer is in [lo, hi]
		for step := 1; lo > 0 && !under(lo-1); step *= 2 {
			hi, lo = lo-1, max(0, lo-step)
		}
		for step := 1; hi < len(sample) && under(hi); step *= 2 {
			lo, hi = hi+1, min(len(sample), hi+step)
		}
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if sample[mid] < v || !strict && sample[mid] == v {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	}
	last := 0
	for i, v := range z {
		lo := below(v, true, last)
		hi := lo
		if lo < len(sample) && sample[lo] == v {
			hi = below(v, false, lo) // ties share their mean rank
		}
		z[i] = float64(lo+hi) / 2
		last = lo
	}
}

// removeSlower returns y less its centred moving average over period
// points (a 2×period average for even periods, as in classical
// decomposition), dropping the ends the average does not cover.
func removeSlower(y []float64, period int) []float64 {
	prefix := make([]float64, len(y)+1)
	for i, v := range y {
		prefix[i+1] = prefix[i] + v
	}
	half := period / 2
	out := make([]float64, 0, max(0, len(y)-2*half))
	for t := half; t+half < len(y); t++ {
		var ma float64
		if period%2 == 1 {
			ma = (prefix[t+half+1] - prefix[t-half]) / float64(period)
		} else {
			// 2×period: half weight on the two end points.
			inner := prefix[t+half] - prefix[t-half+1]
			ma = (inner + 0.5*y[t-half] + 0.5*y[t+half]) / float64(period)
		}
		out = append(out, y[t]-ma)
	}
	return out
}

// removeProfile subtracts from z the mean of each phase of period.
func removeProfile(z []float64, period int) {
	sum := make([]float64, period)
	count := make([]float64, period)
	for t, v := range z {
		sum[t%period] += v
		count[t%period]++
	}
	for t := range z {
		z[t] -= sum[t%period] / count[t%period]
	}
}

// autocorrelation returns the autocorrelation function of z, computed for
// lags lo..hi: directly for a few lags, by Wiener-Khinchin (the inverse
// transform of the power spectrum) for many.
func autocorrelation(z []float64, lo, hi int) func(int) float64 {
	mu := mean(z)
	vals := make([]float64, hi-lo+1)
	if (hi-lo+1)*len(z) <= 1<<25 {
		centred := make([]float64, len(z))
		for i, v := range z {
			centred[i] = v - mu
		}
		if v0 := floats.Dot(centred, centred); v0 > 0 {
			for lag := lo; lag <= hi && lag < len(z); lag++ {
				vals[lag-lo] = floats.Dot(centred[lag:], centred[:len(z)-lag]) / v0
			}
		}
		return func(lag int) float64 { return vals[lag-lo] }
	}
	size := 1
	for size < 2*len(z) {
		size *= 2
	}
	padded := make([]float64, size)
	for i, v := range z {
		padded[i] = v - mu
	}
	fft := fourier.NewFFT(size)
	coef := fft.Coefficients(nil, padded)
	for i, c := range coef {
		coef[i] = complex(real(c)*real(c)+imag(c)*imag(c), 0)
	}
	acov := fft.Sequence(padded, coef)
	if acov[0] > 0 {
		for lag := lo; lag <= hi; lag++ {
			vals[lag-lo] = acov[lag] / acov[0]
		}
	}
	return func(lag int) float64 { return vals[lag-lo] }
}

// smoothPeak reports whether the autocorrelation averaged over w lags on
// each side of lag is at least its average around lag-w and lag+w. A lag on the flank of a
// longer cycle's peak (or the short lag of a merely smooth series) fails; a
// true period with a noise-tilted neighbour passes.
func smoothPeak(acf func(int) float64, lag, w int) bool {
	avg := func(c int) float64 {
		var s float64
		for l := c - w; l <= c+w; l++ {
			s += acf(l)
		}
		return s
	}
	mid := avg(lag)
	return mid >= avg(lag-w) && mid >= avg(lag+w)
}

// peakBin refines the frequency of the periodogram peak at bin k by
// fitting a parabola through it and its neighbours.
func peakBin(power []float64, k int) float64 {
	a, b, c := power[k-1], power[k], power[k+1]
	d := a - 2*b + c
	if d >= 0 {
		return float64(k)
	}
	return float64(k) + 0.5*(a-c)/d
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
