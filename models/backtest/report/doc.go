// Package report writes a backtest's result as one self-contained HTML
// page: a summary, the metrics, the forecast's accuracy, and charts, drawn
// as inline SVG, of the demand against each policy's ready capacity, of the
// forecast band and of the frontier of cost against risk. Rendering is kept
// apart from the backtest: this package reads a *backtest.Result, and
// package backtest does not know it exists.
package report
