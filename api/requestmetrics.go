package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// RequestMetrics count and time the requests of every API prescale
// serves, errors included:
//
//   - gRPC (PrescaleService, KEDA's ExternalScaler, health): the
//     go-grpc-middleware metrics, grpc_server_started_total,
//     grpc_server_handled_total{grpc_service,grpc_method,grpc_code} and
//     grpc_server_handling_seconds, through GRPC's interceptors;
//   - REST, the OpenAPI document and the web pages:
//     prescale_http_requests_total{handler,method,code} and
//     prescale_http_request_duration_seconds{handler,method}, through HTTP;
//   - the Kubernetes external metrics API:
//     prescale_external_metrics_requests_total{metric,code} and
//     prescale_external_metrics_request_duration_seconds{metric}.
type RequestMetrics struct {
	// GRPC's UnaryServerInterceptor and StreamServerInterceptor instrument
	// a gRPC server; InitializeMetrics then creates every method's series.
	GRPC *grpcprom.ServerMetrics

	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	externalRequests *prometheus.CounterVec
	externalDuration *prometheus.HistogramVec
}

// NewRequestMetrics makes the request metrics and registers them with reg.
func NewRequestMetrics(reg prometheus.Registerer) (*RequestMetrics, error) {
	m := &RequestMetrics{
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram()),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prescale_http_requests_total",
			Help: "HTTP requests served, by handler (rest, openapi, status_page), method and status code.",
		}, []string{"handler", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prescale_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by handler (rest, openapi, status_page) and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"handler", "method"}),
		externalRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prescale_external_metrics_requests_total",
			Help: "Requests of the Kubernetes external metrics API (from HPAs), by metric and HTTP status code.",
		}, []string{"metric", "code"}),
		externalDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "prescale_external_metrics_request_duration_seconds",
			Help:    "Time to answer a request of the Kubernetes external metrics API, by metric.",
			Buckets: prometheus.DefBuckets,
		}, []string{"metric"}),
	}
	for _, c := range []prometheus.Collector{m.GRPC, m.httpRequests, m.httpDuration, m.externalRequests, m.externalDuration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// HTTP instruments h as the named handler; a nil m returns h.
func (m *RequestMetrics) HTTP(handler string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	labels := prometheus.Labels{"handler": handler}
	return promhttp.InstrumentHandlerCounter(m.httpRequests.MustCurryWith(labels),
		promhttp.InstrumentHandlerDuration(m.httpDuration.MustCurryWith(labels), h))
}

// observeExternal records one external metrics request for metric that
// took since start and ended with err (nil: 200). A nil m records nothing.
func (m *RequestMetrics) observeExternal(metric string, start time.Time, err error) {
	if m == nil {
		return
	}
	if metric != MetricRecommendedReplicas && metric != MetricForecastLoad {
		metric = "other" // a client's typo must not grow a series
	}
	code := http.StatusOK
	if err != nil {
		code = http.StatusInternalServerError
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			code = int(status.Status().Code)
		}
	}
	m.externalRequests.WithLabelValues(metric, strconv.Itoa(code)).Inc()
	m.externalDuration.WithLabelValues(metric).Observe(time.Since(start).Seconds())
}
