package forecast_test

import (
	"fmt"
	"math"

	"github.com/prescale/prescale/forecast"
)

func Example() {
	// Four weeks of hourly load with a daily cycle.
	y := make([]float64, 24*28)
	for t := range y {
		y[t] = 100 + 40*math.Sin(2*math.Pi*float64(t)/24)
	}
	f, err := forecast.Fit(y, &forecast.Options{Horizon: 24})
	if err != nil {
		panic(err)
	}
	r, err := f.Forecast(24, []float64{0.9})
	if err != nil {
		panic(err)
	}
	fmt.Println("seasons:", r.Seasons)
	fmt.Printf("in 6 hours: %.1f (90%%: %.1f)\n", r.Point[5], r.Quantiles[0].Values[5])
	// Output:
	// seasons: [24]
	// in 6 hours: 138.6 (90%: 138.6)
}
