// Package nab implements the scoring of the Numenta Anomaly Benchmark:
// anomaly windows, probation, the scaled sigmoid, the corpus-optimal
// threshold and normalization against the null and perfect detectors.
package nab
