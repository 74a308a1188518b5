package backtest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// markZeroRuns sets every run of at least minRun zeros to NaN and returns
// the runs.
func markZeroRuns(values []float64, minRun int) []Span {
	var runs []Span
	for i := 0; i < len(values); {
		if values[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(values) && values[j] == 0 {
			j++
		}
		if j-i >= minRun {
			for k := i; k < j; k++ {
				values[k] = math.NaN()
			}
			runs = append(runs, Span{i, j})
		}
		i = j
	}
	return runs
}

// oracleWindow is, per tick t, the largest known demand over
// [t, t + Startup.Max() + Sync]: the replicas asked for at t are ready at
// t + start-up, and a scale-down at t takes effect at once, so what the
// oracle asks for must cover the whole window until its next decision
// lands. NaN when no demand in the window is known.
func oracleWindow(d *data, c *Config) []float64 {
	out := make([]float64, d.ticks)
	reach := c.Startup.Max() + c.Sync
	for k := range out {
		t := d.start.Add(time.Duration(k) * c.Sync)
		lo, hi := d.index(t), d.index(t.Add(reach))
		best := math.NaN()
		for i := max(lo, 0); i <= hi && i < len(d.values); i++ {
			if v := d.values[i]; !math.IsNaN(v) && !(v <= best) {
				best = v
			}
		}
		out[k] = best
	}
	return out
}

// accuracy scores the forecasts made a lead time ahead from fresh states
// (the model has seen the latest point) against the actuals, over the
// evaluated steps.
func accuracy(d *data, fc *forecasts, c *Config) *Accuracy {
	h := max(1, int((c.Lead+d.step-1)/d.step))
	if h > fc.h {
		h = fc.h
	}
	season := 1
	if day := int(24 * time.Hour / d.step); day >= 2 && day*2 < len(d.values) {
		season = day
	}
	a := &Accuracy{LeadSteps: h, SeasonSteps: season, Fits: len(fc.fits) + fc.failed, FailedFits: fc.failed}
	evalFrom := d.index(d.start.Add(c.Warmup))
	var errSum, naiveSum, seasonSum float64
	var pts []scored
	for j := max(evalFrom-h, 0); j+h < len(d.values); j++ {
		point, first, s := fc.state(j)
		if s == nil || first != j+1 || j+h < evalFrom {
			continue
		}
		y := d.values[j+h]
		if math.IsNaN(y) || j+h-season < 0 || math.IsNaN(d.values[j+h-season]) {
			continue
		}
		p := point[h-1]
		errSum += math.Abs(y - p)
		naiveSum += math.Abs(y - d.values[j])
		seasonSum += math.Abs(y - d.values[j+h-season])
		q := func(level float64) float64 {
			return s.quantileAt(j, level, h-1, p)
		}
		provision := s.provisionAt(j, c.Quantile, h-1, p, d.start.Add(time.Duration(j+h)*d.step))
		origin := math.NaN() // unknown when a value is missing
		if j-h >= 0 {
			origin = math.Abs(d.values[j] - d.values[j-h])
		}
		pts = append(pts, scored{math.Abs(y - d.values[j]), origin, y >= q(0.1) && y <= q(0.9), y <= q(c.Quantile), y <= provision})
	}
	a.Points = len(pts)
	if a.Points == 0 {
		return a
	}
	if seasonSum > 0 {
		a.MASE = errSum / seasonSum
	}
	if naiveSum > 0 {
		a.RelativeMAE = errSum / naiveSum
	}
	a.Coverage80, a.QuantileCoverage, a.ProvisionCoverage = coverage(pts)
	var top []scored
	top, a.TopChangeFrom = topChanges(pts, func(p scored) float64 { return p.change })
	a.TopChangePoints = len(top)
	a.TopChangeCoverage80, a.TopChangeQuantileCoverage, a.TopChangeProvisionCoverage = coverage(top)
	top, a.OriginChangeFrom = topChanges(pts, func(p scored) float64 { return p.origin })
	a.OriginChangePoints = len(top)
	a.OriginChangeCoverage80, a.OriginChangeQuantileCoverage, _ = coverage(top)
	return a
}

// scored is one forecast a lead time ahead: the load's change over the
// lead (with the outcome), the change seen at the forecast's origin over
// the lead before it (NaN when unknown), and whether the 0.1..0.9
// interval, the chosen quantile and the load provisioned covered it.
type scored struct {
	change, origin    float64
	in80, inQ, inProv bool
}

// coverage is the share of pts in the 0.1..0.9 interval, at or below the
// chosen quantile and at or below the load provisioned; 0 without points.
func coverage(pts []scored) (c80, cq, cp float64) {
	if len(pts) == 0 {
		return 0, 0, 0
	}
	var in80, inQ, inProv int
	for _, p := range pts {
		if p.in80 {
			in80++
		}
		if p.inQ {
			inQ++
		}
		if p.inProv {
			inProv++
		}
	}
	n := float64(len(pts))
	return float64(in80) / n, float64(inQ) / n, float64(inProv) / n
}

// topChanges are the points whose change (by key; NaN never counts) is at
// or above the 95th percentile of the known changes, and that percentile.
func topChanges(pts []scored, key func(scored) float64) ([]scored, float64) {
	changes := make([]float64, 0, len(pts))
	for _, p := range pts {
		if v := key(p); !math.IsNaN(v) {
			changes = append(changes, v)
		}
	}
	if len(changes) == 0 {
		return nil, 0
	}
	slices.Sort(changes)
	from := changes[int(0.95*float64(len(changes)-1))]
	var top []scored
	for _, p := range pts {
		if key(p) >= from {
			top = append(top, p)
		}
	}
	return top, from
}

// band is, per step i, the forecast for i made a lead time before (from
// state i-h): its 0.1 quantile, point, chosen quantile, 0.9 quantile and
// the load provisioned.
func band(d *data, fc *forecasts, c *Config) *Band {
	n := len(d.values)
	h := max(1, min(int((c.Lead+d.step-1)/d.step), fc.h))
	b := &Band{Low: make([]float64, n), Point: make([]float64, n), Mid: make([]float64, n), High: make([]float64, n), Provision: make([]float64, n)}
	for i := range n {
		b.Low[i], b.Point[i], b.Mid[i], b.High[i], b.Provision[i] = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		j := i - h
		point, first, s := fc.state(j)
		k := i - first
		if s == nil || k < 0 || k >= fc.h {
			continue
		}
		p := point[k]
		b.Low[i] = s.quantileAt(j, 0.1, k, p)
		b.Point[i] = p
		b.Mid[i] = s.quantileAt(j, c.Quantile, k, p)
		b.Provision[i] = s.provisionAt(j, c.Quantile, k, p, d.start.Add(time.Duration(i)*d.step))
		b.High[i] = s.quantileAt(j, 0.9, k, p)
	}
	return b
}

// equalCost finds prescale's under-provisioned minutes at the
// replica-hours of the reactive HPA with the reference margin, by linear
// interpolation between the two prescale settings whose replica-hours
// bracket it, and the reduction in percent. It also counts the reactive
// settings within prescale's range of cost at which prescale's frontier
// is below (fewer under-provisioned minutes at the same cost).
func equalCost(reactive, prescale []FrontierPoint, margin float64) (*EqualCost, *float64) {
	e := &EqualCost{ReferenceHeadroom: margin}
	ref := -1
	for i, p := range reactive {
		if math.Abs(p.Knob-margin) < 1e-9 {
			ref = i
		}
	}
	if ref < 0 || len(prescale) == 0 {
		e.Note = "the sweep has no reference or no prescale setting"
		return e, nil
	}
	e.ReplicaHours = reactive[ref].ReplicaHours
	e.ReactiveUnderprovisionedMinutes = reactive[ref].UnderprovisionedMinutes
	pts := append([]FrontierPoint(nil), prescale...)
	sort.Slice(pts, func(a, b int) bool { return pts[a].ReplicaHours < pts[b].ReplicaHours })
	for _, r := range reactive {
		if u, _, ok := interpolate(pts, r.ReplicaHours); ok {
			e.FrontierCompared++
			if u < r.UnderprovisionedMinutes {
				e.FrontierBelowAt++
			}
		}
	}
	u, q, ok := interpolate(pts, e.ReplicaHours)
	if !ok {
		e.Note = fmt.Sprintf("prescale's sweep costs %.1f to %.1f replica-hours and does not reach the reference's %.1f",
			pts[0].ReplicaHours, pts[len(pts)-1].ReplicaHours, e.ReplicaHours)
		return e, nil
	}
	e.PrescaleUnderprovisionedMinutes, e.PrescaleQuantile = u, q
	if e.ReactiveUnderprovisionedMinutes <= 0 {
		e.Note = "the reference was never under-provisioned"
		return e, nil
	}
	red := 100 * (1 - u/e.ReactiveUnderprovisionedMinutes)
	return e, &red
}

// interpolate is the under-provisioned minutes (and knob) at cost rh along
// pts sorted by replica-hours.
func interpolate(pts []FrontierPoint, rh float64) (under, knob float64, ok bool) {
	for i := 0; i+1 < len(pts); i++ {
		a, b := pts[i], pts[i+1]
		if rh < a.ReplicaHours || rh > b.ReplicaHours {
			continue
		}
		w := 0.0
		if b.ReplicaHours > a.ReplicaHours {
			w = (rh - a.ReplicaHours) / (b.ReplicaHours - a.ReplicaHours)
		}
		return a.UnderprovisionedMinutes + w*(b.UnderprovisionedMinutes-a.UnderprovisionedMinutes), a.Knob + w*(b.Knob-a.Knob), true
	}
	if len(pts) == 1 && pts[0].ReplicaHours == rh {
		return pts[0].UnderprovisionedMinutes, pts[0].Knob, true
	}
	return 0, 0, false
}
