// Package prometheus reads load history from a Prometheus server as a
// feed.Series. Range queries of any length are split under Prometheus's
// limit of 11,000 points per series, fetched with bounded concurrency and
// retries, and stitched back onto one regular grid; an empty result is
// ErrNoData, never zeros.
package prometheus
