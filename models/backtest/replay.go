package backtest

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/prescale/prescale/models"
)

// Metrics is what one policy cost and missed over the evaluated time
// (after the warm-up, where the demand is known).
type Metrics struct {
	// UnderprovisionedMinutes is how long the demand was above the ready
	// capacity.
	UnderprovisionedMinutes float64 `json:"underprovisioned_minutes"`
	// EventUnderprovisionedMinutes is the part of it within the windows of
	// known events (Config.Measured: their lead, the event and their lag).
	EventUnderprovisionedMinutes float64 `json:"event_underprovisioned_minutes,omitempty"`
	// EventReplicaHours is the part of ReplicaHours within those windows:
	// what provisioning for the events cost.
	EventReplicaHours float64 `json:"event_replica_hours,omitempty"`
	// UnservedFraction is the share of the demand above the ready
	// capacity: the integral of max(0, demand - ready capacity) over the
	// integral of demand.
	UnservedFraction float64 `json:"unserved_fraction"`
	// ReplicaHours is the cost: every pod, ready or starting, for the time
	// it existed.
	ReplicaHours float64 `json:"replica_hours"`
	// Overprovisioning is the ready capacity beyond the demand, as a share
	// of the demand: the integral of max(0, ready capacity - demand) over
	// the integral of demand.
	Overprovisioning float64 `json:"overprovisioning"`
	// ScaleEvents counts the HPA's changes of the replica count.
	ScaleEvents int `json:"scale_events"`
	// Elasticity holds the SPEC Research Group's elasticity metrics.
	Elasticity Elasticity `json:"elasticity"`
	// MeanReplicas is the average pod count.
	MeanReplicas float64 `json:"mean_replicas"`
	// Knob is the policy's setting: the margin (reactive, margin) or the
	// quantile (prescale); 0 for the oracle.
	Knob float64 `json:"knob"`
	// HPA names the behavior of the HPA the policy ran under
	// (Settings.HPA or Settings.BaselineHPA).
	HPA string `json:"hpa"`
}

// Elasticity is the SPEC Research Group's elasticity metrics (Herbst et
// al., "Quantifying Cloud Performance and Dependability", ACM ToMPECS
// 2018), in percent, with the demand d in replicas (ceil(load/capacity))
// and the supply s the ready replicas, over the evaluated time T:
//
//	under accuracy  θU = 100/T ∫ max(d-s, 0)/max(d, 1) dt
//	over accuracy   θO = 100/T ∫ max(s-d, 0)/max(d, 1) dt
//	under timeshare τU = 100/T ∫ [d > s] dt
//	over timeshare  τO = 100/T ∫ [s > d] dt
type Elasticity struct {
	UnderAccuracy  float64 `json:"under_accuracy"`
	OverAccuracy   float64 `json:"over_accuracy"`
	UnderTimeshare float64 `json:"under_timeshare"`
	OverTimeshare  float64 `json:"over_timeshare"`
}

// Trace is one policy's replicas over time, one value per tick.
type Trace struct {
	Pods  []int32 // pods existing (ready or starting)
	Ready []int32 // pods ready
}

// replay is one run of one policy with its knob through the emulated HPA
// and pods.
type replay struct {
	c      *Config
	d      *data
	fc     *forecasts
	policy string
	knob   float64
	// behavior is the HPA's, named hpa.
	behavior *Behavior
	hpa      string
}

// data is the demand as the replay reads it.
type data struct {
	values   []float64 // per step; NaN is unknown
	start    time.Time
	step     time.Duration
	ticks    int       // replay ticks
	evalFrom int       // first tick the metrics count
	lastObs  []int32   // last observed index at or before each index, -1 if none
	oracle   []float64 // per tick: the largest demand in the oracle's window, NaN if unknown
	// during marks the points within a known event's window (its lead, the
	// event and its lag; Config.Measured); nil without a calendar.
	during []bool
}

// index is the step index holding time t (may be out of range).
func (d *data) index(t time.Time) int {
	off := t.Sub(d.start)
	if off < 0 {
		return -1
	}
	return int(off / d.step)
}

func (d *data) at(i int) float64 {
	if i < 0 || i >= len(d.values) {
		return math.NaN()
	}
	return d.values[i]
}

// run replays the policy and returns its metrics (and trace if asked).
func (r *replay) run() (*Metrics, *Trace) {
	c, d := r.c, r.d
	hpa := &HPA{Behavior: *r.behavior, MinReplicas: c.MinReplicas, MaxReplicas: c.MaxReplicas}
	p := &pods{startup: c.Startup, rng: rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))}
	pol := r.newPolicy()
	// Start with what the first known demand needs, all ready.
	first := 0
	for i, v := range d.values {
		if !math.IsNaN(v) {
			first = i
			break
		}
	}
	initial := min(max(models.ReplicasFor(d.values[first], c.CapacityPerReplica), c.MinReplicas), c.MaxReplicas)
	p.scale(d.start.Add(-c.Startup.Max()-time.Nanosecond), initial)

	var tr *Trace
	if c.KeepTraces {
		tr = &Trace{Pods: make([]int32, d.ticks), Ready: make([]int32, d.ticks)}
	}
	tl := &tally{capacity: c.CapacityPerReplica, dt: c.Sync.Minutes()}
	for k := 0; k < d.ticks; k++ {
		t := d.start.Add(time.Duration(k) * c.Sync)
		current := len(p.readyAt)
		if proposal, ok := pol.propose(k, t, current); ok {
			if want := hpa.Sync(t, current, proposal); want != current {
				p.scale(t, want)
				if k >= d.evalFrom {
					tl.m.ScaleEvents++
				}
			}
		}
		ready := p.ready(t)
		if tr != nil {
			tr.Pods[k], tr.Ready[k] = int32(len(p.readyAt)), int32(ready)
		}
		if k >= d.evalFrom {
			i := d.index(t)
			tl.add(d.at(i), ready, len(p.readyAt))
			if d.during != nil && i >= 0 && i < len(d.during) && d.during[i] && !math.IsNaN(d.at(i)) {
				tl.m.EventReplicaHours += float64(len(p.readyAt)) * tl.dt / 60
				if d.at(i) > float64(ready)*c.CapacityPerReplica {
					tl.m.EventUnderprovisionedMinutes += tl.dt
				}
			}
		}
	}
	m := tl.metrics()
	m.Knob, m.HPA = r.knob, r.hpa
	return m, tr
}

// policy is what one replay's policy asks the HPA for at each tick.
type policy struct {
	r *replay
	// The prescale policy's target, staleness threshold and previous
	// recommendation, as the service keeps them.
	target     models.Target
	staleAfter time.Duration
	prev       *models.Recommendation
	buf        []float64
}

func (r *replay) newPolicy() *policy {
	pol := &policy{r: r, target: r.c.target(r.d.step)}
	pol.target.Name, pol.target.Quantile = r.policy, r.knob
	// A point of time T is seen at T+Lag: it is stale once it is that
	// much older than the service's default threshold allows.
	pol.staleAfter = r.c.Lag + models.StaleAfter(&pol.target, 0)
	if r.fc != nil {
		pol.buf = make([]float64, r.fc.h)
	}
	return pol
}

// propose is the replica count the policy's metric makes the HPA propose
// at tick k (time t) with current replicas; false when its metric has no
// value (the HPA keeps the replicas).
func (pol *policy) propose(k int, t time.Time, current int) (int, bool) {
	r, c, d := pol.r, pol.r.c, pol.r.d
	switch r.policy {
	case Reactive, Margin:
		if v := d.at(d.index(t.Add(-c.Lag))); !math.IsNaN(v) {
			return r.behavior.Propose(current, v*(1+r.knob), c.CapacityPerReplica), true
		}
	case Oracle:
		if v := d.oracle[k]; !math.IsNaN(v) {
			return r.behavior.Propose(current, float64(models.ReplicasFor(v, c.CapacityPerReplica)), 1), true
		}
	case Prescale:
		rec := r.recommend(t, &pol.target, pol.staleAfter, pol.prev, pol.buf)
		pol.prev = &rec
		return r.behavior.Propose(current, float64(rec.Replicas), 1), true
	}
	return 0, false
}

// tally adds up what a policy cost and missed over the evaluated ticks.
type tally struct {
	capacity, dt                                      float64
	m                                                 Metrics
	el                                                Elasticity
	demandSum, unserved, surplus, podTicks, evalTicks float64
}

// add counts one evaluated tick with load (NaN: unknown, not counted),
// the ready replicas and every pod.
func (tl *tally) add(load float64, ready, pods int) {
	if math.IsNaN(load) {
		return
	}
	tl.evalTicks++
	tl.podTicks += float64(pods)
	supply := float64(ready) * tl.capacity
	tl.demandSum += load
	need := models.ReplicasFor(load, tl.capacity)
	denom := float64(max(need, 1))
	if load > supply {
		tl.m.UnderprovisionedMinutes += tl.dt
		tl.unserved += load - supply
	} else {
		tl.surplus += supply - load
	}
	switch {
	case need > ready:
		tl.el.UnderTimeshare++
		tl.el.UnderAccuracy += float64(need-ready) / denom
	case ready > need:
		tl.el.OverTimeshare++
		tl.el.OverAccuracy += float64(ready-need) / denom
	}
}

// metrics is the tally as Metrics.
func (tl *tally) metrics() *Metrics {
	m := tl.m
	if tl.demandSum > 0 {
		m.UnservedFraction = tl.unserved / tl.demandSum
		m.Overprovisioning = tl.surplus / tl.demandSum
	}
	m.ReplicaHours = tl.podTicks * tl.dt / 60
	el := tl.el
	if tl.evalTicks > 0 {
		m.MeanReplicas = tl.podTicks / tl.evalTicks
		el.UnderAccuracy *= 100 / tl.evalTicks
		el.OverAccuracy *= 100 / tl.evalTicks
		el.UnderTimeshare *= 100 / tl.evalTicks
		el.OverTimeshare *= 100 / tl.evalTicks
	}
	m.Elasticity = el
	return &m
}

// recommend is the service's recommendation at t from what it would
// know: the forecast of the state the visible data gives, and the latest
// visible observation.
func (r *replay) recommend(t time.Time, target *models.Target, staleAfter time.Duration, prev *models.Recommendation, buf []float64) models.Recommendation {
	d := r.d
	j := min(d.index(t.Add(-r.c.Lag)), len(d.values)-1)
	in := models.PolicyInput{
		Target:     *target,
		Now:        t,
		StaleAfter: staleAfter,
		Previous:   prev,
	}
	if j >= 0 {
		if obs := d.lastObs[j]; obs >= 0 {
			in.Observed, in.ObservedAt = d.values[obs], d.start.Add(time.Duration(obs)*d.step)
		}
		if vals, from := r.fc.provision(buf, j, r.knob, d.start, d.step); vals != nil {
			in.Forecast = vals
			in.ForecastStart = d.start.Add(time.Duration(from) * d.step)
			in.ForecastStep = d.step
			in.LocalWeight, in.IntervalScale = r.fc.dynamics(j)
			in.Events = r.fc.effects(j)
		}
	}
	return models.Recommend(in)
}
