package forecast

import (
	"math/rand/v2"
	"testing"
)

// TestRankMatchesCounting checks rank's searches (outwards from the last
// value's place) against counting: on random series, smooth and with many
// ties, each value's mid-rank among the sample of every stride-th value.
func TestRankMatchesCounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(500)
		z := make([]float64, n)
		for i := range z {
			z[i] = float64(rng.IntN(20))
			if trial%2 == 0 {
				z[i] = rng.NormFloat64()
			}
		}
		stride := 1 + rng.IntN(5)
		var sample []float64
		for i := 0; i < n; i += stride {
			sample = append(sample, z[i])
		}
		want := make([]float64, n)
		for i, v := range z {
			lo, hi := 0, 0
			for _, s := range sample {
				if s < v {
					lo++
				}
				if s <= v {
					hi++
				}
			}
			want[i] = float64(lo+hi) / 2
		}
		rank(z, stride)
		for i := range z {
			if z[i] != want[i] {
				t.Fatalf("trial %d, value %d: rank %v, want %v", trial, i, z[i], want[i])
			}
		}
	}
}
