package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models/backtest"
	"github.com/prescale/prescale/models/backtest/report"
)

// backtestFlags are the backtest command's flags: where the history comes
// from, the cluster and policies to replay it through, and the outputs.
type backtestFlags struct {
	source *historyFlags

	capacity, quantile, headroom, tolerance *float64
	minReplicas, maxReplicas, workers       *int
	startup, behavior, baseline             *string
	model, seasons                          *string
	policies, format, report, trace, events *string
	measureEvents                           *string
	sweep                                   *bool
	seed                                    *uint64

	sync, lag, lead, warmup, missingZeros time.Duration
	history, refit, holdFor               time.Duration
}

// addBacktestFlags defines the backtest command's flags on fs.
func addBacktestFlags(fs *flag.FlagSet) *backtestFlags {
	f := &backtestFlags{
		source: addHistoryFlags(fs, "replay"),

		capacity:    fs.Float64("capacity", 0, "load one ready replica serves, in the series' unit (required)"),
		startup:     fs.String("startup", "1m", "pod start-up delay until ready: 3m (fixed), 2m..4m (uniform) or 3m~30s (normal: mean~sd)"),
		quantile:    fs.Float64("quantile", 0.9, "the forecast quantile prescale provisions (of the forecast's normal core) where the forecast is as sure as at the busy hours; more where it is surer, less where it is wider (the same forecast density at the load provisioned everywhere)"),
		headroom:    fs.Float64("headroom", backtest.DefaultHeadroom, "head room of the margin policy over the observed load, a fraction (0.2 = +20%; not a target's margin, which is a duration); also the reference of --sweep's reduction"),
		minReplicas: fs.Int("min", 1, "minimum replicas"),
		maxReplicas: fs.Int("max", 100, "maximum replicas"),
		tolerance:   fs.Float64("tolerance", backtest.DefaultTolerance, "the cluster's HPA tolerance (--horizontal-pod-autoscaler-tolerance), where a behavior sets none for its direction"),
		behavior: fs.String("behavior", backtest.ShippedHPA, "the HPA behavior every policy runs under: "+backtest.ShippedHPA+" (what deploy/ ships: scale-up tolerance 0), "+
			backtest.ClusterDefaultHPA+" (the API server's defaults), or a YAML file with an HPA's spec.behavior (or a whole HorizontalPodAutoscaler)"),
		baseline: fs.String("baseline-behavior", backtest.ClusterDefaultHPA, "with --sweep, the second figure compares prescale with a reactive HPA under this behavior (same forms as --behavior)"),

		model:   fs.String("model", forecast.KindAuto, "prescale's model: "+strings.Join(forecast.Kinds(), "|")),
		seasons: fs.String("seasons", "", "prescale's declared seasons as durations, e.g. 1d,1w (default: detected at every fit)"),

		policies:      fs.String("policies", strings.Join(backtest.Policies(), ","), "policies to compare: "+strings.Join(backtest.Policies(), ",")),
		sweep:         fs.Bool("sweep", false, "also sweep the reactive HPA's headroom (0-100%) and prescale's quantile (0.5-0.9999): the frontier of cost against risk and the reduction at equal cost"),
		format:        fs.String("format", "table", "output format: table|json"),
		report:        fs.String("report", "", "write a self-contained HTML report with charts to this file"),
		trace:         fs.String("trace", "", "write each policy's replicas and the forecast band per step to this CSV file"),
		workers:       fs.Int("workers", runtime.NumCPU(), "fits and replays run on this many workers"),
		seed:          fs.Uint64("seed", 1, "seed of random start-up delays"),
		events:        fs.String("events", "", "YAML calendar of known events prescale is told of (launches, matches, sales; the format is in the README, under Known events): their windows are kept out of its training, their effects learned, and it scales ahead of them; every policy's under-provisioned minutes within their windows are reported"),
		measureEvents: fs.String("measure-events", "", "YAML calendar whose windows every policy's under-provisioned minutes are reported in, without telling prescale of it (the replay to compare --events with)"),
	}
	durationVar(fs, &f.sync, "sync", backtest.DefaultSync, "HPA sync period (--horizontal-pod-autoscaler-sync-period), a `duration`")
	durationVar(fs, &f.lag, "lag", time.Minute, "metric pipeline lag (scrape interval plus rate window), a `duration`: at t an autoscaler sees the load of t-lag")
	durationVar(fs, &f.lead, "lead", 0, "prescale's lead time, a `duration`, as a target declares it (default: the longest start-up plus the sync period plus the lag)")
	durationVar(fs, &f.warmup, "warmup", 24*time.Hour, "replay this `duration` before the metrics count (prescale fits its first model in it)")
	durationVar(fs, &f.missingZeros, "missing-zeros", time.Hour, "treat runs of zero load at least this `duration` long as missing data (an outage), not zero demand; 0 keeps zeros")
	durationVar(fs, &f.history, "history", 14*24*time.Hour, "`duration` of history each prescale fit uses")
	durationVar(fs, &f.refit, "refit-interval", time.Hour, "how often prescale refits, a `duration` (a confirmed level shift refits sooner, as in the service)")
	durationVar(fs, &f.holdFor, "hold-for", 10*time.Minute, "how long prescale holds its last recommendation while data is missing, a `duration`")
	return f
}

// runBacktest is the backtest command: it replays a load history through
// the reactive HPA, prescale and the other policies and writes what each
// cost and missed.
func runBacktest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("backtest", "backtest (--input FILE.csv | --prometheus.url URL --query PROMQL) --capacity N [flags]", e.stderr)
	f := addBacktestFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	s, _, err := f.source.read(ctx, e)
	if err != nil {
		return err
	}
	if cfg.Seasons, err = f.seasonPeriods(s.Step); err != nil {
		return err
	}
	res, err := replayBacktest(ctx, e, s, cfg)
	if err != nil {
		return err
	}
	return f.write(e.stdout, s.Name, res)
}

// config checks the flags and turns them into the backtest's
// configuration, all but the seasons, which wait for the series' step.
func (f *backtestFlags) config() (backtest.Config, error) {
	if err := f.check(); err != nil {
		return backtest.Config{}, err
	}
	cfg := backtest.Config{
		CapacityPerReplica: *f.capacity,
		Sync:               f.sync,
		Lag:                f.lag,
		Lead:               f.lead,
		Warmup:             f.warmup,
		ZeroRunsMissing:    f.missingZeros,
		History:            f.history,
		RefitInterval:      f.refit,
		HoldFor:            f.holdFor,
		Quantile:           *f.quantile,
		Headroom:           *f.headroom,
		MinReplicas:        *f.minReplicas,
		MaxReplicas:        *f.maxReplicas,
		Model:              *f.model,
		Sweep:              *f.sweep,
		Seed:               *f.seed,
		Workers:            *f.workers,
		KeepTraces:         *f.report != "" || *f.trace != "",
	}
	var err error
	if cfg.Startup, err = backtest.ParseStartup(*f.startup); err != nil {
		return cfg, fmt.Errorf("%w: --startup: %v", errUsage, err)
	}
	if *f.events != "" && *f.measureEvents != "" {
		return cfg, fmt.Errorf("%w: --events and --measure-events: give one (--events measures its own events)", errUsage)
	}
	if *f.events != "" {
		if cfg.Events, err = events.Load(*f.events); err != nil {
			return cfg, fmt.Errorf("%w: --events: %v", errUsage, err)
		}
	}
	if *f.measureEvents != "" {
		if cfg.Measured, err = events.Load(*f.measureEvents); err != nil {
			return cfg, fmt.Errorf("%w: --measure-events: %v", errUsage, err)
		}
	}
	for _, p := range strings.Split(*f.policies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Policies = append(cfg.Policies, p)
		}
	}
	b, err := f.hpaBehavior(*f.behavior)
	if err != nil {
		return cfg, err
	}
	base, err := f.hpaBehavior(*f.baseline)
	if err != nil {
		return cfg, err
	}
	cfg.Behavior, cfg.BehaviorName = &b, *f.behavior
	cfg.Baseline, cfg.BaselineName = &base, *f.baseline
	return cfg, nil
}

// check checks the flags that need no parsing: the output format, one
// source of history, and the capacity.
func (f *backtestFlags) check() error {
	src := f.source
	if !slices.Contains([]string{"table", "json"}, *f.format) {
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, *f.format)
	}
	if (*src.input == "") == (*src.promURL == "") {
		return fmt.Errorf("%w: give exactly one of --input and --prometheus.url", errUsage)
	}
	if (*src.promURL == "") != (*src.query == "") {
		return fmt.Errorf("%w: --prometheus.url and --query go together", errUsage)
	}
	if !(*f.capacity > 0) || math.IsInf(*f.capacity, 0) {
		return fmt.Errorf("%w: --capacity: want the load one replica serves, a positive number (got %v)", errUsage, *f.capacity)
	}
	return nil
}

// hpaBehavior is the HPA behavior named by a --behavior value (a built-in
// name or a file), with --tolerance.
func (f *backtestFlags) hpaBehavior(name string) (backtest.Behavior, error) {
	b, ok := backtest.NamedBehavior(name)
	switch {
	case name == "":
		return b, fmt.Errorf("%w: --behavior and --baseline-behavior: want %s, %s or a file", errUsage, backtest.ShippedHPA, backtest.ClusterDefaultHPA)
	case !ok:
		var err error
		if b, err = loadBehavior(name); err != nil {
			return b, err
		}
	}
	if !(*f.tolerance >= 0 && *f.tolerance < 1) {
		return b, fmt.Errorf("%w: --tolerance: want a fraction in [0, 1), got %v", errUsage, *f.tolerance)
	}
	b.Tolerance = *f.tolerance
	return b, nil
}

// seasonPeriods are the --seasons, whole steps of the series; none when
// the flag is not set, so each fit detects its own.
func (f *backtestFlags) seasonPeriods(step time.Duration) ([]time.Duration, error) {
	if *f.seasons == "" {
		return nil, nil
	}
	periods, err := parseSeasons(*f.seasons, step)
	if err != nil {
		return nil, fmt.Errorf("%w: --seasons: %v", errUsage, err)
	}
	var out []time.Duration
	for _, p := range periods {
		out = append(out, time.Duration(p)*step)
	}
	return out, nil
}

// replayBacktest runs the backtest of s, its progress on stderr; a
// configuration the backtest rejects is a usage error.
func replayBacktest(ctx context.Context, e *env, s *feed.Series, cfg backtest.Config) (*backtest.Result, error) {
	prog := newProgress(e.stderr)
	cfg.Progress = prog.update
	res, err := backtest.Run(ctx, s, cfg)
	prog.finish()
	if errors.Is(err, backtest.ErrConfig) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return res, nil
}

// write writes the result of the history named name: the trace and the
// report when asked for, then the table or the JSON document on out.
func (f *backtestFlags) write(out io.Writer, name string, res *backtest.Result) error {
	if *f.trace != "" {
		if err := writeFile(*f.trace, func(w io.Writer) error { return writeTrace(w, res) }); err != nil {
			return err
		}
	}
	if *f.report != "" {
		title := "prescale backtest: " + name
		if err := writeFile(*f.report, func(w io.Writer) error { return report.Write(w, res, title) }); err != nil {
			return err
		}
	}
	if *f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeBacktestTable(out, name, res)
}

// writeFile writes a file through fn, removing it on failure.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// writeBacktestTable prints the result for a reader.
func writeBacktestTable(w io.Writer, name string, r *backtest.Result) error {
	in, st := &r.Input, &r.Settings
	fmt.Fprintf(w, "input:     %s: %d points every %s, %s to %s; %d missing\n", name, in.Points, in.StepText,
		in.Start.Format(time.RFC3339), in.End.Format(time.RFC3339), in.Missing)
	for _, z := range in.ZeroRuns {
		fmt.Fprintf(w, "           zeros from %s to %s (%v) treated as missing data\n",
			z.Start.Format(time.RFC3339), z.End.Format(time.RFC3339), model.Duration(z.End.Sub(z.Start)))
	}
	fmt.Fprintf(w, "evaluated: from %s (after a %s warm-up), %.0f minutes with known demand\n",
		in.EvaluatedFrom.Format(time.RFC3339), st.Warmup, in.EvaluatedMinutes)
	fmt.Fprintf(w, "settings:  capacity %g per replica, start-up %s, HPA sync %s, lag %s, replicas %d..%d\n",
		st.CapacityPerReplica, st.Startup, st.Sync, st.Lag, st.MinReplicas, st.MaxReplicas)
	fmt.Fprintf(w, "HPA:       every policy: %s\n", st.HPA)
	if h := st.BaselineHPA; h != nil {
		fmt.Fprintf(w, "           second figure's reactive HPA: %s\n", h)
	}
	fmt.Fprintf(w, "           prescale: lead %s, quantile %g, model %s, history %s, refit every %s; margin policy +%g%% headroom\n\n",
		st.Lead, st.Quantile, st.Model, st.History, st.RefitInterval, 100*st.Headroom)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tunder-provisioned min\tunserved %\treplica-hours\tover-provisioning %\tscale events\tθU %\tθO %\tτU %\tτO %\t")
	for _, p := range r.Order {
		m := r.Policies[p]
		el := &m.Elasticity
		fmt.Fprintf(tw, "%s\t%.1f\t%.3f\t%.1f\t%.1f\t%d\t%.2f\t%.1f\t%.1f\t%.1f\t\n", p, m.UnderprovisionedMinutes,
			100*m.UnservedFraction, m.ReplicaHours, 100*m.Overprovisioning, m.ScaleEvents,
			el.UnderAccuracy, el.OverAccuracy, el.UnderTimeshare, el.OverTimeshare)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ev := st.Events; ev != nil {
		told := "prescale was told of them"
		if !ev.Told {
			told = "measured only: prescale was not told of them"
		}
		fmt.Fprintf(w, "\nevents:    %d occurrences from %s (%s); under-provisioned minutes within their windows:", len(ev.Occurrences), ev.File, told)
		for i, p := range r.Order {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(w, "%s %s %.1f", sep, p, r.Policies[p].EventUnderprovisionedMinutes)
		}
		fmt.Fprintln(w)
	}
	if a := r.Forecast; a != nil && a.Points > 0 {
		fmt.Fprintf(w, "\nforecast:  %d steps ahead over %d points: MASE %.3f (seasonal naive, %d steps), MAE %.2f of the last observed value's;\n",
			a.LeadSteps, a.Points, a.MASE, a.SeasonSteps, a.RelativeMAE)
		fmt.Fprintf(w, "           0.1-0.9 interval covers %.1f%%, quantile %g covers %.1f%%; %d fits, %d failed\n",
			100*a.Coverage80, st.Quantile, 100*a.QuantileCoverage, a.Fits, a.FailedFits)
		fmt.Fprintf(w, "           within the top 5%% of load changes (%d points changing at least %.4g in %d steps): 0.1-0.9 covers %.1f%%, quantile %g covers %.1f%%\n",
			a.TopChangePoints, a.TopChangeFrom, a.LeadSteps, 100*a.TopChangeCoverage80, st.Quantile, 100*a.TopChangeQuantileCoverage)
		fmt.Fprintf(w, "           within the top 5%% of the changes seen when forecasting (%d points after a change of at least %.4g in %d steps): 0.1-0.9 covers %.1f%%, quantile %g covers %.1f%%\n",
			a.OriginChangePoints, a.OriginChangeFrom, a.LeadSteps, 100*a.OriginChangeCoverage80, st.Quantile, 100*a.OriginChangeQuantileCoverage)
		fmt.Fprintf(w, "           the load provisioned at quantile %g (spent by density) covers %.1f%%, %.1f%% within the top 5%% of load changes\n",
			st.Quantile, 100*a.ProvisionCoverage, 100*a.TopChangeProvisionCoverage)
	}
	if err := writeFrontierTable(w, r); err != nil {
		return err
	}
	t := &r.Timing
	fmt.Fprintf(w, "\ntime:      %.1f s on %d workers: forecasts %.1f s (%d fits, %.1f s of CPU), %d replays %.1f s\n",
		t.TotalSeconds, t.Workers, t.ForecastWall, t.Fits, t.FitSeconds, t.Replays, t.ReplayWall)
	return nil
}

// writeFrontierTable prints the frontier of a sweep and the reduction at
// equal cost; nothing without a sweep.
func writeFrontierTable(w io.Writer, r *backtest.Result) error {
	if len(r.Frontier) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nfrontier:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tknob\treplica-hours\tunder-provisioned min\tunserved %\t")
	for _, p := range []string{backtest.Reactive, backtest.ReactiveBaseline, backtest.Prescale} {
		knob := "headroom"
		if p == backtest.Prescale {
			knob = "quantile"
		}
		for _, pt := range r.Frontier[p] {
			fmt.Fprintf(tw, "%s\t%s %g\t%.1f\t%.1f\t%.3f\t\n", p, knob, pt.Knob, pt.ReplicaHours, pt.UnderprovisionedMinutes, 100*pt.UnservedFraction)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if e := r.EqualCost; e != nil {
		if r.ReductionAtEqualCost != nil {
			fmt.Fprintf(w, "\nreduction at equal cost: %.1f%% (at %.1f replica-hours, the reactive HPA with a %g%% headroom: %.1f under-provisioned minutes; prescale: %.1f, at quantile %.3f interpolated; both on the %s HPA)\n",
				*r.ReductionAtEqualCost, e.ReplicaHours, 100*e.ReferenceHeadroom, e.ReactiveUnderprovisionedMinutes,
				e.PrescaleUnderprovisionedMinutes, e.PrescaleQuantile, r.Settings.HPA.Name)
		} else {
			fmt.Fprintf(w, "\nreduction at equal cost: none (%s)\n", e.Note)
		}
		fmt.Fprintf(w, "prescale's frontier is below the reactive one at %d of the %d reactive settings within its range of cost\n",
			e.FrontierBelowAt, e.FrontierCompared)
	}
	if e, h := r.EqualCostVsBaseline, r.Settings.BaselineHPA; e != nil && h != nil {
		if r.ReductionVsBaseline != nil {
			fmt.Fprintf(w, "against the reactive HPA on %s: %.1f%% (at %.1f replica-hours, its %g%% headroom: %.1f under-provisioned minutes; prescale: %.1f); below it at %d of %d\n",
				h.Name, *r.ReductionVsBaseline, e.ReplicaHours, 100*e.ReferenceHeadroom, e.ReactiveUnderprovisionedMinutes,
				e.PrescaleUnderprovisionedMinutes, e.FrontierBelowAt, e.FrontierCompared)
		} else {
			fmt.Fprintf(w, "against the reactive HPA on %s: none (%s)\n", h.Name, e.Note)
		}
	}
	return nil
}

// writeTrace writes one row per step: the demand, prescale's forecast made
// a lead time before (0.1 quantile, point, 0.9 quantile, the quantile it
// provisions at, and the load it provisions), and each policy's replicas
// at the step's start.
func writeTrace(w io.Writer, r *backtest.Result) error {
	cw := csv.NewWriter(w)
	header := []string{"time", "demand", "forecast_low", "forecast", "forecast_high", "forecast_quantile", "provision"}
	for _, p := range r.Order {
		header = append(header, p+"_ready", p+"_pods")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	sync := r.Settings.SyncPeriod()
	row := make([]string, len(header))
	for i, v := range r.Demand {
		t := r.Input.Start.Add(time.Duration(i) * r.Input.Step)
		row = row[:0]
		row = append(row, t.Format(time.RFC3339), num(v))
		if b := r.Band; b != nil {
			row = append(row, num(b.Low[i]), num(b.Point[i]), num(b.High[i]), num(b.Mid[i]), num(b.Provision[i]))
		} else {
			row = append(row, "", "", "", "", "")
		}
		k := int(time.Duration(i) * r.Input.Step / sync)
		for _, p := range r.Order {
			tr := r.Traces[p]
			if tr == nil || k >= len(tr.Ready) {
				row = append(row, "", "")
				continue
			}
			row = append(row, strconv.Itoa(int(tr.Ready[k])), strconv.Itoa(int(tr.Pods[k])))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
