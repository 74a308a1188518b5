package models

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
)

// TestAdvanceScoresTheEventAwareForecast streams a known event, declared
// ×3 and as large as declared, into the model fitted before it. The
// model, trained with the events kept out, does not know it: scored on
// its own forecast, its errors in the window widen its intervals; scored
// as Advance scores them with the events' effects, on the forecast the
// policy provisions, they barely do. Before the window, both are the same.
func TestAdvanceScoresTheEventAwareForecast(t *testing.T) {
	tg := DefaultTarget()
	tg.Step, tg.History = 5*time.Minute, 14*24*time.Hour
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const day = 288
	start := t0.Add(10 * 24 * time.Hour).Add(14 * time.Hour) // the event, 2 h long
	cal, err := events.Parse([]byte("events:\n  - {name: match, start: \""+start.Format(time.RFC3339)+"\", duration: 2h, lead: 30m, multiplier: 3}\n"), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	s := &feed.Series{Start: t0, Step: tg.Step, Values: make([]float64, 11*day)}
	for i := range s.Values {
		at := s.Time(i)
		s.Values[i] = 200 + 80*math.Sin(2*math.Pi*float64(i%day)/day) + 10*rng.NormFloat64()
		if !at.Before(start) && at.Before(start.Add(2*time.Hour)) {
			s.Values[i] *= 3
		}
	}
	fitted := 10*day + 12*12 // noon of the event's day
	history := &feed.Series{Start: t0, Step: tg.Step, Values: s.Values[:fitted]}
	own, _, _, fx, err := FitHistoryEvents(&tg, history, cal)
	if err != nil {
		t.Fatal(err)
	}
	if own.Dynamics == nil {
		t.Fatal("the model has no dynamics")
	}
	aware, _, _, _, err := FitHistoryEvents(&tg, history, cal)
	if err != nil {
		t.Fatal(err)
	}
	var sumOwn, sumAware float64
	var n int
	for i := fitted; i < len(s.Values); i++ {
		at := s.Time(i)
		if err := Advance(own, 0, s.Values[i], at, tg.Step, nil); err != nil {
			t.Fatal(err)
		}
		if err := Advance(aware, 0, s.Values[i], at, tg.Step, fx); err != nil {
			t.Fatal(err)
		}
		a, b := own.IntervalScale(), aware.IntervalScale()
		if at.Before(start.Add(-30*time.Minute-time.Duration(own.Dynamics.Lead)*tg.Step)) && a != b {
			t.Fatalf("at %s, before any forecast reaches the window, the scales differ: %v and %v", at.Format(time.TimeOnly), a, b)
		}
		if !at.Before(start) && at.Before(start.Add(2*time.Hour)) {
			sumOwn, sumAware, n = sumOwn+a, sumAware+b, n+1
		}
	}
	meanOwn, meanAware := sumOwn/float64(n), sumAware/float64(n)
	t.Logf("the mean interval scale within the event: %.2f scored on the model's forecast, %.2f on the event-aware one", meanOwn, meanAware)
	if !(meanOwn > 3) || !(meanAware < 2) {
		t.Errorf("the mean interval scale within the event is %.2f scored on the model's own forecast and %.2f on the event-aware one; want above 3 and below 2", meanOwn, meanAware)
	}
}
