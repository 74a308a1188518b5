package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
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

// The provisioned load's constants. CoreLevel is the quantile level whose
// offset gives the core spread (Provision's core): high enough to measure
// the spread the policy provisions into, low enough that the rare large
// errors of a crowd or an outage in the calibration do not set it.
// maxProvisionZ bounds how far into a narrow spread a provision reaches
// (six core spreads).
const (
	CoreLevel     = 0.9
	coreZ         = 1.2815515655446004 // the standard normal's 0.9 quantile
	maxProvisionZ = 6
)

// CoreSpread is the spread, in load units, that the offset core (of
// CoreLevel, from Offset or Offsets, before any interval scale) gives a
// point forecast: the offset over the standard normal's 0.9 quantile.
func (c *Calibration) CoreSpread(point, core float64) float64 {
	if c.Relative {
		core *= point
	}
	return core / coreZ
}

// Provision is the load to provision for a point forecast whose CoreLevel
// quantile has the offset core (before scale, the interval scale). offset,
// the calibrated level-q offset, is used only where the rule does not
// apply (below).
//
// A workload is short in a minute when its load exceeds what was
// provisioned, and each replica costs the same in every minute. So the
// fewest minutes short for the replica-hours spent are had where one more
// replica buys the same chance of covering the minute everywhere: where
// the forecast's density at the provisioned load is the same. For a
// normal core of spread σ that is z = √(z_q² + 2 ln(σ_ref/σ)) spreads
// above the point forecast: z_q (the normal core's q quantile, which is the
// calibrated one at q = CoreLevel) where the spread is the usual one
// (ReferenceSpread), more where the forecast is surer (the
// quiet night of a series whose errors grow with its load, a fit whose
// errors were small), less where it is wider, down to the point forecast
// itself where no replica buys much, at most six spreads. The interval
// scale then widens or narrows the provision as it does the intervals.
// Without a reference spread, for q below 0.5, or for a spread that is
// not positive, it is the level-q quantile (Apply). The quantile forecast
// itself, its intervals and their coverage are the calibration's, as
// before: only what is provisioned spends by density.
func (c *Calibration) Provision(point, offset, core, q, scale float64) float64 {
	sigma := c.CoreSpread(point, core)
	zq := normalQuantile(q)
	if !(c.ReferenceSpread > 0) || !(sigma > 0) || !(zq >= 0) || math.IsInf(sigma, 0) {
		return c.Apply(point, offset, scale)
	}
	z := math.Sqrt(max(0, zq*zq+2*math.Log(c.ReferenceSpread/sigma)))
	return math.Max(0, point+min(z, maxProvisionZ)*sigma*scale)
}

// normalQuantile is the standard normal's q quantile.
func normalQuantile(q float64) float64 { return distuv.UnitNormal.Quantile(q) }

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
