package anomaly_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/prescale/prescale/anomaly"
)

func TestESD(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	y := make([]float64, 24*30)
	for i := range y {
		y[i] = 100 + 40*math.Sin(2*math.Pi*float64(i)/24) + rng.NormFloat64()
	}
	want := []int{100, 333, 600}
	y[100] += 30
	y[333] -= 25
	y[600] += 15
	y[50] = math.NaN()
	for _, tc := range []struct {
		name string
		opts *anomaly.ESDOptions
	}{{"given period", &anomaly.ESDOptions{Period: 24}}, {"detected period", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := anomaly.ESD(y, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ESD = %v, want %v", got, want)
			}
		})
	}
	if _, err := anomaly.ESD(y, &anomaly.ESDOptions{Alpha: 2}); !errors.Is(err, anomaly.ErrOptions) {
		t.Errorf("Alpha 2: err %v, want ErrOptions", err)
	}
}
