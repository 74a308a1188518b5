package synth_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed/synth"
)

// TestNamedEvents checks the trace of named events: about one a day, of
// every kind, each within its kind's size and ramp, its calendar parsing
// to the same occurrences, and the same seed giving the same trace.
func TestNamedEvents(t *testing.T) {
	s, evs, raw, err := synth.NamedEvents(&synth.Options{Seed: 7}, synth.DefaultKinds, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 60*1440 || len(evs) < 40 || len(evs) > 80 {
		t.Fatalf("%d points, %d events; want 60 days at 1m and about 60 events", s.Len(), len(evs))
	}
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Kind]++
		var k synth.Kind
		for _, d := range synth.DefaultKinds {
			if d.Name == e.Kind {
				k = d
			}
		}
		lo, hi := 1-synth.NamedJitter-1e-9, 1+synth.NamedJitter+1e-9
		if r := e.Factor / k.Factor; r < lo || r > hi {
			t.Errorf("%s at %v: factor %.2f, its kind's %.0f", e.Kind, e.Start, e.Factor, k.Factor)
		}
		if r := float64(e.Ramp()) / float64(k.Ramp); r < lo || r > hi+0.01 {
			t.Errorf("%s at %v: ramp %v, its kind's %v", e.Kind, e.Start, e.Ramp(), k.Ramp)
		}
	}
	if len(kinds) != len(synth.DefaultKinds) {
		t.Errorf("kinds %v, want all of %d", kinds, len(synth.DefaultKinds))
	}
	cal, err := events.Parse(raw, "named.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cal.Occurrences) != len(evs) {
		t.Fatalf("%d occurrences in the calendar, %d events", len(cal.Occurrences), len(evs))
	}
	for i, o := range cal.Occurrences {
		e := evs[i]
		if o.Event.Name != e.Kind || !o.Start.Equal(e.Start) || o.End.Before(e.End) || o.End.Sub(e.End) >= time.Minute || o.Event.Lead != 30*time.Minute || o.Event.Declared() {
			t.Errorf("occurrence %d: %s %v-%v, event %s %v-%v", i, o.Event.Name, o.Start, o.End, e.Kind, e.Start, e.End)
		}
	}
	again, evs2, _, _ := synth.NamedEvents(&synth.Options{Seed: 7}, synth.DefaultKinds, 30*time.Minute)
	if !reflect.DeepEqual(s.Values, again.Values) || !reflect.DeepEqual(evs, evs2) {
		t.Error("the same seed gave another trace")
	}
	if _, _, _, err := synth.NamedEvents(nil, []synth.Kind{{Name: "x", Factor: 0.5, Ramp: time.Hour}}, 0); err == nil {
		t.Error("a kind with a factor below 1 was accepted")
	}
}
