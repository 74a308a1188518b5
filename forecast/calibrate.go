package forecast

import (
	"math"
	"slices"
)

// Calibration holds out-of-sample forecast errors by step ahead, collected
// by rolling-origin cross-validation, and turns them into quantile offsets
// without assuming any distribution (split-conformal style). For a
// positive series the errors are relative to the forecast, since the
// spread of a load grows with it.
type Calibration struct {
	// Errors[h-1] are the errors (actual minus forecast) of h-step-ahead
	// forecasts, sorted ascending.
	Errors [][]float64 `json:"errors"`
	// Relative says the errors are relative to the forecast (actual over
	// forecast, minus 1), for positive series whose spread grows with the
	// load.
	Relative bool `json:"relative,omitempty"`
}

func newCalibration(cv *cvResult, relative bool) Calibration {
	c := Calibration{Errors: cv.errors, Relative: relative}
	if relative {
		for s := range cv.errors {
			for o, e := range cv.errors[s] {
				p := cv.preds[s][o]
				if p > 0 {
					cv.errors[s][o] = e / p
				} else {
					cv.errors[s][o] = 0
				}
			}
		}
	}
	for s, e := range c.Errors {
		c.Errors[s] = slices.DeleteFunc(e, math.IsNaN)
		slices.Sort(c.Errors[s])
	}
	return c
}

// calibrationPool is how many neighbouring steps on each side are pooled
// with step h, as a fraction of the calibrated horizon: errors change
// smoothly with the step, and pooling steadies the extreme quantiles.
const calibrationPool = 1.0 / 8

// Horizon is the number of steps ahead that the calibration covers.
func (c *Calibration) Horizon() int { return len(c.Errors) }

// Offset is what to add to the h-step point forecast to get its q-quantile
// (as a fraction of the point forecast when Relative):
// the conformal quantile of the errors of steps near h (rank ceil((N+1)q)
// for upper quantiles, floor((N+1)q) for lower ones, so the intervals are
// not narrower than the errors warrant). Beyond the calibrated horizon the
// offset of the last step grows with the square root of the step. With no
// errors it is 0.
func (c *Calibration) Offset(h int, q float64) float64 {
	H := len(c.Errors)
	if H == 0 {
		return 0
	}
	scale := 1.0
	if h > H {
		scale = math.Sqrt(float64(h) / float64(H))
		h = H
	}
	w := int(float64(H) * calibrationPool)
	lo, hi := max(1, h-w), min(H, h+w)
	var pool []float64
	for s := lo; s <= hi; s++ {
		pool = append(pool, c.Errors[s-1]...)
	}
	if len(pool) == 0 {
		return 0
	}
	slices.Sort(pool)
	n := float64(len(pool))
	var rank int
	if q >= 0.5 {
		rank = int(math.Ceil((n + 1) * q))
	} else {
		rank = int(math.Floor((n + 1) * q))
	}
	rank = min(max(rank, 1), len(pool))
	return scale * pool[rank-1]
}
