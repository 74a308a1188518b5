package registry_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// BenchmarkRegistryRecommendation is one Recommendation call for a fitted
// target (the API serves them at 2,000 per second).
func BenchmarkRegistryRecommendation(b *testing.B) {
	h := newHarness(b, nil)
	h.run()
	h.create(regTarget("web"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.reg.Recommendation("web"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistryMemoryPerTarget fits 1,000 targets of 14 days of
// one-minute history (daily and weekly cycles with noise, each target with
// its own level and phase, model auto) and reports the live heap per
// target: model, detector, cached forecast, accuracy tracker and the
// rest of a target's state. The history cache is off (HistoryCache < 0):
// it is a fixed 4 bytes per cached step on top (5.8 KB for the default
// day of minutes).
func BenchmarkRegistryMemoryPerTarget(b *testing.B) {
	const targets = 1000
	var perTarget float64
	for b.Loop() {
		perTarget = registryHeapPerTarget(b, targets)
	}
	b.ReportMetric(perTarget, "B/target")
}

func registryHeapPerTarget(b *testing.B, targets int) float64 {
	clock := &fakeClock{t: regStart}
	src := &fakeSource{clock: clock, loads: map[string]fakeLoad{}}
	rng := rand.New(rand.NewPCG(3, 4))
	var list []models.Target
	for i := range targets {
		t := models.DefaultTarget()
		t.Name = fmt.Sprintf("t%04d", i)
		t.Query = fmt.Sprintf(`sum(rate(http_requests_total{app=%q}[5m]))`, t.Name)
		t.CapacityPerReplica = 20
		t.LeadTime = 3 * time.Minute
		t.History = 14 * 24 * time.Hour
		src.loads[t.Query] = fakeLoad{
			Level:  50 + 950*rng.Float64(),
			Daily:  0.3 + 0.3*rng.Float64(),
			Weekly: 0.1 + 0.1*rng.Float64(),
			Noise:  0.05,
			Phase:  time.Duration(rng.Int64N(int64(7 * 24 * time.Hour))),
			Seed:   uint64(i),
		}
		list = append(list, t)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	reg, err := registry.New(src, &registry.Options{
		Workers:      runtime.GOMAXPROCS(0),
		HistoryCache: -1,
		Now:          clock.Now,
		Rand:         rand.New(rand.NewPCG(5, 6)),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := reg.SetConfig(list); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	start := time.Now()
	for !firstFitsDone(reg) {
		time.Sleep(50 * time.Millisecond)
	}
	fitTime := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	for _, st := range reg.List() {
		if st.ModelKind == "" {
			b.Fatalf("%s not fitted: %s", st.Target.Name, st.FitError)
		}
	}

	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(reg)
	b.ReportMetric(fitTime.Seconds()/float64(targets), "s/fit")
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(targets)
}

// firstFitsDone reports whether every target has a model or a failed fit.
func firstFitsDone(reg *registry.Registry) bool {
	for _, st := range reg.List() {
		if st.ModelKind == "" && st.FitErrors == 0 {
			return false
		}
	}
	return true
}
