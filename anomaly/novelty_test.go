package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestNovelty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name string
		y    func(i int) float64
		at   int  // index of the departure, or -1
		want bool // whether the departure's novelty exceeds the calm stretch's
	}{
		{"sine then flat", func(i int) float64 {
			if i >= 1500 && i < 1530 {
				return 0.05 * rng.NormFloat64()
			}
			return math.Sin(2*math.Pi*float64(i)/50) + 0.05*rng.NormFloat64()
		}, 1510, true},
		{"sine", func(i int) float64 { return math.Sin(2 * math.Pi * float64(i) / 50) }, 1510, false},
		{"constant then step", func(i int) float64 {
			if i >= 1500 {
				return 2
			}
			return 1
		}, 1500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNovelty(10, 4, 200, 500)
			var calm, dep float64
			for i := range 1600 {
				v := n.update(tc.y(i))
				if !(v >= 0) {
					t.Fatalf("point %d: novelty %v", i, v)
				}
				switch {
				case i >= 1000 && i < 1490:
					calm = max(calm, v)
				case i >= tc.at && i < tc.at+10:
					dep = max(dep, v)
				}
			}
			t.Logf("calm max %.3g, departure %.3g", calm, dep)
			if (dep > calm) != tc.want {
				t.Errorf("departure %v, calm up to %v", dep, calm)
			}
		})
	}
	n := newNovelty(10, 4, 200, 500)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := n.update(v); got != 0 {
			t.Errorf("update(%v) = %v, want 0", v, got)
		}
	}
}
