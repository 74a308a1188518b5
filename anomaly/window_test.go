package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRollingMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 7, 50} {
		r := newRolling(n)
		var all []float32
		for i := range 300 {
			// Ties on purpose, and values that float32 rounds.
			x := math.Round(rng.NormFloat64()*3) + 0.1
			r.push(x)
			all = append(all, float32(x))
			win := slices.Clone(all[max(0, len(all)-n):])
			slices.Sort(win)
			if !slices.Equal(r.sorted, win) {
				t.Fatalf("n=%d step %d: sorted window %v, want %v", n, i, r.sorted, win)
			}
			med := sortedQuantile(win, 0.5)
			if got := r.median(); got != med {
				t.Fatalf("n=%d step %d: median %v, want %v", n, i, got, med)
			}
			dev := make([]float64, len(win))
			for k, v := range win {
				dev[k] = math.Abs(float64(v) - med)
			}
			slices.Sort(dev)
			if got, want := sortedMAD(r.sorted, med), sortedQuantile(dev, 0.5); got != want {
				t.Fatalf("n=%d step %d: mad %v, want %v", n, i, got, want)
			}
		}
	}
}

func TestDetectPeriod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period int
	}{{"hourly-daily", 24}, {"5min-daily", 288}, {"none", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			y := make([]float64, 1200)
			for i := range y {
				y[i] = rng.NormFloat64() + 0.01*float64(i)
				if tc.period > 0 {
					y[i] += 5 * math.Sin(2*math.Pi*float64(i)/float64(tc.period))
				}
			}
			// Within 2%: the autocorrelation is flat near a long period's peak.
			if got := DetectPeriod(y, 400); got < tc.period*49/50 || got > tc.period*51/50 || (got == 0) != (tc.period == 0) {
				t.Fatalf("DetectPeriod = %d, want %d within 2%%", got, tc.period)
			}
		})
	}
}

func TestESDEvidence(t *testing.T) {
	// Grubbs' critical value for n = 100 at α = 0.05 (two-sided) is about
	// 3.38; its Bonferroni-corrected p-value is α, so evidence -log10(0.05).
	if e := esdEvidence(3.3765, 100); math.Abs(e-(-math.Log10(0.05))) > 0.02 {
		t.Errorf("esdEvidence(3.3765, 100) = %.4f, want %.4f", e, -math.Log10(0.05))
	}
}
