package api

import (
	"time"

	"github.com/prescale/prescale/models"
)

// Backend is what the API serves: *models.Registry implements it. The
// servers map its errors (models.ErrNotFound, ErrExists, ErrReadOnly,
// ErrNotReady, ErrConfig) to gRPC codes and HTTP statuses; apitest has a
// fake for unit tests.
type Backend interface {
	List() []models.TargetStatus
	Get(name string) (models.TargetStatus, error)
	Create(t models.Target, origin string) (models.TargetStatus, error)
	Update(t models.Target) (models.TargetStatus, error)
	Delete(name string) error
	Recommendation(name string) (models.Recommendation, error)
	Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*models.ForecastView, error)
	Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error)
	Ready() bool
}

var _ Backend = (*models.Registry)(nil)
