package anomaly

import (
	"math"
	"slices"
)

// tailCalibrator turns a raw evidence stream into tail probabilities that
// mean the same on every series: the probability of evidence at least e
// among the trailing window of past evidence, read off the empirical
// distribution in its body and, beyond its top tailFraction, off an
// generalized Pareto tail fitted to the exceedances by the method of moments
// (peaks over threshold, as in Siffer et al.'s SPOT), so that evidence
// beyond anything seen still ranks, and a heavy-tailed channel (a bursty
// series) gets a heavy tail rather than an exponential one that would
// overstate its extremes.
type tailCalibrator struct {
	past *rolling
	min  int
}

// Calibration constants: the share of the window that forms the tail, the
// smallest tail scale, in evidence units, so that a tail of ties does not
// make every larger value infinitely unlikely, and the largest tail shape ξ,
// below the 1/2 the moment estimates need. A shape estimated below 0 (a
// bounded tail) is taken as 0, the exponential tail, so that evidence
// beyond the past maximum stays finite and still ranks.
const (
	tailFraction = 0.1
	minTailScale = 0.25
	maxTailShape = 0.45
)

func newTailCalibrator(window, minHistory int) *tailCalibrator {
	return &tailCalibrator{past: newRolling(window), min: minHistory}
}

// evidence returns -log10 of the calibrated tail probability of e, 0 while
// fewer than min values are held; then it records e.
func (c *tailCalibrator) evidence(e float64) float64 {
	out := c.peek(e)
	if !math.IsNaN(e) {
		c.past.push(e)
	}
	return out
}

// peek is evidence without recording e.
func (c *tailCalibrator) peek(e float64) float64 {
	n := c.past.len()
	if n < c.min || math.IsNaN(e) {
		return 0
	}
	s := c.past.sorted
	k := max(1, int(tailFraction*float64(n)))
	u := s[n-k] // the k-th largest value starts the tail
	if e <= u {
		// Empirical: the share of past values at least e.
		i, _ := slices.BinarySearch(s, e)
		return -math.Log10(float64(n-i+1) / float64(n+1))
	}
	// Moments of the exceedances: GPD mean σ/(1-ξ), ξ = (1 - mean²/var)/2.
	var m1, m2 float64
	for _, v := range s[n-k:] {
		x := v - u
		m1 += x
		m2 += x * x
	}
	m1 /= float64(k)
	m2 /= float64(k)
	base := -math.Log10(float64(k) / float64(n+1))
	v := m2 - m1*m1
	xi := 0.0
	if v > 0 {
		xi = max(0, min(maxTailShape, 0.5*(1-m1*m1/v)))
	}
	sigma := max(m1*(1-xi), minTailScale)
	if xi == 0 {
		return base + (e-u)/sigma/math.Ln10
	}
	return base + math.Log10(1+xi*(e-u)/sigma)/xi
}
