// Package models is what a target is and what it does over time, without
// I/O: the Target with its fields declared once (TargetFields), their
// parsing and validation, the recommendation policy that
// turns a quantile forecast into replicas (Recommend), and the per-target
// schedule (Timeline, LiveDetector, FetchStart, FitHistory) that the
// service's registry (models/registry) drives with the wall clock and the
// backtest (models/backtest) with the replay clock.
package models
