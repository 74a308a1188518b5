package apitest_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

func target(name string) models.Target {
	t := models.DefaultTarget()
	t.Name, t.Query, t.CapacityPerReplica, t.LeadTime = name, "up", 10, 2*time.Minute
	return t
}

func TestTargets(t *testing.T) {
	b := apitest.NewBackend()
	if _, err := b.Create(target("web"), registry.OriginAPI); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := b.Create(target("web"), registry.OriginAPI); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("Create twice: %v, want ErrExists", err)
	}
	bad := target("web")
	bad.Quantile = 2
	if _, err := b.Create(bad, registry.OriginAPI); !errors.Is(err, models.ErrConfig) {
		t.Fatalf("Create invalid: %v, want ErrConfig", err)
	}
	b.Put(registry.TargetStatus{Target: target("api-gw"), Origin: registry.OriginConfig})

	list := b.List()
	if len(list) != 2 || list[0].Target.Name != "api-gw" || list[1].Target.Name != "web" {
		t.Fatalf("List = %+v, want api-gw and web, in order", list)
	}

	changed := target("web")
	changed.Margin = time.Minute
	if st, err := b.Update(changed); err != nil || st.Origin != registry.OriginAPI || st.Target.Margin != time.Minute {
		t.Fatalf("Update = %+v, %v; want the new margin and origin kept", st, err)
	}
	if st, err := b.Get("web"); err != nil || !reflect.DeepEqual(st.Target, changed) {
		t.Fatalf("Get after Update = %+v, %v", st, err)
	}
	if _, err := b.Update(target("api-gw")); !errors.Is(err, registry.ErrReadOnly) {
		t.Fatalf("Update of a config target: %v, want ErrReadOnly", err)
	}
	if err := b.Delete("api-gw"); !errors.Is(err, registry.ErrReadOnly) {
		t.Fatalf("Delete of a config target: %v, want ErrReadOnly", err)
	}
	if _, err := b.Update(target("nope")); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Update of a missing target: %v, want ErrNotFound", err)
	}
	if err := b.Delete("web"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get("web"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if creates, updates := b.Calls(); creates != 1 || updates != 1 {
		t.Fatalf("Calls = %d, %d; want 1, 1", creates, updates)
	}
}

func TestAnswers(t *testing.T) {
	b := apitest.NewBackend()
	b.Put(registry.TargetStatus{Target: target("web"), Origin: registry.OriginAPI})

	if _, err := b.Recommendation("web"); !errors.Is(err, registry.ErrNotReady) {
		t.Fatalf("Recommendation before one is set: %v, want ErrNotReady", err)
	}
	if _, err := b.Forecast("web", 10, nil, 0); !errors.Is(err, registry.ErrNotReady) {
		t.Fatalf("Forecast before one is set: %v, want ErrNotReady", err)
	}
	if _, err := b.Recommendation("nope"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Recommendation of a missing target: %v, want ErrNotFound", err)
	}

	b.SetRecommendation("web", models.Recommendation{Target: "web", Replicas: 4})
	if r, err := b.Recommendation("web"); err != nil || r.Replicas != 4 {
		t.Fatalf("Recommendation = %+v, %v", r, err)
	}
	if st, _ := b.Get("web"); st.Recommendation == nil || st.Recommendation.Replicas != 4 {
		t.Fatalf("the status's last recommendation is %+v, want 4 replicas", st.Recommendation)
	}
	view := &registry.ForecastView{Target: "web", Point: []float64{1, 2}}
	b.SetForecast("web", view)
	if got, err := b.Forecast("web", 2, []float64{0.9}, time.Hour); err != nil || got != view {
		t.Fatalf("Forecast = %v, %v", got, err)
	}

	t0 := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	events := []models.AnomalyEvent{
		{Start: t0, End: t0.Add(time.Hour), Kind: models.AnomalyLive},
		{Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour), Kind: models.AnomalyLevelShift},
	}
	b.SetAnomalies("web", events)
	if got, err := b.Anomalies("web", t0.Add(time.Hour), t0.Add(150*time.Minute)); err != nil || !reflect.DeepEqual(got, events[1:]) {
		t.Fatalf("Anomalies = %v, %v; want only the level shift (End is exclusive)", got, err)
	}

	boom := errors.New("boom")
	b.SetError("web", boom)
	if _, err := b.Recommendation("web"); !errors.Is(err, boom) {
		t.Fatalf("Recommendation with an error set: %v", err)
	}
	if _, err := b.Anomalies("web", t0, t0.Add(time.Hour)); !errors.Is(err, boom) {
		t.Fatalf("Anomalies with an error set: %v", err)
	}
	if _, err := b.Get("web"); err != nil {
		t.Fatalf("Get with an error set: %v, want the status still", err)
	}

	if !b.Ready() {
		t.Fatal("a new fake is not ready")
	}
	b.SetReady(false)
	if b.Ready() {
		t.Fatal("SetReady(false) did not stick")
	}
}

func TestSetterOnMissingTargetPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SetRecommendation on a missing target did not panic")
		}
	}()
	apitest.NewBackend().SetRecommendation("nope", models.Recommendation{})
}

func TestConcurrent(t *testing.T) {
	b := apitest.NewBackend()
	b.Put(registry.TargetStatus{Target: target("web"), Origin: registry.OriginAPI})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				b.SetRecommendation("web", models.Recommendation{Replicas: i})
				_, _ = b.Recommendation("web")
				_ = b.List()
				_, _ = b.Get("web")
			}
		})
	}
	wg.Wait()
}
