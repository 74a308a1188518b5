package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/metrics/pkg/apis/external_metrics"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/cmd/options"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// The metrics of the external metrics API.
const (
	// MetricRecommendedReplicas is the recommended replica count, an
	// integer: an HPA External metric with target type AverageValue 1 (or
	// Value) makes the HPA's desired replicas the recommendation.
	MetricRecommendedReplicas = "prescale_recommended_replicas"
	// MetricForecastLoad is the load the recommendation provisions for, in
	// the target query's unit: with fresh data, the larger of the maximum
	// of the load the forecast provisions at q over the lead window
	// (models.Provision) and the observed
	// load (the reactive floor); with stale data, the replicas the hold
	// rule keeps times the capacity per replica. With target type
	// AverageValue equal to capacityPerReplica, the HPA's desired replicas
	// are the recommendation before the target's own replica bounds (the
	// HPA's minReplicas and maxReplicas apply instead).
	MetricForecastLoad = "prescale_forecast_load"
)

// The labels of every item the external metrics API returns.
const (
	// LabelTarget is the target's name.
	LabelTarget = "target"
	// LabelNamespace is the target's namespace, on targets that have one.
	LabelNamespace = "namespace"
)

// DefaultExternalMetricsPort is the default of --secure-port.
const DefaultExternalMetricsPort = 6443

// ExternalMetrics is the Kubernetes external metrics provider
// (external.metrics.k8s.io/v1beta1) over a Backend. It serves
// MetricRecommendedReplicas and MetricForecastLoad for the targets that
// the request's label selector matches on LabelTarget (and
// LabelNamespace), among those served in the request's namespace: a
// target with a namespace only in it, one without in every namespace.
//
// An HPA sums the items of an External metric, so a selector should pick
// one target ("target: checkout"); one matching several returns an item
// per target. A metric prescale does not serve, or a selector matching no
// target, is NotFound. While a matched target has no recommendation yet
// the whole answer is ServiceUnavailable, so that the HPA keeps the
// current replicas instead of scaling on a partial sum. Stale data follows
// the recommendation's hold rule: an outage never scales a workload down.
type ExternalMetrics struct {
	b        Backend
	log      *slog.Logger
	requests *RequestMetrics
}

var _ provider.ExternalMetricsProvider = (*ExternalMetrics)(nil)

// ExternalMetricsOptions configure ExternalMetrics and the server. A nil
// *ExternalMetricsOptions means defaults.
type ExternalMetricsOptions struct {
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// Requests counts and times the requests; nil records nothing.
	Requests *RequestMetrics
}

// Validate reports options no provider can work with; every option is
// valid today.
func (o *ExternalMetricsOptions) Validate() error { return nil }

// NewExternalMetrics returns the provider over b.
func NewExternalMetrics(b Backend, opts *ExternalMetricsOptions) (*ExternalMetrics, error) {
	if b == nil {
		return nil, errors.New("api: nil backend")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := &ExternalMetrics{b: b, log: slog.New(slog.DiscardHandler)}
	if opts != nil && opts.Logger != nil {
		p.log = opts.Logger
	}
	if opts != nil {
		p.requests = opts.Requests
	}
	return p, nil
}

// ListAllExternalMetrics returns the metrics served, for API discovery.
func (p *ExternalMetrics) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return []provider.ExternalMetricInfo{{Metric: MetricRecommendedReplicas}, {Metric: MetricForecastLoad}}
}

// GetExternalMetric returns the metric for every target served in
// namespace that selector matches.
func (p *ExternalMetrics) GetExternalMetric(ctx context.Context, namespace string, selector labels.Selector, info provider.ExternalMetricInfo) (list *external_metrics.ExternalMetricValueList, err error) {
	start := time.Now()
	defer func() { p.requests.observeExternal(info.Metric, start, err) }()
	return p.externalMetric(ctx, namespace, selector, info)
}

func (p *ExternalMetrics) externalMetric(ctx context.Context, namespace string, selector labels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	metric := info.Metric
	if metric != MetricRecommendedReplicas && metric != MetricForecastLoad {
		return nil, externalNotFound(metric, fmt.Sprintf("metric %q is not served by prescale; it serves %s and %s",
			metric, MetricRecommendedReplicas, MetricForecastLoad))
	}
	if selector == nil {
		selector = labels.Everything()
	}
	out := &external_metrics.ExternalMetricValueList{}
	for _, st := range p.b.List() {
		t := &st.Target
		if t.Namespace != "" && t.Namespace != namespace {
			continue
		}
		set := labels.Set{LabelTarget: t.Name}
		if t.Namespace != "" {
			set[LabelNamespace] = t.Namespace
		}
		if !selector.Matches(set) {
			continue
		}
		rec, err := p.b.Recommendation(t.Name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			continue // deleted since List
		case errors.Is(err, registry.ErrNotReady):
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("prescale target %q has no data yet; retry shortly", t.Name))
		case err != nil:
			p.log.ErrorContext(ctx, "internal error", "op", "external metric", "metric", metric, "target", t.Name, "err", err)
			return nil, apierrors.NewInternalError(fmt.Errorf("recommendation of prescale target %q failed", t.Name))
		}
		var value *resource.Quantity
		if metric == MetricRecommendedReplicas {
			value = resource.NewQuantity(int64(rec.Replicas), resource.DecimalSI)
		} else {
			value = resource.NewMilliQuantity(milli(provisionedLoad(&rec)), resource.DecimalSI)
		}
		out.Items = append(out.Items, external_metrics.ExternalMetricValue{
			MetricName:   metric,
			MetricLabels: set,
			Timestamp:    metav1.NewTime(rec.Time),
			Value:        *value,
		})
	}
	if len(out.Items) == 0 {
		return nil, externalNotFound(metric, fmt.Sprintf("no prescale target served in namespace %q matches the selector %q "+
			"(select one with the label %s=<name>; a target with a namespace is served only in it)", namespace, selector, LabelTarget))
	}
	return out, nil
}

// provisionedLoad is the value of MetricForecastLoad for rec.
func provisionedLoad(rec *models.Recommendation) float64 {
	if rec.Stale {
		return float64(rec.Replicas) * rec.CapacityPerReplica
	}
	load := 0.0
	if rec.Forecast.Steps > 0 {
		load = rec.Forecast.Max
	}
	if rec.Reactive.Known {
		load = max(load, rec.Reactive.Load)
	}
	return load
}

// milli is x in thousandths, rounded, within what a Quantity holds.
func milli(x float64) int64 {
	switch m := math.Round(x * 1000); {
	case !(m > 0): // negative or NaN
		return 0
	case m >= math.MaxInt64:
		return math.MaxInt64
	default:
		return int64(m)
	}
}

// externalNotFound is a NotFound status with msg as its message.
func externalNotFound(metric, msg string) error {
	err := apierrors.NewNotFound(schema.GroupResource{Group: external_metrics.GroupName, Resource: metric}, "")
	err.ErrStatus.Message = msg
	return err
}

// NewExternalMetricsAdapter returns the settings of the external metrics
// API server, sigs.k8s.io/custom-metrics-apiserver's AdapterBase, with
// prescale's defaults (name "prescale", --secure-port 6443) and its
// standard flags (secure serving, delegated authentication and
// authorization, --lister-kubeconfig, ...) installed in a flag set of
// its own, never pflag.CommandLine; nothing is parsed. Set it through
// FlagSet or its fields, then build the server with
// NewExternalMetricsServer. A --secure-port of 0 serves on a free port
// (see ExternalMetricsServer.Addr) instead of not serving.
func NewExternalMetricsAdapter() *basecmd.AdapterBase {
	a := &basecmd.AdapterBase{
		Name:                              "prescale",
		FlagSet:                           pflag.NewFlagSet("external-metrics", pflag.ContinueOnError),
		CustomMetricsAdapterServerOptions: options.NewCustomMetricsAdapterServerOptions(),
	}
	a.SecureServing.BindPort = DefaultExternalMetricsPort
	a.InstallFlags()
	if f := a.FlagSet.Lookup("secure-port"); f != nil {
		f.Usage = "The port on which to serve the external metrics API over HTTPS, with authentication and authorization. If 0, a free port (logged at start-up)."
	}
	return a
}

// ExternalMetricsServer is the external metrics API server: an
// aggregated Kubernetes API server that serves ExternalMetrics over HTTPS.
type ExternalMetricsServer struct {
	adapter *basecmd.AdapterBase
	addr    net.Addr
}

// NewExternalMetricsServer builds the server over b from adapter's
// settings (see NewExternalMetricsAdapter): it loads the kubeconfigs (or
// the in-cluster configuration), the serving certificate (a self-signed
// one is written to --cert-dir when none is given) and opens the
// listener. Outside a cluster it fails unless --lister-kubeconfig,
// --authentication-kubeconfig and --authorization-kubeconfig are set.
// adapter must not be used for another server.
func NewExternalMetricsServer(b Backend, adapter *basecmd.AdapterBase, opts *ExternalMetricsOptions) (*ExternalMetricsServer, error) {
	if adapter == nil || adapter.CustomMetricsAdapterServerOptions == nil {
		return nil, errors.New("api: external metrics: adapter settings from NewExternalMetricsAdapter are required")
	}
	p, err := NewExternalMetrics(b, opts)
	if err != nil {
		return nil, err
	}
	adapter.WithExternalMetrics(p)
	ss := adapter.SecureServing
	if ss.BindPort == 0 && ss.Listener == nil {
		addr := net.JoinHostPort(ss.BindAddress.String(), "0")
		if ss.BindAddress == nil {
			addr = ":0"
		}
		if ss.Listener, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("external metrics: listen on %s: %w", addr, err)
		}
	}
	if _, err := adapter.Server(); err != nil {
		if ss.Listener != nil {
			ss.Listener.Close()
		}
		return nil, fmt.Errorf("external metrics: %w", err)
	}
	if ss.Listener == nil {
		return nil, errors.New("external metrics: the server has no listener")
	}
	return &ExternalMetricsServer{adapter: adapter, addr: ss.Listener.Addr()}, nil
}

// Addr is the address the server listens on.
func (s *ExternalMetricsServer) Addr() net.Addr { return s.addr }

// Run serves until ctx ends, then shuts the server down and returns nil;
// it returns an error if the server cannot serve. Call it once.
func (s *ExternalMetricsServer) Run(ctx context.Context) error {
	if err := s.adapter.Run(ctx); err != nil {
		return fmt.Errorf("external metrics: %w", err)
	}
	return nil
}
