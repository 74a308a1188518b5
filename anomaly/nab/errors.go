package nab

import "errors"

// Sentinel errors. Every error returned by this package wraps one of these
// (or an I/O or syntax error from the standard library) with the name of the
// file and, for parse errors, the line it concerns; test them with errors.Is.
var (
	// ErrProfile reports a profile whose weights are negative or not finite.
	ErrProfile = errors.New("nab: invalid profile")
	// ErrFileCount reports a scores slice whose length differs from the
	// number of files.
	ErrFileCount = errors.New("nab: scores and files differ in count")
	// ErrLength reports a file whose scores (or timestamps) differ in length
	// from its rows.
	ErrLength = errors.New("nab: length does not match the file's rows")
	// ErrScore reports an anomaly score that is NaN or outside [0, 1].
	ErrScore = errors.New("nab: anomaly score not in [0, 1]")
	// ErrThreshold reports a NaN threshold.
	ErrThreshold = errors.New("nab: threshold is NaN")
	// ErrWindow reports a window that is empty, out of range, out of order or
	// overlapping its predecessor, or whose timestamps are not in the file.
	ErrWindow = errors.New("nab: invalid window")
	// ErrFormat reports a malformed data, label or profile file.
	ErrFormat = errors.New("nab: malformed input")
)
