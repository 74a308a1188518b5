package forecast_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prescale/prescale/forecast"
)

// TestHarmonicDropsSharedFrequencies fits a day and a week of hourly
// steps, where weekly harmonics 7 and 14 are daily harmonics 1 and 2. The
// regression must hold each frequency once, so its coefficients stay of
// the size of the data (they were ±1e11 and cancelling when the weekly
// copies were kept), and it must forecast the week's shape.
func TestHarmonicDropsSharedFrequencies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shape := func(t int) float64 {
		weekend := 0.0
		if (t/24)%7 >= 5 {
			weekend = -30
		}
		return 100 + 20*math.Sin(2*math.Pi*float64(t)/24) + weekend
	}
	y := make([]float64, 24*7*6)
	for i := range y {
		y[i] = shape(i) + rng.NormFloat64()
	}
	m, err := forecast.FitHarmonic(y, forecast.HarmonicConfig{Periods: []int{24, 168}, Orders: []int{11, 20}})
	if err != nil {
		t.Fatal(err)
	}
	// An intercept, 11 daily pairs and 20 weekly pairs less the 7th and
	// 14th, which the day has.
	if want := 1 + 2*11 + 2*(20-2); len(m.Coef) != want {
		t.Errorf("%d coefficients, want %d", len(m.Coef), want)
	}
	for i, c := range m.Coef {
		if math.Abs(c) > 1000 {
			t.Errorf("coefficient %d is %g: collinear regressors", i, c)
		}
	}
	got := make([]float64, 168)
	m.Predict(got)
	var worst float64
	for h, v := range got {
		worst = max(worst, math.Abs(v-shape(len(y)+h)))
	}
	// 20 weekly pairs resolve the weekend's edges to a few hours, where
	// a 30-unit step is smoothed over; elsewhere the error is the noise.
	if worst > 20 {
		t.Errorf("worst error over the next week %.1f, want at most 20", worst)
	}
}

// TestHarmonicRejectsBadOrders checks that a model state whose orders do
// not fit its periods is an error, not a panic or a huge allocation.
func TestHarmonicRejectsBadOrders(t *testing.T) {
	for _, orders := range [][]int{{-1}, {0}, {1 << 40}} {
		m := &forecast.Harmonic{HarmonicConfig: forecast.HarmonicConfig{Periods: []int{24}, Orders: orders}, Coef: []float64{1}}
		f := &forecast.Fitted{Components: []forecast.Component{{Name: "harmonic", Weight: 1, Harmonic: m}}}
		if _, err := f.Forecast(1, nil); err == nil {
			t.Errorf("orders %v: no error", orders)
		}
	}
}
