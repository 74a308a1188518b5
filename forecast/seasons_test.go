package forecast_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/synth"
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

// TestDetectSeasonsCalendar runs detection on the seeded traces of
// feed/synth at one minute, where a day is 1440 steps and a week 10080.
// Without flash crowds, from 2 to 400 requests a minute and at 5% or 20%
// noise, it must find the day, and the week once three weeks are there
// (the calendar periods are tested first, the week with the day's profile
// removed, so neither two days nor a sixth of a week stands in for them).
// With flash crowds, which do not repeat, it must not report a period of
// about a day or longer that is neither a day nor a week (it found 1,451,
// 1,474, 2,883 and about 1,990 minutes before). Shorter echoes of the
// crowds' shape can still pass (302 minutes on one seed).
func TestDetectSeasonsCalendar(t *testing.T) {
	for _, days := range []int{14, 21, 35} {
		want := []int{1440}
		if days >= 21 {
			want = append(want, 10080)
		}
		for _, base := range []float64{0.1, 2, 20} {
			for _, noise := range []float64{0.05, 0.2} {
				s, _, err := synth.FlashCrowds(&synth.Options{Days: days, BaseReplicas: base, Noise: noise, EventsPerDay: -1, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				if got := periods(forecast.DetectSeasons(s.Values, 0, 1440, 10080)); !slices.Equal(got, want) {
					t.Errorf("%d days at %.0f requests a minute, noise %.2f: periods %v, want %v", days, base*synth.DefaultCapacity, noise, got, want)
				}
			}
		}
		for seed := range uint64(4) {
			s, _, err := synth.FlashCrowds(&synth.Options{Days: days, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range periods(forecast.DetectSeasons(s.Values, 0, 1440, 10080)) {
				if p > 1300 && p != 1440 && p != 10080 {
					t.Errorf("%d days of flash crowds, seed %d: period %d", days, seed, p)
				}
			}
		}
	}
}

// TestFitFindsTheDayAcrossAnOutage fits two-week histories of NASA-HTTP
// that hold its outage of a day and a half (days 31.6 to 33.2 of the
// trace) as missing data, as backtest --missing-zeros reads it. Filled by
// a straight line for detection, the gap flattened the autocorrelation
// around a day, and every history ending from day 35 to day 40 had no
// season at all.
func TestFitFindsTheDayAcrossAnOutage(t *testing.T) {
	s, err := feed.ReadCSVFile(filepath.Join(dataDir(t), "nasa_http", "nasa_http_1995_requests_per_minute.csv"), &feed.CSVOptions{Column: "requests"})
	if err != nil {
		t.Fatal(err)
	}
	nasa := slices.Clone(s.Values)
	const outageStart, outageEnd = 45533, 47796 // the run of zeros
	for i := outageStart; i < outageEnd; i++ {
		nasa[i] = math.NaN()
	}
	for _, end := range []int{35, 37, 40} {
		f, err := forecast.Fit(nasa[(end-14)*1440:end*1440], &forecast.Options{Horizon: 48, Step: time.Minute})
		if err != nil {
			t.Fatalf("days %d-%d: %v", end-14, end, err)
		}
		if got := periods(f.Detected); !slices.Contains(got, 1440) {
			t.Errorf("days %d-%d: detected %v, want the day (1440) among them", end-14, end, got)
		}
	}
}
