package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHoltWintersSSE checks the fused recursion fitting runs against
// Observe and Predict(1), step by step: the same sum of squared errors and
// the same state after it, for each shape.
func TestHoltWintersSSE(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	y := make([]float64, 500)
	for i := range y {
		y[i] = 50 + 0.05*float64(i) + 20*math.Sin(2*math.Pi*float64(i)/24) + 3*rng.NormFloat64()
	}
	season := make([]float64, 24)
	for _, cfg := range []HoltWintersConfig{
		{Period: 24},
		{Period: 24, Trend: true},
		{Period: 24, Trend: true, Damped: true},
		{Period: 24, Trend: true, Damped: true, Multiplicative: true},
		{Period: 1, Trend: true, Damped: true},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			for i := range season {
				season[i] = 20 * math.Sin(2*math.Pi*float64(i)/24)
				if cfg.Multiplicative {
					season[i] = 1 + season[i]/50
				}
			}
			if cfg.Period == 1 {
				season = season[:1]
				season[0] = 0
			}
			p := HoltWintersParams{Alpha: 0.3, Beta: 0.1, Gamma: 0.2, Phi: 0.9}
			fused, err := newHoltWinters(cfg, p, 50, 0.1, season)
			if err != nil {
				t.Fatal(err)
			}
			stepped, _ := newHoltWinters(cfg, p, 50, 0.1, season)
			got := fused.sse(y)
			var want float64
			var next [1]float64
			for _, v := range y {
				stepped.Predict(next[:])
				want += (v - next[0]) * (v - next[0])
				stepped.Observe(v)
			}
			if math.Abs(got-want) > 1e-9*want {
				t.Errorf("sse %v, stepping %v", got, want)
			}
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
			if !near(fused.Level, stepped.Level) || !near(fused.Slope, stepped.Slope) || fused.Pos != stepped.Pos ||
				!slices.EqualFunc(fused.Season, stepped.Season, near) {
				t.Errorf("state after sse: level %v slope %v pos %d, stepping: level %v slope %v pos %d",
					fused.Level, fused.Slope, fused.Pos, stepped.Level, stepped.Slope, stepped.Pos)
			}
		})
	}
}
