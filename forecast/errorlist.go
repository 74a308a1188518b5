package forecast

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/x448/float16"
)

// ErrorList is one step's sorted forecast errors, or the quantiles kept of
// them, in 2 bytes each: IEEE half-precision values (11 significant bits,
// so within 0.05% of the error) times a power of two shared by the step,
// chosen so that its largest error sits at the top of the half-precision
// range and errors down to 2⁻²⁸ of it keep their 11 bits. That is far
// finer than the sampling error of any quantile of the errors, in half
// the memory of float32 and a quarter of float64: the calibration is the
// largest part of a fitted model (48 steps of 128 quantiles).
//
// In JSON it is an array of the numbers it holds, as calibrations were
// always saved; a saved list is rounded as it is loaded.
type ErrorList struct {
	v   []float16.Float16
	exp int // the values are v[i]·2^exp
}

// errorListTop is the binary exponent the largest error is scaled below:
// it lands in [2¹⁴, 2¹⁵), below the largest half-precision value (65504),
// and the smallest normal one is 2⁻¹⁴.
const errorListTop = 15

// newErrorList keeps the ascending values s.
func newErrorList(s []float64) ErrorList {
	var top float64
	for _, x := range s {
		if a := math.Abs(x); a > top && !math.IsInf(a, 0) {
			top = a
		}
	}
	l := ErrorList{v: make([]float16.Float16, len(s))}
	if top > 0 {
		_, e := math.Frexp(top) // top = f·2^e, f in [0.5, 1)
		l.exp = e - errorListTop
	}
	for i, x := range s {
		l.v[i] = float16.Fromfloat32(float32(math.Ldexp(x, -l.exp)))
	}
	return l
}

// Len is the number of values.
func (l ErrorList) Len() int { return len(l.v) }

// At is value i.
func (l ErrorList) At(i int) float64 { return math.Ldexp(float64(l.v[i].Float32()), l.exp) }

// MarshalJSON writes the values as a JSON array of numbers, each exactly
// (every value is a float32).
func (l ErrorList) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+10*len(l.v))
	b = append(b, '[')
	for i := range l.v {
		if i > 0 {
			b = append(b, ',')
		}
		x := l.At(i)
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("forecast: calibration error %d is %v", i, x)
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 32)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads an array of numbers, which must be ascending.
func (l *ErrorList) UnmarshalJSON(b []byte) error {
	var s []float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if !slices.IsSorted(s) {
		return fmt.Errorf("forecast: calibration errors are not in ascending order")
	}
	*l = newErrorList(s)
	return nil
}
