package api

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// Backend is what the API serves: *registry.Registry implements it. The
// servers map its errors (registry.ErrNotFound, ErrExists, ErrReadOnly,
// ErrNotReady, ErrConfig) to gRPC codes and HTTP statuses; apitest has a
// fake for unit tests.
type Backend interface {
	List() []registry.TargetStatus
	Get(name string) (registry.TargetStatus, error)
	Create(t models.Target, origin string) (registry.TargetStatus, error)
	Update(t models.Target) (registry.TargetStatus, error)
	Delete(name string) error
	Recommendation(name string) (models.Recommendation, error)
	Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*registry.ForecastView, error)
	Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error)
	History(name string, start, end time.Time) (registry.History, error)
	Ready() bool
}

var _ Backend = (*registry.Registry)(nil)

// A Router is a Backend that may answer a read from another replica
// (cluster.Forwarder). Via returns the Backend for one request: each read
// through it records in *by the name of the replica that answered, which
// the servers pass on in the ServedByHeader of the response.
type Router interface {
	Backend
	Via(by *string) Backend
}

// ServedByHeader names the replica that answered a read, on a replica of a
// cluster: gRPC response header metadata, and the HTTP response header
// Prescale-Served-By of the REST API. A forwarded read names the replica
// it was forwarded to.
const ServedByHeader = "prescale-served-by"

// servedByHTTP is ServedByHeader as the REST gateway writes it.
const servedByHTTP = "Prescale-Served-By"

// via returns the backend to answer one gRPC (or REST) request with, and
// a func to call once it has answered, which sets ServedByHeader when a
// Router said who answered.
func via(ctx context.Context, b Backend) (Backend, func()) {
	r, ok := b.(Router)
	if !ok {
		return b, func() {}
	}
	by := new(string)
	return r.Via(by), func() {
		if *by != "" {
			_ = grpc.SetHeader(ctx, metadata.Pairs(ServedByHeader, *by))
		}
	}
}
