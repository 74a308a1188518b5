package anomaly

import "math"

// novelty measures how new the recent shape of a stream is: the Euclidean
// distance from the vector of its last dim finite values to the nearest of
// the vectors it held before (every stride-th one, the last memory of them),
// in units of the robust scale of the trailing values. It is the
// nearest-neighbour novelty of KNN-CAD (Burnaev and Ishimtsev 2016) and
// ARTime, with a bounded memory. Vectors overlapping the current one are
// left out, so a point is not its own neighbour.
//
// The remembered vectors are windows of the stream of finite values, a
// stride apart, so they are read off one history of those values rather
// than stored each (dim/stride times less memory); the same history
// holds the trailing window for the scale, of which only the sorted copy
// is kept besides.
type novelty struct {
	dim, stride, memory int
	hist                *ring     // the last finite values, newest last
	window              int       // values the scale is taken over
	sorted              []float32 // the last window finite values, sorted
	seen                int       // finite values seen
	vec                 []float64 // the current vector
	wrapped             []float32 // a remembered vector that wraps around hist
}

func newNovelty(dim, stride, memory, window int) *novelty {
	// The oldest remembered vector starts up to (memory-1)·stride +
	// stride-1 + 2·dim - 1 values back: the newest joined memory up to
	// stride-1 values ago, dim values behind the current vector.
	held := max((memory-1)*stride+stride-1+2*dim, window+1)
	return &novelty{
		dim: dim, stride: stride, memory: memory,
		hist:    newRing(held),
		window:  window,
		sorted:  make([]float32, 0, window),
		vec:     make([]float64, dim),
		wrapped: make([]float32, dim),
	}
}

// update records the finite value y and returns the novelty of the vector
// ending at it: 0 until memory holds a vector, +Inf for a departure from a
// constant history.
func (n *novelty) update(y float64) float64 {
	if !finite(y) {
		return 0
	}
	if len(n.sorted) == n.window {
		n.sorted = removeSorted(n.sorted, float32(n.hist.ago(n.window-1)))
	}
	n.hist.push(y)
	n.sorted = insertSorted(n.sorted, float32(y))
	n.seen++
	if n.seen < 2*n.dim {
		return 0
	}
	// Finite value p (0-based) sits at buf[(base+p) % len(buf)]. The
	// vectors in memory start at p ≡ -dim (mod stride), the newest at
	// most at seen-2·dim: each joined memory once it no longer overlapped
	// the vector then current.
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
		best = min(best, s)
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
