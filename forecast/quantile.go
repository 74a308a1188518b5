package forecast

import (
	"fmt"
	"math"
)

// The quantile forecast from a calibration, in one place: Fitted.Forecast,
// the registry's cached forecast and the backtest all turn a point forecast
// into a quantile with these.

// Offsets writes Offset(h, q) for the steps h = 1..len(dst) into dst and
// returns it. Beyond the calibrated horizon H the offset is that of step H
// times the square root of h/H, as Offset says, found here without merging
// the pooled errors again.
func (c *Calibration) Offsets(dst []float64, q float64) []float64 {
	H := c.Horizon()
	for i := range dst {
		if h := i + 1; h <= H || H == 0 {
			dst[i] = c.Offset(h, q)
		} else {
			dst[i] = math.Sqrt(float64(h)/float64(H)) * dst[H-1]
		}
	}
	return dst
}

// Apply is the quantile for a point forecast and its offset (from Offset
// or Offsets) with the offset multiplied by scale (Fitted.IntervalScale:
// 1 is the calibrated width): the offset is a fraction of the point
// forecast when the calibration is relative, and a load is never
// negative.
func (c *Calibration) Apply(point, offset, scale float64) float64 {
	offset *= scale
	if c.Relative {
		offset *= point
	}
	return math.Max(0, point+offset)
}

// QuantileForecast writes the q-quantile forecast for the point forecast
// of steps 1..len(point) into dst (grown as needed) and returns it, its
// offsets multiplied by scale (Fitted.IntervalScale).
func (c *Calibration) QuantileForecast(dst, point []float64, q, scale float64) []float64 {
	dst = c.Offsets(grow(dst, len(point)), q)
	for i, p := range point {
		dst[i] = c.Apply(p, dst[i], scale)
	}
	return dst
}

// ExtrapolationNote says that the intervals of an h-step forecast are
// extrapolated beyond the calibrated horizon, or is empty when they are not.
func (c *Calibration) ExtrapolationNote(h int) string {
	if h <= c.Horizon() {
		return ""
	}
	return fmt.Sprintf("intervals beyond step %d are extrapolated (square-root rule)", c.Horizon())
}

// grow returns s resliced or reallocated to length n.
func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
