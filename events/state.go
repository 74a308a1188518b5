package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// State is what Effects learned, as a snapshot keeps it: a restarted
// service restores it (Restore) instead of waiting for a fit to learn it
// again. Memory and size: 4 bytes a ratio in memory, at most 64 bins of
// MaxLearned a name (8 KiB), and the usual day (at most 2,880 steps,
// 11 KiB).
type State struct {
	// Learned is each name's ratios, bin by bin over the window (64
	// bins), each bin one ratio per occurrence kept (oldest first, at
	// most MaxLearned); Seen is how many occurrences taught it.
	Learned map[string]*Learned `json:"learned,omitempty"`
	// Usual is the usual load of each step of the day after the history,
	// from UsualStart every UsualStep.
	Usual      Float32s      `json:"usual,omitempty"`
	UsualStart time.Time     `json:"usual_start,omitzero"`
	UsualStep  time.Duration `json:"usual_step,omitempty"`
	// Bins names how the window was cut into the bins of Learned
	// (BinLayout); empty in states saved before the event's first half
	// was binned by the time since its start, whose ratios Restore
	// refuses.
	Bins string `json:"bins,omitempty"`
}

// BinLayout names how Learn cuts an occurrence's window into bins (see
// Effects.bin): the lead in 8 of equal length, the event's first half in
// 24 of a 48th of its name's typical duration since its start, the rest
// in 24 of the time left to its end, the lag in 8.
const BinLayout = "lead 8, since start 24, to end 24, lag 8"

// Learned is one name's learned effect in a State.
type Learned struct {
	Seen   int        `json:"seen"`
	Ratios []Float32s `json:"ratios"`
}

// Float32s are float32 values whose NaNs (unknown) are JSON nulls.
type Float32s []float32

// MarshalJSON writes the values as a JSON array, each in the fewest
// digits that read back as the same float32, NaN as null.
func (f Float32s) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range f {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(float64(v)):
			b = append(b, "null"...)
		case math.IsInf(float64(v), 0):
			return nil, fmt.Errorf("value %d is %v", i, v)
		default:
			b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads an array of numbers and nulls (NaN).
func (f *Float32s) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Float32s, len(raw))
	for i, r := range raw {
		if bytes.Equal(r, []byte("null")) {
			out[i] = float32(math.NaN())
			continue
		}
		v, err := strconv.ParseFloat(string(r), 32)
		if err != nil {
			return fmt.Errorf("value %d: %q is not a float32 number", i, r)
		}
		out[i] = float32(v)
	}
	*f = out
	return nil
}

// ErrState is wrapped by the errors of a State that cannot be restored.
var ErrState = errors.New("invalid learned effects")

// State returns what e learned, an empty State when it learned nothing
// (nil for a nil e or one without a calendar). It shares e's values,
// which never change after Learn.
func (e *Effects) State() *State {
	if e == nil || e.Calendar == nil {
		return nil
	}
	st := &State{Usual: e.usual, UsualStart: e.usualStart, UsualStep: e.usualStep, Bins: BinLayout}
	for name, p := range e.learned {
		if st.Learned == nil {
			st.Learned = map[string]*Learned{}
		}
		l := &Learned{Seen: p.seen, Ratios: make([]Float32s, bins)}
		for b := range p.ratios {
			l.Ratios[b] = p.ratios[b]
		}
		st.Learned[name] = l
	}
	return st
}

// Check reports the first thing wrong with st, naming it: a count of
// bins other than 64, bins of different lengths or longer than
// MaxLearned, fewer occurrences seen than kept, a negative or infinite
// ratio or usual load, a usual day longer than 2,880 steps, without a
// positive step or start, or not of a day's steps. It needs no calendar:
// a snapshot checks it as it loads, and Restore checks the names against
// the calendar. Every error wraps ErrState.
func (st *State) Check() error {
	if st == nil {
		return nil
	}
	for name, l := range st.Learned {
		if err := l.check(name); err != nil {
			return err
		}
	}
	switch n := len(st.Usual); {
	case n == 0:
	case n > maxUsual:
		return fmt.Errorf("%w: usual: %d steps, at most %d", ErrState, n, maxUsual)
	case st.UsualStep <= 0:
		return fmt.Errorf("%w: usual_step: %v, want positive", ErrState, st.UsualStep)
	case n != int(24*time.Hour/st.UsualStep):
		return fmt.Errorf("%w: usual: %d steps, but a day has %d of usual_step %v", ErrState, n, int(24*time.Hour/st.UsualStep), st.UsualStep)
	case st.UsualStart.IsZero():
		return fmt.Errorf("%w: usual_start: missing", ErrState)
	}
	for i, v := range st.Usual {
		if v < 0 || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: usual[%d]: %v, want a load of at least 0 or null", ErrState, i, v)
		}
	}
	return nil
}

func (l *Learned) check(name string) error {
	switch {
	case l == nil:
		return fmt.Errorf("%w: learned[%q]: null", ErrState, name)
	case len(l.Ratios) != bins:
		return fmt.Errorf("%w: learned[%q].ratios: %d bins, want %d", ErrState, name, len(l.Ratios), bins)
	}
	n := len(l.Ratios[0])
	switch {
	case n > MaxLearned:
		return fmt.Errorf("%w: learned[%q].ratios[0]: %d occurrences, at most %d", ErrState, name, n, MaxLearned)
	case l.Seen < n:
		return fmt.Errorf("%w: learned[%q].seen: %d, fewer than the %d occurrences kept", ErrState, name, l.Seen, n)
	}
	for b, r := range l.Ratios {
		if len(r) != n {
			return fmt.Errorf("%w: learned[%q].ratios[%d]: %d occurrences, bin 0 has %d", ErrState, name, b, len(r), n)
		}
		for k, v := range r {
			if v < 0 || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w: learned[%q].ratios[%d][%d]: %v, want a ratio of at least 0 or null", ErrState, name, b, k, v)
			}
		}
	}
	return nil
}

// Restore returns the effects st holds for calendar c, as Learn made them;
// an error (wrapping ErrState) when st.Check finds one, st learned a name
// no event of c has, or its ratios were binned otherwise than BinLayout
// says (an older state: they are learned again at the next fit).
func Restore(c *Calendar, st *State) (*Effects, error) {
	if err := st.Check(); err != nil {
		return nil, err
	}
	e := newEffects(c)
	if st == nil {
		return e, nil
	}
	if len(st.Learned) > 0 && st.Bins != BinLayout {
		return nil, fmt.Errorf("%w: bins: %q, want %q (learned by an older version)", ErrState, st.Bins, BinLayout)
	}
	names := map[string]bool{}
	if c != nil {
		for _, o := range c.Occurrences {
			names[o.Event.Name] = true
		}
	}
	for name := range st.Learned {
		if !names[name] {
			return nil, fmt.Errorf("%w: learned[%q]: no event of the calendar has that name", ErrState, name)
		}
	}
	e.usual, e.usualStart, e.usualStep = st.Usual, st.UsualStart, st.UsualStep
	if len(e.usual) == 0 {
		e.usual = nil
	}
	for name, l := range st.Learned {
		p := &profile{seen: l.Seen}
		for b := range p.ratios {
			p.ratios[b] = l.Ratios[b]
		}
		e.learned[name] = p
	}
	e.anyName = pool(e.learned)
	return e, nil
}
