package apitest_test

import (
	"testing"
	"time"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

func TestConformance(t *testing.T) {
	apitest.RunConformance(t, apitest.Harness{
		New: func(*testing.T) api.Backend { return apitest.NewBackend() },
		Feed: func(t *testing.T, b api.Backend, name string) {
			fake := b.(*apitest.Backend)
			t0 := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
			fake.SetRecommendation(name, models.Recommendation{Target: name, Time: t0, Replicas: 3})
			fake.SetForecast(name, &registry.ForecastView{Target: name, Step: time.Minute, Start: t0, Point: []float64{1, 2}})
			// Out of order, as a test may set them: Anomalies sorts.
			fake.SetAnomalies(name, []models.AnomalyEvent{
				{Start: t0.Add(-time.Hour), End: t0.Add(-50 * time.Minute), Kind: models.AnomalyLive, Score: 0.8},
				{Start: t0.Add(-3 * time.Hour), End: t0.Add(-2 * time.Hour), Kind: models.AnomalyLevelShift, Score: 1},
			})
		},
	})
}
