package anomaly

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// The detectors' windows hold their values as float32: 7 significant
// digits are far finer than any robust statistic of a load needs, and a
// target's detector keeps some 12,000 of them (half its memory as
// float64). A value beyond float32's range (3.4e38) is held as ±Inf, which
// the detectors treat as not finite. A value is compared with a window as
// the window holds it (held): a load that repeats exactly must not differ
// from its own past by float32's rounding (on NAB's series of repeated
// values, that took 0.8 from every score).

// held returns x as a window holds it.
func held(x float64) float64 { return float64(float32(x)) }

// rolling keeps the last n finite values of a stream both in arrival order
// (a ring) and sorted, so that order statistics of the trailing window cost
// O(log n) to find and O(n) memory moves to maintain.
type rolling struct {
	ring   []float32
	sorted []float32
	next   int // ring slot the next value goes to once the ring is full
}

func newRolling(n int) *rolling {
	return &rolling{ring: make([]float32, 0, n), sorted: make([]float32, 0, n)}
}

// len returns the number of values held.
func (r *rolling) len() int { return len(r.ring) }

// push adds x, evicting the oldest value when the window is full.
func (r *rolling) push(v float64) {
	x := float32(v)
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, x)
	} else {
		old := r.ring[r.next]
		r.ring[r.next] = x
		r.next = (r.next + 1) % len(r.ring)
		r.sorted = removeSorted(r.sorted, old)
	}
	r.sorted = insertSorted(r.sorted, x)
}

// insertSorted inserts x into ascending s, within its capacity if it has
// room.
func insertSorted[F float32 | float64](s []F, x F) []F {
	i, _ := slices.BinarySearch(s, x)
	return slices.Insert(s, i, x)
}

// removeSorted removes one value equal to x from ascending s, which must
// hold it.
func removeSorted[F float32 | float64](s []F, x F) []F {
	i, _ := slices.BinarySearch(s, x)
	return slices.Delete(s, i, i+1)
}

// median returns the median, or NaN when empty.
func (r *rolling) median() float64 { return sortedQuantile(r.sorted, 0.5) }

// sortedQuantile interpolates the q-quantile of ascending s.
func sortedQuantile[F float32 | float64](s []F, q float64) float64 {
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(h)
	if lo >= n-1 {
		return float64(s[n-1])
	}
	return float64(s[lo]) + (h-float64(lo))*(float64(s[lo+1])-float64(s[lo]))
}

// sortedMAD returns the median of |s[i] - med| for ascending s, merging the
// deviations on both sides of med outwards in O(n).
func sortedMAD[F float32 | float64](s []F, med float64) float64 {
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	j := sort.Search(n, func(i int) bool { return float64(s[i]) >= med }) // s[j:] >= med, s[:j] < med
	i := j - 1
	// The lower and upper medians of the n deviations, in merge order.
	want := (n - 1) / 2
	var lo, hi float64
	for k := 0; k <= n/2; k++ {
		var d float64
		switch {
		case i < 0:
			d = float64(s[j]) - med
			j++
		case j >= n:
			d = med - float64(s[i])
			i--
		case med-float64(s[i]) <= float64(s[j])-med:
			d = med - float64(s[i])
			i--
		default:
			d = float64(s[j]) - med
			j++
		}
		if k == want {
			lo = d
		}
		hi = d
	}
	if n%2 == 1 {
		return lo
	}
	return (lo + hi) / 2
}

// median returns the median of x, reordering scratch (grown as needed);
// NaN for no values.
func median(x, scratch []float64) (float64, []float64) {
	scratch = append(scratch[:0], x...)
	if len(scratch) <= 12 {
		// The few phases of a seasonal median: an insertion sort, in
		// slices.Sort's order (NaN first), without its overhead, which
		// was a fifth of a fit's time.
		for i := 1; i < len(scratch); i++ {
			for j := i; j > 0 && cmp.Less(scratch[j], scratch[j-1]); j-- {
				scratch[j], scratch[j-1] = scratch[j-1], scratch[j]
			}
		}
	} else {
		slices.Sort(scratch)
	}
	return sortedQuantile(scratch, 0.5), scratch
}

// ring is a fixed-capacity history of the last values pushed, NaN included.
type ring struct {
	buf  []float32
	next int
	n    int
}

func newRing(n int) *ring { return &ring{buf: make([]float32, n)} }

func (r *ring) push(x float64) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = float32(x)
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// grow makes room for the last n values if the ring holds fewer, keeping
// what it holds, and reports whether it grew.
func (r *ring) grow(n int) bool {
	if n <= len(r.buf) {
		return false
	}
	buf := make([]float32, n)
	for k := r.n - 1; k >= 0; k-- {
		buf[r.n-1-k] = float32(r.ago(k))
	}
	r.buf, r.next = buf, r.n
	return true
}

// reset empties the ring.
func (r *ring) reset() { r.next, r.n = 0, 0 }

// ago returns the value pushed k steps before the newest (k = 0 is the
// newest), or NaN if it is no longer (or not yet) held.
func (r *ring) ago(k int) float64 {
	if k < 0 || k >= r.n {
		return math.NaN()
	}
	return float64(r.buf[(r.next-1-k+2*len(r.buf))%len(r.buf)])
}
