package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/synth"
	"github.com/prescale/prescale/models/backtest"
)

// panelTrace is one trace of the backtest panel: where its demand comes
// from and the workload it is replayed as.
type panelTrace struct {
	name string
	// describe says what the trace is, for the table.
	describe string
	// load reads the trace; a seeded trace (seeded) is generated with
	// seed, one row per --synthetic.seeds.
	load   func(p *panelFlags, seed uint64) (*feed.Series, error)
	seeded bool
	// The workload: capacity per replica, the most replicas, and how long
	// a run of zeros must be to be missing data.
	capacity        float64
	maxReplicas     int
	zeroRunsMissing time.Duration
}

// panel lists the traces of `prescale eval panel`, each with the workload
// its issue states: NASA-HTTP (20 requests a minute per replica), the
// Twitter sample stream (250 tweets a minute, up to 1,000 replicas, its
// daily 28-minute gap missing) and the seeded synthetic flash crowds (20
// requests a minute, peaks of 20 to 200 replicas). All start up in 3
// minutes and are seen 2 minutes late.
func panel() []panelTrace {
	return []panelTrace{
		{
			name: "nasa", describe: "NASA-HTTP, July-August 1995",
			load: func(p *panelFlags, _ uint64) (*feed.Series, error) {
				return feed.ReadCSVFile(filepath.Join(*p.dataDir, "nasa_http", nasaFile), &feed.CSVOptions{Column: "requests"})
			},
			capacity: 20, maxReplicas: 100, zeroRunsMissing: time.Hour,
		},
		{
			name: "twitter", describe: "Twitter sample stream, August 2021",
			load: func(p *panelFlags, _ uint64) (*feed.Series, error) {
				return feed.ReadCSVFile(filepath.Join(*p.dataDir, "twitter_stream", "twitter_stream_2021_08_per_minute.csv"), &feed.CSVOptions{Column: "tweets"})
			},
			capacity: 250, maxReplicas: 1000, zeroRunsMissing: 20 * time.Minute,
		},
		{
			name: "synthetic", describe: "synthetic flash crowds (feed/synth)",
			load: func(p *panelFlags, seed uint64) (*feed.Series, error) {
				s, _, err := synth.FlashCrowds(&synth.Options{Days: *p.synthDays, Seed: seed, Capacity: 20})
				return s, err
			},
			seeded:   true,
			capacity: 20, maxReplicas: 250, zeroRunsMissing: time.Hour,
		},
	}
}

// panelFlags are the flags of `prescale eval panel`.
type panelFlags struct {
	dataDir, traces, behavior, synthSeeds *string
	synthDays, workers                    *int
	asJSON                                *bool
}

// panelRow is one trace's result in the panel.
type panelRow struct {
	Trace    string `json:"trace"`
	Describe string `json:"describe"`
	// Seed is the seed of a generated trace (synthetic), nil for a real one.
	Seed   *uint64          `json:"seed,omitempty"`
	Result *backtest.Result `json:"result"`
}

// label names the row in the table: the trace, and its seed if any.
func (r *panelRow) label() string {
	if r.Seed == nil {
		return r.Trace
	}
	return fmt.Sprintf("%s seed %d", r.Trace, *r.Seed)
}

// runEvalPanel replays every trace of the panel with the backtest's sweep
// and prints, per trace, the reduction at equal cost (every policy on the
// same HPA, and against a reactive HPA on the cluster's defaults), where
// the frontiers cross and the coverage of prescale's quantile.
func runEvalPanel(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval panel", "eval panel --data DIR [--traces nasa,twitter,synthetic] [--synthetic.seeds 1,2,3] [--json]", e.stderr)
	var names []string
	for _, t := range panel() {
		names = append(names, t.name)
	}
	p := &panelFlags{
		dataDir:    fs.String("data", defaultDataDir(), "shared data directory holding nasa_http/ and twitter_stream/"),
		traces:     fs.String("traces", strings.Join(names, ","), "traces to replay: "+strings.Join(names, ",")),
		behavior:   fs.String("behavior", backtest.ShippedHPA, "the HPA behavior every policy runs under: "+backtest.ShippedHPA+" or "+backtest.ClusterDefaultHPA),
		synthDays:  fs.Int("synthetic.days", synth.DefaultDays, "days of the synthetic flash-crowd trace"),
		synthSeeds: fs.String("synthetic.seeds", defaultPanelSeeds, "seeds of the synthetic flash-crowd traces, comma-separated: one row each"),
		workers:    fs.Int("workers", runtime.NumCPU(), "fits and replays run on this many workers"),
		asJSON:     fs.Bool("json", false, "print JSON (every trace's whole backtest result) instead of a table"),
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var chosen []panelTrace
	for _, n := range strings.Split(*p.traces, ",") {
		i := slices.IndexFunc(panel(), func(t panelTrace) bool { return t.name == strings.TrimSpace(n) })
		if i < 0 {
			return fmt.Errorf("%w: --traces: unknown trace %q (have %s)", errUsage, n, strings.Join(names, ", "))
		}
		chosen = append(chosen, panel()[i])
	}
	seeds, err := parseSeeds(*p.synthSeeds)
	if err != nil {
		return err
	}
	behavior, ok := backtest.NamedBehavior(*p.behavior)
	if !ok {
		return fmt.Errorf("%w: --behavior: want %s or %s, got %q", errUsage, backtest.ShippedHPA, backtest.ClusterDefaultHPA, *p.behavior)
	}
	var rows []panelRow
	for _, t := range chosen {
		runs := []*uint64{nil}
		if t.seeded {
			runs = runs[:0]
			for _, s := range seeds {
				runs = append(runs, &s)
			}
		}
		for _, seed := range runs {
			row, err := runPanelTrace(ctx, e, p, &t, seed, &behavior)
			if err != nil {
				return err
			}
			rows = append(rows, *row)
		}
	}
	if *p.asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"panel": rows})
	}
	return writePanelTable(e.stdout, rows)
}

// defaultPanelSeeds are the synthetic traces the panel replays: one seed's
// figure is one draw of where the crowds fall (seed 1 read -34.1% at
// equal cost, seeds 2 and 3 +5.3% and -5.2%), so the panel shows three.
const defaultPanelSeeds = "1,2,3"

// parseSeeds reads --synthetic.seeds: distinct unsigned integers,
// comma-separated, at most maxPanelSeeds.
func parseSeeds(list string) ([]uint64, error) {
	fields := strings.Split(list, ",")
	if len(fields) > maxPanelSeeds {
		return nil, fmt.Errorf("%w: --synthetic.seeds: %d seeds, at most %d", errUsage, len(fields), maxPanelSeeds)
	}
	var seeds []uint64
	for _, f := range fields {
		s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: --synthetic.seeds: %q is not a seed (an unsigned integer)", errUsage, f)
		}
		if slices.Contains(seeds, s) {
			return nil, fmt.Errorf("%w: --synthetic.seeds: seed %d is listed twice", errUsage, s)
		}
		seeds = append(seeds, s)
	}
	return seeds, nil
}

// maxPanelSeeds bounds --synthetic.seeds: each seed is a backtest of
// about 40 s here.
const maxPanelSeeds = 20

// runPanelTrace replays one trace of the panel (seed: the generated
// trace's, nil for a real one).
func runPanelTrace(ctx context.Context, e *env, p *panelFlags, t *panelTrace, seed *uint64, behavior *backtest.Behavior) (*panelRow, error) {
	row := &panelRow{Trace: t.name, Describe: t.describe, Seed: seed}
	name := row.label()
	var s uint64
	if seed != nil {
		s = *seed
	}
	series, err := t.load(p, s)
	if err != nil {
		return nil, fmt.Errorf("panel trace %s: %w", name, err)
	}
	cfg := panelConfig(t.capacity, t.maxReplicas, t.zeroRunsMissing, *p.workers)
	cfg.Behavior, cfg.BehaviorName = behavior, *p.behavior
	prog := newProgress(e.stderr)
	cfg.Progress = func(stage string, done, total int) { prog.update(name+" "+stage, done, total) }
	res, err := backtest.Run(ctx, series, cfg)
	prog.finish()
	if err != nil {
		return nil, fmt.Errorf("panel trace %s: %w", name, err)
	}
	row.Result = res
	return row, nil
}

// panelConfig is the backtest of a panel trace (and of eval events): a
// 3-minute start-up, a 2-minute lag, a day's warm-up, the sweep.
func panelConfig(capacity float64, maxReplicas int, zeroRunsMissing time.Duration, workers int) backtest.Config {
	return backtest.Config{
		CapacityPerReplica: capacity,
		Startup:            backtest.Startup{Kind: backtest.StartupFixed, A: 3 * time.Minute},
		Lag:                2 * time.Minute,
		Headroom:           backtest.DefaultHeadroom,
		MinReplicas:        1,
		MaxReplicas:        maxReplicas,
		Warmup:             24 * time.Hour,
		ZeroRunsMissing:    zeroRunsMissing,
		Sweep:              true,
		Seed:               1,
		Workers:            workers,
	}
}

// writePanelTable prints one line per trace.
func writePanelTable(w io.Writer, rows []panelRow) error {
	fmt.Fprintln(w, "Each trace replayed with --sweep: the reduction of under-provisioned minutes at the cost of the reactive HPA")
	fmt.Fprintln(w, "with a 20% headroom, both on the same HPA behavior, and against a reactive HPA on the cluster's defaults;")
	fmt.Fprintln(w, "\"below\" counts the reactive settings within prescale's range of cost where prescale's frontier is lower.")
	fmt.Fprintln(w, "Coverage is of the forecast a lead time ahead, overall and within the top 5% of load changes (by the change")
	fmt.Fprintln(w, "forecast, outcome included) and of the changes seen when forecasting; \"provisioned\" is of the load provisioned.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\tworkload\treduction\tbelow\tvs cluster defaults\tbelow\tq coverage\t80% coverage\tq, top 5% changes\tq, top 5% seen\tprovisioned\ttime\t")
	for _, r := range rows {
		res := r.Result
		q := res.Settings.Quantile
		cov, cov80, top, seen, prov := "—", "—", "—", "—", "—"
		if a := res.Forecast; a != nil && a.Points > 0 {
			cov = fmt.Sprintf("%.1f%% (q %g)", 100*a.QuantileCoverage, q)
			cov80 = fmt.Sprintf("%.1f%%", 100*a.Coverage80)
			top = fmt.Sprintf("%.1f%% (%d points)", 100*a.TopChangeQuantileCoverage, a.TopChangePoints)
			seen = fmt.Sprintf("%.1f%%", 100*a.OriginChangeQuantileCoverage)
			prov = fmt.Sprintf("%.1f%%", 100*a.ProvisionCoverage)
		}
		fmt.Fprintf(tw, "%s\t%g per replica, max %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f s\t\n", r.label(), res.Settings.CapacityPerReplica, res.Settings.MaxReplicas,
			percentOrNone(res.ReductionAtEqualCost), belowOf(res.EqualCost), percentOrNone(res.ReductionVsBaseline), belowOf(res.EqualCostVsBaseline),
			cov, cov80, top, seen, prov, res.Timing.TotalSeconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		for _, e := range []*backtest.EqualCost{r.Result.EqualCost, r.Result.EqualCostVsBaseline} {
			if e != nil && e.Note != "" {
				fmt.Fprintf(w, "%s: %s\n", r.label(), e.Note)
			}
		}
	}
	return nil
}

func percentOrNone(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%.1f%%", *v)
}

func belowOf(e *backtest.EqualCost) string {
	if e == nil {
		return "—"
	}
	return fmt.Sprintf("%d/%d", e.FrontierBelowAt, e.FrontierCompared)
}
