package anomaly

import "math"

// novelty measures how new the recent shape of a stream is: the Euclidean
// distance from the vector of its last dim values to the nearest of the
// vectors it held before (every stride-th one, the last memory of them),
// in units of the robust scale of the trailing values. It is the
// nearest-neighbour novelty of KNN-CAD (Burnaev and Ishimtsev 2016) and
// ARTime, with a bounded memory. Vectors overlapping the current one are
// left out, so a point is not its own neighbour, and so is any vector with
// a missing (non-finite) value: a shape with a gap is not compared, and
// while the current one has a gap its novelty is 0.
//
// The remembered vectors are windows of the stream, a stride apart, so
// they are read off one history of its values rather than stored each
// (dim/stride times less memory). The history is the caller's, shared
// with the seasonal predictor (see Default), at least noveltyHistory long;
// it holds the trailing window for the scale too, of which only the sorted
// copy of the finite values is kept besides.
type novelty struct {
	dim, stride, memory int
	hist                *ring     // every value, NaN included, newest last; the caller's
	window              int       // values the scale is taken over
	sorted              []float32 // the finite values of the last window, sorted
	seen                int       // values seen
	vec                 []float64 // the current vector
	wrapped             []float32 // a remembered vector that wraps around hist
}

// noveltyHistory is the history a novelty of these dimensions reads: the
// oldest remembered vector starts up to (memory-1)·stride + stride-1 +
// 2·dim - 1 values back (the newest joined memory up to stride-1 values
// ago, dim values behind the current vector), and the value leaving the
// scale's window is window values back.
func noveltyHistory(dim, stride, memory, window int) int {
	return max((memory-1)*stride+stride-1+2*dim, window+1)
}

// newNovelty returns a novelty that reads hist, a history of at least
// noveltyHistory values to which the caller pushes every value before
// passing it to update.
func newNovelty(dim, stride, memory, window int, hist *ring) *novelty {
	return &novelty{
		dim: dim, stride: stride, memory: memory,
		hist:    hist,
		window:  window,
		sorted:  make([]float32, 0, window),
		vec:     make([]float64, dim),
		wrapped: make([]float32, dim),
	}
}

// update takes y, the value just pushed to the history, and returns the
// novelty of the vector ending at it: 0 until memory holds a vector or
// while the vector has a gap, +Inf for a departure from a constant history.
func (n *novelty) update(y float64) float64 {
	if old := n.hist.ago(n.window); n.seen >= n.window && finite(old) {
		n.sorted = removeSorted(n.sorted, float32(old))
	}
	n.seen++
	if !finite(y) {
		return 0
	}
	n.sorted = insertSorted(n.sorted, float32(y))
	if n.seen < 2*n.dim {
		return 0
	}
	// Value p (0-based) sits at buf[(base+p) % len(buf)]. The vectors in
	// memory start at p ≡ -dim (mod stride), the newest at most at
	// seen-2·dim: each joined memory once it no longer overlapped the
	// vector then current.
	buf := n.hist.buf
	size := len(buf)
	base := ((n.hist.next-n.seen)%size + size) % size
	newest := n.seen - 2*n.dim
	newest -= ((newest+n.dim)%n.stride + n.stride) % n.stride
	count := 0 // vectors in memory
	if newest >= 0 {
		count = min(n.memory, newest/n.stride+1)
	}
	for k := range n.vec {
		n.vec[k] = float64(buf[(base+n.seen-n.dim+k)%size])
		if !finite(n.vec[k]) {
			return 0
		}
	}
	best := math.Inf(1)
	for j := range count {
		start := (base + newest - j*n.stride) % size
		v := n.wrapped
		if start+n.dim <= size {
			v = buf[start : start+n.dim]
		} else {
			for k := range v {
				v[k] = buf[(start+k)%size]
			}
		}
		var s float64
		for k, x := range n.vec {
			d := x - float64(v[k])
			s += d * d
			if s >= best {
				break
			}
		}
		if s < best { // a vector with a gap sums to NaN or +Inf
			best = s
		}
	}
	if math.IsInf(best, 1) {
		return 0
	}
	dist := math.Sqrt(best)
	med := sortedQuantile(n.sorted, 0.5)
	scale := robustScale(n.sorted, med)
	switch {
	case scale > 0:
		return dist / scale
	case dist > 0:
		return math.Inf(1)
	}
	return 0
}
