package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/synth"
	"github.com/prescale/prescale/models/backtest"
)

// eventsCase is one trace of `prescale eval events` with its calendar.
type eventsCase struct {
	Trace    string
	Describe string
	series   *feed.Series
	calendar *events.Calendar
	capacity float64
	max      int
	zeros    time.Duration
}

// eventsRow is what one case measured: prescale without the calendar (its
// windows only measured) and with it, at the default quantile and at the
// cost of the run without.
type eventsRow struct {
	Trace       string  `json:"trace"`
	Describe    string  `json:"describe"`
	Occurrences int     `json:"occurrences"`
	Without     eventsM `json:"without"`
	With        eventsM `json:"with"`
	// Oracle is the policy that knows the future, in the run without: what
	// the events need at least.
	Oracle eventsM `json:"oracle"`
	// AtEqualCost is the run with the calendar on its quantile sweep,
	// interpolated at the replica-hours of the run without; when its sweep
	// does not reach that cost, WithoutAtEqualCost is the run without on
	// its sweep at the cost of the run with. Nil when neither does.
	AtEqualCost        *eventsM `json:"at_equal_cost,omitempty"`
	WithoutAtEqualCost *eventsM `json:"without_at_equal_cost,omitempty"`
	// Reduction is 1 - with/without of the under-provisioned minutes within
	// the events' windows at equal cost, in percent; nil without one.
	Reduction *float64 `json:"reduction_percent,omitempty"`
}

// eventsM is prescale's figures in one run.
type eventsM struct {
	Quantile                     float64 `json:"quantile"`
	ReplicaHours                 float64 `json:"replica_hours"`
	UnderprovisionedMinutes      float64 `json:"underprovisioned_minutes"`
	EventUnderprovisionedMinutes float64 `json:"event_underprovisioned_minutes"`
	EventReplicaHours            float64 `json:"event_replica_hours"`
}

// runEvalEvents measures what a calendar of known events buys: on the
// seeded synthetic traces of named events (feed/synth.NamedEvents: one a
// day at 1-minute steps, --synthetic.days long; two a day at 5-minute
// steps over 24 days, seed --synthetic.seed+2) and on NASA-HTTP with the
// STS-70 launch, prescale is replayed without the
// calendar (its windows only measured) and with it, with the quantile
// sweep, and the under-provisioned minutes within the events' windows
// are compared at equal replica-hours.
func runEvalEvents(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval events", "eval events --data DIR [--json]", e.stderr)
	dataDir := fs.String("data", defaultDataDir(), "shared data directory holding nasa_http/")
	days := fs.Int("synthetic.days", 60, "days of the synthetic trace of named events at 1-minute steps")
	seed := fs.Uint64("synthetic.seed", 1, "seed of the synthetic trace at 1-minute steps; the one at 5-minute steps takes this plus 2")
	workers := fs.Int("workers", runtime.NumCPU(), "fits and replays run on this many workers")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cases, err := eventsCases(*dataDir, *days, *seed)
	if err != nil {
		return err
	}
	var rows []eventsRow
	for _, c := range cases {
		row, err := c.measure(ctx, e, *workers)
		if err != nil {
			return fmt.Errorf("eval events %s: %w", c.Trace, err)
		}
		rows = append(rows, *row)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"events": rows})
	}
	return writeEventsTable(e.stdout, rows)
}

// eventsCases are the synthetic trace of named events (about one a day,
// three kinds, its calendar declaring no sizes), the same kinds at
// 5-minute steps two a day over 24 days, and NASA-HTTP with the STS-70
// launch (models/backtest/testdata/sts70.yaml).
func eventsCases(dataDir string, days int, seed uint64) ([]eventsCase, error) {
	named := func(o *synth.Options, trace, describe string) (eventsCase, error) {
		s, evs, raw, err := synth.NamedEvents(o, synth.DefaultKinds, 30*time.Minute)
		if err != nil {
			return eventsCase{}, err
		}
		cal, err := events.Parse(raw, trace+" calendar")
		if err != nil {
			return eventsCase{}, err
		}
		days := int(s.End().Sub(s.Start) / (24 * time.Hour))
		return eventsCase{Trace: trace, Describe: fmt.Sprintf("%d named events over %d days, %s (feed/synth, seed %d)", len(evs), days, describe, o.Seed),
			series: s, calendar: cal, capacity: o.Capacity, max: 250, zeros: time.Hour}, nil
	}
	synthetic, err := named(&synth.Options{Days: days, Seed: seed, Capacity: 20}, "synthetic", "one a day at 1-minute steps")
	if err != nil {
		return nil, err
	}
	// The same kinds at 5-minute steps, two a day: fewer points to learn
	// each occurrence from, and noisier ones.
	coarse, err := named(&synth.Options{Days: 24, Step: 5 * time.Minute, EventsPerDay: 2, Seed: seed + 2, Capacity: 20}, "synthetic-5m", "two a day at 5-minute steps")
	if err != nil {
		return nil, err
	}
	nasa, err := feed.ReadCSVFile(filepath.Join(dataDir, "nasa_http", nasaFile), &feed.CSVOptions{Column: "requests"})
	if err != nil {
		return nil, err
	}
	sts70, err := events.Load(stsCalendar)
	if err != nil {
		return nil, err
	}
	return []eventsCase{
		synthetic,
		coarse,
		{Trace: "nasa", Describe: "NASA-HTTP with the STS-70 launch, nothing declared about its size",
			series: nasa, calendar: sts70, capacity: 20, max: 100, zeros: time.Hour},
	}, nil
}

// stsCalendar is the STS-70 launch on NASA-HTTP's clock, relative to the
// repository's root, where make runs the command.
const stsCalendar = "models/backtest/testdata/sts70.yaml"

// measure replays the case without and with its calendar.
func (c *eventsCase) measure(ctx context.Context, e *env, workers int) (*eventsRow, error) {
	run := func(told bool) (*backtest.Result, error) {
		cfg := panelConfig(c.capacity, c.max, c.zeros, workers)
		cfg.Policies, cfg.Measured = []string{backtest.Prescale}, c.calendar
		if told {
			cfg.Events = c.calendar
		} else {
			cfg.Policies = append(cfg.Policies, backtest.Oracle)
		}
		prog := newProgress(e.stderr)
		cfg.Progress = func(stage string, done, total int) { prog.update(c.Trace+" "+stage, done, total) }
		defer prog.finish()
		return backtest.Run(ctx, c.series, cfg)
	}
	without, err := run(false)
	if err != nil {
		return nil, err
	}
	with, err := run(true)
	if err != nil {
		return nil, err
	}
	row := &eventsRow{Trace: c.Trace, Describe: c.Describe, Occurrences: len(with.Settings.Events.Occurrences),
		Without: figures(without, backtest.Prescale), With: figures(with, backtest.Prescale), Oracle: figures(without, backtest.Oracle)}
	reduction := func(with, without float64) {
		if without > 0 {
			r := 100 * (1 - with/without)
			row.Reduction = &r
		}
	}
	if at, ok := atCost(with.Frontier[backtest.Prescale], row.Without.ReplicaHours); ok {
		row.AtEqualCost = &at
		reduction(at.EventUnderprovisionedMinutes, row.Without.EventUnderprovisionedMinutes)
	} else if at, ok := atCost(without.Frontier[backtest.Prescale], row.With.ReplicaHours); ok {
		row.WithoutAtEqualCost = &at
		reduction(row.With.EventUnderprovisionedMinutes, at.EventUnderprovisionedMinutes)
	}
	return row, nil
}

// figures are a policy's in r; the quantile is prescale's.
func figures(r *backtest.Result, policy string) eventsM {
	m := r.Policies[policy]
	q := 0.0
	if policy == backtest.Prescale {
		q = r.Settings.Quantile
	}
	return eventsM{Quantile: q, ReplicaHours: m.ReplicaHours, UnderprovisionedMinutes: m.UnderprovisionedMinutes,
		EventUnderprovisionedMinutes: m.EventUnderprovisionedMinutes, EventReplicaHours: m.EventReplicaHours}
}

// atCost interpolates a frontier (by quantile) linearly in replica-hours
// at cost; false when cost is outside its range.
func atCost(pts []backtest.FrontierPoint, cost float64) (eventsM, bool) {
	pts = slices.Clone(pts)
	slices.SortFunc(pts, func(a, b backtest.FrontierPoint) int { return cmp.Compare(a.ReplicaHours, b.ReplicaHours) })
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if cost < a.ReplicaHours || cost > b.ReplicaHours {
			continue
		}
		u := 0.0
		if b.ReplicaHours > a.ReplicaHours {
			u = (cost - a.ReplicaHours) / (b.ReplicaHours - a.ReplicaHours)
		}
		lerp := func(x, y float64) float64 { return x + u*(y-x) }
		return eventsM{Quantile: lerp(a.Knob, b.Knob), ReplicaHours: cost, UnderprovisionedMinutes: lerp(a.UnderprovisionedMinutes, b.UnderprovisionedMinutes),
			EventUnderprovisionedMinutes: lerp(a.EventUnderprovisionedMinutes, b.EventUnderprovisionedMinutes),
			EventReplicaHours:            lerp(a.EventReplicaHours, b.EventReplicaHours)}, true
	}
	return eventsM{}, false
}

// writeEventsTable prints one block per case.
func writeEventsTable(w io.Writer, rows []eventsRow) error {
	fmt.Fprintln(w, "prescale replayed without the calendar (its windows only measured) and with it (--events), both with the")
	fmt.Fprintln(w, "quantile sweep; \"at equal cost\" is the run with the calendar interpolated on its sweep at the replica-hours")
	fmt.Fprintln(w, "of the run without. Minutes are under-provisioned minutes, replica-hours what the pods cost: within the events'")
	fmt.Fprintln(w, "windows (lead, event, lag), and in all. The oracle knows the future load.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\trun\tquantile\treplica-hours\tin events\tminutes in events\tminutes in all\t")
	for _, r := range rows {
		line := func(name string, m eventsM) {
			q := "—"
			if m.Quantile > 0 {
				q = fmt.Sprintf("%.3f", m.Quantile)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t\n", r.Trace, name, q, m.ReplicaHours, m.EventReplicaHours,
				m.EventUnderprovisionedMinutes, m.UnderprovisionedMinutes)
		}
		line("oracle", r.Oracle)
		line("without", r.Without)
		line("with", r.With)
		if r.AtEqualCost != nil {
			line("with, at equal cost", *r.AtEqualCost)
		}
		if r.WithoutAtEqualCost != nil {
			line("without, at equal cost", *r.WithoutAtEqualCost)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		red := "no equal-cost point on the sweep"
		switch {
		case r.Reduction == nil:
		case *r.Reduction >= 0:
			red = fmt.Sprintf("%.1f%% fewer under-provisioned minutes within the events at equal cost", *r.Reduction)
		default:
			red = fmt.Sprintf("%.1f%% more under-provisioned minutes within the events at equal cost (a loss)", -*r.Reduction)
		}
		fmt.Fprintf(w, "%s (%s, %d occurrences): %s\n", r.Trace, r.Describe, r.Occurrences, red)
	}
	return nil
}
