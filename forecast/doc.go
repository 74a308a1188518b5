// Package forecast fits seasonal forecasting models to a load history and
// produces quantile forecasts whose intervals are calibrated on
// out-of-sample errors. It is pure numerics on gonum: no I/O, no context.
package forecast
