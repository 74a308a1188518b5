package models

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
)

// TestLiveSpans checks that consecutive points scoring at least 0.5
// coalesce into one span with the largest score, and that a gap or a
// lower score ends it.
func TestLiveSpans(t *testing.T) {
	var got []AnomalyEvent
	d := &LiveDetector{step: time.Minute, emit: func(e AnomalyEvent) { got = append(got, e) }}
	start := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }
	for i, score := range []float64{0.1, 0.6, 0.8, 0.5, 0.2, 0.7, 0.49, 0.9} {
		d.score(at(i), score)
	}
	d.score(at(9), 0.95) // after a missing step (8): a new span
	d.score(at(10), 0.6)
	open, ok := d.Open()
	if !ok {
		t.Fatal("the last span is not open")
	}
	got = append(got, open)
	want := []AnomalyEvent{
		{Start: at(1), End: at(4), Kind: AnomalyLive, Score: 0.8},
		{Start: at(5), End: at(6), Kind: AnomalyLive, Score: 0.7},
		{Start: at(7), End: at(8), Kind: AnomalyLive, Score: 0.9},
		{Start: at(9), End: at(11), Kind: AnomalyLive, Score: 0.95}, // still open
	}
	if !slices.Equal(got, want) {
		t.Errorf("spans\n%+v\nwant\n%+v", got, want)
	}
	d.Close()
	if _, ok := d.Open(); ok || len(got) != 5 {
		t.Errorf("Close left a span open or emitted none")
	}
}

// TestLiveKnownEvents checks that a spike within a known event's window
// is neither flagged nor confirmed as a level shift, nor taken into the
// warm-up, while the same spike unannounced is flagged.
func TestLiveKnownEvents(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	step := 5 * time.Minute
	day := 288
	rng := rand.New(rand.NewPCG(7, 1))
	values := make([]float64, 12*day)
	spike := func(i int) bool { return i%day >= 200 && i%day < 224 && (i/day == 8 || i/day == 11) }
	for i := range values {
		values[i] = 100 * (1 + 0.5*math.Sin(2*math.Pi*float64(i%day)/float64(day))) * (1 + 0.03*rng.NormFloat64())
		if spike(i) {
			values[i] *= 4
		}
	}
	cal, err := events.Parse([]byte(`events:
  - {name: match, start: "2026-03-10T16:40:00Z", duration: 2h, lead: 30m}
  - {name: match, start: "2026-03-13T16:40:00Z", duration: 2h, lead: 30m}
`), "match.yaml")
	if err != nil {
		t.Fatal(err)
	}
	history := &feed.Series{Start: start, Step: step, Values: values[:10*day]}
	run := func(known *events.Calendar) (spans []AnomalyEvent, shifts int) {
		emit := func(e AnomalyEvent) {
			if e.Kind == AnomalyLevelShift {
				shifts++
			}
			if e.Start.Before(start.Add(time.Duration(11*day+224)*step)) && e.End.After(start.Add(time.Duration(11*day+200)*step)) {
				spans = append(spans, e)
			}
		}
		d, err := NewLiveDetector([]int{day}, history, 0, history.Len()-1, known, emit)
		if err != nil {
			t.Fatal(err)
		}
		for i := history.Len(); i < len(values); i++ {
			d.Observe(start.Add(time.Duration(i)*step), values[i], 0)
		}
		d.Close()
		return spans, shifts
	}
	if spans, _ := run(nil); len(spans) == 0 {
		t.Fatal("an unannounced ×4 spike was not flagged")
	}
	if spans, shifts := run(cal); len(spans) != 0 || shifts != 0 {
		t.Errorf("a ×4 spike within a known event's window: flagged %+v, %d level shifts; want none", spans, shifts)
	}
}
