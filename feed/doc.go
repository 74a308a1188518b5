// Package feed is where load history comes from: a regular time grid
// (Series) read from CSV files, and later from Prometheus and an embedded
// replay trace. It does I/O; the numerical packages never do.
package feed
