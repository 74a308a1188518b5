package nab_test

import (
	"fmt"

	"github.com/prescale/prescale/anomaly/nab"
)

func Example() {
	// A 40-row series with one labeled anomaly window, rows 20 to 29. The
	// first 6 rows (15%) are probation and never scored.
	files := []nab.File{{
		Name:    "example.csv",
		Values:  make([]float64, 40),
		Windows: []nab.Window{{Start: 20, End: 29}},
	}}
	scores := make([]float64, 40)
	scores[10] = 0.6 // a false positive before the window
	scores[22] = 0.9 // an early detection inside the window
	detector := [][]float64{scores}

	p := nab.Profiles()[0] // standard
	raw, err := nab.Score(files, detector, p, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("threshold 0.5: raw %.4f, normalized %.2f\n", raw, nab.Normalize(raw, files, p))

	threshold, raw, err := nab.Optimize(files, detector, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("optimal threshold %v: raw %.4f, normalized %.2f\n", threshold, raw, nab.Normalize(raw, files, p))
	// Output:
	// threshold 0.5: raw 0.8671, normalized 93.36
	// optimal threshold 0.9: raw 0.9771, normalized 98.86
}
