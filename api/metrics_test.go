package api_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// scrapeTime is the clock of the metrics tests.
var scrapeTime = time.Date(2024, 3, 6, 15, 0, 0, 0, time.UTC)

// metricsBackend holds a target with every field set, one just
// registered, and one with partial, stale or odd values.
func metricsBackend() *apitest.Backend {
	b := apitest.NewBackend()

	full := checkout()
	full.ModelKind = forecast.KindHarmonic
	full.Generation = 3
	full.FittedAt = scrapeTime.Add(-20 * time.Minute)
	full.FitDuration = 1500 * time.Millisecond
	full.FitErrors = 1
	full.FetchErrors = 2
	full.Observed = 412.5
	full.ObservedAt = scrapeTime.Add(-90 * time.Second)
	full.LeadForecast = []forecast.Quantile{
		{Level: 0.1, Values: []float64{300}},
		{Level: 0.5, Values: []float64{350}},
		{Level: 0.9, Values: []float64{380, 420}},
	}
	full.Accuracy = registry.Accuracy{Points: 120, WAPE: 0.08, Bias: -0.02, Coverage: 0.81, IntervalLow: 0.1, IntervalHigh: 0.9}
	full.Recommendation = &models.Recommendation{Target: "checkout", Replicas: 9}
	b.Put(full)

	fresh := registry.TargetStatus{Target: models.DefaultTarget(), Origin: registry.OriginKEDA}
	fresh.Target.Name = "fresh"
	fresh.FitDueSince = scrapeTime.Add(-45 * time.Second) // waits for its first fit
	b.Put(fresh)

	odd := registry.TargetStatus{Target: models.DefaultTarget(), Origin: registry.OriginAPI}
	odd.Target.Name = "odd"
	odd.ObservedAt = scrapeTime.Add(10 * time.Second) // a clock ahead of ours
	odd.Observed = 0
	odd.LeadForecast = []forecast.Quantile{
		{Level: 0.95, Values: []float64{12.25}},
		{Level: 0.99, Values: []float64{math.NaN()}},
		{Level: 0.5},
	}
	odd.Accuracy = registry.Accuracy{WAPE: 0.5} // nothing scored yet
	odd.Recommendation = &models.Recommendation{Target: "odd", Replicas: 4, Stale: true}
	odd.FitError = "forecast: series too short"
	odd.FitErrors = 5
	odd.FittedAt = time.Time{}
	odd.FitDueSince = scrapeTime.Add(-10 * time.Second) // its retry waits
	b.Put(odd)
	return b
}

const wantMetrics = `
# HELP prescale_data_staleness_seconds Seconds since the time of the latest observed load.
# TYPE prescale_data_staleness_seconds gauge
prescale_data_staleness_seconds{target="checkout"} 90
prescale_data_staleness_seconds{target="odd"} 0
# HELP prescale_fetch_errors_total Fetches of the target's load history that failed.
# TYPE prescale_fetch_errors_total counter
prescale_fetch_errors_total{target="checkout"} 2
prescale_fetch_errors_total{target="fresh"} 0
prescale_fetch_errors_total{target="odd"} 0
# HELP prescale_fit_backlog_oldest_seconds How long the longest-waiting due fit has waited for a worker; 0 when none waits.
# TYPE prescale_fit_backlog_oldest_seconds gauge
prescale_fit_backlog_oldest_seconds 45
# HELP prescale_fit_backlog_targets Targets whose fit is due and has not started (waiting for a worker).
# TYPE prescale_fit_backlog_targets gauge
prescale_fit_backlog_targets 2
# HELP prescale_fit_duration_seconds How long the target's last model fit took.
# TYPE prescale_fit_duration_seconds gauge
prescale_fit_duration_seconds{target="checkout"} 1.5
# HELP prescale_fit_errors_total Model fits of the target that failed.
# TYPE prescale_fit_errors_total counter
prescale_fit_errors_total{target="checkout"} 1
prescale_fit_errors_total{target="fresh"} 0
prescale_fit_errors_total{target="odd"} 5
# HELP prescale_forecast_bias Bias of the lead-time point forecasts scored so far, relative to the actual load; positive over-forecasts.
# TYPE prescale_forecast_bias gauge
prescale_forecast_bias{target="checkout"} -0.02
# HELP prescale_forecast_horizon_seconds How far after the last observation prescale_forecast_load forecasts: the target's lead time plus its margin.
# TYPE prescale_forecast_horizon_seconds gauge
prescale_forecast_horizon_seconds{target="checkout"} 180
# HELP prescale_forecast_interval_coverage Share of actual loads inside the lead-time forecast interval between the two quantiles of the interval label.
# TYPE prescale_forecast_interval_coverage gauge
prescale_forecast_interval_coverage{interval="0.1-0.9",target="checkout"} 0.81
# HELP prescale_forecast_load The load forecast at the lead time (lead time plus margin after the last observation), by quantile level.
# TYPE prescale_forecast_load gauge
prescale_forecast_load{level="0.1",target="checkout"} 300
prescale_forecast_load{level="0.5",target="checkout"} 350
prescale_forecast_load{level="0.9",target="checkout"} 420
prescale_forecast_load{level="0.95",target="odd"} 12.25
# HELP prescale_forecast_scored_points How many lead-time forecasts have been scored against the actual load.
# TYPE prescale_forecast_scored_points gauge
prescale_forecast_scored_points{target="checkout"} 120
# HELP prescale_forecast_wape Weighted absolute percentage error of the lead-time point forecasts scored so far, as a ratio.
# TYPE prescale_forecast_wape gauge
prescale_forecast_wape{target="checkout"} 0.08
# HELP prescale_last_fit_timestamp_seconds Unix time of the target's last model fit.
# TYPE prescale_last_fit_timestamp_seconds gauge
prescale_last_fit_timestamp_seconds{target="checkout"} 1.709736e+09
# HELP prescale_model_generation The generation of the target's fitted model: how many fits it has had.
# TYPE prescale_model_generation gauge
prescale_model_generation{target="checkout"} 3
# HELP prescale_model_info The target's fitted model: its kind and generation (the count of fits).
# TYPE prescale_model_info gauge
prescale_model_info{generation="3",kind="harmonic",target="checkout"} 1
# HELP prescale_observed_load The latest observed load, in the query's unit.
# TYPE prescale_observed_load gauge
prescale_observed_load{target="checkout"} 412.5
prescale_observed_load{target="odd"} 0
# HELP prescale_recommendation_stale 1 when the last recommendation was made on stale or missing data, else 0.
# TYPE prescale_recommendation_stale gauge
prescale_recommendation_stale{target="checkout"} 0
prescale_recommendation_stale{target="odd"} 1
# HELP prescale_recommended_replicas The replica count of the target's last recommendation.
# TYPE prescale_recommended_replicas gauge
prescale_recommended_replicas{target="checkout"} 9
prescale_recommended_replicas{target="odd"} 4
# HELP prescale_target_capacity_per_replica The load one replica of the target's workload serves (capacityPerReplica), in the query's unit: the observed load over it is the replicas the load needs.
# TYPE prescale_target_capacity_per_replica gauge
prescale_target_capacity_per_replica{target="checkout"} 50
# HELP prescale_target_info A target prescale serves, with where it was declared (config, api, keda, demo).
# TYPE prescale_target_info gauge
prescale_target_info{origin="api",target="odd"} 1
prescale_target_info{origin="config",target="checkout"} 1
prescale_target_info{origin="keda",target="fresh"} 1
# HELP prescale_targets_awaiting_first_fit Targets with no model yet: no fit has succeeded and no snapshot was restored. They answer reactively once they have data.
# TYPE prescale_targets_awaiting_first_fit gauge
prescale_targets_awaiting_first_fit 2
`

// noTargets is the exposition with no target.
const noTargets = `# HELP prescale_fit_backlog_oldest_seconds How long the longest-waiting due fit has waited for a worker; 0 when none waits.
# TYPE prescale_fit_backlog_oldest_seconds gauge
prescale_fit_backlog_oldest_seconds 0
# HELP prescale_fit_backlog_targets Targets whose fit is due and has not started (waiting for a worker).
# TYPE prescale_fit_backlog_targets gauge
prescale_fit_backlog_targets 0
# HELP prescale_targets_awaiting_first_fit Targets with no model yet: no fit has succeeded and no snapshot was restored. They answer reactively once they have data.
# TYPE prescale_targets_awaiting_first_fit gauge
prescale_targets_awaiting_first_fit 0
`

// newMetrics registers the collector of b, with the test's clock, on a
// pedantic registry, which checks every collected metric against the
// described ones.
func newMetrics(t *testing.T, b api.Backend) *prometheus.Registry {
	t.Helper()
	m, err := api.NewMetricsCollector(b, &api.MetricsOptions{Now: func() time.Time { return scrapeTime }})
	if err != nil {
		t.Fatalf("NewMetricsCollector: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return reg
}

// scrape gathers from reg and returns the metric families named (all
// when none is), also in the text exposition format.
//
// client_golang's testutil would do this, but it needs a module
// (kylelemons/godebug) that go.sum does not hold.
func scrape(t *testing.T, reg *prometheus.Registry, names ...string) (string, []*dto.MetricFamily) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var b strings.Builder
	var kept []*dto.MetricFamily
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		kept = append(kept, mf)
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("MetricFamilyToText: %v", err)
		}
	}
	return b.String(), kept
}

func TestMetrics(t *testing.T) {
	got, mfs := scrape(t, newMetrics(t, metricsBackend()))
	if want := strings.TrimPrefix(wantMetrics, "\n"); got != want {
		t.Fatalf("exposition:\n%s\nwant:\n%s", got, want)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	b := apitest.NewBackend()
	b.Put(checkout())
	if err := api.NewMetrics(b, reg); err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	if got, _ := scrape(t, reg, "prescale_target_info"); !strings.Contains(got, `prescale_target_info{origin="config",target="checkout"} 1`) {
		t.Fatalf("exposition:\n%s\nwant the checkout target's info", got)
	}
	if err := api.NewMetrics(b, reg); !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
		t.Fatalf("registering twice: %v, want AlreadyRegisteredError", err)
	}
	if err := api.NewMetrics(nil, reg); err == nil {
		t.Fatal("NewMetrics(nil backend) succeeded")
	}
}

func TestMetricsLive(t *testing.T) {
	b := apitest.NewBackend()
	reg := newMetrics(t, b)
	// With no targets: no target's series, and no fit to come.
	if got, _ := scrape(t, reg); got != noTargets {
		t.Fatalf("with no targets:\n%s\nwant:\n%s", got, noTargets)
	}

	// Targets and their state change between scrapes.
	b.Put(checkout())
	b.SetRecommendation("checkout", models.Recommendation{Target: "checkout", Replicas: 6})
	if _, err := b.Recommendation("checkout"); err != nil {
		t.Fatal(err)
	}
	want := `# HELP prescale_recommended_replicas The replica count of the target's last recommendation.
# TYPE prescale_recommended_replicas gauge
prescale_recommended_replicas{target="checkout"} 6
`
	if got, _ := scrape(t, reg, "prescale_recommended_replicas"); got != want {
		t.Fatalf("exposition:\n%s\nwant:\n%s", got, want)
	}
}
