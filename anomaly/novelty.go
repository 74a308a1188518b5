package anomaly

import "math"

// novelty measures how new the recent shape of a stream is: the Euclidean
// distance from the vector of its last dim finite values to the nearest of
// the vectors it held before (every stride-th one, the last memory of them),
// in units of the robust scale of the trailing values. It is the
// nearest-neighbour novelty of KNN-CAD (Burnaev and Ishimtsev 2016) and
// ARTime, with a bounded memory. Vectors overlapping the current one are
// left out, so a point is not its own neighbour.
type novelty struct {
	dim, stride int
	recent      *ring     // last 2·dim finite values
	mem         []float64 // memory vectors, flat, dim each
	memLen      int       // vectors held
	memNext     int       // slot the next vector goes to
	values      *rolling  // trailing finite values, for the scale
	seen        int
	vec         []float64
}

func newNovelty(dim, stride, memory, window int) *novelty {
	return &novelty{
		dim: dim, stride: stride,
		recent: newRing(2 * dim),
		mem:    make([]float64, memory*dim),
		values: newRolling(window),
		vec:    make([]float64, dim),
	}
}

// update records the finite value y and returns the novelty of the vector
// ending at it: 0 until memory holds a vector, +Inf for a departure from a
// constant history.
func (n *novelty) update(y float64) float64 {
	if !finite(y) {
		return 0
	}
	n.recent.push(y)
	n.values.push(y)
	n.seen++
	if n.seen < 2*n.dim {
		return 0
	}
	// The vector ending dim steps ago joins memory once it no longer
	// overlaps the current one.
	if (n.seen-n.dim)%n.stride == 0 {
		slot := n.mem[n.memNext*n.dim : (n.memNext+1)*n.dim]
		for k := range slot {
			slot[k] = n.recent.ago(2*n.dim - 1 - k)
		}
		n.memNext = (n.memNext + 1) % (len(n.mem) / n.dim)
		n.memLen = min(n.memLen+1, len(n.mem)/n.dim)
	}
	for k := range n.vec {
		n.vec[k] = n.recent.ago(n.dim - 1 - k)
	}
	best := math.Inf(1)
	for m := range n.memLen {
		v := n.mem[m*n.dim : (m+1)*n.dim]
		var s float64
		for k, x := range n.vec {
			d := x - v[k]
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
	med := n.values.median()
	scale := robustScale(n.values, med)
	switch {
	case scale > 0:
		return dist / scale
	case dist > 0:
		return math.Inf(1)
	}
	return 0
}
