package forecast

// NewHoltWinters lets the statsmodels reference test in package
// forecast_test start a model in a known state.
var NewHoltWinters = newHoltWinters
