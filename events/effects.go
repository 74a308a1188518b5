package events

import (
	"math"
	"slices"
	"sort"
	"time"
)

// How events change a forecast.
const (
	// MinLearned is how many past occurrences of an event's name must have
	// been seen before their learned effect is used; until then a declared
	// effect is used.
	MinLearned = 3
	// MaxLearned is how many of the last occurrences a learned effect keeps.
	MaxLearned = 32
	// The resolution of a learned effect over an occurrence's window: its
	// lead, the event itself and its lag are each cut into this many bins
	// (see Effects.bin), so that occurrences of different durations line
	// up at their start, their end, and the course of their first hours.
	leadBins  = 8
	eventBins = 48
	lagBins   = 8
	bins      = leadBins + eventBins + lagBins
	// UnknownWidening multiplies the forecast over the window of an event
	// with neither a learned nor a declared effect: a known unknown, which
	// never lowers the forecast.
	UnknownWidening = 2.0
	// baselineDays is how many previous days at the same time of day make
	// the baseline an occurrence's load is compared with (the usual
	// level), and baselineSpan how far either side of that time of day
	// their loads count, in whole steps and at most maxSpanSteps: the
	// median of 77 loads at one-minute steps and 21 at five, rather than
	// of one step's seven, which strays with the noise of each (by 25% on
	// a load with ±30% noise, TestUsualLevelOfNoisyLoad). Hourly steps
	// take one step a day, and no step takes more than 77 loads: learning
	// from two weeks with a window of six hours a day takes 5 ms at one
	// minute and 0.25 s at one second (BenchmarkLearn; 0.75 ms and 40 ms
	// with one load a day). The level needs two loads: with a span, one
	// day of history gives it.
	baselineDays = 7
	baselineSpan = 5 * time.Minute
	maxSpanSteps = 5
)

// Effects are a calendar's events with the effect of each name learned
// from a history: the ratio of the load to its usual level (the median of
// the loads within baselineSpan of the same time of day over the previous
// week, outside events; two loads at least), bin by
// bin over the occurrence's window, one ratio per past occurrence. Memory:
// 4 bytes per bin (64) per occurrence kept (at most MaxLearned), 8 KiB a
// name at most, and its typical duration, and 8 KiB more at most for the
// pool of every name's; building one takes 8 bytes per occurrence of the
// calendar while it runs.
type Effects struct {
	Calendar *Calendar
	learned  map[string]*profile
	// anyName pools the newest occurrences of every name (see pool): how
	// events of this target go, which sizes an event whose own name has
	// too few occurrences learned and no declared effect (a known unknown).
	anyName *profile
	// usual is the usual load of each step of the day after the history
	// (from usualStart, every usualStep), outside events: the level an
	// event's factor multiplies. Nil when a day has more than maxUsual
	// steps or the history is too short.
	usual      []float32
	usualStart time.Time
	usualStep  time.Duration
	// typical is the median duration of each name's occurrences in the
	// calendar, past and future (see bin).
	typical map[string]time.Duration
}

// maxUsual bounds the usual day: 2,880 steps (30 s), 11 KiB.
const maxUsual = 2880

// profile is the learned effect of one name.
type profile struct {
	ratios [bins][]float32 // per bin, per occurrence (oldest first)
	seen   int             // occurrences learned from
}

// bin is the bin of time t in o's window. The lead and the lag are cut
// into bins of equal length. So is the event, in two halves: the first
// by the time since its start, in bins of the typical occurrence's
// (half its duration over half the bins: an event's rise follows its
// announced start, whatever its length), the rest by the share of the
// remaining time to its end (its decay follows its end). An occurrence
// shorter than the typical one leaves the bins of its first half past
// its own half unfilled (see fillBins); a longer one times its first
// half of the typical's length and shares the rest.
func (e *Effects) bin(o Occurrence, t time.Time) int {
	seg := func(from, to time.Time, first, n int) int {
		if !to.After(from) {
			return first
		}
		return first + min(n-1, max(0, int(float64(n)*float64(t.Sub(from))/float64(to.Sub(from)))))
	}
	switch {
	case t.Before(o.Start):
		return seg(o.From(), o.Start, 0, leadBins)
	case t.Before(o.End):
		d := o.End.Sub(o.Start)
		typical := e.typical[o.Event.Name]
		if typical <= 0 {
			typical = d
		}
		half := o.Start.Add(min(d, typical) / 2)
		if t.Before(half) {
			return seg(o.Start, o.Start.Add(typical/2), leadBins, eventBins/2)
		}
		return seg(half, o.End, leadBins+eventBins/2, eventBins/2)
	}
	return seg(o.End, o.To(), leadBins+eventBins, lagBins)
}

// newEffects is the effects of calendar c with nothing learned yet.
func newEffects(c *Calendar) *Effects {
	e := &Effects{Calendar: c, learned: map[string]*profile{}, typical: map[string]time.Duration{}}
	if c == nil {
		return e
	}
	durations := map[string][]float64{}
	for _, o := range c.Occurrences {
		durations[o.Event.Name] = append(durations[o.Event.Name], float64(o.End.Sub(o.Start)))
	}
	for name, ds := range durations {
		e.typical[name] = time.Duration(sortedQuantile(ds, 0.5))
	}
	return e
}

// Known is the calendar e was learned with; nil for a nil e.
func (e *Effects) Known() *Calendar {
	if e == nil {
		return nil
	}
	return e.Calendar
}

// Learned returns how many past occurrences of name were learned from.
func (e *Effects) Learned(name string) int {
	if e == nil || e.learned[name] == nil {
		return 0
	}
	return e.learned[name].seen
}

// Mask returns whether each point of a series (start, step) lies in an
// occurrence's window.
func (c *Calendar) Mask(n int, start time.Time, step time.Duration) []bool {
	mask := make([]bool, n)
	if c == nil || n == 0 || step <= 0 {
		return mask
	}
	end := start.Add(time.Duration(n) * step)
	for _, o := range c.Between(start, end) {
		from := max(0, int(math.Ceil(float64(o.From().Sub(start))/float64(step))))
		to := min(n, int(math.Ceil(float64(o.To().Sub(start))/float64(step))))
		for i := from; i < to; i++ {
			mask[i] = true
		}
	}
	return mask
}

// Learn learns the effect of each event name from values (start, step):
// from the occurrences whose windows lie within it.
func Learn(c *Calendar, values []float64, start time.Time, step time.Duration) *Effects {
	e := newEffects(c)
	if c == nil || len(values) == 0 || step <= 0 {
		return e
	}
	mask := c.Mask(len(values), start, step)
	day := int(24 * time.Hour / step)
	span := min(int(baselineSpan/step), maxSpanSteps)
	var prev []float64
	baseline := func(i int) float64 {
		prev = prev[:0]
		for k := 1; k <= baselineDays; k++ {
			for j := i - k*day - span; j <= i-k*day+span; j++ {
				if j >= 0 && j < len(values) && !mask[j] && finite(values[j]) {
					prev = append(prev, values[j])
				}
			}
		}
		if len(prev) < 2 {
			return math.NaN()
		}
		return median(prev)
	}
	end := start.Add(time.Duration(len(values)) * step)
	if day <= maxUsual {
		e.usualStart, e.usualStep = end, step
		e.usual = make([]float32, day)
		known := 0
		for k := range e.usual {
			e.usual[k] = finite32(baseline(len(values) + k))
			if finite(float64(e.usual[k])) {
				known++
			}
		}
		if known == 0 {
			e.usual = nil
		}
	}
	for _, o := range c.Between(start, end) {
		if o.From().Before(start) || o.To().After(end) {
			continue // only whole windows teach
		}
		p := e.learned[o.Event.Name]
		if p == nil {
			p = &profile{}
			e.learned[o.Event.Name] = p
		}
		var act, base [bins]float64
		var hit [bins]bool // the bins a point of the grid falls in
		first := int(math.Ceil(float64(o.From().Sub(start)) / float64(step)))
		for i := first; i < len(values) && start.Add(time.Duration(i)*step).Before(o.To()); i++ {
			b := e.bin(o, start.Add(time.Duration(i)*step))
			hit[b] = true
			if bl := baseline(i); finite(values[i]) && finite(bl) {
				act[b] += values[i]
				base[b] += bl
			}
		}
		var ratios [bins]float32
		usable, want := 0, 0
		for b := range ratios {
			ratios[b] = float32(math.NaN())
			if r := finite32(act[b] / base[b]); base[b] > 0 && finite(float64(r)) {
				ratios[b] = r
				usable++
			}
			if hit[b] {
				want++
			}
		}
		if 2*usable < want {
			continue // too little data, or no baseline, for this occurrence
		}
		fillBins(&ratios)
		for b := range p.ratios {
			if len(p.ratios[b]) == MaxLearned {
				p.ratios[b] = p.ratios[b][1:]
			}
			p.ratios[b] = append(p.ratios[b], ratios[b])
		}
		p.seen++
	}
	e.anyName = pool(e.learned)
	return e
}

// pool is the profile of every name's occurrences together, MaxLearned
// at most: the newest of each name, then the second newest of each, and
// so on, names in order, so that one name seen often does not stand for
// all; nil with fewer than MinLearned. Its seen counts those kept. It
// is derived from the names' profiles (a restored state gives the same).
func pool(learned map[string]*profile) *profile {
	names := make([]string, 0, len(learned))
	total := 0
	for name, p := range learned {
		names = append(names, name)
		total += len(p.ratios[0])
	}
	if total < MinLearned {
		return nil
	}
	slices.Sort(names)
	out := &profile{}
	for k := 1; out.seen < MaxLearned && out.seen < total; k++ {
		for _, name := range names {
			p := learned[name]
			if i := len(p.ratios[0]) - k; i >= 0 && out.seen < MaxLearned {
				for b := range out.ratios {
					out.ratios[b] = append(out.ratios[b], p.ratios[b][i])
				}
				out.seen++
			}
		}
	}
	return out
}

// fillBins gives each bin without a ratio that of the nearest bin with
// one in the same part of the window (lead, event or lag): a window of
// fewer steps than bins leaves bins no point falls in, which a forecast at
// another alignment to the grid may ask for.
func fillBins(r *[bins]float32) {
	for _, part := range [][2]int{{0, leadBins}, {leadBins, leadBins + eventBins}, {leadBins + eventBins, bins}} {
		src := *r
		for b := part[0]; b < part[1]; b++ {
			if finite(float64(src[b])) {
				continue
			}
			for d := 1; d < part[1]-part[0]; d++ {
				if lo := b - d; lo >= part[0] && finite(float64(src[lo])) {
					r[b] = src[lo]
					break
				}
				if hi := b + d; hi < part[1] && finite(float64(src[hi])) {
					r[b] = src[hi]
					break
				}
			}
		}
	}
}

// Use says how an event changed a forecast value.
type Use struct {
	Occurrence Occurrence
	// Source: "learned", "declared" or "unknown".
	Source string
	// Learned is how many past occurrences the effect was learned from.
	Learned int
	// Others, for an unknown effect, is how many past occurrences of any
	// name sized it (see Adjust); 0 when the widening did.
	Others int
	// Factor is the value's multiplier (for a declared load, the load over
	// the value).
	Factor float64
	// Now is the ratio of the latest observation to its usual level when
	// a learned effect was scaled by it (the occurrence under way); 0 when
	// not.
	Now float64
}

// Observation is the latest observed load and its time: a learned effect
// is scaled by it once an occurrence's window has opened.
type Observation struct {
	Value float64
	At    time.Time
}

// Adjust returns the forecast v of the load at t (the load provisioned at
// q, or the q-quantile) as the event whose window holds t changes it, and
// how; v and nil when none does.
//
// The event's factor at t is the q-quantile of the ratios its past
// occurrences showed at that point of the window, once MinLearned were
// learned from (the effect's own uncertainty), or else a declared
// multiplier; the value is then the larger of v and the usual load at
// that time of day times the factor: the model may already follow an
// event under way, and what it has taken is not counted twice; the
// forecast is never lowered. Without a usual level (fewer than two
// loads in the spans of the previous days: less than a day of history,
// or two at hourly steps), the factor multiplies v. A declared load,
// until the effect is learned, is instead the least the value can be.
// An event with neither a learned nor a declared effect is a known
// unknown: before it starts (in its lead), v is widened by
// UnknownWidening; once under way, the model follows it, and
// UnknownWidening times its usual load is the floor. Once the target has
// seen MinLearned occurrences of any names, the value is at least what
// they say, as a learned effect's is (sizeUnknown).
//
// Once an occurrence's window has opened (now is within it, before t), a
// learned factor is that of the occurrence under way: what each past
// occurrence did between now's point of the window and t's, applied to
// the ratio now observed, their median, plus the q-quantile of how far
// each past occurrence strayed from what the others said of it (see
// growth). A small occurrence is not provisioned as the largest seen, a
// larger one than any seen is followed, and one that has ended early is
// not held up.
// Where that factor is below the ratio now (the occurrence on its way
// down), the value is the usual load times it, in place of v: the model,
// trained with the events kept out, has widened its intervals with the
// errors of the rise, and the past occurrences know the way down.
func (e *Effects) Adjust(v float64, t time.Time, q float64, now Observation) (float64, *Use) {
	if e == nil || e.Calendar == nil {
		return v, nil
	}
	o, ok := e.Calendar.at(t)
	if !ok {
		return v, nil
	}
	b := e.bin(o, t)
	u := e.effect(o, q, b, b+1)
	if u.Source == "learned" {
		if r0, r, ok := e.growth(e.learned[o.Event.Name], o, q, now, t); ok {
			u.Factor, u.Now = r, r0
			if usual := e.usualAt(t); r < r0 && finite(usual) && usual > 0 {
				return usual * r, &u // on its way down: see above
			}
		}
	}
	if u.Source == "declared" && u.Factor == 0 { // a declared load
		out := max(v, o.Event.Load)
		if v > 0 {
			u.Factor = out / v
		}
		return out, &u
	}
	usual := e.usualAt(t)
	if !finite(usual) || usual <= 0 {
		return v * u.Factor, &u
	}
	out := max(v, usual*u.Factor)
	if u.Source == "unknown" {
		if t.Before(o.Start) {
			out = v * u.Factor
		}
		return e.sizeUnknown(out, usual, o, b, q, now, t, u)
	}
	return out, &u
}

// sizeUnknown is Adjust for an unknown effect u at t (bin b of o's
// window), widened to out, with the usual load at t: once the target has
// seen MinLearned occurrences of any name, at least the usual load times
// what the pooled occurrences say (anyName): the q-quantile of their
// ratios at that point of the window, or, once the window has opened,
// their growth from the ratio now. A new kind of event is sized by how
// this target's events go until its own are learned, rather than left to
// a model whose intervals were calibrated on calm load.
func (e *Effects) sizeUnknown(out, usual float64, o Occurrence, b int, q float64, now Observation, t time.Time, u Use) (float64, *Use) {
	if e.anyName == nil {
		return out, &u
	}
	f := quantile(e.anyName.ratios[b], q)
	if _, r, ok := e.growth(e.anyName, o, q, now, t); ok {
		f = r
	}
	if finite(f) && usual*f > out {
		u.Factor, u.Others = f, e.anyName.seen
		return usual * f, &u
	}
	return out, &u
}

// growth returns the ratio of the observation now to its usual level and
// the ratio t will have given it, at quantile q, from the past
// occurrences of p (o's name's, or any name's for an unknown effect).
// Each past occurrence's course says what t's ratio is given
// the ratio now (see follow); the forecast is the median of what they
// say, plus the q-quantile of how far each past occurrence's own ratio
// at t was from the median of what the others said given its ratio at
// now's point (leave one out, in ratios: one odd occurrence moves it by
// its own distance, never more): the effect's own uncertainty, measured
// rather than assumed, so that noisy or few past occurrences widen it
// and alike ones narrow it; the conformal quantile (conformalQuantile),
// so that it covers q of the occurrence under way, however few the past
// ones. False when now is not within o's window
// before t, its usual level is unknown, or fewer than two past
// occurrences have both points.
func (e *Effects) growth(p *profile, o Occurrence, q float64, now Observation, t time.Time) (r0, r float64, ok bool) {
	if !finite(now.Value) || now.Value < 0 || now.At.Before(o.From()) || !now.At.Before(o.To()) || now.At.After(t) {
		return 0, 0, false
	}
	usual := e.usualAt(now.At)
	if !finite(usual) || usual <= 0 {
		return 0, 0, false
	}
	r0 = now.Value / usual
	from, to := p.ratios[e.bin(o, now.At)], p.ratios[e.bin(o, t)]
	var cbuf [MaxLearned]course
	cs := cbuf[:0]
	for k := range min(len(from), len(to)) {
		c := course{a: float64(from[k]) - 1, z: float64(to[k]) - 1}
		if finite(c.a) && finite(c.z) { // else a bin that occurrence did not fill
			cs = append(cs, c)
		}
	}
	if len(cs) < 2 {
		return 0, 0, false
	}
	var said, missed [MaxLearned]float64
	for k, ck := range cs {
		others := said[:0]
		for j, cj := range cs {
			if j != k {
				others = append(others, cj.follow(1+ck.a))
			}
		}
		missed[k] = 1 + ck.z - sortedQuantile(others, 0.5)
	}
	for k, c := range cs {
		said[k] = c.follow(r0)
	}
	r = max(0, sortedQuantile(said[:len(cs)], 0.5)+conformalQuantile(missed[:len(cs)], q))
	return r0, r, finite(r)
}

// course is a past occurrence's excess over its usual level (its ratio
// less 1) at two points of the window: a at now's, z at the forecast's.
type course struct{ a, z float64 }

// follow is the ratio at the forecast's point this course says, given the
// ratio r0 now: an occurrence that had risen by at least minExcess scales
// its excess to the excess now (an event adds load in proportion to its
// size); one that had not adds its change to the ratio now (scaling a
// small excess would scale noise). No load is negative.
func (c course) follow(r0 float64) float64 {
	if c.a >= minExcess {
		return max(0, 1+(r0-1)*c.z/c.a)
	}
	return max(0, r0+c.z-c.a)
}

// minExcess is the least excess over its usual level (a ratio above 1) a
// past occurrence must have shown at a point of the window to be scaled
// to the size of one under way: half its usual load again.
const minExcess = 0.5

// Summary says which effect o gets at quantile q, as Adjust decides it,
// over the event itself: Factor is the largest learned ratio there, a
// declared multiplier, or UnknownWidening, or for a known unknown the
// largest q-quantile of the ratios of any name's past occurrences there
// when larger (Others says how many: see sizeUnknown); 0 for a declared
// load (it is o.Event.Load). A nil e has learned nothing.
func (e *Effects) Summary(o Occurrence, q float64) Use {
	u := e.effect(o, q, leadBins, leadBins+eventBins)
	if u.Source == "unknown" && e != nil && e.anyName != nil {
		if r := peak(e.anyName, q, leadBins, leadBins+eventBins); r > u.Factor {
			u.Factor, u.Others = r, e.anyName.seen
		}
	}
	return u
}

// effect decides the effect o gets at quantile q over its window's bins
// [from, to): a declared load until MinLearned occurrences were learned
// from (Factor 0); else the learned one, the largest q-quantile of the
// ratios of those bins (the effect's own uncertainty); else a declared
// multiplier; else a known unknown, UnknownWidening.
func (e *Effects) effect(o Occurrence, q float64, from, to int) Use {
	u := Use{Occurrence: o, Learned: e.Learned(o.Event.Name)}
	if o.Event.Load > 0 && u.Learned < MinLearned {
		u.Source = "declared"
		return u
	}
	if u.Learned >= MinLearned {
		if r := peak(e.learned[o.Event.Name], q, from, to); finite(r) {
			u.Source, u.Factor = "learned", r
			return u
		}
	}
	if o.Event.Multiplier > 0 {
		u.Source, u.Factor = "declared", o.Event.Multiplier
	} else {
		u.Source, u.Factor = "unknown", UnknownWidening
	}
	return u
}

// usualAt is the usual load at t's step of the day; NaN when unknown.
func (e *Effects) usualAt(t time.Time) float64 {
	if len(e.usual) == 0 {
		return math.NaN()
	}
	k := int(t.Sub(e.usualStart)/e.usualStep) % len(e.usual)
	if k < 0 {
		k += len(e.usual)
	}
	return float64(e.usual[k])
}

// at returns the occurrence whose window holds t (the latest to open).
func (c *Calendar) at(t time.Time) (Occurrence, bool) {
	// Occurrences are sorted by start, and windows open at most MaxLeadLag
	// before it: search from the last one starting by t + MaxLeadLag.
	i := sort.Search(len(c.Occurrences), func(i int) bool { return c.Occurrences[i].Start.After(t.Add(MaxLeadLag)) })
	for i--; i >= 0; i-- {
		o := c.Occurrences[i]
		if !t.Before(o.From()) && t.Before(o.To()) {
			return o, true
		}
		if o.Start.Add(MaxDuration + MaxLeadLag).Before(t) {
			break // no earlier window reaches t
		}
	}
	return Occurrence{}, false
}

// sortedQuantile sorts xs, finite values, and returns their q-quantile
// (linear between order statistics); NaN when xs is empty.
func sortedQuantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	pos := q * float64(len(xs)-1)
	lo := int(pos)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (pos-float64(lo))*(xs[lo+1]-xs[lo])
}

// conformalQuantile sorts xs, finite values, and returns the q-quantile
// a new value exchangeable with them falls below with probability at
// least q (split conformal prediction): for q above one half the
// ⌈(n+1)q⌉-th smallest of the n (the largest when that is beyond n),
// below one half the ⌊(n+1)q⌋-th (the smallest when that is below the
// first), their median at one half. With few values it lies further out
// than sortedQuantile's interpolation, which covers less than q of a new
// one: with 9, the 0.9-quantile is the largest, not the 8.2nd. NaN when xs
// is empty.
func conformalQuantile(xs []float64, q float64) float64 {
	n := len(xs)
	if n == 0 || q == 0.5 {
		return sortedQuantile(xs, 0.5)
	}
	slices.Sort(xs)
	k := int(math.Ceil(float64(n+1) * q))
	if q < 0.5 {
		k = int(math.Floor(float64(n+1) * q))
	}
	return xs[min(max(k, 1), n)-1]
}

// median is sortedQuantile(xs, 0.5) without sorting all of xs: xs is
// partly reordered, its middle found by selection (Hoare's, the pivot the
// median of three), in time linear in len(xs) on average.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	k := (n - 1) / 2
	lo, hi := 0, n-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Order xs[lo], xs[mid], xs[hi] and take the middle as pivot.
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		// Now xs[lo..j] <= pivot <= xs[i..hi], and xs[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			lo, hi = k, k
		}
	}
	if n%2 == 1 {
		return xs[k]
	}
	next := slices.Min(xs[k+1:])
	return xs[k] + 0.5*(next-xs[k])
}

// peak is the largest q-quantile of p's ratios over bins [from, to); NaN
// when none is known.
func peak(p *profile, q float64, from, to int) float64 {
	out := math.NaN()
	for b := from; b < to; b++ {
		if r := quantile(p.ratios[b], q); finite(r) && !(r <= out) {
			out = r
		}
	}
	return out
}

// quantile is the q-quantile of the finite values (linear interpolation);
// NaN when there is none.
func quantile(vals []float32, q float64) float64 {
	var xs []float64
	for _, v := range vals {
		if f := float64(v); finite(f) {
			xs = append(xs, f)
		}
	}
	return sortedQuantile(xs, q)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// finite32 is v as a float32, NaN (unknown) when it is not finite as one.
func finite32(v float64) float32 {
	if f := float32(v); finite(float64(f)) {
		return f
	}
	return float32(math.NaN())
}
