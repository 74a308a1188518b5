package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/prescale/prescale/models/backtest"
)

// The words of the page: the summary, the headline, the tables.

const timeLayout = "2006-01-02 15:04"

func summary(res *backtest.Result) string {
	in, st := &res.Input, &res.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "The demand runs from %s to %s UTC: %d points every %s, %d missing",
		formatTime(in.Start), formatTime(in.End), in.Points, shortDuration(in.Step.String()), in.Missing)
	if n := len(in.ZeroRuns); n > 0 {
		fmt.Fprintf(&b, " (%d runs of zeros among them, treated as missing data)", n)
	}
	fmt.Fprintf(&b, ". The metrics cover %.0f minutes with known demand from %s, after a %s warm-up. ",
		in.EvaluatedMinutes, formatTime(in.EvaluatedFrom), shortDuration(st.Warmup))
	fmt.Fprintf(&b, "Each replica serves a load of %g and starts up in %s; the HPA syncs every %s, sees the load %s late "+
		"and keeps %d to %d replicas. Every policy runs under the same HPA behavior, %s. ",
		st.CapacityPerReplica, shortDuration(st.Startup), shortDuration(st.Sync), shortDuration(st.Lag), st.MinReplicas, st.MaxReplicas, st.HPA)
	if h := st.BaselineHPA; h != nil {
		fmt.Fprintf(&b, "The second figure's reactive HPA runs under %s. ", h)
	}
	fmt.Fprintf(&b, "Prescale provisions at quantile %g of its forecast, spent by density (more where the forecast is surer than usual, less where it is wider), over a lead time of %s (model %s, %s of history, refit every %s); "+
		"the margin policy adds %g%% head room to the observed load.",
		st.Quantile, shortDuration(st.Lead), st.Model, shortDuration(st.History), shortDuration(st.RefitInterval), 100*st.Headroom)
	return b.String()
}

func headline(res *backtest.Result) string {
	e := res.EqualCost
	switch {
	case e == nil:
		return "At their own settings: " + ownSettings(res) +
			" (Run with --sweep to compare prescale with the reactive HPA at equal cost.)"
	case res.ReductionAtEqualCost == nil:
		return fmt.Sprintf("No figure at equal cost (%s). At their own settings: %s", e.Note, ownSettings(res))
	}
	s := fmt.Sprintf("Reduction at equal cost: %.1f%%. At %.1f replica-hours, the cost of the reactive HPA with a %g%% headroom "+
		"(%.1f under-provisioned minutes), prescale is under-provisioned for %.1f minutes (at quantile %.3f, interpolated), "+
		"both under the %s HPA behavior.",
		*res.ReductionAtEqualCost, e.ReplicaHours, 100*e.ReferenceHeadroom, e.ReactiveUnderprovisionedMinutes,
		e.PrescaleUnderprovisionedMinutes, e.PrescaleQuantile, res.Settings.HPA.Name)
	if b := baselineSentence(res); b != "" {
		s += " " + b
	}
	return s
}

// ownSettings says what each policy cost and how long it was short, at
// the setting it ran with.
func ownSettings(res *backtest.Result) string {
	var parts []string
	for _, p := range res.Order {
		m := res.Policies[p]
		if m == nil {
			continue
		}
		name := p
		if knob := knobLabel(p, m.Knob); knob != "—" {
			name += " (" + knob + ")"
		}
		parts = append(parts, fmt.Sprintf("%s %.1f replica-hours, %.1f under-provisioned minutes", name, m.ReplicaHours, m.UnderprovisionedMinutes))
	}
	if len(parts) == 0 {
		return "no policy ran."
	}
	return strings.Join(parts, "; ") + "."
}

// metricsDefinitions says what the metrics table's columns mean.
const metricsDefinitions = "Under-provisioned minutes: minutes with fewer ready replicas than the demand needs (ceil(load / capacity)); " +
	"unserved %: the share of the load above the ready replicas' capacity; over-provisioning %: replica-hours beyond the demand's. " +
	"The SPEC Research Group's elasticity metrics, with the demand d in replicas and the supply s the ready replicas over the evaluated time: " +
	"θU (under accuracy) is the mean of max(d−s, 0)/max(d, 1) and θO (over accuracy) the mean of max(s−d, 0)/max(d, 1), in percent; " +
	"τU (under timeshare) and τO (over timeshare) are the percentages of the time with s < d and s > d."

// baselineSentence is the second figure: prescale against the reactive
// HPA under the baseline behavior; empty when it did not run.
func baselineSentence(res *backtest.Result) string {
	e, h := res.EqualCostVsBaseline, res.Settings.BaselineHPA
	switch {
	case e == nil || h == nil:
		return ""
	case res.ReductionVsBaseline == nil:
		return fmt.Sprintf("Against a reactive HPA with the %s behavior: no figure (%s).", h.Name, e.Note)
	}
	return fmt.Sprintf("Against a reactive HPA with the %s behavior and a %g%% headroom (%.1f replica-hours, %.1f under-provisioned minutes): %.1f%%.",
		h.Name, 100*e.ReferenceHeadroom, e.ReplicaHours, e.ReactiveUnderprovisionedMinutes, *res.ReductionVsBaseline)
}

func frontierSentence(e *backtest.EqualCost) string {
	switch {
	case e == nil:
		return ""
	case e.FrontierCompared == 0:
		return "Prescale's sweep and the reactive one do not overlap in cost, so their frontiers are not compared."
	}
	return fmt.Sprintf("Prescale's frontier is below the reactive one at %d of the %d reactive settings within its range of cost.",
		e.FrontierBelowAt, e.FrontierCompared)
}

func timingSentence(t *backtest.Timing) string {
	return fmt.Sprintf("%.1f s on %d workers: forecasts %.1f s (%d fits, %.1f s of CPU), %d replays %.1f s.",
		t.TotalSeconds, t.Workers, t.ForecastWall, t.Fits, t.FitSeconds, t.Replays, t.ReplayWall)
}

func metricsTable(res *backtest.Result) ([]string, [][]string) {
	cols := []string{"policy", "setting", "HPA", "under-provisioned min", "unserved %", "replica-hours", "over-provisioning %",
		"scale events", "θU %", "θO %", "τU %", "τO %", "mean replicas"}
	var rows [][]string
	for _, p := range res.Order {
		m := res.Policies[p]
		if m == nil {
			continue
		}
		el := &m.Elasticity
		rows = append(rows, []string{p, knobLabel(p, m.Knob), m.HPA,
			fmt.Sprintf("%.1f", m.UnderprovisionedMinutes), fmt.Sprintf("%.3f", 100*m.UnservedFraction),
			fmt.Sprintf("%.1f", m.ReplicaHours), fmt.Sprintf("%.1f", 100*m.Overprovisioning), fmt.Sprintf("%d", m.ScaleEvents),
			fmt.Sprintf("%.2f", el.UnderAccuracy), fmt.Sprintf("%.1f", el.OverAccuracy),
			fmt.Sprintf("%.1f", el.UnderTimeshare), fmt.Sprintf("%.1f", el.OverTimeshare),
			fmt.Sprintf("%.2f", m.MeanReplicas)})
	}
	return cols, rows
}

// knobLabel names a policy's setting: a margin or a quantile.
func knobLabel(policy string, knob float64) string {
	switch policy {
	case backtest.Reactive, backtest.Margin, backtest.ReactiveBaseline:
		return fmt.Sprintf("+%.4g%%", 100*knob)
	case backtest.Prescale:
		return fmt.Sprintf("q %.4g", knob)
	}
	return "—"
}

func accuracyFields(res *backtest.Result) ([]field, string) {
	a := res.Forecast
	if a == nil {
		return nil, "No forecast accuracy: the prescale policy did not run."
	}
	f := []field{
		{"fits", fmt.Sprintf("%d (%d failed)", a.Fits, a.FailedFits)},
		{"points scored", fmt.Sprintf("%d, each forecast %d steps ahead", a.Points, a.LeadSteps)},
	}
	if a.Points == 0 {
		return f, ""
	}
	return append(f,
		field{"MASE", fmt.Sprintf("%.3f (against the seasonal naive forecast, %d steps)", a.MASE, a.SeasonSteps)},
		field{"relative MAE", fmt.Sprintf("%.2f (against the last observed value)", a.RelativeMAE)},
		field{"0.1–0.9 interval coverage", fmt.Sprintf("%.1f%%", 100*a.Coverage80)},
		field{fmt.Sprintf("quantile %g coverage", res.Settings.Quantile), fmt.Sprintf("%.1f%%", 100*a.QuantileCoverage)},
		field{"within the top 5% of load changes", fmt.Sprintf("%d points whose load changed by at least %.4g over the lead time: "+
			"0.1–0.9 interval coverage %.1f%%, quantile %g coverage %.1f%%",
			a.TopChangePoints, a.TopChangeFrom, 100*a.TopChangeCoverage80, res.Settings.Quantile, 100*a.TopChangeQuantileCoverage)},
		field{"within the top 5% of the changes seen when forecasting", fmt.Sprintf("%d points after a change of at least %.4g over the lead time: "+
			"0.1–0.9 interval coverage %.1f%%, quantile %g coverage %.1f%%",
			a.OriginChangePoints, a.OriginChangeFrom, 100*a.OriginChangeCoverage80, res.Settings.Quantile, 100*a.OriginChangeQuantileCoverage)},
		field{"load provisioned", fmt.Sprintf("at quantile %g, spent by density: coverage %.1f%%, %.1f%% within the top 5%% of load changes",
			res.Settings.Quantile, 100*a.ProvisionCoverage, 100*a.TopChangeProvisionCoverage)},
	), ""
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// shortDuration drops the zero tails of Go durations in s: 12h, not
// 12h0m0s; 2m..4m, not 2m0s..4m0s.
func shortDuration(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.NewReplacer("h0m0s", "h", "m0s", "m").Replace(s)
}
