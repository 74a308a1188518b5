package e2e

import (
	"math/rand/v2"
	"time"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// loadShape is a daily cycle compressed in time: low load most of the
// Period, a linear ramp up to Peak starting at Origin (and every Period
// before and after it), a plateau, a ramp back down. A little noise, a
// function of the timestamp only, makes the backfilled history and the
// live points one series.
type loadShape struct {
	Origin                 time.Time // a ramp starts here
	Period, Step           time.Duration
	RampUp, High, RampDown time.Duration
	Low, Peak, Noise       float64
}

// At is the load at t.
func (s loadShape) At(t time.Time) float64 {
	phase := t.Sub(s.Origin) % s.Period
	if phase < 0 {
		phase += s.Period
	}
	var v float64
	switch {
	case phase < s.RampUp:
		v = s.Low + (s.Peak-s.Low)*float64(phase)/float64(s.RampUp)
	case phase < s.RampUp+s.High:
		v = s.Peak
	case phase < s.RampUp+s.High+s.RampDown:
		v = s.Peak - (s.Peak-s.Low)*float64(phase-s.RampUp-s.High)/float64(s.RampDown)
	default:
		v = s.Low
	}
	r := rand.New(rand.NewPCG(uint64(t.Unix()), 6))
	return v + s.Noise*r.NormFloat64()
}

// Grid is the step-aligned time at or before t.
func (s loadShape) Grid(t time.Time) time.Time { return t.Truncate(s.Step) }

// Series is the load of metric (no labels) on the step grid over
// [from, to), for promtest to backfill or remote-write.
func (s loadShape) Series(metric string, from, to time.Time) promtest.Series {
	start := s.Grid(from)
	var values []float64
	for t := start; t.Before(to); t = t.Add(s.Step) {
		values = append(values, s.At(t))
	}
	return promtest.Series{Name: metric, Start: start, Step: s.Step, Values: values}
}
