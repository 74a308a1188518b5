package feed

import (
	"math"
	"time"
)

// Series is a load history on a regular grid: Values[i] is the load at
// Start + i*Step. A NaN value is a gap (no sample at that point).
type Series struct {
	Name   string        `json:"name,omitempty"`
	Start  time.Time     `json:"start"`
	Step   time.Duration `json:"step"`
	Values []float64     `json:"values"`
}

// Len returns the number of grid points.
func (s *Series) Len() int { return len(s.Values) }

// Time returns the timestamp of grid point i.
func (s *Series) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// End returns the timestamp just after the last grid point.
func (s *Series) End() time.Time { return s.Time(len(s.Values)) }

// Gaps counts the NaN points.
func (s *Series) Gaps() int {
	n := 0
	for _, v := range s.Values {
		if math.IsNaN(v) {
			n++
		}
	}
	return n
}
