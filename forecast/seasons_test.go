package forecast_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
)

func periods(s []forecast.Season) []int {
	var p []int
	for _, x := range s {
		p = append(p, x.Period)
	}
	return p
}

func TestDetectSeasonsSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	daily := make([]float64, 24*28)
	weekly := make([]float64, 24*28)
	for t := range daily {
		daily[t] = 10 + 3*math.Sin(2*math.Pi*float64(t)/24) + rng.NormFloat64()
		weekend := 0.0
		if (t/24)%7 >= 5 {
			weekend = -6
		}
		weekly[t] = daily[t] + weekend
	}
	tests := []struct {
		name string
		y    []float64
		want []int
	}{
		{"daily", daily, []int{24}},
		{"daily and weekly", weekly, []int{24, 168}},
		{"too short", daily[:6], nil},
		{"constant", make([]float64, 100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := periods(forecast.DetectSeasons(tt.y, 0)); !slices.Equal(got, tt.want) {
				t.Fatalf("periods %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDetectSeasonsRealTraces checks detection on real series: M4 H1 is
// hourly with a daily season, and two weeks of the NASA trace at one
// minute have a daily season of 1440 steps.
func TestDetectSeasonsRealTraces(t *testing.T) {
	train, _ := m4Hourly(t)
	if got := periods(forecast.DetectSeasons(train[0].Values, 0)); !slices.Contains(got, 24) {
		t.Errorf("M4 H1: periods %v, want 24 among them", got)
	}
	s, err := feed.ReadCSVFile(filepath.Join(dataDir(t), "nasa_http", "nasa_http_1995_requests_per_minute.csv"), &feed.CSVOptions{Column: "requests"})
	if err != nil {
		t.Fatal(err)
	}
	y := s.Values[2*1440 : 16*1440]
	if got := periods(forecast.DetectSeasons(y, 0, 1440, 10080)); !slices.Contains(got, 1440) {
		t.Errorf("NASA July 3-16: periods %v, want 1440 among them", got)
	}
}
