package anomaly_test

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

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
