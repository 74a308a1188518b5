package api

import (
	"time"

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
	Ready() bool
}

var _ Backend = (*registry.Registry)(nil)
