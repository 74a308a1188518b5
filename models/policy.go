package models

import (
	"math"
	"strconv"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
)

// Which input decided a recommendation (Recommendation.Won).
const (
	WonForecast = "forecast" // the load the forecast provisions at q over the lead window
	WonReactive = "reactive" // the floor the latest observed load needs
	WonMin      = "min"      // raised to MinReplicas
	WonMax      = "max"      // capped at MaxReplicas
	WonHeld     = "held"     // the previous recommendation, held while data is stale
)

// StaleGrace is added to two steps to make the default staleness threshold
// (PolicyInput.StaleAfter): a point is normally one step old when it is
// read, so two steps plus this grace means at least one scrape was missed.
const StaleGrace = 30 * time.Second

// policyQuantile labels the forecast when the target declares no valid
// quantile (configuration defaults it to the same value).
const policyQuantile = 0.9

// ceilEpsilon is the relative tolerance of the load-to-replicas ceiling:
// 1.1/0.1 is 11.000000000000002 in floating point and needs 11 replicas,
// not 12.
const ceilEpsilon = 1e-9

// PolicyInput is everything one recommendation depends on. Times are passed
// in; Recommend reads no clock.
type PolicyInput struct {
	// Target gives the capacity per replica, lead time, margin, quantile,
	// min/max replicas and HoldFor.
	Target Target
	// Now is the time the recommendation is for.
	Now time.Time

	// Forecast holds the load the forecast provisions at Target.Quantile
	// (Provision), Forecast[i] for time ForecastStart
	// + i*ForecastStep (ForecastStart is normally the last observation
	// plus one step). Non-finite and negative values are treated as
	// missing. Empty means no forecast.
	Forecast      []float64
	ForecastStart time.Time
	// ForecastStep is the time between forecast values; 0 means Target.Step.
	ForecastStep time.Duration

	// Observed is the latest known observed load and ObservedAt its time;
	// a zero ObservedAt, or a NaN, infinite or negative Observed, means
	// there is none (then the previous recommendation's is used, if any).
	Observed   float64
	ObservedAt time.Time

	// DataStart and DataEnd are the first and last timestamps of the history
	// the model was fitted on; reported, not used.
	DataStart time.Time
	DataEnd   time.Time
	// ModelKind, ModelVersion (the fit generation, as in
	// Snapshot.Generation) and ModelFittedAt identify the fitted model;
	// reported, not used.
	ModelKind     string
	ModelVersion  uint64
	ModelFittedAt time.Time
	// LocalWeight is the share of the model's short-horizon trends (local
	// and residual) in the forecast at the lead, and IntervalScale the width of its
	// intervals against the calibrated width (forecast.Dynamics), when
	// Forecast was made; reported in the reason, not used. Zero without.
	LocalWeight   float64
	IntervalScale float64

	// LastFetch is the time of the last successful fetch of data, or zero
	// when unknown. Data is as old as the older of it and ObservedAt.
	LastFetch time.Time
	// StaleAfter is how old data may be before it is stale; 0 means two
	// Target.Steps plus StaleGrace.
	StaleAfter time.Duration

	// Previous is the last recommendation made for the target, or nil.
	// It is held while data is stale.
	Previous *Recommendation

	// Events are the effects of the target's known events, learned when
	// its model was fitted (FitHistoryEvents); nil without a calendar. A
	// forecast value in an occurrence's window is changed as
	// events.Effects.Adjust says, and the reason names the event when it
	// sets the maximum.
	Events *events.Effects
}

// Recommendation is a replica count with every input that produced it.
type Recommendation struct {
	Target string    `json:"target"`
	Time   time.Time `json:"time"`
	// Replicas is the recommended replica count, always within
	// [MinReplicas, max(MinReplicas, MaxReplicas)].
	Replicas int `json:"replicas"`
	// Won names the input that decided Replicas: forecast, reactive, min,
	// max or held.
	Won string `json:"won"`
	// Reason says in words how Replicas was reached.
	Reason string `json:"reason"`

	Forecast ForecastPart `json:"forecast"`
	Reactive ReactivePart `json:"reactive"`

	MinReplicas        int           `json:"min_replicas"`
	MaxReplicas        int           `json:"max_replicas"`
	CapacityPerReplica float64       `json:"capacity_per_replica"`
	LeadTime           time.Duration `json:"lead_time"`
	Margin             time.Duration `json:"margin"`

	ModelKind     string    `json:"model_kind,omitempty"`
	ModelVersion  uint64    `json:"model_version,omitempty"`
	ModelFittedAt time.Time `json:"model_fitted_at,omitzero"`
	DataStart     time.Time `json:"data_start,omitzero"`
	DataEnd       time.Time `json:"data_end,omitzero"`

	// Stale is set when the latest observation is older than StaleAfter,
	// or there is none. StaleFor is how long since it became stale and
	// StaleSince when.
	Stale      bool          `json:"stale"`
	StaleFor   time.Duration `json:"stale_for"`
	StaleSince time.Time     `json:"stale_since,omitzero"`
	StaleAfter time.Duration `json:"stale_after"`
	HoldFor    time.Duration `json:"hold_for"`
	LastFetch  time.Time     `json:"last_fetch,omitzero"`

	// CollapseSince is set while fresh observations stay under a tenth of
	// the load before them (CollapseFrom), for at most HoldFor: the time
	// of the first such observation. Meanwhile the previous
	// recommendation is held, since load that falls to almost nothing at
	// once is more often data going missing (a partial scrape before a
	// gap, an exporter restarting) than demand gone.
	CollapseSince time.Time `json:"collapse_since,omitzero"`
	CollapseFrom  float64   `json:"collapse_from,omitempty"`

	// PreviousReplicas is the previous recommendation (clamped to the
	// current bounds) and PreviousTime its time; zero when there was none.
	PreviousReplicas int       `json:"previous_replicas"`
	PreviousTime     time.Time `json:"previous_time,omitzero"`

	// Demo is set for a target of the built-in simulated workload (set by
	// the registry, not by Recommend): the answer is not about real load.
	Demo bool `json:"demo,omitempty"`
}

// ForecastPart is the forecast side of a recommendation: the maximum of the
// load the forecast provisions at level q (Provision: the normal core's q
// quantile where the forecast's spread is the usual one, more where it is
// narrower, less where it is wider, the calibrated q-quantile within a
// known event's window) over the lead window (Now, WindowEnd].
type ForecastPart struct {
	Quantile  float64   `json:"quantile"`
	WindowEnd time.Time `json:"window_end"`
	// Steps is how many forecast values were used; 0 means none was usable
	// and the other fields below are zero.
	Steps int `json:"steps"`
	// From and To are the times of the first and last step used.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Max is the largest forecast value used, at time MaxAt.
	Max   float64   `json:"max"`
	MaxAt time.Time `json:"max_at,omitzero"`
	// Replicas is ceil(Max / capacity per replica).
	Replicas int `json:"replicas"`
	// Short is set when the forecast ends before WindowEnd.
	Short bool `json:"short,omitempty"`
}

// ReactivePart is the reactive floor: what the latest known observed load
// needs.
type ReactivePart struct {
	// Known is false when no observed load was available.
	Known bool      `json:"known"`
	Load  float64   `json:"load"`
	At    time.Time `json:"at,omitzero"`
	// Replicas is ceil(Load / capacity per replica).
	Replicas int `json:"replicas"`
}

// Provision is the load to provision at t for a point forecast (the
// arguments of forecast.Calibration.Provision): the target's quantile spent
// by density, but within a known event's window the calibrated quantile
// itself, which the event's effect then adjusts (events.Effects.Adjust):
// the density's usual spread is the busy hours' of the history the fit
// kept, which leaves the events out, and an event's load lies above them,
// where the density would provision little more than the point forecast.
// The service's cached forecast, its forecast API and the backtest all
// provision with it.
func Provision(cal *forecast.Calibration, fx *events.Effects, t time.Time, point, offset, core, q, scale float64) float64 {
	if fx != nil && fx.Calendar.Within(t) {
		return cal.Apply(point, offset, scale)
	}
	return cal.Provision(point, offset, core, q, scale)
}

// Recommend turns the load a forecast provisions (PolicyInput.Forecast)
// and the latest observed load into a replica count, following the design:
//
// With fresh data, Replicas = clamp(max(forecast, reactive), min, max)
// where forecast = ceil(max of the provisioned load over the steps whose time t
// is in (Now, Now+LeadTime+Margin] / capacity) and reactive =
// ceil(observed load / capacity). A step at exactly Now is excluded (it is
// the present, which the reactive floor covers) and a step at exactly the
// window end is included. When no step falls in the window (a window
// shorter than a step, or a forecast starting after it), the first step
// after Now is used; when the forecast ends before the window, the steps
// there are used and ForecastPart.Short says so; when no step after Now
// has a usable value, the recommendation is reactive only.
//
// Data is stale when it is older than StaleAfter (default two steps plus
// StaleGrace), measured from ObservedAt (or LastFetch, when older), or
// when there is no observation. It became stale at that time plus
// StaleAfter. An input without a usable observation (zero ObservedAt, or a
// NaN, infinite or negative load) falls back to the observation the
// previous recommendation reported; with none at all, data is stale since
// the previous recommendation's StaleSince, or else its Time. While stale the forecast is not used: for HoldFor after
// that moment the previous recommendation is held (Won "held"); after it
// the answer is the reactive value of the last known observed load, but
// never less than the previous recommendation. Without a previous
// recommendation the reactive value is used at once. When data is fresh
// again the normal rule resumes; scale-down stabilization is left to the
// HPA.
//
// A fresh observation under a tenth of the load before it is a collapse:
// for HoldFor from the first such observation, the recommendation is not
// below the previous one (Won "held"; CollapseSince says since when), as
// load that falls to almost nothing at once is more often data going
// missing than demand gone.
func Recommend(in PolicyInput) Recommendation {
	t := &in.Target
	lo, hi := replicaBounds(t.MinReplicas, t.MaxReplicas)
	q := t.Quantile
	if !(q > 0 && q < 1) {
		q = policyQuantile
	}
	staleAfter := in.StaleAfter
	if staleAfter <= 0 {
		staleAfter = 2*t.Step + StaleGrace
	}
	r := Recommendation{
		Target:             t.Name,
		Time:               in.Now,
		MinReplicas:        t.MinReplicas,
		MaxReplicas:        t.MaxReplicas,
		CapacityPerReplica: t.CapacityPerReplica,
		LeadTime:           t.LeadTime,
		Margin:             t.Margin,
		ModelKind:          in.ModelKind,
		ModelVersion:       in.ModelVersion,
		ModelFittedAt:      in.ModelFittedAt,
		DataStart:          in.DataStart,
		DataEnd:            in.DataEnd,
		StaleAfter:         staleAfter,
		HoldFor:            t.HoldFor,
		LastFetch:          in.LastFetch,
	}
	if math.IsNaN(t.CapacityPerReplica) || math.IsInf(t.CapacityPerReplica, 0) {
		r.CapacityPerReplica = 0 // JSON has no NaN; configuration rejects it anyway
	}
	if p := in.Previous; p != nil {
		r.PreviousReplicas = clampReplicas(p.Replicas, lo, hi)
		r.PreviousTime = p.Time
	}

	var buf [320]byte
	b := buf[:0]

	// The reactive floor, from this input's observation or else the last
	// one the previous recommendation knew.
	switch {
	case validLoad(in.Observed) && !in.ObservedAt.IsZero():
		r.Reactive = ReactivePart{Known: true, Load: in.Observed, At: in.ObservedAt}
	case in.Previous != nil && in.Previous.Reactive.Known:
		r.Reactive = in.Previous.Reactive
	}
	// An unusable capacity per replica (which configuration rejects)
	// leaves the floor at 0.
	r.Reactive.Replicas, _ = replicasFor(r.Reactive.Load, t.CapacityPerReplica)

	// Staleness.
	switch {
	case r.Reactive.Known:
		ref := r.Reactive.At
		if !in.LastFetch.IsZero() && in.LastFetch.Before(ref) {
			ref = in.LastFetch
		}
		if in.Now.Sub(ref) > staleAfter {
			r.Stale, r.StaleSince = true, ref.Add(staleAfter)
		}
	case in.Previous != nil && in.Previous.Stale && !in.Previous.StaleSince.IsZero():
		r.Stale, r.StaleSince = true, in.Previous.StaleSince
	case in.Previous != nil:
		// Data went missing at some point after the previous answer.
		r.Stale, r.StaleSince = true, in.Previous.Time
	default:
		r.Stale, r.StaleSince = true, in.Now
	}
	if r.Stale {
		r.StaleFor = max(in.Now.Sub(r.StaleSince), 0)
	}

	b = r.forecastPart(b, &in, q)

	if !r.Stale {
		b = r.fresh(b, lo, hi)
		b = r.holdCollapse(b, &in, lo, hi)
	} else {
		b = r.stale(b, &in, lo, hi)
	}
	r.Reason = string(b)
	return r
}

// forecastPart fills r.Forecast from the input and writes its part of the
// reason.
func (r *Recommendation) forecastPart(b []byte, in *PolicyInput, q float64) []byte {
	f := &r.Forecast
	f.Quantile = q
	window := in.Target.LeadTime + in.Target.Margin
	f.WindowEnd = in.Now.Add(window)
	n := len(in.Forecast)
	step := in.ForecastStep
	if step <= 0 {
		step = in.Target.Step
	}
	start := in.ForecastStart
	switch {
	case n == 0:
		return append(b, "no forecast"...)
	case step <= 0:
		return append(b, "no forecast (no step)"...)
	case start.IsZero():
		return append(b, "no forecast (no start time)"...)
	}
	// first is the first step after Now, last the last at or before the
	// window end.
	first := 0
	if !in.Now.Before(start) {
		first = int(min(in.Now.Sub(start)/step, time.Duration(n-1))) + 1
	}
	if first >= n {
		b = append(b, "no forecast (it ends at "...)
		b = appendClock(b, start.Add(time.Duration(n-1)*step))
		return append(b, ", before now)"...)
	}
	last := -1
	if !f.WindowEnd.Before(start) {
		last = int(min(f.WindowEnd.Sub(start)/step, time.Duration(n)))
	}
	between := last < first
	if between {
		last = first
	}
	if last >= n {
		last, f.Short = n-1, true
	}
	maxAt := -1
	var event *events.Use // the event that changed the maximum, if one did
	for i := first; i <= last; i++ {
		v := in.Forecast[i]
		if !validLoad(v) {
			continue
		}
		var use *events.Use
		if in.Events != nil {
			v, use = in.Events.Adjust(v, start.Add(time.Duration(i)*step), q, events.Observation{Value: in.Observed, At: in.ObservedAt})
		}
		f.Steps++
		if maxAt < 0 || v > f.Max {
			f.Max, maxAt, event = v, i, use
		}
	}
	if f.Steps == 0 {
		f.Short = false
		return append(b, "no forecast (no usable value in the lead window)"...)
	}
	replicas, ok := replicasFor(f.Max, in.Target.CapacityPerReplica)
	if !ok {
		*f = ForecastPart{Quantile: q, WindowEnd: f.WindowEnd}
		return append(b, "no forecast (no valid capacity per replica)"...)
	}
	f.Replicas = replicas
	f.From = start.Add(time.Duration(first) * step)
	f.To = start.Add(time.Duration(last) * step)
	f.MaxAt = start.Add(time.Duration(maxAt) * step)

	b = append(b, "forecast q-"...)
	b = strconv.AppendFloat(b, q, 'g', -1, 64)
	b = append(b, " provision "...)
	b = appendLoad(b, f.Max)
	b = append(b, " at "...)
	b = appendClock(b, f.MaxAt)
	b = append(b, " over the "...)
	b = appendDuration(b, window)
	b = append(b, " lead window needs "...)
	b = appendReplicas(b, f.Replicas)
	b = appendDynamics(b, in.LocalWeight, in.IntervalScale)
	b = appendEvent(b, event)
	switch {
	case between:
		b = append(b, " (no step falls in the window; the next step is used)"...)
	case f.Short:
		b = append(b, " (the forecast ends at "...)
		b = appendClock(b, f.To)
		b = append(b, ", before the window does)"...)
	}
	return b
}

// appendEvent names the known event that changed the forecast's maximum,
// and how it did.
func appendEvent(b []byte, u *events.Use) []byte {
	if u == nil {
		return b
	}
	o := u.Occurrence
	b = append(b, ", for the '"...)
	b = append(b, o.Event.Name...)
	b = append(b, "' event at "...)
	b = o.Start.AppendFormat(b, "2006-01-02 15:04 MST")
	b = append(b, ": "...)
	switch {
	case u.Source == "learned":
		b = append(b, "load ×"...)
		b = strconv.AppendFloat(b, u.Factor, 'f', 2, 64)
		b = append(b, " its usual, learned from "...)
		b = strconv.AppendInt(b, int64(u.Learned), 10)
		b = append(b, " past occurrences"...)
		if u.Now > 0 {
			b = append(b, " (×"...)
			b = strconv.AppendFloat(b, u.Now, 'f', 2, 64)
			b = append(b, " now, going on as they did)"...)
		}
	case u.Source == "declared" && o.Event.Multiplier > 0:
		b = append(b, "load ×"...)
		b = strconv.AppendFloat(b, o.Event.Multiplier, 'g', -1, 64)
		b = append(b, " its usual, as declared"...)
	case u.Source == "declared":
		b = append(b, "load "...)
		b = appendLoad(b, o.Event.Load)
		b = append(b, " at least, as declared"...)
	case u.Others > 0:
		b = append(b, "load ×"...)
		b = strconv.AppendFloat(b, u.Factor, 'f', 2, 64)
		b = append(b, " its usual, as "...)
		b = strconv.AppendInt(b, int64(u.Others), 10)
		b = append(b, " past events of this target went (none of its own learned, no declared effect)"...)
	default:
		b = append(b, "no past occurrence and no declared effect, so the forecast is widened ×"...)
		b = strconv.AppendFloat(b, u.Factor, 'g', -1, 64)
	}
	if u.Source == "declared" && u.Learned > 0 {
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(u.Learned), 10)
		b = append(b, " past occurrences seen; "...)
		b = strconv.AppendInt(b, events.MinLearned, 10)
		b = append(b, " are needed to learn its effect)"...)
	}
	return b
}

// appendDynamics says how the model's short-horizon dynamics shaped the
// forecast, when they did: the short-horizon trends' share at the lead
// and the interval width against the calibrated one, each when it differs
// by half a percent or more.
func appendDynamics(b []byte, weight, scale float64) []byte {
	trend := weight >= 0.005 && weight <= 1
	widened := scale > 0 && math.Abs(scale-1) >= 0.005 && !math.IsInf(scale, 0)
	if !trend && !widened {
		return b
	}
	b = append(b, " ("...)
	if trend {
		b = append(b, "the last minutes' trend weighs "...)
		b = strconv.AppendFloat(b, math.Round(100*weight), 'f', 0, 64)
		b = append(b, "% at the lead"...)
		if widened {
			b = append(b, "; "...)
		}
	}
	if widened {
		b = append(b, "intervals "...)
		b = strconv.AppendFloat(b, scale, 'f', 2, 64)
		b = append(b, "× the calibrated width"...)
	}
	return append(b, ')')
}

// fresh applies the normal rule.
func (r *Recommendation) fresh(b []byte, lo, hi int) []byte {
	b = r.appendReactive(b)
	want, won := 0, WonMin
	if r.Forecast.Steps > 0 {
		want, won = r.Forecast.Replicas, WonForecast
	}
	if r.Reactive.Known && (won == WonMin || r.Reactive.Replicas > want) {
		want, won = r.Reactive.Replicas, WonReactive
	}
	switch won {
	case WonForecast:
		b = append(b, "; the forecast wins"...)
	case WonReactive:
		if r.Forecast.Steps > 0 {
			b = append(b, "; the reactive floor wins"...)
		} else {
			b = append(b, "; reactive only"...)
		}
	}
	return r.clamp(b, want, won, lo, hi)
}

// collapseFraction is the share of the load before it under which a fresh
// observation is a collapse (anomaly.Clean's outage threshold).
const collapseFraction = 0.1

// holdCollapse keeps a fresh recommendation from going below the previous
// one while the observed load has collapsed (see CollapseSince), for at
// most HoldFor from the first collapsed observation.
func (r *Recommendation) holdCollapse(b []byte, in *PolicyInput, lo, hi int) []byte {
	p := in.Previous
	if p == nil || !p.Reactive.Known || !r.Reactive.Known {
		return b
	}
	from, since := p.Reactive.Load, r.Reactive.At
	if !p.CollapseSince.IsZero() {
		from, since = p.CollapseFrom, p.CollapseSince
	}
	held := in.Now.Sub(since)
	if !(r.Reactive.Load < collapseFraction*from) || held >= r.HoldFor {
		return b
	}
	r.CollapseSince, r.CollapseFrom = since, from
	if r.Replicas >= r.PreviousReplicas {
		return b
	}
	b = append(b, "; the load fell under a tenth of the "...)
	b = appendLoad(b, from)
	b = append(b, " before it at "...)
	b = appendClock(b, since)
	b = append(b, ", more often data going missing than demand gone"...)
	return r.holdPrevious(b, r.HoldFor-held, lo, hi)
}

// holdPrevious holds the previous recommendation, with left of the
// HoldFor hold to go.
func (r *Recommendation) holdPrevious(b []byte, left time.Duration, lo, hi int) []byte {
	b = append(b, "; holding the previous "...)
	b = appendReplicas(b, r.PreviousReplicas)
	b = append(b, ", "...)
	b = appendDuration(b, left)
	b = append(b, " of the "...)
	b = appendDuration(b, r.HoldFor)
	b = append(b, " hold left"...)
	return r.clamp(b, r.PreviousReplicas, WonHeld, lo, hi)
}

// stale holds the previous recommendation, then falls back to the reactive
// value without going below the previous one.
func (r *Recommendation) stale(b []byte, in *PolicyInput, lo, hi int) []byte {
	if r.Forecast.Steps > 0 {
		b = append(b, ", not used while data is stale"...)
	}
	b = append(b, "; data "...)
	if r.Reactive.Known {
		b = append(b, "stale for "...)
		b = appendDuration(b, r.StaleFor)
		b = append(b, " (latest observation at "...)
		b = appendClock(b, r.Reactive.At)
		if !in.LastFetch.IsZero() {
			b = append(b, ", last fetch at "...)
			b = appendClock(b, in.LastFetch)
		}
		b = append(b, ", stale after "...)
		b = appendDuration(b, r.StaleAfter)
		b = append(b, ")"...)
	} else {
		b = append(b, "missing"...)
		if r.StaleFor > 0 {
			b = append(b, " for "...)
			b = appendDuration(b, r.StaleFor)
		}
	}
	hasPrev := in.Previous != nil
	if hasPrev && r.StaleFor < r.HoldFor {
		return r.holdPrevious(b, r.HoldFor-r.StaleFor, lo, hi)
	}
	if hasPrev {
		b = append(b, "; past the "...)
		b = appendDuration(b, r.HoldFor)
		b = append(b, " hold, fall back to the last known load: "...)
	} else {
		b = append(b, "; no previous recommendation to hold, fall back to the last known load: "...)
	}
	b = r.appendReactive(b)
	want, won := 0, WonMin
	if r.Reactive.Known {
		want, won = r.Reactive.Replicas, WonReactive
	}
	if hasPrev && r.PreviousReplicas > want {
		want, won = r.PreviousReplicas, WonHeld
		b = append(b, "; not below the previous "...)
		b = strconv.AppendInt(b, int64(r.PreviousReplicas), 10)
	}
	return r.clamp(b, want, won, lo, hi)
}

// clamp sets Replicas and Won from the wanted count and its source.
func (r *Recommendation) clamp(b []byte, want int, won string, lo, hi int) []byte {
	r.Replicas, r.Won = want, won
	switch {
	case won == WonMin:
		r.Replicas = lo
		b = append(b, "; nothing to go on: min "...)
		b = strconv.AppendInt(b, int64(lo), 10)
	case want < lo:
		r.Replicas, r.Won = lo, WonMin
		b = append(b, "; raised to min "...)
		b = strconv.AppendInt(b, int64(lo), 10)
	case want > hi:
		r.Replicas, r.Won = hi, WonMax
		b = append(b, "; capped at max "...)
		b = strconv.AppendInt(b, int64(hi), 10)
	}
	return b
}

func (r *Recommendation) appendReactive(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != ' ' {
		b = append(b, "; "...)
	}
	if !r.Reactive.Known {
		return append(b, "no observed load"...)
	}
	b = append(b, "observed load "...)
	b = appendLoad(b, r.Reactive.Load)
	b = append(b, " needs "...)
	return strconv.AppendInt(b, int64(r.Reactive.Replicas), 10)
}

// replicaBounds is [min, max] with a negative min read as 0 and a max below
// min read as min (more replicas is the safe side of a bad configuration).
func replicaBounds(minReplicas, maxReplicas int) (lo, hi int) {
	lo = max(minReplicas, 0)
	return lo, max(maxReplicas, lo)
}

func clampReplicas(n, lo, hi int) int { return min(max(n, lo), hi) }

// validLoad reports whether v is a usable load: finite and not negative.
func validLoad(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// replicasFor is ceil(load / capacity) with a relative tolerance, so an
// exact multiple rounded up by floating-point error does not cost a
// replica. It reports false for an unusable load or capacity.
func replicasFor(load, capacity float64) (int, bool) {
	if !validLoad(load) || !(capacity > 0) || math.IsInf(capacity, 1) {
		return 0, false
	}
	x := load / capacity
	if x >= MaxReplicas {
		return MaxReplicas, true
	}
	return int(math.Ceil(x * (1 - ceilEpsilon))), true
}

// appendReplicas writes "1 replica" or "n replicas".
func appendReplicas(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		return append(b, " replica"...)
	}
	return append(b, " replicas"...)
}

// appendLoad writes a load with one decimal.
func appendLoad(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', 1, 64) }

// appendClock writes a time of day in UTC: 15:04, or 15:04:05 when the
// seconds are not zero.
func appendClock(b []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Second() == 0 && t.Nanosecond() == 0 {
		return t.AppendFormat(b, "15:04")
	}
	return t.AppendFormat(b, "15:04:05")
}

// appendDuration writes d without zero units ("3m", "1h30m", "90ms").
func appendDuration(b []byte, d time.Duration) []byte {
	if d > time.Second && d%time.Second != 0 {
		d = d.Round(time.Second) // "stale for 12s", not "12.453868924s"
	} else if d > 0 && d < time.Second {
		d = d.Round(time.Millisecond)
	}
	if d%time.Second != 0 || d < 0 {
		return append(b, d.String()...)
	}
	if d == 0 {
		return append(b, '0', 's')
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	if h > 0 {
		b = append(strconv.AppendInt(b, int64(h), 10), 'h')
	}
	if m > 0 {
		b = append(strconv.AppendInt(b, int64(m), 10), 'm')
	}
	if s > 0 {
		b = append(strconv.AppendInt(b, int64(s), 10), 's')
	}
	return b
}

// ReplicasFor is the replicas a load needs: ceil(load / capacity), with
// the policy's tolerance for floating-point error; 0 for an unusable load
// or capacity.
func ReplicasFor(load, capacity float64) int {
	n, _ := replicasFor(load, capacity)
	return n
}
