// Package backtest replays a load history through the service's
// recommendation policy and through an emulation of the Kubernetes HPA,
// with pods that take time to become ready, and measures what each policy
// would have cost and missed.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// ErrInput marks a demand series the backtest cannot replay.
var ErrInput = errors.New("invalid backtest input")

// Result is a backtest's outcome.
type Result struct {
	Input    InputInfo           `json:"input"`
	Settings Settings            `json:"settings"`
	Policies map[string]*Metrics `json:"policies"`
	// Order lists the policies in Policies in report order.
	Order []string `json:"-"`
	// Forecast is the prescale policy's forecast accuracy.
	Forecast *Accuracy `json:"forecast,omitempty"`
	// Frontier is each swept policy's cost against risk, sorted by knob.
	Frontier map[string][]FrontierPoint `json:"frontier,omitempty"`
	// ReductionAtEqualCost is the headline: by how much prescale cuts the
	// under-provisioned minutes of the reactive HPA with the reference
	// margin, at the same replica-hours, in percent (interpolated along
	// prescale's sweep). Nil when prescale's sweep does not reach that
	// cost; EqualCost says why.
	ReductionAtEqualCost *float64   `json:"reduction_at_equal_cost,omitempty"`
	EqualCost            *EqualCost `json:"equal_cost,omitempty"`
	// ReductionVsBaseline and EqualCostVsBaseline are the second figure:
	// the same comparison against the reactive HPA under the baseline
	// behavior (Settings.BaselineHPA, the cluster's defaults), what most
	// users run today, with prescale still under Settings.HPA.
	ReductionVsBaseline *float64   `json:"reduction_vs_baseline_hpa,omitempty"`
	EqualCostVsBaseline *EqualCost `json:"equal_cost_vs_baseline_hpa,omitempty"`
	// Anomalies are the spans the live detector flagged, and LevelShifts
	// the level shifts it confirmed (times).
	Anomalies   []TimeSpan  `json:"anomalies,omitempty"`
	LevelShifts []time.Time `json:"level_shifts,omitempty"`
	Timing      Timing      `json:"timing"`

	// Traces holds each policy's replicas per tick (Config.KeepTraces),
	// Demand the demand as replayed (missing is NaN), Band the prescale
	// forecast made a lead time before each step (its 0.1 quantile, point
	// forecast, chosen quantile and 0.9 quantile; NaN where none).
	Traces map[string]*Trace `json:"-"`
	Demand []float64         `json:"-"`
	Band   *Band             `json:"-"`
}

// InputInfo describes the replayed series.
type InputInfo struct {
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Step  time.Duration `json:"-"`
	// StepText is Step as a Prometheus duration ("1m").
	StepText string `json:"step"`
	Points   int    `json:"points"`
	// Missing counts the points without a value, including ZeroRuns.
	Missing int `json:"missing"`
	// ZeroRuns are the runs of zeros treated as missing data.
	ZeroRuns []TimeSpan `json:"zero_runs,omitempty"`
	// EvaluatedFrom is the end of the warm-up; EvaluatedMinutes how long
	// the metrics cover (where the demand is known).
	EvaluatedFrom    time.Time `json:"evaluated_from"`
	EvaluatedMinutes float64   `json:"evaluated_minutes"`
}

// Settings echoes the configuration the backtest ran with.
// Durations are written as Prometheus durations ("3m15s", "14d").
type Settings struct {
	CapacityPerReplica float64 `json:"capacity_per_replica"`
	Startup            string  `json:"startup"`
	Sync               string  `json:"sync"`
	Lag                string  `json:"lag"`
	Lead               string  `json:"lead"`
	Quantile           float64 `json:"quantile"`
	Headroom           float64 `json:"headroom"`
	MinReplicas        int     `json:"min_replicas"`
	MaxReplicas        int     `json:"max_replicas"`
	Warmup             string  `json:"warmup"`
	// MissingZeros is how long a run of zeros must be to be missing data
	// ("0s": zeros are demand).
	MissingZeros  string `json:"missing_zeros"`
	Model         string `json:"model"`
	History       string `json:"history"`
	RefitInterval string `json:"refit_interval"`
	// HPA is the behavior every policy ran under; BaselineHPA the reactive
	// baseline's of the second figure (with a sweep).
	HPA         HPASettings  `json:"hpa"`
	BaselineHPA *HPASettings `json:"baseline_hpa,omitempty"`
	// Events are the known events prescale was told of (--events).
	Events *EventSettings `json:"events,omitempty"`

	sync time.Duration
}

// EventSettings describe the calendar of a backtest: its file, and its
// occurrences within the replayed span.
type EventSettings struct {
	File string `json:"file"`
	// Told: prescale was told of them (--events); else they were only
	// measured (--measure-events).
	Told        bool           `json:"told"`
	Occurrences []EventSetting `json:"occurrences"`
}

// EventSetting is one occurrence of a known event.
type EventSetting struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// From and To bound its window: its lead before, its lag after.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// measured is the calendar whose windows the metrics count in.
func (c *Config) measured() *events.Calendar {
	if c.Measured != nil {
		return c.Measured
	}
	return c.Events
}

// SyncPeriod is the time between ticks (and trace values).
func (s *Settings) SyncPeriod() time.Duration { return s.sync }

// TimeSpan is a half-open time range.
type TimeSpan struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Band is a forecast band per step: the 0.1 quantile (Low), the point
// forecast (Point), the quantile prescale provisions at (Mid), the 0.9
// quantile (High) and the load provisioned (Provision: Mid spent by
// density, models.Provision).
type Band struct {
	Low, Point, Mid, High, Provision []float64
}

// Accuracy is the prescale policy's forecast accuracy at the lead time,
// over the evaluated steps where both the forecast and the actual exist.
type Accuracy struct {
	// LeadSteps is how many steps ahead the forecasts were made.
	LeadSteps int `json:"lead_steps"`
	Points    int `json:"points"`
	// MASE is the mean absolute error of the point forecast scaled by the
	// mean absolute error of the seasonal naive forecast (period
	// SeasonSteps) over the same steps.
	MASE        float64 `json:"mase"`
	SeasonSteps int     `json:"season_steps"`
	// RelativeMAE is the point forecast's mean absolute error over that of
	// the value LeadSteps earlier (what a reactive autoscaler acts on).
	RelativeMAE float64 `json:"relative_mae"`
	// Coverage80 is the share of actuals within the 0.1..0.9 quantiles;
	// QuantileCoverage the share at or below the chosen quantile.
	Coverage80       float64 `json:"coverage_80"`
	QuantileCoverage float64 `json:"quantile_coverage"`
	// The same within the top 5% of load changes: the points whose change
	// over the lead time, |actual - the value LeadSteps earlier|, is at
	// or above its 95th percentile (TopChangePoints of them, changes of at
	// least TopChangeFrom). Intervals matter most there.
	TopChangePoints           int     `json:"top_change_points"`
	TopChangeFrom             float64 `json:"top_change_from"`
	TopChangeCoverage80       float64 `json:"top_change_coverage_80"`
	TopChangeQuantileCoverage float64 `json:"top_change_quantile_coverage"`
	// The same within the top 5% of the load changes seen when each
	// forecast was made: |the value at the forecast's origin - the value
	// LeadSteps before it|, which a forecast can know (the selection
	// above is by the change it forecast, which includes the outcome).
	// Whether the intervals widen when the load has just moved.
	OriginChangePoints           int     `json:"origin_change_points"`
	OriginChangeFrom             float64 `json:"origin_change_from"`
	OriginChangeCoverage80       float64 `json:"origin_change_coverage_80"`
	OriginChangeQuantileCoverage float64 `json:"origin_change_quantile_coverage"`
	// ProvisionCoverage is the share of actuals at or below the load the
	// policy provisions at the chosen quantile (forecast.Calibration.
	// Provision), overall and within the top 5% of load changes: more
	// than the quantile where the forecast is surer than usual, less where
	// it is wider.
	ProvisionCoverage          float64 `json:"provision_coverage"`
	TopChangeProvisionCoverage float64 `json:"top_change_provision_coverage"`
	// Fits counts the model fits, FailedFits those that failed (the
	// policy was reactive only until the next).
	Fits       int `json:"fits"`
	FailedFits int `json:"failed_fits"`
}

// FrontierPoint is one setting of a swept policy.
type FrontierPoint struct {
	Knob                    float64 `json:"knob"`
	ReplicaHours            float64 `json:"replica_hours"`
	UnderprovisionedMinutes float64 `json:"underprovisioned_minutes"`
	UnservedFraction        float64 `json:"unserved_fraction"`
	// EventUnderprovisionedMinutes and EventReplicaHours are Metrics',
	// with a calendar.
	EventUnderprovisionedMinutes float64 `json:"event_underprovisioned_minutes,omitempty"`
	EventReplicaHours            float64 `json:"event_replica_hours,omitempty"`
}

// EqualCost is how the reduction at equal cost was found.
type EqualCost struct {
	ReferenceHeadroom               float64 `json:"reference_headroom"`
	ReplicaHours                    float64 `json:"replica_hours"`
	ReactiveUnderprovisionedMinutes float64 `json:"reactive_underprovisioned_minutes"`
	PrescaleUnderprovisionedMinutes float64 `json:"prescale_underprovisioned_minutes,omitempty"`
	PrescaleQuantile                float64 `json:"prescale_quantile,omitempty"`
	Note                            string  `json:"note,omitempty"`
	// FrontierBelowAt counts the reactive settings, of FrontierCompared
	// within prescale's range of cost, where prescale's frontier is below.
	FrontierBelowAt  int `json:"frontier_below_at"`
	FrontierCompared int `json:"frontier_compared"`
}

// Timing says where the time went.
type Timing struct {
	Fits         int     `json:"fits"`
	FitSeconds   float64 `json:"fit_seconds"` // CPU time of all fits together
	ForecastWall float64 `json:"forecast_wall_seconds"`
	ReplayWall   float64 `json:"replay_wall_seconds"`
	Replays      int     `json:"replays"`
	TotalSeconds float64 `json:"total_seconds"`
	Workers      int     `json:"workers"`
}

// fmtDuration writes d as Prometheus does ("3m15s", "14d"), or as Go does
// below a millisecond.
func fmtDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return model.Duration(d).String()
}

// Run replays series (the demand, one value per step; NaN is unknown)
// under cfg.
func Run(ctx context.Context, series *feed.Series, cfg Config) (*Result, error) {
	began := time.Now()
	if series == nil || len(series.Values) == 0 {
		return nil, fmt.Errorf("%w: the series is empty", ErrInput)
	}
	if series.Step <= 0 {
		return nil, fmt.Errorf("%w: the series has no step", ErrInput)
	}
	c, err := cfg.withDefaults(series.Step)
	if err != nil {
		return nil, err
	}
	res := newResult(series, &c)
	d, err := newData(series, &c, &res.Input)
	if err != nil {
		return nil, err
	}
	res.Demand = d.values

	jobs, quants := replayJobs(&c)
	for _, p := range Policies() {
		if slices.Contains(c.Policies, p) {
			res.Order = append(res.Order, p)
		}
	}
	// Prescale's forecasts, made once for every quantile.
	var fc *forecasts
	if c.runsPolicy(Prescale) {
		if fc, err = prescaleForecasts(ctx, d, &c, quants, res); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	results, traces, err := runReplays(ctx, jobs, d, fc, &c)
	if err != nil {
		return nil, err
	}
	res.Timing.ReplayWall = time.Since(t0).Seconds()
	res.Timing.Replays = len(jobs)
	res.Timing.Workers = c.Workers
	res.collect(jobs, results, traces, &c)
	res.Timing.TotalSeconds = time.Since(began).Seconds()
	return res, nil
}

// newResult is the result of replaying series under c, before any replay.
func newResult(series *feed.Series, c *Config) *Result {
	res := &Result{
		Policies: map[string]*Metrics{},
		Traces:   map[string]*Trace{},
		Input: InputInfo{
			Start:    series.Start,
			End:      series.End(),
			Step:     series.Step,
			StepText: fmtDuration(series.Step),
			Points:   len(series.Values),
		},
		Settings: Settings{
			CapacityPerReplica: c.CapacityPerReplica, Startup: c.Startup.String(), Sync: fmtDuration(c.Sync), Lag: fmtDuration(c.Lag),
			Lead: fmtDuration(c.Lead), Quantile: c.Quantile, Headroom: c.Headroom, MinReplicas: c.MinReplicas, MaxReplicas: c.MaxReplicas,
			Warmup: fmtDuration(c.Warmup), MissingZeros: fmtDuration(c.ZeroRunsMissing), Model: c.Model, History: fmtDuration(c.History), RefitInterval: fmtDuration(c.RefitInterval),
			HPA: c.Behavior.Settings(c.BehaviorName), sync: c.Sync,
		},
	}
	if c.runsBaseline() {
		b := c.Baseline.Settings(c.BaselineName)
		res.Settings.BaselineHPA = &b
	}
	if m := c.measured(); m != nil {
		ev := &EventSettings{File: m.File, Told: c.Events != nil, Occurrences: []EventSetting{}}
		for _, o := range m.Between(series.Start, series.End().Add(series.Step)) {
			ev.Occurrences = append(ev.Occurrences, EventSetting{Name: o.Event.Name, Start: o.Start, End: o.End, From: o.From(), To: o.To()})
		}
		res.Settings.Events = ev
	}
	return res
}

// newData checks the demand series and lays it out for the replays: runs
// of zeros marked missing, the ticks, the evaluated span (described in
// info), the last observation at each step and the oracle's window.
func newData(series *feed.Series, c *Config, info *InputInfo) (*data, error) {
	for i, v := range series.Values {
		if math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("%w: the value at %s (index %d) is %v; a load is finite and not negative",
				ErrInput, series.Time(i).Format(time.RFC3339), i, v)
		}
	}
	d := &data{values: slices.Clone(series.Values), start: series.Start, step: series.Step}
	if c.ZeroRunsMissing > 0 {
		minRun := max(1, int((c.ZeroRunsMissing+d.step-1)/d.step))
		for _, s := range markZeroRuns(d.values, minRun) {
			info.ZeroRuns = append(info.ZeroRuns, TimeSpan{series.Time(s.Start), series.Time(s.End)})
		}
	}
	if m := c.measured(); m != nil {
		d.during = m.Mask(len(d.values), d.start, d.step)
	}
	info.Missing = len(d.values) - finiteIn(d.values)
	if finiteIn(d.values) == 0 {
		return nil, fmt.Errorf("%w: no point of the series has a value", ErrInput)
	}
	d.ticks = int((series.End().Sub(series.Start) + c.Sync - 1) / c.Sync)
	d.evalFrom = int((c.Warmup + c.Sync - 1) / c.Sync)
	if d.evalFrom >= d.ticks {
		return nil, fmt.Errorf("%w: the warm-up (%v) is as long as the series (%v)", ErrInput, c.Warmup, series.End().Sub(series.Start))
	}
	info.EvaluatedFrom = series.Start.Add(time.Duration(d.evalFrom) * c.Sync)
	for k := d.evalFrom; k < d.ticks; k++ {
		if !math.IsNaN(d.at(d.index(series.Start.Add(time.Duration(k) * c.Sync)))) {
			info.EvaluatedMinutes += c.Sync.Minutes()
		}
	}
	d.lastObs = make([]int32, len(d.values))
	last := int32(-1)
	for i, v := range d.values {
		if !math.IsNaN(v) {
			last = int32(i)
		}
		d.lastObs[i] = last
	}
	if c.runsPolicy(Oracle) {
		d.oracle = oracleWindow(d, c)
	}
	return d, nil
}

// job is one replay: a policy at one setting.
type job struct {
	policy   string
	knob     float64
	main     bool // the policy's own setting (reported in Policies)
	baseline bool // under the baseline behavior (policy is Reactive)
}

// replayJobs lists the replays to run, each policy at its setting and then
// the sweeps, and the quantiles prescale's forecasts need.
func replayJobs(c *Config) ([]job, []float64) {
	var jobs []job
	quants := []float64{c.Quantile, 0.1, 0.9, forecast.CoreLevel}
	for _, p := range Policies() {
		if !slices.Contains(c.Policies, p) {
			continue
		}
		knob := 0.0
		switch p {
		case Margin:
			knob = c.Headroom
		case Prescale:
			knob = c.Quantile
		}
		jobs = append(jobs, job{policy: p, knob: knob, main: true})
	}
	if c.Sweep {
		margins := append(slices.Clone(c.SweepHeadrooms), c.Headroom) // the reference is always run
		slices.Sort(margins)
		for _, m := range slices.Compact(margins) {
			jobs = append(jobs, job{policy: Reactive, knob: m})
			if c.runsBaseline() {
				jobs = append(jobs, job{policy: Reactive, knob: m, baseline: true})
			}
		}
		for _, q := range c.SweepQuantiles {
			jobs = append(jobs, job{policy: Prescale, knob: q})
			quants = append(quants, q)
		}
	}
	slices.Sort(quants)
	return jobs, slices.Compact(quants)
}

// runReplays runs the jobs on c.Workers workers.
func runReplays(ctx context.Context, jobs []job, d *data, fc *forecasts, c *Config) ([]*Metrics, []*Trace, error) {
	results := make([]*Metrics, len(jobs))
	traces := make([]*Trace, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Workers)
	var mu sync.Mutex
	done := 0
	for i, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			cc := *c
			cc.KeepTraces = c.KeepTraces && j.main
			r := &replay{c: &cc, d: d, fc: fc, policy: j.policy, knob: j.knob, behavior: c.Behavior, hpa: c.BehaviorName}
			if j.baseline {
				r.behavior, r.hpa = c.Baseline, c.BaselineName
			}
			results[i], traces[i] = r.run()
			mu.Lock()
			defer mu.Unlock()
			done++
			if c.Progress != nil {
				c.Progress("replay", done, len(jobs))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return results, traces, nil
}

// collect puts the replays' metrics in the result: each policy's own
// setting in Policies (and its trace), the sweeps in Frontier, and the
// reduction at equal cost.
func (res *Result) collect(jobs []job, results []*Metrics, traces []*Trace, c *Config) {
	for i, j := range jobs {
		m := results[i]
		if j.main {
			res.Policies[j.policy] = m
			if traces[i] != nil {
				res.Traces[j.policy] = traces[i]
			}
			continue
		}
		if res.Frontier == nil {
			res.Frontier = map[string][]FrontierPoint{}
		}
		key := j.policy
		if j.baseline {
			key = ReactiveBaseline
		}
		res.Frontier[key] = append(res.Frontier[key], FrontierPoint{
			Knob: j.knob, ReplicaHours: m.ReplicaHours,
			UnderprovisionedMinutes: m.UnderprovisionedMinutes, UnservedFraction: m.UnservedFraction,
			EventUnderprovisionedMinutes: m.EventUnderprovisionedMinutes, EventReplicaHours: m.EventReplicaHours,
		})
	}
	for _, pts := range res.Frontier {
		sort.Slice(pts, func(a, b int) bool { return pts[a].Knob < pts[b].Knob })
	}
	if c.Sweep {
		res.EqualCost, res.ReductionAtEqualCost = equalCost(res.Frontier[Reactive], res.Frontier[Prescale], c.Headroom)
	}
	if c.runsBaseline() {
		res.EqualCostVsBaseline, res.ReductionVsBaseline = equalCost(res.Frontier[ReactiveBaseline], res.Frontier[Prescale], c.Headroom)
	}
	if !c.KeepTraces {
		res.Traces = nil
	}
}

// prescaleForecasts makes the prescale policy's forecasts as the service
// would have (the target is declared once MinHistory of data is visible)
// and reports their accuracy, timing and anomalies in res.
func prescaleForecasts(ctx context.Context, d *data, c *Config, quants []float64, res *Result) (*forecasts, error) {
	t0 := time.Now()
	target := c.target(d.step)
	rt := &replayTarget{values: d.values, start: d.start, step: d.step, target: &target, from: max(0, int(c.MinHistory/d.step)-1), events: c.Events}
	// Data reaches the service Lag late: the forecast of a state covers the
	// lag, then the lead window until the data is stale.
	h := models.ForecastSteps(&target, c.Lag, c.Lag+models.StaleAfter(&target, 0))
	var progress func(done, total int)
	if c.Progress != nil {
		progress = func(done, total int) { c.Progress("fit", done, total) }
	}
	fc, err := makeForecasts(ctx, rt, h, quants, c.Workers, progress)
	if err != nil {
		return nil, err
	}
	res.Timing.ForecastWall = time.Since(t0).Seconds()
	res.Timing.Fits = len(fc.fits) + fc.failed
	res.Timing.FitSeconds = fc.fitTime.Seconds()
	res.Forecast = accuracy(d, fc, c)
	res.Band = band(d, fc, c)
	for _, e := range fc.anomalies {
		if e.Kind == models.AnomalyLevelShift {
			res.LevelShifts = append(res.LevelShifts, e.Start)
			continue
		}
		res.Anomalies = append(res.Anomalies, TimeSpan{e.Start, e.End})
	}
	slices.SortFunc(res.LevelShifts, func(a, b time.Time) int { return a.Compare(b) })
	return fc, nil
}
