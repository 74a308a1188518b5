package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prescale/prescale/models/backtest"
)

// The data behind the charts: the result on its time grids, reduced to
// buckets, and the windows the charts zoom into.

const (
	maxBuckets = 2000 // points per line on the charts of the whole span
	zoomSpan   = 48 * time.Hour
)

// series is the result's data on its time grids: the demand per
// step, and per tick (every sync period) the ready capacity of each
// policy and the demand at that tick.
type series struct {
	res        *backtest.Result
	start, end time.Time
	step, sync time.Duration
	capacity   map[string][]float64
	load       []float64
}

func newSeries(res *backtest.Result) *series {
	s := &series{res: res, start: res.Input.Start, step: res.Input.Step, sync: res.Settings.SyncPeriod(),
		capacity: map[string][]float64{}}
	if s.sync <= 0 { // a result not made by backtest.Run, such as one read back from JSON
		s.sync, _ = time.ParseDuration(res.Settings.Sync)
	}
	if s.sync <= 0 {
		s.sync = s.step
	}
	s.end = res.Input.End
	if !s.end.After(s.start) && s.step > 0 {
		s.end = s.start.Add(time.Duration(len(res.Demand)) * s.step)
	}
	ticks := 0
	for p, tr := range res.Traces {
		if tr == nil || len(tr.Ready) == 0 {
			continue
		}
		c := make([]float64, len(tr.Ready))
		for k, r := range tr.Ready {
			c[k] = float64(r) * res.Settings.CapacityPerReplica
		}
		s.capacity[p] = c
		ticks = max(ticks, len(c))
	}
	s.load = make([]float64, ticks)
	for k := range s.load {
		s.load[k] = s.demandAt(s.start.Add(time.Duration(k) * s.sync))
	}
	return s
}

// timed reports whether the series has a time grid to chart on.
func (s *series) timed() bool { return s.step > 0 && s.end.After(s.start) }

func (s *series) demandAt(t time.Time) float64 {
	if s.step <= 0 || t.Before(s.start) {
		return math.NaN()
	}
	i := int(t.Sub(s.start) / s.step)
	if i >= len(s.res.Demand) {
		return math.NaN()
	}
	return s.res.Demand[i]
}

// shortfall is, per tick where policy was under-provisioned, the demand
// (hi) and the ready capacity (lo); NaN elsewhere.
func (s *series) shortfall(policy string) (lo, hi []float64) {
	c := s.capacity[policy]
	lo, hi = make([]float64, len(c)), make([]float64, len(c))
	for k, supply := range c {
		lo[k], hi[k] = math.NaN(), math.NaN()
		if load := s.load[k]; load > supply {
			lo[k], hi[k] = supply, load
		}
	}
	return lo, hi
}

// wholeSpanWidth is the bucket width that keeps the whole span within
// maxBuckets points, a whole number of steps and sync periods.
func (s *series) wholeSpanWidth() time.Duration {
	unit := max(s.step, s.sync)
	if g := gcd(s.step, s.sync); g > 0 {
		if l := s.step / g * s.sync; l > 0 && l <= 24*time.Hour {
			unit = l
		}
	}
	w := s.end.Sub(s.start) / maxBuckets
	return max(unit, (w+unit-1)/unit*unit)
}

func gcd(a, b time.Duration) time.Duration {
	for b > 0 {
		a, b = b, a%b
	}
	return a
}

// stepLine is a series held over equal buckets: vals[b] from
// from+b*width to from+(b+1)*width. NaN is a gap.
type stepLine struct {
	from  time.Time
	width time.Duration
	vals  []float64
}

// bucket reduces vals, one per step from start, over [from, to) in
// buckets of at least width (a whole number of steps; one step when width
// is 0), ignoring NaN.
func bucket(vals []float64, start time.Time, step time.Duration, from, to time.Time, width time.Duration, reduce func([]float64) float64) stepLine {
	per := max(1, int((width+step-1)/step))
	i0 := max(0, int(from.Sub(start)/step))
	i1 := min(len(vals), int((to.Sub(start)+step-1)/step))
	l := stepLine{from: start.Add(time.Duration(i0) * step), width: time.Duration(per) * step}
	var buf []float64
	for i := i0; i < i1; i += per {
		buf = buf[:0]
		for _, v := range vals[i:min(i+per, i1)] {
			if finite(v) {
				buf = append(buf, v)
			}
		}
		v := math.NaN()
		if len(buf) > 0 {
			v = reduce(buf)
		}
		l.vals = append(l.vals, v)
	}
	return l
}

func maxOf(v []float64) float64 { return slices.Max(v) }
func minOf(v []float64) float64 { return slices.Min(v) }
func meanOf(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// zoomWindow is the zoomSpan around the reactive policy's largest
// shortfall in the evaluated time, or else around the busiest day, within
// the span; why says which.
func (s *series) zoomWindow() (from, to time.Time, why string) {
	center, why := s.worstReactive()
	if why == "" {
		center, why = s.busiestDay()
	}
	from = center.Add(-zoomSpan / 2)
	if end := from.Add(zoomSpan); end.After(s.end) {
		from = s.end.Add(-zoomSpan)
	}
	if from.Before(s.start) {
		from = s.start
	}
	to = from.Add(zoomSpan)
	if to.After(s.end) {
		to = s.end
	}
	return from, to, why
}

func (s *series) worstReactive() (time.Time, string) {
	c := s.capacity[backtest.Reactive]
	first := 0
	if from := s.res.Input.EvaluatedFrom; from.After(s.start) {
		first = int((from.Sub(s.start) + s.sync - 1) / s.sync)
	}
	worst, at := 0.0, -1
	for k := first; k < len(c); k++ {
		if short := s.load[k] - c[k]; short > worst {
			worst, at = short, k
		}
	}
	if at < 0 {
		return time.Time{}, ""
	}
	t := s.start.Add(time.Duration(at) * s.sync)
	return t, fmt.Sprintf("around the reactive HPA's largest shortfall (a load of %.4g above its ready capacity at %s)", worst, formatTime(t))
}

func (s *series) busiestDay() (time.Time, string) {
	vals := s.res.Demand
	day := max(1, int(24*time.Hour/s.step))
	if len(vals) <= day {
		return s.start.Add(s.end.Sub(s.start) / 2), "the whole span"
	}
	sum, best, at := 0.0, math.Inf(-1), 0
	for i, v := range vals {
		if !math.IsNaN(v) {
			sum += v
		}
		if j := i - day; j >= 0 && !math.IsNaN(vals[j]) {
			sum -= vals[j]
		}
		if i >= day-1 && sum > best {
			best, at = sum, i-day+1
		}
	}
	from := s.start.Add(time.Duration(at) * s.step)
	return from.Add(12 * time.Hour), fmt.Sprintf("around the busiest day (the 24 hours from %s)", formatTime(from))
}

func timeSpans(spans []backtest.TimeSpan, from, to time.Time) [][2]float64 {
	var out [][2]float64
	for _, sp := range spans {
		if sp.End.After(from) && sp.Start.Before(to) {
			out = append(out, [2]float64{chartX(sp.Start), chartX(sp.End)})
		}
	}
	return out
}

func timesWithin(times []time.Time, from, to time.Time) []float64 {
	var out []float64
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			out = append(out, chartX(t))
		}
	}
	return out
}

// frontierKeys lists the swept policies with points, in report order.
func frontierKeys(f map[string][]backtest.FrontierPoint) []string {
	var keys []string
	for p, pts := range f {
		if len(pts) > 0 {
			keys = append(keys, p)
		}
	}
	rank := func(p string) int {
		if i := slices.Index(backtest.Policies(), p); i >= 0 {
			return i
		}
		return len(backtest.Policies())
	}
	sort.Slice(keys, func(a, b int) bool {
		if ra, rb := rank(keys[a]), rank(keys[b]); ra != rb {
			return ra < rb
		}
		return keys[a] < keys[b]
	})
	return keys
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// maxShiftMarkers is the most level-shift lines a chart draws: a detector
// that confirms a shift on many daily ramps would otherwise turn a
// chart of weeks into a barcode.
const maxShiftMarkers = 40

// sparse returns the ascending xs when there are at most n of them, else
// the first of them in each of n equal parts of [from, to).
func sparse(xs []float64, from, to float64, n int) []float64 {
	if len(xs) <= n || to <= from {
		return xs
	}
	var out []float64
	last := -1
	for _, x := range xs {
		part := min(int(float64(n)*(x-from)/(to-from)), n-1)
		if part > last {
			out = append(out, x)
			last = part
		}
	}
	return out
}
