package feed_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prescale/prescale/feed"
)

func ExampleReadCSV() {
	// Out of order, one minute missing, one minute sampled twice.
	const history = `timestamp,requests
2024-05-01 12:01:00,120
2024-05-01 12:00:00,100
2024-05-01 12:03:00,90
2024-05-01 12:03:00,110
`
	s, err := feed.ReadCSV(strings.NewReader(history), "load.csv", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name, s.Start.Format("15:04"), s.Step, s.Len())
	for i, v := range s.Values {
		fmt.Println(s.Time(i).Format("15:04"), v)
	}
	// Output:
	// load.csv 12:00 1m0s 4
	// 12:00 100
	// 12:01 120
	// 12:02 NaN
	// 12:03 100
}

func ExampleReadCSVStats() {
	const history = `timestamp,value,host
1714564800,100,a
1714564860,120,a
1714564860,80,b
1714564990,90,a
`
	s, stats, err := feed.ReadCSVStats(strings.NewReader(history), "load.csv", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d rows on %d points of %v: merged %d duplicate rows, rounded %d off-grid, %d points missing\n",
		stats.Rows, s.Len(), s.Step, stats.Duplicates, stats.OffGrid, stats.Missing)
	fmt.Println(s.Values)
	// Output:
	// 4 rows on 4 points of 1m0s: merged 1 duplicate rows, rounded 1 off-grid, 1 points missing
	// [100 100 NaN 90]
}

func ExampleReadCSV_error() {
	const history = "timestamp,value\n2024-05-01 12:00:00,100\n2024-05-01 12:01:00,1O0\n"
	_, err := feed.ReadCSV(strings.NewReader(history), "load.csv", nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, feed.ErrSyntax))
	// Output:
	// load.csv:3: parse value "1O0": invalid syntax
	// true
}
