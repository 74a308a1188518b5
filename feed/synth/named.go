package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prescale/prescale/feed"
)

// Kind is a named kind of event in NamedEvents' trace: its occurrences
// share a size and a ramp, each within NamedJitter of its kind's.
type Kind struct {
	Name string
	// Factor is the noise-free load at the peak over the baseline there.
	Factor float64
	// Ramp is the time from the start to the peak.
	Ramp time.Duration
}

// DefaultKinds are three kinds of announced events: peaks of 3 to 6 times
// the usual load, ramps of 30 to 120 minutes.
var DefaultKinds = []Kind{
	{Name: "match", Factor: 5, Ramp: 90 * time.Minute},
	{Name: "sale", Factor: 3, Ramp: 30 * time.Minute},
	{Name: "launch", Factor: 6, Ramp: 120 * time.Minute},
}

// NamedJitter is how far an occurrence's factor and ramp stray from its
// kind's: each is its kind's times a uniform draw in [1-NamedJitter,
// 1+NamedJitter].
const NamedJitter = 0.15

// NamedName is the name of the series NamedEvents returns.
const NamedName = "named-events"

// NamedEvent is one occurrence in NamedEvents' trace.
type NamedEvent struct {
	Kind string `json:"kind"`
	Event
}

// NamedEvents returns a trace of the baseline of opts (its cycles, noise,
// step and length; 60 days by default here) with events of the given
// kinds at irregular times (opts.EventsPerDay, 1 by default: about 60
// events), each of a kind drawn at random, and the calendar a user would
// write for them (events.Parse's YAML): each occurrence from its start,
// when its load begins to rise, to its end, opening lead before it, with
// nothing declared about its size. The same options and seed give the
// same trace; MinFactor, MaxFactor, MinRamp, MaxRamp and the peak bounds
// of opts are not used.
func NamedEvents(opts *Options, kinds []Kind, lead time.Duration) (*feed.Series, []NamedEvent, []byte, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Days == 0 {
		o.Days = 60
	}
	if o.EventsPerDay == 0 {
		o.EventsPerDay = 1
	}
	if len(kinds) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: no kinds of events", ErrOptions)
	}
	for _, k := range kinds {
		if k.Name == "" || !(k.Factor >= 1) || k.Ramp <= 0 {
			return nil, nil, nil, fmt.Errorf("%w: kind %+v: want a name, a factor of at least 1 and a positive ramp", ErrOptions, k)
		}
	}
	noCrowds := o
	noCrowds.EventsPerDay = -1
	if err := noCrowds.Validate(); err != nil {
		return nil, nil, nil, err
	}
	o = o.withDefaults()
	s := &feed.Series{Name: NamedName, Start: o.Start, Step: o.Step, Values: make([]float64, time.Duration(o.Days)*24*time.Hour/o.Step)}
	for i := range s.Values {
		s.Values[i] = o.Capacity * o.baseline(s.Time(i))
	}
	evs := o.namedEvents(kinds, s.End())
	var cal strings.Builder
	cal.WriteString("# The calendar of NamedEvents' trace: when each event starts and ends, nothing about its size.\nevents:\n")
	for _, e := range evs {
		extra := o.Capacity * e.PeakReplicas * (1 - 1/e.Factor)
		for i := int((e.Start.Sub(o.Start) + o.Step - 1) / o.Step); i < s.Len() && s.Time(i).Before(e.End); i++ {
			s.Values[i] += extra * e.shape(s.Time(i))
		}
		fmt.Fprintf(&cal, "  - {name: %s, start: %q, duration: %s, lead: %s}\n", e.Kind, e.Start.UTC().Format(time.RFC3339),
			fmtMinutes(e.End.Sub(e.Start)), fmtMinutes(lead))
	}
	o.addNoise(s.Values)
	return s, evs, []byte(cal.String()), nil
}

// namedEvents places the events that end by end, one after another.
func (o *Options) namedEvents(kinds []Kind, end time.Time) []NamedEvent {
	rng := rand.New(rand.NewPCG(o.Seed, streamEvents))
	jitter := func() float64 { return 1 + NamedJitter*(2*rng.Float64()-1) }
	meanLength := (DefaultMinRamp+DefaultMaxRamp)/2 + (MinPlateau+MaxPlateau)/2 + (MinDecay+MaxDecay)/2
	meanGap := float64(24*time.Hour)/o.EventsPerDay - float64(meanLength)
	var out []NamedEvent
	at := o.Start
	for {
		k := kinds[rng.IntN(len(kinds))]
		var e NamedEvent
		e.Kind = k.Name
		e.Start = at.Add(time.Duration(rng.ExpFloat64() * meanGap).Truncate(time.Minute))
		e.Peak = e.Start.Add(time.Duration(float64(k.Ramp) * jitter()).Round(time.Second))
		e.PlateauEnd = e.Peak.Add(uniform(rng, MinPlateau, MaxPlateau))
		e.End = e.PlateauEnd.Add(uniform(rng, MinDecay, MaxDecay))
		e.Factor = k.Factor * jitter()
		if e.End.After(end) {
			return out
		}
		e.PeakReplicas = o.baseline(e.Peak) * e.Factor
		out = append(out, e)
		at = e.End.Add(time.Minute)
	}
}

// fmtMinutes writes a duration in whole minutes, as a calendar does.
func fmtMinutes(d time.Duration) string {
	return fmt.Sprintf("%dm", int((d+time.Minute-1)/time.Minute))
}
