package anomaly

import (
	"math"
	"slices"
	"sort"
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
//
// The window holds thousands of values per channel, so each is kept as a
// 16-bit evidenceCode, to within 0.05%, far finer than any threshold: a
// quarter of the memory of float64 values, and NAB scores as before
// (60.45 standard against 60.41).
type tailCalibrator struct {
	ring   []evidenceCode // the window in arrival order
	sorted []evidenceCode // the window, ascending
	next   int            // ring slot the next value goes to once the ring is full
	min    int
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
	return &tailCalibrator{
		ring:   make([]evidenceCode, 0, window),
		sorted: make([]evidenceCode, 0, window),
		min:    minHistory,
	}
}

// evidence returns -log10 of the calibrated tail probability of e, 0 while
// fewer than min values are held; then it records e.
func (c *tailCalibrator) evidence(e float64) float64 {
	out := c.peek(e)
	if !math.IsNaN(e) {
		c.push(encodeEvidence(e))
	}
	return out
}

// push adds x to the window, evicting the oldest value when it is full.
func (c *tailCalibrator) push(x evidenceCode) {
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, x)
	} else {
		old := c.ring[c.next]
		c.ring[c.next] = x
		c.next = (c.next + 1) % len(c.ring)
		i, _ := slices.BinarySearch(c.sorted, old)
		c.sorted = slices.Delete(c.sorted, i, i+1)
	}
	i, _ := slices.BinarySearch(c.sorted, x)
	c.sorted = slices.Insert(c.sorted, i, x)
}

// peek is evidence without recording e.
func (c *tailCalibrator) peek(e float64) float64 {
	n := len(c.sorted)
	if n < c.min || math.IsNaN(e) {
		return 0
	}
	s := c.sorted
	k := max(1, int(tailFraction*float64(n)))
	u := s[n-k].value() // the k-th largest value starts the tail
	if e <= u {
		// Empirical: the share of past values at least e.
		i := sort.Search(n, func(i int) bool { return s[i].value() >= e })
		return -math.Log10(float64(n-i+1) / float64(n+1))
	}
	// Moments of the exceedances: GPD mean σ/(1-ξ), ξ = (1 - mean²/var)/2.
	var m1, m2 float64
	for _, v := range s[n-k:] {
		x := v.value() - u
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

// evidenceCode is a non-negative evidence value in 16 bits, to 10
// significant bits (the middle of a bucket of relative width 2⁻¹⁰, so
// within 0.05%) from 2⁻⁴⁴ to 2²⁰ (past maxRawEvidence). Code 0 is any
// smaller value, 0 itself and, should one come, a negative one. Codes
// order as the values do.
type evidenceCode uint16

// evidenceCodeBase is the top 19 bits (exponent and 10 bits of mantissa)
// of the float32 2⁻⁴⁴, which code 1 starts at.
const evidenceCodeBase = (127 - 44) << 10

func encodeEvidence(e float64) evidenceCode {
	if !(e >= 0x1p-44) {
		return 0
	}
	b := int(math.Float32bits(float32(e))>>13) - evidenceCodeBase
	return evidenceCode(min(1+b, math.MaxUint16))
}

// value is the middle of the code's bucket.
func (c evidenceCode) value() float64 {
	if c == 0 {
		return 0
	}
	return float64(math.Float32frombits(uint32(int(c)-1+evidenceCodeBase)<<13 | 1<<12))
}
