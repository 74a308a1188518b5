package forecast

import (
	"fmt"
	"math"
)

// SeasonalNaive forecasts every step as the value observed one season
// earlier; with Period 1 it is the plain naive forecast (the last value).
// It is the baseline every other model must beat.
type SeasonalNaive struct {
	Period int `json:"period"`
	// Last holds the last Period observations as a ring; Last[Pos] is the
	// oldest, which is the forecast for the next step.
	Last []float64 `json:"last"`
	Pos  int       `json:"pos"`
}

var _ Model = (*SeasonalNaive)(nil)

// NewSeasonalNaive fits the seasonal naive model with the given period to y
// (no NaN). It needs at least one full season.
func NewSeasonalNaive(y []float64, period int) (*SeasonalNaive, error) {
	if period < 1 {
		period = 1
	}
	if len(y) < period {
		return nil, fmt.Errorf("%w: seasonal naive with period %d needs %d points, have %d", ErrTooShort, period, period, len(y))
	}
	m := &SeasonalNaive{Period: period, Last: make([]float64, period)}
	copy(m.Last, y[len(y)-period:])
	return m, nil
}

// Observe implements Model.
func (m *SeasonalNaive) Observe(y float64) {
	if math.IsNaN(y) {
		y = m.Last[m.Pos]
	}
	m.Last[m.Pos] = y
	m.Pos = (m.Pos + 1) % m.Period
}

// Predict implements Model.
func (m *SeasonalNaive) Predict(dst []float64) {
	for h := range dst {
		dst[h] = m.Last[(m.Pos+h)%m.Period]
	}
}

func (m *SeasonalNaive) validate() error {
	if m.Period < 1 || len(m.Last) != m.Period || m.Pos < 0 || m.Pos >= m.Period {
		return fmt.Errorf("%w: seasonal naive period %d with %d values at position %d", ErrBadState, m.Period, len(m.Last), m.Pos)
	}
	return nil
}
