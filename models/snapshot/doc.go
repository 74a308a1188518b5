// Package snapshot keeps what `prescale serve` must find again after a
// restart, in one directory (a Store): each target's fitted model, so that
// a restart serves at once, and the spec of each target created through
// the API or by KEDA, so that an acknowledged create, update or delete
// survives any crash. Both are versioned, checksummed files written
// atomically (temporary file, fsync, rename, fsync of the directory), one
// per target and kind.
package snapshot
