package feedtest

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// PeakHeap runs fn and returns the most heap its objects took above what
// they took before, sampled every 100µs with the collector made eager
// (GOGC 10), so that the figure is near the peak of live memory rather
// than of garbage waiting for a collection. Memory benchmarks divide it by
// their input's size.
func PeakHeap(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			p = max(p, read())
			select {
			case <-done:
				peak <- max(p, read())
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	p := <-peak
	return p - min(base, p)
}
