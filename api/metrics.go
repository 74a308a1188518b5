package api

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prescale/prescale/models/registry"
)

// MetricsOptions configure Metrics. A nil *MetricsOptions means defaults.
type MetricsOptions struct {
	// Now reads the clock for the data staleness; nil means time.Now.
	Now func() time.Time
}

// Metrics is a prometheus.Collector of every target's state, read from
// the Backend at scrape time, each series labelled with the target's
// name. A series whose value is unknown (no recommendation yet, no fit
// yet, no scored forecast yet) is left out rather than reported as 0.
// The forecast's quantile is the label "level", as in the API's
// QuantileValues: Prometheus keeps "quantile" for summaries.
type Metrics struct {
	b   Backend
	now func() time.Time

	targetInfo       *prometheus.Desc
	capacity         *prometheus.Desc
	horizon          *prometheus.Desc
	recommended      *prometheus.Desc
	recommendStale   *prometheus.Desc
	forecastLoad     *prometheus.Desc
	observedLoad     *prometheus.Desc
	dataStaleness    *prometheus.Desc
	wape             *prometheus.Desc
	bias             *prometheus.Desc
	coverage         *prometheus.Desc
	scoredPoints     *prometheus.Desc
	fitDuration      *prometheus.Desc
	fitErrors        *prometheus.Desc
	fetchErrors      *prometheus.Desc
	modelInfo        *prometheus.Desc
	modelGeneration  *prometheus.Desc
	lastFitTimestamp *prometheus.Desc

	// Across targets: the fits still to come.
	awaitingFirstFit *prometheus.Desc
	fitBacklog       *prometheus.Desc
	fitBacklogOldest *prometheus.Desc
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics registers on reg the collector of b's targets (see
// Metrics), with the default options.
func NewMetrics(b Backend, reg prometheus.Registerer) error {
	m, err := NewMetricsCollector(b, nil)
	if err != nil {
		return err
	}
	return reg.Register(m)
}

// NewMetricsCollector returns the collector of b's targets, for the
// caller to register.
func NewMetricsCollector(b Backend, opts *MetricsOptions) (*Metrics, error) {
	if b == nil {
		return nil, errors.New("api: nil backend")
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"target"}, labels...), nil)
	}
	m := &Metrics{
		b:   b,
		now: time.Now,

		targetInfo: desc("prescale_target_info",
			"A target prescale serves, with where it was declared (config, api, keda, demo).", "origin"),
		capacity: desc("prescale_target_capacity_per_replica",
			"The load one replica of the target's workload serves (capacityPerReplica), in the query's unit: the observed load over it is the replicas the load needs."),
		horizon: desc("prescale_forecast_horizon_seconds",
			"How far after the last observation prescale_forecast_load forecasts: the target's lead time plus its margin."),
		recommended: desc("prescale_recommended_replicas",
			"The replica count of the target's last recommendation."),
		recommendStale: desc("prescale_recommendation_stale",
			"1 when the last recommendation was made on stale or missing data, else 0."),
		forecastLoad: desc("prescale_forecast_load",
			"The load forecast at the lead time (lead time plus margin after the last observation), by quantile level.", "level"),
		observedLoad: desc("prescale_observed_load",
			"The latest observed load, in the query's unit."),
		dataStaleness: desc("prescale_data_staleness_seconds",
			"Seconds since the time of the latest observed load."),
		wape: desc("prescale_forecast_wape",
			"Weighted absolute percentage error of the lead-time point forecasts scored so far, as a ratio."),
		bias: desc("prescale_forecast_bias",
			"Bias of the lead-time point forecasts scored so far, relative to the actual load; positive over-forecasts."),
		coverage: desc("prescale_forecast_interval_coverage",
			"Share of actual loads inside the lead-time forecast interval between the two quantiles of the interval label.", "interval"),
		scoredPoints: desc("prescale_forecast_scored_points",
			"How many lead-time forecasts have been scored against the actual load."),
		fitDuration: desc("prescale_fit_duration_seconds",
			"How long the target's last model fit took."),
		fitErrors: desc("prescale_fit_errors_total",
			"Model fits of the target that failed."),
		fetchErrors: desc("prescale_fetch_errors_total",
			"Fetches of the target's load history that failed."),
		modelInfo: desc("prescale_model_info",
			"The target's fitted model: its kind and generation (the count of fits).", "kind", "generation"),
		modelGeneration: desc("prescale_model_generation",
			"The generation of the target's fitted model: how many fits it has had."),
		lastFitTimestamp: desc("prescale_last_fit_timestamp_seconds",
			"Unix time of the target's last model fit."),

		awaitingFirstFit: prometheus.NewDesc("prescale_targets_awaiting_first_fit",
			"Targets with no model yet: no fit has succeeded and no snapshot was restored. They answer reactively once they have data.", nil, nil),
		fitBacklog: prometheus.NewDesc("prescale_fit_backlog_targets",
			"Targets whose fit is due and has not started (waiting for a worker).", nil, nil),
		fitBacklogOldest: prometheus.NewDesc("prescale_fit_backlog_oldest_seconds",
			"How long the longest-waiting due fit has waited for a worker; 0 when none waits.", nil, nil),
	}
	if opts != nil && opts.Now != nil {
		m.now = opts.Now
	}
	return m, nil
}

// Describe sends the descriptors of every metric.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.targetInfo, m.capacity, m.horizon, m.recommended, m.recommendStale, m.forecastLoad, m.observedLoad, m.dataStaleness,
		m.wape, m.bias, m.coverage, m.scoredPoints, m.fitDuration, m.fitErrors, m.fetchErrors,
		m.modelInfo, m.modelGeneration, m.lastFitTimestamp,
		m.awaitingFirstFit, m.fitBacklog, m.fitBacklogOldest,
	} {
		ch <- d
	}
}

// Collect reads every target's status and sends its metrics, and those
// of the fits still to come.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	now := m.now()
	var unfitted, backlog int
	var oldest time.Duration
	for _, st := range m.b.List() {
		if !st.Held {
			continue // another replica holds it, and exports its metrics
		}
		m.collect(ch, &st, now)
		if st.ModelKind == "" {
			unfitted++
		}
		if !st.FitDueSince.IsZero() {
			backlog++
			oldest = max(oldest, now.Sub(st.FitDueSince))
		}
	}
	ch <- prometheus.MustNewConstMetric(m.awaitingFirstFit, prometheus.GaugeValue, float64(unfitted))
	ch <- prometheus.MustNewConstMetric(m.fitBacklog, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(m.fitBacklogOldest, prometheus.GaugeValue, oldest.Seconds())
}

func (m *Metrics) collect(ch chan<- prometheus.Metric, st *registry.TargetStatus, now time.Time) {
	name := st.Target.Name
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
	}

	gauge(m.targetInfo, 1, st.Origin)
	if t := &st.Target; t.CapacityPerReplica > 0 { // always, for a target that passed its checks
		gauge(m.capacity, t.CapacityPerReplica)
		gauge(m.horizon, (t.LeadTime + t.Margin).Seconds())
	}
	if r := st.Recommendation; r != nil {
		gauge(m.recommended, float64(r.Replicas))
		gauge(m.recommendStale, metricsBool(r.Stale))
	}
	for _, q := range st.LeadForecast {
		// The value at the lead time is the last one.
		if len(q.Values) > 0 && !math.IsNaN(q.Values[len(q.Values)-1]) {
			gauge(m.forecastLoad, q.Values[len(q.Values)-1], metricsFloat(q.Level))
		}
	}
	if !st.ObservedAt.IsZero() {
		gauge(m.observedLoad, st.Observed)
		gauge(m.dataStaleness, max(now.Sub(st.ObservedAt).Seconds(), 0))
	}
	if a := st.Accuracy; a.Points > 0 {
		gauge(m.wape, a.WAPE)
		gauge(m.bias, a.Bias)
		if a.IntervalLow < a.IntervalHigh {
			gauge(m.coverage, a.Coverage, metricsFloat(a.IntervalLow)+"-"+metricsFloat(a.IntervalHigh))
		}
		gauge(m.scoredPoints, float64(a.Points))
	}
	if !st.FittedAt.IsZero() {
		gauge(m.fitDuration, st.FitDuration.Seconds())
		gauge(m.lastFitTimestamp, float64(st.FittedAt.UnixNano())/1e9)
	}
	counter(m.fitErrors, st.FitErrors)
	counter(m.fetchErrors, st.FetchErrors)
	if st.ModelKind != "" {
		gauge(m.modelInfo, 1, st.ModelKind, strconv.FormatUint(st.Generation, 10))
		gauge(m.modelGeneration, float64(st.Generation))
	}
}

func metricsBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsFloat formats a quantile level for a label: 0.9, not 0.900000.
func metricsFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
