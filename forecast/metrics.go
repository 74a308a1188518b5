package forecast

import "math"

// MASE is the mean absolute scaled error of forecast against actual, scaled
// by the in-sample mean absolute error of the seasonal naive forecast with
// the given period on history (the M4 definition).
func MASE(history, actual, forecast []float64, period int) float64 {
	scale := naiveScale(history, period)
	var s float64
	for i := range actual {
		s += math.Abs(actual[i] - forecast[i])
	}
	return s / float64(len(actual)) / scale
}

// SMAPE is the symmetric mean absolute percentage error in percent (the M4
// definition: 200|y-f|/(|y|+|f|), averaged).
func SMAPE(actual, forecast []float64) float64 {
	var s float64
	for i := range actual {
		d := math.Abs(actual[i]) + math.Abs(forecast[i])
		if d > 0 {
			s += 200 * math.Abs(actual[i]-forecast[i]) / d
		}
	}
	return s / float64(len(actual))
}

// Accuracy is how one forecast fared against what happened.
type Accuracy struct {
	MASE  float64
	SMAPE float64
	// Coverage maps a central interval's nominal level (0.8 for the
	// 0.1..0.9 quantiles) to the fraction of actuals inside it.
	Coverage map[float64]float64
}

// IntervalQuantiles returns the lower and upper quantile levels of the
// central interval with the given nominal coverage.
func IntervalQuantiles(level float64) (lo, hi float64) {
	return (1 - level) / 2, (1 + level) / 2
}

// Score measures r against actual, with MASE scaled on history with the
// given seasonal period, and the coverage of each central interval whose
// two quantiles r holds.
func Score(history, actual []float64, period int, r *Result) Accuracy {
	point := r.Point[:len(actual)]
	a := Accuracy{MASE: MASE(history, actual, point, period), SMAPE: SMAPE(actual, point), Coverage: map[float64]float64{}}
	byLevel := map[float64][]float64{}
	for _, q := range r.Quantiles {
		byLevel[math.Round(q.Level*1e6)/1e6] = q.Values
	}
	for _, q := range r.Quantiles {
		if q.Level >= 0.5 {
			continue
		}
		level := math.Round((1-2*q.Level)*1e6) / 1e6
		upper, ok := byLevel[math.Round((1-q.Level)*1e6)/1e6]
		if !ok {
			continue
		}
		in := 0
		for i, v := range actual {
			if v >= q.Values[i] && v <= upper[i] {
				in++
			}
		}
		a.Coverage[level] = float64(in) / float64(len(actual))
	}
	return a
}
