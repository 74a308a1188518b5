package forecast_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
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
