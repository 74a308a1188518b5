package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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

	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models/backtest"
)

func runBacktest(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("backtest", "backtest (--input FILE.csv | --prometheus.url URL --query PROMQL) --capacity N [flags]", e.stderr)
	h := addHistoryFlags(fs, "replay")
	input, promURL, query := h.input, h.promURL, h.query

	capacity := fs.Float64("capacity", 0, "load one ready replica serves, in the series' unit (required)")
	startup := fs.String("startup", "1m", "pod start-up delay until ready: 3m (fixed), 2m..4m (uniform) or 3m~30s (normal: mean~sd)")
	sync := fs.Duration("sync", backtest.DefaultSync, "HPA sync period (--horizontal-pod-autoscaler-sync-period)")
	lag := fs.Duration("lag", time.Minute, "metric pipeline lag (scrape interval plus rate window): at t an autoscaler sees the load of t-lag")
	lead := fs.Duration("lead", 0, "prescale's lead time, as a target declares it (default: the longest start-up plus the sync period plus the lag)")
	quantile := fs.Float64("quantile", 0.9, "forecast quantile prescale provisions for")
	margin := fs.Float64("margin", backtest.DefaultMargin, "head room of the margin policy over the observed load (0.2 = +20%); also the reference of --sweep's reduction")
	minReplicas := fs.Int("min", 1, "minimum replicas")
	maxReplicas := fs.Int("max", 100, "maximum replicas")
	tolerance := fs.Float64("tolerance", backtest.DefaultTolerance, "HPA tolerance (--horizontal-pod-autoscaler-tolerance)")
	behaviorFile := fs.String("behavior", "", "YAML file with the HPA's spec.behavior (or a whole HorizontalPodAutoscaler) overriding the defaults")
	warmup := fs.String("warmup", "1d", "replay this long before the metrics count (prescale fits its first model in it)")
	zeros := fs.String("missing-zeros", "1h", "treat runs of zero load at least this long as missing data (an outage), not zero demand; 0 keeps zeros")

	model := fs.String("model", forecast.KindAuto, "prescale's model: "+strings.Join(forecast.Kinds(), "|"))
	seasons := fs.String("seasons", "", "prescale's declared seasons as durations, e.g. 1d,1w (default: detected at every fit)")
	history := fs.String("history", "14d", "history each prescale fit uses")
	refit := fs.String("refit-interval", "1h", "how often prescale refits (a confirmed level shift refits sooner, as in the service)")
	holdFor := fs.String("hold-for", "10m", "how long prescale holds its last recommendation while data is missing")

	policies := fs.String("policies", strings.Join(backtest.Policies(), ","), "policies to compare: "+strings.Join(backtest.Policies(), ","))
	sweep := fs.Bool("sweep", false, "also sweep the reactive HPA's margin (0-100%) and prescale's quantile (0.5-0.99): the frontier of cost against risk and the reduction at equal cost")
	format := fs.String("format", "table", "output format: table|json")
	report := fs.String("report", "", "write a self-contained HTML report with charts to this file")
	traceFile := fs.String("trace", "", "write each policy's replicas and the forecast band per step to this CSV file")
	workers := fs.Int("workers", runtime.NumCPU(), "fits and replays run on this many workers")
	seed := fs.Uint64("seed", 1, "seed of random start-up delays")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	if !slices.Contains([]string{"table", "json"}, *format) {
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, *format)
	}
	if (*input == "") == (*promURL == "") {
		return fmt.Errorf("%w: give exactly one of --input and --prometheus.url", errUsage)
	}
	if (*promURL == "") != (*query == "") {
		return fmt.Errorf("%w: --prometheus.url and --query go together", errUsage)
	}
	if !(*capacity > 0) || math.IsInf(*capacity, 0) {
		return fmt.Errorf("%w: --capacity: want the load one replica serves, a positive number (got %v)", errUsage, *capacity)
	}
	cfg := backtest.Config{
		CapacityPerReplica: *capacity,
		Sync:               *sync,
		Lag:                *lag,
		Lead:               *lead,
		Quantile:           *quantile,
		Margin:             *margin,
		MinReplicas:        *minReplicas,
		MaxReplicas:        *maxReplicas,
		Model:              *model,
		Sweep:              *sweep,
		Seed:               *seed,
		Workers:            *workers,
		KeepTraces:         *report != "" || *traceFile != "",
	}
	var err error
	if cfg.Startup, err = backtest.ParseStartup(*startup); err != nil {
		return fmt.Errorf("%w: --startup: %v", errUsage, err)
	}
	for _, f := range []struct {
		name string
		val  string
		dst  *time.Duration
	}{
		{"warmup", *warmup, &cfg.Warmup}, {"missing-zeros", *zeros, &cfg.ZeroRunsMissing},
		{"history", *history, &cfg.History}, {"refit-interval", *refit, &cfg.RefitInterval}, {"hold-for", *holdFor, &cfg.HoldFor},
	} {
		d, err := parseDuration(f.val)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: --%s %q: want a duration such as 90s, 1h or 14d", errUsage, f.name, f.val)
		}
		*f.dst = d
	}
	for _, p := range strings.Split(*policies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Policies = append(cfg.Policies, p)
		}
	}
	b := backtest.DefaultBehavior()
	if *behaviorFile != "" {
		if b, err = loadBehavior(*behaviorFile); err != nil {
			return err
		}
	}
	if !(*tolerance >= 0 && *tolerance < 1) {
		return fmt.Errorf("%w: --tolerance: want a fraction in [0, 1), got %v", errUsage, *tolerance)
	}
	b.Tolerance = *tolerance
	cfg.Behavior = &b

	s, _, err := h.read(ctx, e)
	if err != nil {
		return err
	}
	if *seasons != "" {
		periods, err := parseSeasons(*seasons, s.Step)
		if err != nil {
			return fmt.Errorf("%w: --seasons: %v", errUsage, err)
		}
		for _, p := range periods {
			cfg.Seasons = append(cfg.Seasons, time.Duration(p)*s.Step)
		}
	}

	prog := newProgress(e.stderr)
	cfg.Progress = prog.update
	res, err := backtest.Run(ctx, s, cfg)
	prog.finish()
	if errors.Is(err, backtest.ErrConfig) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	if *traceFile != "" {
		if err := writeFile(*traceFile, func(w io.Writer) error { return writeTrace(w, res) }); err != nil {
			return err
		}
	}
	if *report != "" {
		title := "prescale backtest: " + s.Name
		if err := writeFile(*report, func(w io.Writer) error { return backtest.WriteReport(w, res, title) }); err != nil {
			return err
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeBacktestTable(e.stdout, s.Name, res)
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
	fmt.Fprintf(w, "settings:  capacity %g per replica, start-up %s, HPA sync %s, lag %s, tolerance %g, replicas %d..%d\n",
		st.CapacityPerReplica, st.Startup, st.Sync, st.Lag, st.Tolerance, st.MinReplicas, st.MaxReplicas)
	fmt.Fprintf(w, "           prescale: lead %s, quantile %g, model %s, history %s, refit every %s; margin policy +%g%%\n\n",
		st.Lead, st.Quantile, st.Model, st.History, st.RefitInterval, 100*st.Margin)

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
	if a := r.Forecast; a != nil && a.Points > 0 {
		fmt.Fprintf(w, "\nforecast:  %d steps ahead over %d points: MASE %.3f (seasonal naive, %d steps), MAE %.2f of the last observed value's;\n",
			a.LeadSteps, a.Points, a.MASE, a.SeasonSteps, a.RelativeMAE)
		fmt.Fprintf(w, "           0.1-0.9 interval covers %.1f%%, quantile %g covers %.1f%%; %d fits, %d failed\n",
			100*a.Coverage80, st.Quantile, 100*a.QuantileCoverage, a.Fits, a.FailedFits)
	}
	if len(r.Frontier) > 0 {
		fmt.Fprintln(w, "\nfrontier:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "policy\tknob\treplica-hours\tunder-provisioned min\tunserved %\t")
		for _, p := range []string{backtest.Reactive, backtest.Prescale} {
			knob := "margin"
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
				fmt.Fprintf(w, "\nreduction at equal cost: %.1f%% (at %.1f replica-hours, the reactive HPA with a %g%% margin: %.1f under-provisioned minutes; prescale: %.1f, at quantile %.3f interpolated)\n",
					*r.ReductionAtEqualCost, e.ReplicaHours, 100*e.ReferenceMargin, e.ReactiveUnderprovisionedMinutes,
					e.PrescaleUnderprovisionedMinutes, e.PrescaleQuantile)
			} else {
				fmt.Fprintf(w, "\nreduction at equal cost: none (%s)\n", e.Note)
			}
			fmt.Fprintf(w, "prescale's frontier is below the reactive one at %d of the %d reactive settings within its range of cost\n",
				e.FrontierBelowAt, e.FrontierCompared)
		}
	}
	t := &r.Timing
	fmt.Fprintf(w, "\ntime:      %.1f s on %d workers: forecasts %.1f s (%d fits, %.1f s of CPU), %d replays %.1f s\n",
		t.TotalSeconds, t.Workers, t.ForecastWall, t.Fits, t.FitSeconds, t.Replays, t.ReplayWall)
	return nil
}

// writeTrace writes one row per step: the demand, prescale's forecast made
// a lead time before (0.1 quantile, point, 0.9 quantile, and the quantile
// it provisions for), and each policy's replicas at the step's start.
func writeTrace(w io.Writer, r *backtest.Result) error {
	cw := csv.NewWriter(w)
	header := []string{"time", "demand", "forecast_low", "forecast", "forecast_high", "forecast_quantile"}
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
			row = append(row, num(b.Low[i]), num(b.Point[i]), num(b.High[i]), num(b.Mid[i]))
		} else {
			row = append(row, "", "", "", "")
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
