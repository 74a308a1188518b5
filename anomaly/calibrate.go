package anomaly

import (
	"math"
	"slices"
)

// tailCalibrator turns a raw evidence stream into tail probabilities that
// mean the same on every series: the probability of evidence at least e
// among the trailing window of past evidence, read off the empirical
// distribution in its body and, beyond its top tailFraction, off an
// exponential tail fitted to the exceedances (peaks over threshold, as in
// Siffer et al.'s SPOT), so that evidence beyond anything seen still ranks.
type tailCalibrator struct {
	past *rolling
	min  int
}

// Calibration constants: the share of the window that forms the tail, and
// the smallest tail scale, in evidence units, so that a tail of ties does
// not make every larger value infinitely unlikely.
const (
	tailFraction = 0.1
	minTailScale = 0.25
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
	var excess float64
	for _, v := range s[n-k:] {
		excess += v - u
	}
	beta := max(excess/float64(k), minTailScale)
	return -math.Log10(float64(k)/float64(n+1)) + (e-u)/beta/math.Ln10
}
