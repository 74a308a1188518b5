package anomaly_test

import (
	"fmt"
	"math"

	"github.com/prescale/prescale/anomaly"
)

func Example() {
	// A steady hourly load with a one-off spike at step 500.
	d, err := anomaly.NewDefault(&anomaly.Options{Period: 24})
	if err != nil {
		panic(err)
	}
	for i := range 600 {
		y := 100 + 30*math.Sin(2*math.Pi*float64(i)/24) + float64(i%5)
		if i == 500 {
			y += 200
		}
		if s := d.Update(y); s > 0.3 {
			fmt.Printf("step %d: score %.2f\n", i, s)
		}
	}
	// Output:
	// step 500: score 1.00
}

func ExampleClean() {
	y := []float64{10, 12, 11, 10, 12, 11, 10, 12, 11, 0, 0, 0, 0, 0, 0, 11, 10, 12, 11, math.NaN(), 11}
	cleaned, flagged, _ := anomaly.Clean(y, &anomaly.CleanOptions{Period: 3, MinRun: 3})
	for i, f := range flagged {
		if f {
			fmt.Printf("%d: %v -> %v\n", i, y[i], cleaned[i])
		}
	}
	// Output:
	// 9: 0 -> 10
	// 10: 0 -> 12
	// 11: 0 -> 11
	// 12: 0 -> 10.5
	// 13: 0 -> 12
	// 14: 0 -> 11
	// 19: NaN -> 10
}
