package events

import (
	"errors"
	"testing"
	"time"
)

// FuzzParse checks that no calendar makes Parse panic, that every refusal
// is an ErrCalendar, and that an accepted calendar keeps its bounds.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"events:\n  - {name: a, start: \"2026-01-01T00:00:00\", duration: 1h, lead: 30m, multiplier: 3}\n",
		"events:\n  - name: m\n    start: 2026-03-21T19:00:00\n    timeZone: Europe/Paris\n    duration: 2h\n    rrule: FREQ=WEEKLY;COUNT=3\n",
		"events:\n  - {name: a, start: \"2026-01-01T00:00:00Z\", duration: 1m, rrule: \"FREQ=MINUTELY;UNTIL=20260102T000000Z\"}\n",
		"events: [{name: a}]\n",
		"events: 3\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrCalendar) {
				t.Fatalf("error %v is not an ErrCalendar", err)
			}
			return
		}
		if len(c.Events) > MaxEvents || len(c.Occurrences) > MaxOccurrences {
			t.Fatalf("%d events, %d occurrences: over the bounds", len(c.Events), len(c.Occurrences))
		}
		for i, o := range c.Occurrences {
			if o.End.Sub(o.Start) > MaxDuration || i > 0 && o.Start.Before(c.Occurrences[i-1].End) {
				t.Fatalf("occurrence %d: %v to %v, overlapping or too long", i, o.Start, o.End)
			}
		}
		e := Learn(c, []float64{1, 2, 3}, time.Unix(0, 0), time.Minute)
		for _, o := range c.Occurrences {
			if v, _ := e.Adjust(10, o.Start, 0.9, Observation{Value: 2, At: o.From()}); v < 10 {
				t.Fatalf("the forecast was lowered at %v: %v", o.Start, v)
			}
		}
	})
}
