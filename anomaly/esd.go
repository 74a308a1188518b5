package anomaly

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// SeasonalESD is the streaming form of Twitter's seasonal hybrid ESD test
// (Hochenbaum, Vallis and Kejariwal 2017) over a bounded trailing window:
// each point's residual from the seasonal predictor is tested against the
// residuals of the trailing Window points with the ESD statistic
// R = |r - median| / (1.4826 MAD) and its Student-t critical value for a
// window of n points, Bonferroni-corrected for the n points an ESD pass
// tests. The score is -log10 of that corrected p-value, over 10, capped at 1.
type SeasonalESD struct {
	opts      Options
	season    *seasonal
	residuals *rolling
	seen      int
}

var _ Detector = (*SeasonalESD)(nil)

// NewSeasonalESD returns a streaming seasonal hybrid ESD detector; opts may
// be nil.
func NewSeasonalESD(opts *Options) (*SeasonalESD, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	return &SeasonalESD{opts: o, season: newSeasonal(o), residuals: newRolling(o.Window)}, nil
}

// Update scores y; see Detector.
func (d *SeasonalESD) Update(y float64) float64 {
	y = held(y)
	pred := d.season.predict()
	d.season.observe(y)
	if !finite(y) {
		return 0
	}
	r := y
	if finite(pred) {
		r = y - pred
	}
	d.seen++
	score := 0.0
	if d.seen > d.opts.MinHistory {
		n := d.residuals.len() + 1
		R := math.Abs(robustZ(d.residuals, r))
		score = evidenceScore(esdEvidence(R, n))
	}
	d.residuals.push(r)
	return score
}

// esdEvidence returns -log10 of the Bonferroni-corrected p-value of the
// ESD statistic R in a sample of n points: R maps to a t statistic with n-2
// degrees of freedom, t = R sqrt(n(n-2) / ((n-1)² - nR²)); R at or beyond its
// maximum (n-1)/sqrt(n) has p = 0.
func esdEvidence(R float64, n int) float64 {
	if n < 3 || !(R > 0) {
		return 0
	}
	fn := float64(n)
	d := (fn-1)*(fn-1) - fn*R*R
	if d <= 0 {
		return math.Inf(1)
	}
	t := R * math.Sqrt(fn*(fn-2)/d)
	sf := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: fn - 2}.Survival(t)
	p := 2 * fn * sf
	if p >= 1 {
		return 0
	}
	if p <= 0 {
		return math.Inf(1)
	}
	return -math.Log10(p)
}

// esdOptions configures the batch seasonal hybrid ESD test.
type esdOptions struct {
	// Period is the seasonal period in steps; 0 detects it from the whole
	// series, negative means none.
	Period int
	// MaxAnomalies is the largest fraction of points reported. Default 0.05.
	MaxAnomalies float64
	// Alpha is the test's significance level. Default 0.05.
	Alpha float64
}

// Validate reports whether every field is in range.
func (o *esdOptions) Validate() error {
	if o == nil {
		return nil
	}
	if math.IsNaN(o.MaxAnomalies) || o.MaxAnomalies < 0 || o.MaxAnomalies > 0.5 {
		return fmt.Errorf("MaxAnomalies %v not in [0, 0.5]: %w", o.MaxAnomalies, ErrOptions)
	}
	if math.IsNaN(o.Alpha) || o.Alpha < 0 || o.Alpha >= 1 {
		return fmt.Errorf("Alpha %v not in [0, 1): %w", o.Alpha, ErrOptions)
	}
	return nil
}

// esd runs the seasonal hybrid ESD test over a whole history and returns the
// indices of the anomalies it finds, ascending. The seasonal component is
// the median of each phase; the residual is y minus it; generalized ESD
// then removes up to MaxAnomalies·n points, each time the one farthest from
// the median in MADs, and reports as many as the last one whose statistic
// beat its critical value. NaN and ±Inf points are skipped (never
// reported). Only tests call it.
func esd(y []float64, opts *esdOptions) ([]int, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o esdOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxAnomalies == 0 {
		o.MaxAnomalies = 0.05
	}
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	period := o.Period
	if period == 0 {
		period = DetectPeriod(y, len(y)/3)
	}
	resid := seasonalResiduals(y, period)

	type pt struct {
		r float64
		i int
	}
	pts := make([]pt, 0, len(y))
	for i, r := range resid {
		if finite(r) {
			pts = append(pts, pt{r, i})
		}
	}
	slices.SortFunc(pts, func(a, b pt) int {
		switch {
		case a.r < b.r:
			return -1
		case a.r > b.r:
			return 1
		}
		return a.i - b.i
	})
	vals := make([]float64, len(pts))
	for k, p := range pts {
		vals[k] = p.r
	}
	maxK := int(o.MaxAnomalies * float64(len(pts)))
	var removed []int
	found := 0
	lo, hi := 0, len(vals) // the remaining points are pts[lo:hi]
	for k := 0; k < maxK && hi-lo >= 3; k++ {
		s := vals[lo:hi]
		med := sortedQuantile(s, 0.5)
		scale := 1.4826 * sortedMAD(s, med)
		// The farthest point from the median is at one end.
		var idx int
		var dev float64
		if med-s[0] >= s[len(s)-1]-med {
			idx, dev = lo, med-s[0]
			lo++
		} else {
			idx, dev = hi-1, s[len(s)-1]-med
			hi--
		}
		removed = append(removed, pts[idx].i)
		n := float64(len(s))
		var R float64
		switch {
		case scale > 0:
			R = dev / scale
		case dev > 0:
			R = math.Inf(1)
		}
		p := 1 - o.Alpha/(2*n)
		tc := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 2}.Quantile(p)
		lambda := (n - 1) * tc / math.Sqrt((n-2+tc*tc)*n)
		if R > lambda {
			found = k + 1
		}
	}
	out := slices.Clone(removed[:found])
	slices.Sort(out)
	return out, nil
}

// seasonalResiduals returns y minus the median of its phase (for period >
// 1) and minus the median of what is left; NaN stays NaN.
func seasonalResiduals(y []float64, period int) []float64 {
	resid := slices.Clone(y)
	var scratch, buf []float64
	if period > 1 {
		for ph := range period {
			scratch = scratch[:0]
			for i := ph; i < len(y); i += period {
				if finite(y[i]) {
					scratch = append(scratch, y[i])
				}
			}
			if len(scratch) == 0 {
				continue
			}
			var m float64
			m, buf = median(scratch, buf)
			for i := ph; i < len(y); i += period {
				resid[i] = y[i] - m
			}
		}
	}
	scratch = scratch[:0]
	for _, r := range resid {
		if finite(r) {
			scratch = append(scratch, r)
		}
	}
	if len(scratch) > 0 {
		m, _ := median(scratch, buf)
		for i := range resid {
			resid[i] -= m
		}
	}
	return resid
}
