package models

import (
	"slices"
	"testing"
	"time"
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
