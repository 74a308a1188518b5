package forecast_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/prescale/prescale/forecast"
)

type statsmodelsCase struct {
	Name             string    `json:"name"`
	Trend            string    `json:"trend"`
	Seasonal         string    `json:"seasonal"`
	Damped           bool      `json:"damped"`
	Alpha            float64   `json:"alpha"`
	Beta             float64   `json:"beta"`
	Gamma            float64   `json:"gamma"`
	Phi              float64   `json:"phi"`
	InitialLevel     float64   `json:"initial_level"`
	InitialTrend     float64   `json:"initial_trend"`
	InitialSeasonal  []float64 `json:"initial_seasonal"`
	Fitted           []float64 `json:"fitted"`
	Forecast         []float64 `json:"forecast"`
	ForecastTextbook []float64 `json:"forecast_textbook"`
}

// TestHoltWintersMatchesStatsmodels runs the recursions from the states and
// parameters given to statsmodels' ExponentialSmoothing
// (initialization_method="known", optimized=False) on M4 series H1 and
// compares fitted values and forecasts. Values computed with statsmodels by
// notebooks/holtwinters_reference.ipynb.
//
// statsmodels 0.13 uses a stale seasonal state at steps that are multiples
// of the period (statsmodels issue #9538, fixed upstream later); there the
// reference is the textbook forecast, which the notebook also records and
// which equals statsmodels' at every other step.
func TestHoltWintersMatchesStatsmodels(t *testing.T) {
	const tol = 1e-6
	raw, err := os.ReadFile("testdata/holtwinters_statsmodels.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Series struct {
			ID    string  `json:"id"`
			First int     `json:"first"`
			Sum   float64 `json:"sum"`
		} `json:"series"`
		Period  int               `json:"period"`
		Horizon int               `json:"horizon"`
		Cases   []statsmodelsCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	train, _ := m4Hourly(t)
	if train[0].Name != ref.Series.ID {
		t.Fatalf("first M4 series is %q, want %q", train[0].Name, ref.Series.ID)
	}
	y := train[0].Values[:ref.Series.First]
	var sum float64
	for _, v := range y {
		sum += v
	}
	if sum != ref.Series.Sum {
		t.Fatalf("series sum %v, want %v: not the series the reference was computed on", sum, ref.Series.Sum)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no reference cases")
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			cfg := forecast.HoltWintersConfig{Period: ref.Period, Trend: c.Trend == "add", Damped: c.Damped, Multiplicative: c.Seasonal == "mul"}
			p := forecast.HoltWintersParams{Alpha: c.Alpha, Beta: c.Beta, Gamma: c.Gamma, Phi: c.Phi}
			m, err := forecast.NewHoltWinters(cfg, p, c.InitialLevel, c.InitialTrend, c.InitialSeasonal)
			if err != nil {
				t.Fatal(err)
			}
			one := make([]float64, 1)
			for i, v := range y {
				m.Predict(one)
				if !closeRel(one[0], c.Fitted[i], tol) {
					t.Fatalf("fitted[%d] = %.12g, statsmodels %.12g", i, one[0], c.Fitted[i])
				}
				m.Observe(v)
			}
			got := make([]float64, ref.Horizon)
			m.Predict(got)
			for h, v := range got {
				want := c.Forecast[h]
				if (h+1)%ref.Period == 0 {
					want = c.ForecastTextbook[h]
				}
				if !closeRel(v, want, tol) {
					t.Errorf("forecast step %d = %.12g, statsmodels %.12g", h+1, v, want)
				}
			}
		})
	}
}

func closeRel(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestFitHoltWintersErrors(t *testing.T) {
	tests := []struct {
		name string
		y    []float64
		cfg  forecast.HoltWintersConfig
		want error
	}{
		{"too short", []float64{1, 2, 3, 4, 5}, forecast.HoltWintersConfig{Period: 4}, forecast.ErrTooShort},
		{"multiplicative with zero", []float64{1, 0, 3, 4, 1, 2, 3, 4}, forecast.HoltWintersConfig{Period: 4, Multiplicative: true}, forecast.ErrInvalidValue},
		{"no period", []float64{1, 2, 3, 4}, forecast.HoltWintersConfig{}, forecast.ErrBadOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := forecast.FitHoltWinters(tt.y, tt.cfg); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}
