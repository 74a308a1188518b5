package forecast

// NewHoltWinters lets the statsmodels reference test in package
// forecast_test start a model in a known state.
var NewHoltWinters = newHoltWinters

// Values returns the list's values, ascending.
func (l ErrorList) Values() []float64 {
	out := make([]float64, len(l.v))
	for i := range out {
		out[i] = l.At(i)
	}
	return out
}
