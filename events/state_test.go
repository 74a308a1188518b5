package events

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestStateRoundTrip checks that learned effects written as JSON and
// restored adjust every forecast as the learned ones do, NaNs included.
func TestStateRoundTrip(t *testing.T) {
	c, fx, _, values, start, step := promoLoad(t)
	st := fx.State()
	if st == nil || st.Learned["promo"] == nil || len(st.Usual) == 0 {
		t.Fatalf("state %+v: want the promo learned and a usual day", st)
	}
	st.Learned["promo"].Ratios[3][0] = float32(math.NaN()) // a bin an occurrence did not fill
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := Restore(c, &back)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Occurrences[len(c.Occurrences)-1]
	before := Observation{Value: values[len(values)-1], At: start.Add(time.Duration(len(values)-1) * step)}
	under := Observation{Value: 250, At: o.Start.Add(20 * time.Minute)} // the occurrence under way
	for at := o.From(); at.Before(o.To()); at = at.Add(step) {
		for _, now := range []Observation{before, under} {
			for _, q := range []float64{0.5, 0.9} {
				want, wu := fx.Adjust(100, at, q, now)
				have, hu := got.Adjust(100, at, q, now)
				if have != want || (wu == nil) != (hu == nil) || wu != nil && *wu != *hu {
					t.Fatalf("at %v, q %g, observed %+v: restored %v (%+v), learned %v (%+v)", at, q, now, have, hu, want, wu)
				}
			}
		}
	}
	if _, u := fx.Adjust(100, o.Start.Add(40*time.Minute), 0.9, under); u == nil || u.Now == 0 {
		t.Errorf("under way: %+v, want the effect of the occurrence under way", u)
	}
	if got.Learned("promo") != fx.Learned("promo") {
		t.Errorf("restored learned from %d, want %d", got.Learned("promo"), fx.Learned("promo"))
	}
}

// TestStateCheck checks that a state that cannot be what Learn made is
// refused, naming what is wrong.
func TestStateCheck(t *testing.T) {
	c, fx, _, _, _, _ := promoLoad(t)
	for _, tc := range []struct {
		name   string
		change func(*State)
		want   string
	}{
		{"unknown name", func(s *State) { s.Learned["sale"] = s.Learned["promo"] }, `learned["sale"]: no event of the calendar has that name`},
		{"bins", func(s *State) { s.Learned["promo"].Ratios = s.Learned["promo"].Ratios[:10] }, `learned["promo"].ratios: 10 bins, want 64`},
		{"ragged", func(s *State) { s.Learned["promo"].Ratios[5] = s.Learned["promo"].Ratios[5][1:] }, `learned["promo"].ratios[5]:`},
		{"negative", func(s *State) { s.Learned["promo"].Ratios[2][1] = -1 }, `learned["promo"].ratios[2][1]: -1`},
		{"seen", func(s *State) { s.Learned["promo"].Seen = 1 }, `learned["promo"].seen: 1`},
		{"usual step", func(s *State) { s.UsualStep = 0 }, "usual_step: 0s"},
		{"usual", func(s *State) { s.Usual[7] = float32(math.Inf(1)) }, "usual[7]: +Inf"},
		{"null", func(s *State) { s.Learned["promo"] = nil }, `learned["promo"]: null`},
		{"too many kept", func(s *State) {
			l := s.Learned["promo"]
			for b := range l.Ratios {
				l.Ratios[b] = make(Float32s, MaxLearned+1)
			}
			l.Seen = 100
		}, `learned["promo"].ratios[0]: 33 occurrences, at most 32`},
		{"usual too long", func(s *State) { s.Usual = make(Float32s, 3000) }, "usual: 3000 steps, at most 2880"},
		{"usual not a day", func(s *State) { s.Usual = s.Usual[:100] }, "usual: 100 steps, but a day has 288"},
		{"usual start", func(s *State) { s.UsualStart = time.Time{} }, "usual_start: missing"},
		{"binned before", func(s *State) { s.Bins = "" }, `bins: "", want "` + BinLayout + `" (learned by an older version)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := fx.State()
			// A deep copy: the state shares the learned values.
			b, _ := json.Marshal(st)
			var cp State
			if err := json.Unmarshal(b, &cp); err != nil {
				t.Fatal(err)
			}
			tc.change(&cp)
			_, err := Restore(c, &cp)
			if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
