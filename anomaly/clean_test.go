package anomaly_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/prescale/prescale/anomaly"
)

func TestCleanSynthetic(t *testing.T) {
	const period = 48
	base := func(i int) float64 { return 100 + 50*math.Sin(2*math.Pi*float64(i)/period) }
	y := make([]float64, 10*period)
	for i := range y {
		y[i] = base(i) + float64(i%7) // deterministic wiggle
	}
	y[100] = 1000                // spike
	y[150] = math.NaN()          // scrape gap
	for i := 300; i < 340; i++ { // outage
		y[i] = 0
	}
	cleaned, flagged, err := anomaly.Clean(y, &anomaly.CleanOptions{Period: period})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to int
	}{{"spike", 100, 101}, {"gap", 150, 151}, {"outage", 300, 340}} {
		t.Run(tc.name, func(t *testing.T) {
			for i := tc.from; i < tc.to; i++ {
				if !flagged[i] {
					t.Fatalf("point %d not flagged", i)
				}
				if d := math.Abs(cleaned[i] - base(i)); d > 10 {
					t.Fatalf("point %d cleaned to %.1f, want about %.1f", i, cleaned[i], base(i))
				}
			}
		})
	}
	var extra int
	for i, f := range flagged {
		if f && !(i == 100 || i == 150 || (i >= 300 && i < 340)) {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("%d normal points flagged", extra)
	}
}

func TestCleanBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    []float64
	}{
		{"empty", nil},
		{"one", []float64{3}},
		{"all NaN", []float64{math.NaN(), math.NaN(), math.Inf(1)}},
		{"constant", []float64{5, 5, 5, 5, 5, 5, 5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleaned, flagged, err := anomaly.Clean(tc.y, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(cleaned) != len(tc.y) || len(flagged) != len(tc.y) {
				t.Fatalf("lengths %d, %d for %d points", len(cleaned), len(flagged), len(tc.y))
			}
			for i, v := range cleaned {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("cleaned[%d] = %v", i, v)
				}
			}
		})
	}
	if _, _, err := anomaly.Clean(nil, &anomaly.CleanOptions{Collapse: 2}); !errors.Is(err, anomaly.ErrOptions) {
		t.Errorf("Collapse 2: err %v, want ErrOptions", err)
	}
}

// TestCleanNASAOutage checks the August 1995 outage of the NASA web server
// (zeros while it was down) is flagged and genuine nightly lows mostly are
// not.
func TestCleanNASAOutage(t *testing.T) {
	start, y := readMinuteCSV(t, filepath.Join(dataDir(t), "nasa_http", "nasa_http_1995_requests_per_minute.csv"))
	at := func(s string) int {
		ts, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return int(ts.Sub(start) / time.Minute)
	}
	_, flagged, err := anomaly.Clean(y, &anomaly.CleanOptions{Period: 1440})
	if err != nil {
		t.Fatal(err)
	}
	// The server went down after 14:52 and came back at 04:36.
	from, to := at("1995-08-01 14:53:00"), at("1995-08-03 04:35:00")
	var inOutage, night, nightFlagged, other, otherFlagged int
	for i := from; i <= to; i++ {
		if y[i] != 0 {
			t.Errorf("%d minutes after the outage began: %v requests, want 0", i-from, y[i])
		}
		if flagged[i] {
			inOutage++
		}
	}
	for i, f := range flagged {
		if (i >= from && i <= to) || math.IsNaN(y[i]) {
			continue
		}
		other++
		if f {
			otherFlagged++
		}
		if m := i % 1440; m < 6*60 { // midnight to 6am, the nightly low
			night++
			if f {
				nightFlagged++
			}
		}
	}
	t.Logf("outage: %d of %d minutes flagged; nights: %d of %d flagged; elsewhere: %d of %d flagged",
		inOutage, to-from+1, nightFlagged, night, otherFlagged, other)
	if inOutage < to-from+1 {
		t.Errorf("outage: %d of %d minutes flagged, want all", inOutage, to-from+1)
	}
	if frac := float64(nightFlagged) / float64(night); frac > 0.01 {
		t.Errorf("%.2f%% of nightly minutes flagged, want at most 1%%", 100*frac)
	}
}

func TestLevelShift(t *testing.T) {
	y := make([]float64, 2000)
	for i := range y {
		y[i] = 10 + math.Sin(float64(i)*1.7) // bounded noise-like wiggle
		if i >= 1200 {
			y[i] += 8
		}
	}
	i, ok, err := anomaly.LevelShift(y, &anomaly.Options{Period: -1})
	if err != nil || !ok || i < 1195 || i > 1210 {
		t.Fatalf("LevelShift = %d, %v, %v; want about 1200", i, ok, err)
	}
	if _, ok, err := anomaly.LevelShift(y[:1100], &anomaly.Options{Period: -1}); ok || err != nil {
		t.Errorf("LevelShift found a shift in a steady series (error %v)", err)
	}
	if _, _, err := anomaly.LevelShift(y, &anomaly.Options{Window: -1}); !errors.Is(err, anomaly.ErrOptions) {
		t.Errorf("LevelShift with a negative window: error %v, want ErrOptions", err)
	}
}

// weekOfCounts is days of one-minute Poisson counts around mean per
// minute, with a daily cycle from 0.3 to 1.7 of it, times scale: a
// per-second rate of the same counts is scale 1/60.
func weekOfCounts(days int, mean, scale float64, seed uint64) []float64 {
	src := rand.NewPCG(seed, 3)
	y := make([]float64, days*1440)
	for i := range y {
		daily := 1 - 0.7*math.Cos(2*math.Pi*float64(i%1440)/1440)
		y[i] = scale * distuv.Poisson{Lambda: mean * daily, Src: src}.Rand()
	}
	return y
}

// At a few requests a minute the night's rate is below one, and runs of
// zeros five minutes long or more happen every night: noise, not outages.
// Clean calls a run an outage only when its estimates add up to more
// than such noise explains, so the nights are kept and a real outage of
// an hour is still found, in counts and in the same counts as a rate.
func TestCleanLowCounts(t *testing.T) {
	for _, scale := range []float64{1, 1.0 / 60} {
		for seed := range uint64(3) {
			y := weekOfCounts(14, 2, scale, seed)
			zeros := 0
			for i := 0; i+5 <= len(y); i++ {
				if !slices.ContainsFunc(y[i:i+5], func(v float64) bool { return v > 0 }) {
					zeros++
				}
			}
			outage := 10*1440 + 600 // ten days in, at ten in the morning
			for i := outage; i < outage+60; i++ {
				y[i] = 0
			}
			_, flagged, err := anomaly.Clean(y, &anomaly.CleanOptions{Period: 1440})
			if err != nil {
				t.Fatal(err)
			}
			var missed, extra int
			for i, f := range flagged {
				switch in := i >= outage && i < outage+60; {
				case in && !f:
					missed++
				case !in && f && y[i] == 0:
					extra++
				}
			}
			t.Logf("scale %.3g, seed %d: %d windows of 5 zeros in the load, %d zeros flagged outside the outage", scale, seed, zeros, extra)
			if zeros < 100 {
				t.Fatalf("scale %.3g, seed %d: only %d runs of 5 zeros: the case does not test the nights", scale, seed, zeros)
			}
			if missed > 0 || extra > 0 {
				t.Errorf("scale %.3g, seed %d: %d points of the hour's outage not flagged, %d zeros of the nights flagged", scale, seed, missed, extra)
			}
		}
	}
}
