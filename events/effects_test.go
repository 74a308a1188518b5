package events

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// salesAndGala is 30 days of five-minute load (from 2026-01-01, usual(t)
// at t) and a calendar of a sale every third day at 14:00 for 2 hours,
// from day 8 (its entries end with sale, after "duration: 2h"), and a
// "gala" on day 29 with no history and nothing declared; every event
// triples the load.
func salesAndGala(t *testing.T, sale string, usual func(time.Time) float64) (c *Calendar, values []float64, start time.Time, step time.Duration) {
	t.Helper()
	start, step = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 5*time.Minute
	var b strings.Builder
	b.WriteString("events:\n")
	for d := 8; d < 29; d += 3 {
		fmt.Fprintf(&b, "  - {name: sale, start: \"2026-01-%02dT14:00:00\", duration: 2h%s}\n", d+1, sale)
	}
	b.WriteString("  - {name: gala, start: \"2026-01-30T20:00:00\", duration: 1h}\n")
	c, err := Parse([]byte(b.String()), "sales.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values = make([]float64, 30*288)
	for i := range values {
		at := start.Add(time.Duration(i) * step)
		values[i] = usual(at)
		if o, ok := c.at(at); ok && !at.Before(o.Start) && at.Before(o.End) {
			values[i] *= 3
		}
	}
	return c, values, start, step
}

// TestLearnAndAdjust checks, on a daily cycle where every "sale" triples
// the load for its two hours, that the effect is learned (about 3× over
// the window, 1× outside), that a declared multiplier is used until
// MinLearned occurrences are seen, and that an event with neither is a
// known unknown that widens the forecast, or is sized as the target's
// other events went.
func TestLearnAndAdjust(t *testing.T) {
	// usual is the load without events at a time of day.
	usual := func(at time.Time) float64 {
		h := float64(at.Hour()) + float64(at.Minute())/60
		return 100 + 50*math.Sin(2*math.Pi*h/24)
	}
	c, values, start, step := salesAndGala(t, ", lead: 30m, multiplier: 2", usual)
	mask := c.Mask(len(values), start, step)
	if !mask[int(time.Date(2026, 1, 9, 13, 40, 0, 0, time.UTC).Sub(start)/step)] || mask[int(time.Date(2026, 1, 9, 13, 25, 0, 0, time.UTC).Sub(start)/step)] {
		t.Errorf("the mask does not open the sale's window 30 minutes before it")
	}

	near := func(got, want float64) bool { return math.Abs(got-want) < 0.02*want }

	// With the first two sales only, the declared ×2 is used: on the usual
	// load, or on the forecast when it is higher (the model follows a sale
	// under way; it is not counted twice).
	early := Learn(c, values[:12*288], start, step)
	at := time.Date(2026, 1, 27, 15, 0, 0, 0, time.UTC)
	if v, u := early.Adjust(100, at, 0.9, Observation{}); !near(v, 2*usual(at)) || u == nil || u.Source != "declared" || u.Learned != 2 {
		t.Errorf("after 2 sales: %v, %+v; want %.1f, declared, 2 learned", v, u, 2*usual(at))
	}
	if v, _ := early.Adjust(500, at, 0.9, Observation{}); v != 500 {
		t.Errorf("after 2 sales, a forecast already above: %v, want it kept", v)
	}
	// With all of them, the learned effect: 3× during the sale, 1× in the
	// lead before it.
	e := Learn(c, values[:29*288], start, step)
	if e.Learned("sale") != 7 {
		t.Fatalf("learned from %d sales, want 7", e.Learned("sale"))
	}
	if v, u := e.Adjust(50, at, 0.9, Observation{}); !near(v, 3*usual(at)) || u.Source != "learned" || !near(u.Factor, 3) {
		t.Errorf("during a sale: %v, %+v; want %.1f, learned ×3", v, u, 3*usual(at))
	}
	lead := at.Add(-80 * time.Minute)
	if v, u := e.Adjust(50, lead, 0.9, Observation{}); !near(v, usual(lead)) || u == nil || !near(u.Factor, 1) {
		t.Errorf("in the lead before a sale: %v, %+v; want %.1f (×1)", v, u, usual(lead))
	}
	// The gala has no past occurrence and nothing declared: a known
	// unknown, sized as this target's events went (the sales: ×3) rather
	// than by the widening (×2).
	gala := time.Date(2026, 1, 30, 20, 30, 0, 0, time.UTC)
	if v, u := e.Adjust(50, gala, 0.9, Observation{}); !near(v, 3*usual(gala)) || u.Source != "unknown" || u.Others != 7 || !near(u.Factor, 3) {
		t.Errorf("the gala, under way: %v, %+v; want %.1f (three times its usual load, as 7 sales went), unknown", v, u, 3*usual(gala))
	}
	if v, _ := e.Adjust(400, gala, 0.9, Observation{}); v != 400 {
		t.Errorf("the gala, under way, a forecast above three times its usual load: %v, want it kept", v)
	}
	// With two sales seen, too few: the widening, twice its usual load.
	if v, u := early.Adjust(50, gala, 0.9, Observation{}); !near(v, 2*usual(gala)) || u.Source != "unknown" || u.Others != 0 {
		t.Errorf("the gala, under way, after 2 sales: %v, %+v; want %.1f (twice its usual load), unknown", v, u, 2*usual(gala))
	}
	if v, u := e.Adjust(100, time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC), 0.9, Observation{}); v != 100 || u != nil {
		t.Errorf("outside events: %v, %+v", v, u)
	}
	// Without a usual level (too little history: half a day, none of it
	// at 15:00), the factor multiplies the forecast.
	if v, u := Learn(c, values[:150], start, step).Adjust(100, at, 0.9, Observation{}); v != 200 || u.Source != "declared" {
		t.Errorf("without a usual level: %v, %+v; want 200", v, u)
	}
}

// TestUnknownBeforeItStarts checks that a known unknown widens the
// forecast in its lead, before the event starts.
func TestUnknownBeforeItStarts(t *testing.T) {
	c, err := Parse([]byte("events:\n  - {name: gala, start: \"2026-01-30T20:00:00\", duration: 1h, lead: 1h}\n"), "gala.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := Learn(c, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute)
	if v, u := e.Adjust(150, time.Date(2026, 1, 30, 19, 30, 0, 0, time.UTC), 0.9, Observation{}); v != 300 || u.Source != "unknown" {
		t.Errorf("in the lead: %v, %+v; want 300, unknown", v, u)
	}
}

// TestLearnCoarseSteps checks that an event of fewer steps than a window
// has bins (an hour at 15 minutes: 4 points) is learned, and that its
// effect is known between the points it was learned at.
func TestLearnCoarseSteps(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 15 * time.Minute
	n := 20 * 96
	var b strings.Builder
	b.WriteString("events:\n")
	for d := 5; d < 20; d += 3 {
		fmt.Fprintf(&b, "  - {name: promo, start: \"2026-01-%02dT%02d:00:00\", duration: 1h}\n", d, 6+d%12)
	}
	c, err := Parse([]byte(b.String()), "promo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float64, n)
	for i := range values {
		values[i] = 100
		if o, ok := c.at(start.Add(time.Duration(i) * step)); ok && !start.Add(time.Duration(i)*step).Before(o.Start) {
			values[i] = 400
		}
	}
	fx := Learn(c, values, start, step)
	if got := fx.Learned("promo"); got != 5 {
		t.Fatalf("learned from %d occurrences, want 5", got)
	}
	last := c.Occurrences[len(c.Occurrences)-1]
	for _, off := range []time.Duration{0, 7*time.Minute + 30*time.Second, 52 * time.Minute} {
		if v, u := fx.Adjust(100, last.Start.Add(off), 0.5, Observation{}); math.Abs(v-400) > 1 || u == nil || u.Source != "learned" {
			t.Errorf("%v into the event: %v, %+v; want 400, learned", off, v, u)
		}
	}
}

// promoLoad is a calendar of ten promos every other day from 8 January
// at 10:00 (2 hours, a 30-minute lead), the last on the 29th; the load of
// a promo of a size (it rises linearly to size times 100 over the first
// hour, and holds it); the load until 28 January (the first nine
// promos), 5-minute steps from 1 January; and the effects learned from
// it.
func promoLoad(t *testing.T) (c *Calendar, fx *Effects, load func(time.Time, float64) float64, values []float64, start time.Time, step time.Duration) {
	t.Helper()
	start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step = 5 * time.Minute
	n := 30 * 288
	var b strings.Builder
	b.WriteString("events:\n")
	sizes := []float64{2, 5, 3, 4, 2.5, 4.5, 3.5, 5, 2}
	for i := range sizes {
		fmt.Fprintf(&b, "  - {name: promo, start: \"2026-01-%02dT10:00:00\", duration: 2h, lead: 30m}\n", 8+2*i)
	}
	b.WriteString("  - {name: promo, start: \"2026-01-29T10:00:00\", duration: 2h, lead: 30m}\n")
	c, err := Parse([]byte(b.String()), "promo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The load rises linearly to its peak at the end of the first hour,
	// and holds it.
	load = func(at time.Time, size float64) float64 {
		o, ok := c.at(at)
		if !ok || at.Before(o.Start) || !at.Before(o.End) {
			return 100
		}
		u := min(1, at.Sub(o.Start).Hours())
		return 100 * (1 + (size-1)*u)
	}
	values = make([]float64, n)
	for i := range values {
		at := start.Add(time.Duration(i) * step)
		size := 1.0
		if o, ok := c.at(at); ok {
			if k := (o.Start.Day() - 8) / 2; k < len(sizes) {
				size = sizes[k]
			}
		}
		values[i] = load(at, size)
	}
	values = values[:int(time.Date(2026, 1, 28, 0, 0, 0, 0, time.UTC).Sub(start)/step)]
	fx = Learn(c, values, start, step)
	if got := fx.Learned("promo"); got != len(sizes) {
		t.Fatalf("learned from %d occurrences, want %d", got, len(sizes))
	}
	return c, fx, load, values, start, step
}

// TestAdjustUnderWay checks that once an occurrence's window has opened,
// a learned effect is scaled by what is observed: past "promo"s of sizes
// ×2 to ×5 (the same shape), a ×2 one under way is provisioned near ×2
// rather than near the largest seen, and a ×8 one, larger than any seen,
// is followed; before its window opens, the unconditional quantile holds.
func TestAdjustUnderWay(t *testing.T) {
	c, fx, load, _, _, _ := promoLoad(t)
	o := c.Occurrences[len(c.Occurrences)-1]
	now, at := o.Start.Add(30*time.Minute), o.Start.Add(40*time.Minute)
	unconditional, _ := fx.Adjust(100, at, 0.9, Observation{})
	for _, size := range []float64{2, 8} {
		v, u := fx.Adjust(100, at, 0.9, Observation{Value: load(now, size), At: now})
		if want := load(at, size); math.Abs(v-want) > 0.05*want || u == nil || u.Source != "learned" || math.Abs(u.Now-load(now, size)/100) > 1e-6 {
			t.Errorf("a ×%g promo under way: %.1f (%+v), want %.1f (the unconditional is %.1f)", size, v, u, want, unconditional)
		}
	}
	if want := load(at, 5); unconditional < 0.9*want {
		t.Errorf("unconditional: %.1f, want near the largest seen, %.1f", unconditional, want)
	}
	// Observed before the window opened: the unconditional. Early in the
	// rise (past promos were not yet up by half their usual load), the
	// change past promos showed is added to the ratio now.
	seen := o.From().Add(-5 * time.Minute)
	if v, u := fx.Adjust(100, at, 0.9, Observation{Value: 100, At: seen}); v != unconditional || u.Now != 0 {
		t.Errorf("observed before the window opened: %.1f (%+v), want the unconditional %.1f", v, u, unconditional)
	}
	seen = o.Start.Add(5 * time.Minute)
	if v, _ := fx.Adjust(100, at, 0.9, Observation{Value: load(seen, 2), At: seen}); v > unconditional || v < load(at, 2) {
		t.Errorf("observed 5 minutes in: %.1f, want between the ×2 promo's %.1f and the unconditional %.1f", v, load(at, 2), unconditional)
	}
}

// TestGrowthLeaveOneOut checks that the effect of an occurrence under way
// is as uncertain as its past occurrences are unlike: alike ones give
// their common course at every quantile; the more they differ, the
// further the 0.9 quantile lies above the median. On the way down, the
// course replaces the model's value; on the way up, it is a floor.
func TestGrowthLeaveOneOut(t *testing.T) {
	c, fx, _, _, _, _ := promoLoad(t)
	o := c.Occurrences[len(c.Occurrences)-1]
	now, at := o.Start.Add(30*time.Minute), o.Start.Add(40*time.Minute)
	p := fx.learned["promo"]
	from, to := p.ratios[fx.bin(o, now)], p.ratios[fx.bin(o, at)]
	obs := Observation{Value: 2.5 * fx.usualAt(now), At: now} // ×2.5 now
	width := func(spread float64) (median, high float64) {
		for k := range from {
			from[k] = 2                                             // each had doubled at now's point,
			to[k] = float32(3 + spread*float64(k%3-1)*float64(k%2)) // and tripled at t's, give or take spread
		}
		_, median, _ = fx.growth(p, o, 0.5, obs, at)
		_, high, ok := fx.growth(p, o, 0.9, obs, at)
		if !ok {
			t.Fatalf("spread %g: no growth", spread)
		}
		return median, high
	}
	// Alike: an excess of 1 become 2; the ×2.5 under way, 1.5 become 3.
	if m, h := width(0); math.Abs(m-4) > 1e-9 || math.Abs(h-4) > 1e-9 {
		t.Errorf("alike past occurrences: median %.3f, 0.9 quantile %.3f; want both 4", m, h)
	}
	// On the way down (each past promo fell from ×3 to ×2 between the two
	// points), the course replaces a model widened by the rise; on the way
	// up it is only a floor under it.
	for k := range from {
		from[k], to[k] = 3, 2
	}
	usual := fx.usualAt(at)
	down := Observation{Value: 3 * fx.usualAt(now), At: now}
	if v, _ := fx.Adjust(1000, at, 0.9, down); math.Abs(v-2*usual) > 1e-9 {
		t.Errorf("on the way down, the model at 1000: %.1f, want the course's %.1f", v, 2*usual)
	}
	for k := range from {
		from[k], to[k] = 2, 3
	}
	if v, _ := fx.Adjust(1000, at, 0.9, down); v != 1000 {
		t.Errorf("on the way up, the model at 1000: %.1f, want 1000", v)
	}
	// One odd past promo (it had barely started at now's point) moves the
	// quantile by its own distance, never more: the others say ×4 given
	// ×2.5 now; it went to ×3 where they say ×0.04 given its ×0.52, a miss
	// of 2.96 (with few promos the conformal 0.9-quantile is the largest
	// miss), not by its ratio to the others'.
	for k := range from {
		from[k], to[k] = 2, 3
	}
	from[0] = 0.52
	if _, r, ok := fx.growth(p, o, 0.9, obs, at); !ok || r > 4+2.96+1e-6 {
		t.Errorf("one odd past promo: 0.9 quantile ×%.2f (ok %v), want at most ×%.2f", r, ok, 4+2.96)
	}
	m1, h1 := width(0.3)
	m2, h2 := width(0.9)
	if !(h1 > m1 && h2-m2 > h1-m1) {
		t.Errorf("0.9 quantile above the median: %.3f with a spread of 0.3, %.3f with 0.9; want it wider the more they differ", h1-m1, h2-m2)
	}
}

// TestUsualLevelOfNoisyLoad checks that the usual level an event is
// measured against is that of the time of day, not of one step's noise:
// on a flat 100 a minute with ±30% noise, every step of the usual day is
// within 15% of 100 (the median of one step's seven days strays by 25%
// and more somewhere in the day), and the usual day stays as it was at
// hourly steps, where the span holds no other step.
func TestUsualLevelOfNoisyLoad(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := Parse([]byte("events:\n  - {name: sale, start: \"2026-01-20T12:00:00\", duration: 1h}\n"), "sale.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]float64, 10*1440)
	for i := range values {
		values[i] = 100 * (1 + 0.3*(2*rng.Float64()-1))
	}
	fx := Learn(c, values, start, time.Minute)
	worst := 0.0
	for _, u := range fx.usual {
		worst = max(worst, math.Abs(float64(u)/100-1))
	}
	if len(fx.usual) != 1440 || worst > 0.15 {
		t.Errorf("usual day of %d steps strays up to %.1f%% from 100, want 1440 within 15%%", len(fx.usual), 100*worst)
	}

	hourly := make([]float64, 10*24)
	for i := range hourly {
		hourly[i] = float64(100 + i%24) // each hour its own level
	}
	fx = Learn(c, hourly, start, time.Hour)
	for k, u := range fx.usual {
		if u != float32(100+k) {
			t.Errorf("hourly usual level at %02d:00 is %v, want %d", k, u, 100+k)
		}
	}
}

// TestMedian checks the selection against the sorted median, on lengths
// odd and even, with ties.
func TestMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 80; n++ {
		for trial := range 20 {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(1 + trial*n/4)) // few distinct values at first: ties
			}
			want := sortedQuantile(slices.Clone(xs), 0.5)
			if got := median(xs); got != want {
				t.Fatalf("median of %d values (trial %d): %v, want %v", n, trial, got, want)
			}
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Errorf("median of nothing is not NaN")
	}
}

// TestBinsFollowTheStartAndTheEnd checks where the points of occurrences
// of 2, 3 and 4 hours (typically 3) fall: in their first half, by the time
// since the start in bins of the typical occurrence's, so that 20 minutes
// into each is one bin; after it, by the share of the time left, so that
// midway from there to each end is one bin; the lead and the lag by their
// share.
func TestBinsFollowTheStartAndTheEnd(t *testing.T) {
	t0 := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	var doc strings.Builder
	doc.WriteString("events:\n")
	for k, hours := range []int{2, 3, 4} {
		fmt.Fprintf(&doc, "  - {name: match, start: %q, duration: %dh, lead: 30m, lag: 1h}\n", t0.Add(time.Duration(k)*24*time.Hour).Format(time.RFC3339), hours)
	}
	c, err := Parse([]byte(doc.String()), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fx := Learn(c, nil, t0, time.Minute)
	const typical = 3 * time.Hour
	if got := fx.typical["match"]; got != typical {
		t.Fatalf("the typical match lasts %v, want 3h", got)
	}
	for _, tc := range []struct {
		what string
		want int
		at   func(o Occurrence) time.Time
	}{
		{"the lead's start", 0, func(o Occurrence) time.Time { return o.From() }},
		{"15 minutes before", leadBins / 2, func(o Occurrence) time.Time { return o.Start.Add(-15 * time.Minute) }},
		{"the start", leadBins, func(o Occurrence) time.Time { return o.Start }},
		{"20 minutes in", leadBins + eventBins/2*20/90, func(o Occurrence) time.Time { return o.Start.Add(20 * time.Minute) }},
		{"midway from half to end", leadBins + eventBins/2 + eventBins/4, func(o Occurrence) time.Time {
			d := o.End.Sub(o.Start)
			return o.End.Add(-(d - min(d, typical)/2) / 2)
		}},
		{"the last minute", leadBins + eventBins - 1, func(o Occurrence) time.Time { return o.End.Add(-time.Minute) }},
		{"the lag's start", leadBins + eventBins, func(o Occurrence) time.Time { return o.End }},
		{"the lag's end", bins - 1, func(o Occurrence) time.Time { return o.To().Add(-time.Minute) }},
	} {
		var got []int
		for _, o := range c.Occurrences {
			got = append(got, fx.bin(o, tc.at(o)))
		}
		if slices.ContainsFunc(got, func(b int) bool { return b != tc.want }) {
			t.Errorf("%s: bins %v, want %d in each", tc.what, got, tc.want)
		}
	}
	// 89 minutes in, the last bin of the first half for the typical
	// occurrence and the longer one.
	for _, o := range c.Occurrences[1:] {
		if b := fx.bin(o, o.Start.Add(89*time.Minute)); b != leadBins+eventBins/2-1 {
			t.Errorf("89 minutes into a %v occurrence: bin %d, want %d", o.End.Sub(o.Start), b, leadBins+eventBins/2-1)
		}
	}
}

// TestConformalQuantile checks the ranks split conformal prediction
// takes: ⌈(n+1)q⌉ above one half, ⌊(n+1)q⌋ below, capped at the ends.
func TestConformalQuantile(t *testing.T) {
	ranks := func(n int) []float64 { // 1..n, shuffled
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64((i*7)%n + 1)
		}
		return xs
	}
	for _, tc := range []struct {
		n    int
		q    float64
		want float64
	}{
		{19, 0.9, 18}, {9, 0.9, 9}, {30, 0.9, 28}, {19, 0.1, 2}, {9, 0.05, 1},
		{9, 0.5, 5}, {10, 0.5, 5.5}, {1, 0.9, 1}, {4, 0.99, 4},
	} {
		if got := conformalQuantile(ranks(tc.n), tc.q); got != tc.want {
			t.Errorf("the %v-quantile of 1..%d is %v, want %v", tc.q, tc.n, got, tc.want)
		}
	}
	if got := conformalQuantile(nil, 0.9); !math.IsNaN(got) {
		t.Errorf("of nothing: %v, want NaN", got)
	}
}

// TestUnknownSizedByOtherEvents checks that a known unknown under way,
// once the target has seen MinLearned events of other names, follows
// their growth from the ratio now (as a learned effect follows its own
// name's), that it is never lowered below the widening, and that the
// reason of a Use says how many sized it.
func TestUnknownSizedByOtherEvents(t *testing.T) {
	c, values, start, step := salesAndGala(t, "", func(time.Time) float64 { return 100 })
	e := Learn(c, values[:29*288], start, step) // the gala is yet to come
	gala := time.Date(2026, 1, 30, 20, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		now   float64 // the load observed at 20:20
		want  float64
		other bool // sized by the sales, not the widening
	}{
		// The sales went on as they were (×3 throughout): a gala at
		// ×4 now is followed at ×4, and one at ×1.2 held at the
		// widening, ×2, not lowered to ×1.2.
		{"running at four times its usual load", 400, 400, true},
		{"running at 1.2 times its usual load", 120, 200, false},
	} {
		now := Observation{Value: tc.now, At: gala.Add(-10 * time.Minute)}
		v, u := e.Adjust(50, gala, 0.9, now)
		if math.Abs(v-tc.want) > 1 || u == nil || u.Source != "unknown" || (u.Others > 0) != tc.other {
			t.Errorf("%s: %v, %+v; want %v (sized by the sales: %v)", tc.name, v, u, tc.want, tc.other)
		}
		if tc.other && u.Others != 7 {
			t.Errorf("%s: sized by %d past events, want the 7 sales", tc.name, u.Others)
		}
		// A restored state (a restarted service) pools them alike.
		back, err := Restore(c, e.State())
		if err != nil {
			t.Fatal(err)
		}
		if rv, ru := back.Adjust(50, gala, 0.9, now); rv != v || ru == nil || *ru != *u {
			t.Errorf("%s: restored %v (%+v), learned %v (%+v)", tc.name, rv, ru, v, u)
		}
	}
}

// TestPoolTakesEveryName checks that the pool of every name's
// occurrences keeps MaxLearned at most, the newest of each name first (a
// name seen often does not crowd out one seen seldom), and none with
// fewer than MinLearned.
func TestPoolTakesEveryName(t *testing.T) {
	learned := map[string]*profile{}
	for name, count := range map[string]int{"often": 40, "seldom": 2, "some": 5} {
		p := &profile{seen: count}
		for k := range count {
			for b := range p.ratios {
				p.ratios[b] = append(p.ratios[b], float32(len(name)*1000+k)) // which name, which occurrence
			}
		}
		learned[name] = p
	}
	p := pool(learned)
	if p == nil || p.seen != MaxLearned || len(p.ratios[0]) != MaxLearned || len(p.ratios[bins-1]) != MaxLearned {
		t.Fatalf("pooled %+v, want %d occurrences", p, MaxLearned)
	}
	kept := map[int]int{}
	for _, r := range p.ratios[0] {
		kept[int(r)/1000]++
		if k := int(r) % 1000; int(r)/1000 == len("often") && k < 40-(MaxLearned-7) {
			t.Errorf("kept occurrence %d of 'often', older than its newest %d", k, MaxLearned-7)
		}
	}
	if kept[len("seldom")] != 2 || kept[len("some")] != 5 || kept[len("often")] != MaxLearned-7 {
		t.Errorf("kept %v (by name length), want every occurrence of 'seldom' and 'some'", kept)
	}
	if pool(map[string]*profile{"one": {seen: 2, ratios: [bins][]float32{0: {1, 2}}}}) != nil {
		t.Errorf("pooled 2 occurrences, fewer than MinLearned: want none")
	}
}
