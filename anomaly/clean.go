package anomaly

import (
	"fmt"
	"math"
	"slices"
)

// CleanOptions configures Clean.
type CleanOptions struct {
	// Period is the seasonal period in steps: 0 detects one up to
	// MaxPeriod, negative means none.
	Period int
	// MaxPeriod bounds a detected period. Default 2000.
	MaxPeriod int
	// Seasons is how many seasons on each side a point's seasonal estimate
	// looks at. Default 3.
	Seasons int
	// Threshold is the robust z-score of a residual beyond which a point is a
	// spike (or dip). Default 6.
	Threshold float64
	// Collapse flags runs of points at or below Collapse times their
	// seasonal estimate: an outage that reads as zero load. Default 0.1.
	Collapse float64
	// MinRun is the shortest run of collapsed points flagged. Default 5.
	MinRun int
}

// Validate reports whether every field is in range.
func (o *CleanOptions) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.MaxPeriod < 0 || o.Seasons < 0 || o.MinRun < 0:
		return fmt.Errorf("MaxPeriod %d, Seasons %d, MinRun %d: negative: %w", o.MaxPeriod, o.Seasons, o.MinRun, ErrOptions)
	case math.IsNaN(o.Threshold) || o.Threshold < 0:
		return fmt.Errorf("Threshold %v: %w", o.Threshold, ErrOptions)
	case math.IsNaN(o.Collapse) || o.Collapse < 0 || o.Collapse >= 1:
		return fmt.Errorf("Collapse %v not in [0, 1): %w", o.Collapse, ErrOptions)
	}
	return nil
}

func (o *CleanOptions) withDefaults() CleanOptions {
	var c CleanOptions
	if o != nil {
		c = *o
	}
	if c.MaxPeriod == 0 {
		c.MaxPeriod = 2000
	}
	if c.Seasons == 0 {
		c.Seasons = 3
	}
	if c.Threshold == 0 {
		c.Threshold = 6
	}
	if c.Collapse == 0 {
		c.Collapse = 0.1
	}
	if c.MinRun == 0 {
		c.MinRun = 5
	}
	return c
}

// nonSeasonalSpan is the half-width, in steps, of the neighbourhood whose
// median estimates a point of a non-seasonal series.
const nonSeasonalSpan = 30

// Clean prepares a history for model training. It flags
//
//   - scrape gaps: NaN and ±Inf values;
//   - outages and collapses: runs of at least MinRun points at or below
//     Collapse × their seasonal estimate (a server down reads as zero load);
//   - spikes and dips: points whose residual from their seasonal estimate is
//     beyond Threshold robust z-scores (1.4826 MAD of all residuals).
//
// The seasonal estimate of point i is the median of the same phase in the
// Seasons seasons on each side of it (i ± j·Period), or for a non-seasonal
// series the median of its 30 neighbours on each side. Flagged points are
// replaced by that estimate recomputed from unflagged points only, so an
// outage does not teach a model a false season; where no unflagged
// neighbour exists, by linear interpolation between the nearest unflagged
// points; in a series with none, by 0. cleaned has no NaN.
func Clean(y []float64, opts *CleanOptions) (cleaned []float64, flagged []bool, err error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	o := opts.withDefaults()
	n := len(y)
	period := o.Period
	if period == 0 {
		period = DetectPeriod(y, min(o.MaxPeriod, n/3))
	}
	flagged = make([]bool, n)
	for i, v := range y {
		flagged[i] = !finite(v)
	}
	exp := seasonalEstimate(nil, y, flagged, nil, period, o.Seasons)

	// Collapses: long runs far below the estimate, and too unlikely for
	// the series' own noise (see outageEvidence).
	need, measured := 0.0, false // found at the first run long enough to test
	for i := 0; i < n; {
		if !collapsed(y[i], exp[i], o.Collapse) {
			i++
			continue
		}
		j := i
		real, mass := 0, 0.0
		// A run goes on through gaps and through zeros whose estimate is
		// zero or unknown too.
		for j < n && (collapsed(y[j], exp[j], o.Collapse) || !finite(y[j]) || (y[j] <= 0 && !(exp[j] > 0))) {
			if finite(y[j]) {
				real++
				if finite(exp[j]) {
					mass += exp[j]
				}
			}
			j++
		}
		if real >= o.MinRun && !measured {
			need, measured = outageEvidence/collapseRate(o.Collapse)*dispersion(y, exp, o.Collapse), true
		}
		if real >= o.MinRun && mass >= need {
			for k := i; k < j; k++ {
				flagged[k] = true
			}
		}
		i = j
	}

	// Spikes and dips: large robust residuals among the rest.
	resid := make([]float64, 0, n)
	for i, v := range y {
		if !flagged[i] && finite(exp[i]) {
			resid = append(resid, v-exp[i])
		}
	}
	if len(resid) > 0 {
		slices.Sort(resid)
		med := sortedQuantile(resid, 0.5)
		scale := 1.4826 * sortedMAD(resid, med)
		if scale > 0 {
			for i, v := range y {
				if !flagged[i] && finite(exp[i]) && math.Abs(v-exp[i]-med) > o.Threshold*scale {
					flagged[i] = true
				}
			}
		}
	}

	// Replace flagged points from unflagged neighbours.
	exp = seasonalEstimate(exp, y, flagged, flagged, period, o.Seasons)
	cleaned = slices.Clone(y)
	for i := range cleaned {
		if flagged[i] {
			cleaned[i] = exp[i]
		}
	}
	interpolate(cleaned)
	return cleaned, flagged, nil
}

// outageEvidence is how unlikely a run of collapsed points must be, as
// -ln of its probability, for Clean to call it an outage rather than the
// noise of a low count: ln(10⁶), about one false outage in 10⁶ runs, a
// few a century of one-minute points.
var outageEvidence = math.Log(1e6)

// collapseRate is the Chernoff rate of a Poisson count falling to frac of
// its mean or below: P(N ≤ frac·λ) ≤ exp(-λ·collapseRate(frac)), which
// is 1 - frac + frac·ln(frac), and 1 at frac 0 (P(N = 0) = exp(-λ)).
func collapseRate(frac float64) float64 {
	if frac <= 0 {
		return 1
	}
	return 1 - frac + frac*math.Log(frac)
}

// dispersion is the variance of y around its estimate exp per unit of the
// estimate: 1 for counts with Poisson noise, 1/s for such counts divided
// by s (a per-second rate of per-minute counts), small for a smooth load.
// It is the median of (y - exp)²/exp over the points not collapsed to
// frac of their estimate or below, over the median of a chi-square with
// one degree of freedom (0.4549): the runs under test are left out, and
// the median keeps bursts from inflating it. 0 when no point has a
// positive estimate.
// A run of collapsed points with estimates summing to m then has a
// probability of at most exp(-collapseRate·m/dispersion) under such
// noise.
func dispersion(y, exp []float64, frac float64) float64 {
	var r []float64
	for i, v := range y {
		if finite(v) && finite(exp[i]) && exp[i] > 0 && !collapsed(v, exp[i], frac) {
			z := (v - exp[i]) / math.Sqrt(exp[i])
			r = append(r, z*z)
		}
	}
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	return sortedQuantile(r, 0.5) / 0.4549
}

// collapsed reports whether v is at or below frac × its estimate e.
func collapsed(v, e, frac float64) bool {
	return finite(v) && finite(e) && e > 0 && v <= frac*e
}

// seasonalEstimate writes into dst the median of the unflagged same-phase
// neighbours of each point (or of its nonSeasonalSpan neighbours on each
// side when period < 2), NaN where there are none. With only, it does so
// only where only is true and leaves the rest of dst as it was.
func seasonalEstimate(dst, y []float64, flagged, only []bool, period, seasons int) []float64 {
	n := len(y)
	dst = slices.Grow(dst[:0], n)[:n]
	step, reach := period, seasons
	if period < 2 {
		step, reach = 1, nonSeasonalSpan
	}
	var buf, sorted []float64
	for i := range y {
		if only != nil && !only[i] {
			continue
		}
		buf = buf[:0]
		for j := -reach; j <= reach; j++ {
			k := i + j*step
			if j == 0 || k < 0 || k >= n || flagged[k] || !finite(y[k]) {
				continue
			}
			buf = append(buf, y[k])
		}
		if len(buf) == 0 {
			dst[i] = math.NaN()
			continue
		}
		dst[i], sorted = median(buf, sorted)
	}
	return dst
}

// interpolate fills NaN values linearly between their finite neighbours,
// flat beyond the ends, and with 0 if none is finite.
func interpolate(y []float64) {
	prev := -1
	for i := 0; i <= len(y); i++ {
		if i < len(y) && !finite(y[i]) {
			continue
		}
		if i-prev > 1 {
			for k := prev + 1; k < i; k++ {
				switch {
				case prev < 0 && i == len(y):
					y[k] = 0
				case prev < 0:
					y[k] = y[i]
				case i == len(y):
					y[k] = y[prev]
				default:
					f := float64(k-prev) / float64(i-prev)
					y[k] = y[prev] + f*(y[i]-y[prev])
				}
			}
		}
		prev = i
	}
}

// levelShift returns the index where the last lasting level shift of y
// began, and false if there is none. It runs the CUSUM ChangePoint detector
// over y (NaN skipped) with opts (nil means defaults); pass a period in
// opts for seasonal data. Only tests call it: the service and the backtest
// read the shifts of their streaming detector (Default.Shifts).
func levelShift(y []float64, opts *Options) (int, bool, error) {
	if err := opts.Validate(); err != nil {
		return 0, false, err
	}
	d := newChangePoint(opts.withDefaults())
	for _, v := range y {
		d.Update(v)
	}
	s := d.Shifts()
	if len(s) == 0 {
		return 0, false, nil
	}
	return s[len(s)-1], true, nil
}
