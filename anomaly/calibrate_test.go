package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEvidenceCode(t *testing.T) {
	// A bucket's middle is within 1/16 of the octave's start of any value
	// in it.
	const codeError = 1.0/16 + 1e-9
	for _, e := range []float64{math.NaN(), math.Inf(-1), -3, 0, 0x1p-50, 0x1p-11 * (1 - 1e-6)} {
		if c := encodeEvidence(e); c != 0 || c.value() != 0 {
			t.Errorf("encodeEvidence(%v) = %d (value %v), want 0", e, c, c.value())
		}
	}
	if c := encodeEvidence(math.Inf(1)); c != math.MaxUint8 {
		t.Errorf("encodeEvidence(+Inf) = %d, want the largest code", c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prev, prevCode := 0.0, evidenceCode(0)
	for range 100000 {
		e := math.Exp2(-11 + 31.9*rng.Float64()) // 2^-11 to below 2^21
		c := encodeEvidence(e)
		if v := c.value(); math.Abs(v-e) > codeError*e {
			t.Fatalf("encodeEvidence(%v).value() = %v: off by %.3g%%", e, v, 100*math.Abs(v-e)/e)
		}
		// Codes order as the values do.
		if (e > prev && c < prevCode) || (e < prev && c > prevCode) {
			t.Fatalf("%v codes as %d, %v as %d", e, c, prev, prevCode)
		}
		prev, prevCode = e, c
	}
	if v := encodeEvidence(maxRawEvidence).value(); math.Abs(v-maxRawEvidence) > codeError*maxRawEvidence {
		t.Errorf("maxRawEvidence codes as %v", v)
	}
}

// TestTailCalibratorMatchesWindow checks the calibrator against the same
// computation over the trailing window of (coded) values kept in full, on
// a heavy-tailed evidence stream with ties and zeros.
func TestTailCalibratorMatchesWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const window, minHistory = 200, 20
	c := newTailCalibrator(window, minHistory)
	var past []float64 // every recorded value, coded and decoded
	for i := range 3000 {
		var e float64
		switch r := rng.Float64(); {
		case r < 0.1:
			e = 0
		case r < 0.2:
			e = float64(rng.IntN(3)) // ties
		case r < 0.21:
			e = math.NaN() // not recorded
		default:
			e = math.Abs(rng.NormFloat64()) / math.Pow(rng.Float64(), 0.3)
		}
		want := windowEvidence(past[max(0, len(past)-window):], e, minHistory)
		if got := c.evidence(e); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("value %d (%v): evidence %v, want %v", i, e, got, want)
		}
		if !math.IsNaN(e) {
			past = append(past, encodeEvidence(e).value())
		}
	}
}

// windowEvidence is tailCalibrator.peek over the values of window.
func windowEvidence(window []float64, e float64, minHistory int) float64 {
	n := len(window)
	if n < minHistory || math.IsNaN(e) {
		return 0
	}
	s := slices.Sorted(slices.Values(window))
	k := max(1, int(tailFraction*float64(n)))
	u := s[n-k]
	if e <= u {
		i, _ := slices.BinarySearch(s, e)
		return -math.Log10(float64(n-i+1) / float64(n+1))
	}
	var m1, m2 float64
	for _, v := range s[n-k:] {
		m1 += v - u
		m2 += (v - u) * (v - u)
	}
	m1 /= float64(k)
	m2 /= float64(k)
	base := -math.Log10(float64(k) / float64(n+1))
	xi := 0.0
	if v := m2 - m1*m1; v > 0 {
		xi = max(0, min(maxTailShape, 0.5*(1-m1*m1/v)))
	}
	sigma := max(m1*(1-xi), minTailScale)
	if xi == 0 {
		return base + (e-u)/sigma/math.Ln10
	}
	return base + math.Log10(1+xi*(e-u)/sigma)/xi
}
