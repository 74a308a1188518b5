package forecast

import (
	"math"
	"slices"
)

// Calibration holds out-of-sample forecast errors by step ahead, collected
// by rolling-origin cross-validation, and turns them into quantile offsets
// without assuming any distribution (split-conformal style). For a
// positive series the errors are relative to the forecast, since the
// spread of a load grows with it.
type Calibration struct {
	// Errors[h-1] are the errors (actual minus forecast) of h-step-ahead
	// forecasts, sorted ascending (see ErrorList). When there were more
	// than calibrationThinAbove of them, it holds calibrationKeep
	// quantiles of them instead (see thinnedLayout), and Counts[h-1] says
	// how many errors they stand for.
	Errors []ErrorList `json:"errors"`
	// Counts[h-1], when larger than Errors[h-1].Len(), is the number of
	// errors that the quantiles in Errors[h-1] summarize. Missing or
	// smaller, Errors[h-1] is every error (as in calibrations saved
	// before errors were thinned).
	Counts []int `json:"counts,omitempty"`
	// Relative says the errors are relative to the forecast (actual over
	// forecast, minus 1), for positive series whose spread grows with the
	// load.
	Relative bool `json:"relative,omitempty"`
	// ReferenceSpread is the forecast's usual spread at the lead, in load
	// units: the core spread (CoreSpread) of the lead step's 0.9 offset at
	// the busy hours' load (the 95th percentile of the history's).
	// Provision spends against it. 0 (a fit without a lead, or a model
	// saved before it) provisions the calibrated quantile itself.
	ReferenceSpread float64 `json:"reference_spread,omitempty"`
}

// A step's errors are kept whole up to calibrationThinAbove of them, where
// thinning would save less than a factor of 4 (M4 Hourly has at most 276
// a step, so hourly data keep their exact conformal ranks); beyond that
// they are thinned to calibrationKeep quantiles. On fits to two weeks of
// one-minute requests (the NASA trace; 1,441 errors a step, 48 steps,
// pooled 13 at a time) this moves the offsets of the 0.1% to 99.9%
// quantiles by at most 0.6% of the 80% interval's width on average (3.3%
// at worst): a quarter to a third of their own sampling error, for an
// eleventh of the memory.
const (
	calibrationKeep      = 128
	calibrationThinAbove = 4 * calibrationKeep
)

func newCalibration(cv *cvResult, relative bool) Calibration {
	c := Calibration{Errors: make([]ErrorList, len(cv.errors)), Relative: relative}
	if relative {
		for s := range cv.errors {
			for o, e := range cv.errors[s] {
				p := cv.preds[s][o]
				if p > 0 {
					cv.errors[s][o] = e / p
				} else {
					cv.errors[s][o] = 0
				}
			}
		}
	}
	for s, e := range cv.errors {
		e = slices.DeleteFunc(e, math.IsNaN)
		slices.Sort(e)
		if len(e) <= calibrationThinAbove {
			c.Errors[s] = newErrorList(e)
			continue
		}
		if c.Counts == nil {
			c.Counts = make([]int, len(c.Errors))
		}
		c.Errors[s], c.Counts[s] = thin(e, calibrationKeep), len(e)
	}
	return c
}

// thin returns k < len(s) quantiles of the ascending values s, at the
// positions thinnedLayout gives, each interpolated linearly between the
// order statistics around it.
func thin(s []float64, k int) ErrorList {
	l := thinnedLayout{n: len(s), k: k}
	out := make([]float64, k)
	for i := range out {
		t := l.pos(i)
		lo := int(t)
		v := s[lo]
		if f := t - float64(lo); f > 0 && lo+1 < len(s) {
			v += f * (s[lo+1] - s[lo])
		}
		out[i] = v
	}
	return newErrorList(out)
}

// thinnedLayout places k kept values among n > k sorted errors: value i
// sits at level S((i+1/2)/k) of the errors, where S(u) = u²(3-2u) packs
// the values towards both ends, as the sampling error of a quantile
// shrinks there (the spacing in ranks grows like √(p(1-p)), much as for
// the arcsine law), but never closer than one error apart: the few most
// extreme errors at each end are kept exactly (for n up to 2k²/3).
// On two weeks of one-minute errors, evenly spaced levels missed the 99%
// quantile by several times its sampling error; these keep the offsets
// of 0.1% to 99.9% within about one standard error of the rank.
type thinnedLayout struct{ n, k int }

// pos is the 0-based position among the n errors of kept value i, from 0
// to n-1, increasing with i and symmetric about the middle.
func (l thinnedLayout) pos(i int) float64 {
	if 2*i >= l.k {
		return float64(l.n-1) - l.pos(l.k-1-i)
	}
	u := (float64(i) + 0.5) / float64(l.k)
	return max(float64(i), u*u*(3-2*u)*float64(l.n)-0.5)
}

// calibrationPool is how many neighbouring steps on each side are pooled
// with step h, as a fraction of the calibrated horizon: errors change
// smoothly with the step, and pooling steadies the extreme quantiles.
const calibrationPool = 1.0 / 8

// Horizon is the number of steps ahead that the calibration covers.
func (c *Calibration) Horizon() int { return len(c.Errors) }

// Offset is what to add to the h-step point forecast to get its q-quantile
// (as a fraction of the point forecast when Relative):
// the conformal quantile of the errors of steps near h (rank ceil((N+1)q)
// for upper quantiles, floor((N+1)q) for lower ones, so the intervals are
// not narrower than the errors warrant). Beyond the calibrated horizon the
// offset of the last step grows with the square root of the step. Where
// the steps pooled hold too few errors for q's conformal rank
// (conformalCount: a young history, or one mostly kept out of training),
// the nearest steps beyond them join until they do, rather than the
// largest of a few errors standing for a rarer quantile. With no errors
// at all it is 0.
//
// The pooled errors are not sorted afresh: the order statistic is found by
// merging the steps' sorted lists from the nearer end. Where a step's
// errors were thinned, each quantile kept stands for its share of them,
// and the rank, taken among all the errors, is read off by linear
// interpolation between the kept values.
func (c *Calibration) Offset(h int, q float64) float64 {
	H := len(c.Errors)
	if H == 0 {
		return 0
	}
	scale := 1.0
	if h > H {
		scale = math.Sqrt(float64(h) / float64(H))
		h = H
	}
	w := int(float64(H) * calibrationPool)
	var lists [2*maxPooledOnStack + 1]mergeList
	var heads [2*maxPooledOnStack + 1]mergeHead
	m := merge{lists: lists[:0], heads: heads[:0]}
	n := 0
	add := func(s int) {
		e := c.Errors[s-1]
		if e.Len() == 0 {
			return
		}
		count := e.Len()
		if s-1 < len(c.Counts) && c.Counts[s-1] > count {
			count = c.Counts[s-1]
		}
		m.lists = append(m.lists, mergeList{sorted: e, count: count})
		m.heads = append(m.heads, mergeHead{list: len(m.lists) - 1})
		n += count
	}
	lo, hi := max(1, h-w), min(H, h+w)
	for s := lo; s <= hi; s++ {
		add(s)
	}
	// Too few errors for the conformal rank of q: the nearest steps
	// beyond the pool join it, one on each side at a time.
	for need := conformalCount(q); n < need && (lo > 1 || hi < H); {
		if lo--; lo >= 1 {
			add(lo)
		}
		if hi++; hi <= H {
			add(hi)
		}
		lo, hi = max(lo, 1), min(hi, H)
	}
	if n == 0 {
		return 0
	}
	var rank int
	if q >= 0.5 {
		rank = int(math.Ceil((float64(n) + 1) * q))
	} else {
		rank = int(math.Floor((float64(n) + 1) * q))
	}
	rank = min(max(rank, 1), n)
	return scale * m.orderStat(rank, n)
}

// conformalCount is the fewest errors whose conformal rank for the
// q-quantile lies among them: (n+1)q ≤ n above the median, (n+1)q ≥ 1
// below it (9 for the 0.9 quantile, 99 for the 0.99). With fewer, the
// quantile is beyond the largest error seen.
func conformalCount(q float64) int {
	p := min(q, 1-q)
	if !(p > 0) {
		return 1
	}
	return max(1, int(math.Ceil((1-p)/p-1e-9)))
}

// maxPooledOnStack is the pool half-width up to which Offset does not
// allocate (horizons up to 8·maxPooledOnStack steps).
const maxPooledOnStack = 16

// merge walks the pooled steps' sorted lists in order, ascending or, when
// desc, descending, by a heap of their next values; ties go to the step
// that comes first.
type merge struct {
	lists []mergeList
	heads []mergeHead // a heap, one a list to begin with
	desc  bool
}

// mergeList is one step's sorted errors, or their thinned quantiles, and
// how many errors they stand for.
type mergeList struct {
	sorted ErrorList
	count  int
	next   int // index of the next value
	// For thinned quantiles: the positions (thinnedLayout.pos) of the
	// values at next-1, next and next+1.
	before, at, after float64
}

type mergeHead struct {
	v    float64
	list int
}

// orderStat returns the rank-th smallest (1-based) of the n errors of the
// lists. Each kept value stands for its share of its step's errors (a
// single error when every one is kept) and sits at its own rank in the
// step; among all n errors it sits at that rank plus the errors of the
// other steps before it. The middle of the rank wanted, rank - 1/2, is
// interpolated between the two values around it, which is exactly the
// rank-th error when no step is thinned. The merge starts from the end
// nearer the rank.
func (m *merge) orderStat(rank, n int) float64 {
	target := float64(rank) - 0.5
	m.desc = 2*rank > n
	if m.desc {
		target = float64(n) - target
	}
	for i := range m.lists {
		l := &m.lists[i]
		if m.desc {
			l.next = l.sorted.Len() - 1
		}
		if k := l.sorted.Len(); l.count > k {
			tl := thinnedLayout{n: l.count, k: k}
			l.at = tl.pos(l.next)
			if l.next > 0 {
				l.before = tl.pos(l.next - 1)
			}
			if l.next+1 < k {
				l.after = tl.pos(l.next + 1)
			}
		}
		m.heads[i].v = l.sorted.At(l.next)
	}
	for i := len(m.heads)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	var prev, prevCenter, below float64
	for first := true; len(m.heads) > 0; first = false {
		v, offset, share := m.pop()
		center := below + offset
		below += share
		if center >= target {
			if center == target || first {
				return v
			}
			return prev + (target-prevCenter)/(center-prevCenter)*(v-prev)
		}
		prev, prevCenter = v, center
	}
	return prev // the rank is past the middle of the last value
}

// pop returns the next value of the merge, how far the middle of its rank
// lies from where its share of its step's errors begins (in the direction
// of the merge), and the size of that share.
func (m *merge) pop() (v, offset, share float64) {
	l := &m.lists[m.heads[0].list]
	i, k := l.next, l.sorted.Len()
	v, offset, share = l.sorted.At(i), 0.5, 1
	thinned := l.count > k
	if thinned {
		// The share reaches halfway to the neighbouring kept values, and
		// from the first and last to the ends.
		lo, hi := 0.0, float64(l.count)
		if i > 0 {
			lo = (l.before+l.at)/2 + 0.5
		}
		if i+1 < k {
			hi = (l.at+l.after)/2 + 0.5
		}
		share = hi - lo
		if m.desc {
			offset = hi - (l.at + 0.5)
		} else {
			offset = l.at + 0.5 - lo
		}
	}
	if m.desc {
		l.next--
	} else {
		l.next++
	}
	if l.next < 0 || l.next >= k {
		last := len(m.heads) - 1
		m.heads[0] = m.heads[last]
		m.heads = m.heads[:last]
	} else {
		m.heads[0].v = l.sorted.At(l.next)
		if thinned {
			tl := thinnedLayout{n: l.count, k: k}
			if m.desc {
				l.after, l.at = l.at, l.before
				if l.next > 0 {
					l.before = tl.pos(l.next - 1)
				}
			} else {
				l.before, l.at = l.at, l.after
				if l.next+1 < k {
					l.after = tl.pos(l.next + 1)
				}
			}
		}
	}
	m.down(0)
	return v, offset, share
}

func (m *merge) less(i, j int) bool {
	a, b := m.heads[i], m.heads[j]
	switch {
	case a.v == b.v:
		return a.list < b.list
	case m.desc:
		return a.v > b.v
	}
	return a.v < b.v
}

func (m *merge) down(i int) {
	n := len(m.heads)
	for {
		least := i
		if l := 2*i + 1; l < n && m.less(l, least) {
			least = l
		}
		if r := 2*i + 2; r < n && m.less(r, least) {
			least = r
		}
		if least == i {
			return
		}
		m.heads[i], m.heads[least] = m.heads[least], m.heads[i]
		i = least
	}
}
