package forecast_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/feedtest"
	"github.com/prescale/prescale/forecast"
)

// BenchmarkFitM4Hourly fits auto to one M4 Hourly series (H1, 700 points,
// horizon 48): model choice by cross-validation, refit, calibration.
func BenchmarkFitM4Hourly(b *testing.B) {
	train, _ := m4Hourly(b)
	for _, kind := range forecast.Kinds() {
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := forecast.Fit(train[0].Values, &forecast.Options{Model: kind, Horizon: 48}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFitTwoWeeksMinutes fits auto to two weeks of one-minute request
// counts (20,160 points of the NASA trace, July 3-16 1995) for a one-hour
// horizon, seasons detected with the step known (as the CLI does).
func BenchmarkFitTwoWeeksMinutes(b *testing.B) {
	s, err := feed.ReadCSVFile(filepath.Join(dataDir(b), "nasa_http", "nasa_http_1995_requests_per_minute.csv"), &feed.CSVOptions{Column: "requests"})
	if err != nil {
		b.Fatal(err)
	}
	start := 2 * 1440
	y := s.Values[start : start+14*1440]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := forecast.Fit(y, &forecast.Options{Horizon: 60, Step: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
}

// minuteLoad returns n one-minute points of a positive load with a daily
// and a weekly season (a quieter weekend) and seeded noise.
func minuteLoad(n int) []float64 {
	rng := rand.New(rand.NewPCG(5, 6))
	y := make([]float64, n)
	for t := range y {
		day := 2 * math.Pi * float64(t%1440) / 1440
		weekend := 1.0
		if t%10080 >= 5*1440 {
			weekend = 0.6
		}
		y[t] = weekend*(100+60*math.Sin(day-math.Pi/2)) + 5*rng.NormFloat64() + 10
	}
	return y
}

// BenchmarkFitMemory fits each kind to n one-minute points (two and eight
// weeks; step known, seasons detected, the service's shortest horizon of
// 48 steps) and reports the bytes allocated per history point and the
// peak heap above the input per point (sampled; see feedtest.PeakHeap): what the
// bound on a target's history points (models.maxHistorySteps) is derived
// from.
func BenchmarkFitMemory(b *testing.B) {
	for _, n := range []int{14 * 1440, 56 * 1440, 300_000} {
		y := minuteLoad(n)
		for _, h := range []int{48, 1440} {
			for _, kind := range []string{forecast.KindAuto, forecast.KindHoltWinters, forecast.KindHarmonic} {
				b.Run(fmt.Sprintf("%s/n=%d/h=%d", kind, n, h), func(b *testing.B) {
					b.ReportAllocs()
					var peak uint64
					var before runtime.MemStats
					runtime.ReadMemStats(&before)
					for b.Loop() {
						peak = max(peak, feedtest.PeakHeap(func() {
							if _, err := forecast.Fit(y, &forecast.Options{Model: kind, Horizon: h, Step: time.Minute}); err != nil {
								b.Fatal(err)
							}
						}))
					}
					b.StopTimer()
					var after runtime.MemStats
					runtime.ReadMemStats(&after)
					b.ReportMetric(float64(peak)/float64(n), "peak-B/point")
					b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(n), "alloc-B/point")
				})
			}
		}
	}
}
