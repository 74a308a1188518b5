// Package snapshot keeps a target's fitted model on disk so that a restart
// serves at once: versioned, checksummed files written atomically
// (temporary file, fsync, rename), one per target, in a Store.
package snapshot
