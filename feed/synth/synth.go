package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prescale/prescale/feed"
)

// Name is the name of the series FlashCrowds returns.
const Name = "flash-crowds"

// Defaults for the zero fields of Options. The zero Start means
// 2026-01-05T00:00:00Z, a Monday. BaseReplicas and Daily are chosen so
// that the peaks span the range of peak replicas: the baseline runs from
// 9 replicas (weekend nights) to 32 (weekday afternoons), so a crowd of
// 3 to 6 times it peaks at 27 to 192 replicas.
const (
	DefaultStep            = time.Minute
	DefaultDays            = 35
	DefaultCapacity        = 20.0
	DefaultBaseReplicas    = 20.0
	DefaultDaily           = 0.6
	DefaultWeekly          = 0.3
	DefaultNoise           = 0.05
	DefaultEventsPerDay    = 1.5
	DefaultMinFactor       = 3.0
	DefaultMaxFactor       = 6.0
	DefaultMinRamp         = 20 * time.Minute
	DefaultMaxRamp         = 120 * time.Minute
	DefaultMinPeakReplicas = 20.0
	DefaultMaxPeakReplicas = 200.0
)

// A flash crowd holds its peak for a plateau of MinPlateau to MaxPlateau
// and then decays back to the baseline over MinDecay to MaxDecay (uniform
// draws).
const (
	MinPlateau = 10 * time.Minute
	MaxPlateau = 60 * time.Minute
	MinDecay   = 30 * time.Minute
	MaxDecay   = 180 * time.Minute
)

// Limits of Options.
const (
	MaxStep   = 10 * time.Minute // the default ramps span two points or more
	MaxDays   = 3660
	MaxNoise  = 0.25
	MaxPoints = 10_000_000 // as feed/demo and feed/prometheus
)

// ErrOptions is an Options that fails validation. It comes wrapped, so
// test for it with errors.Is.
var ErrOptions = errors.New("synth: invalid options")

// Options shape the trace of FlashCrowds. A nil *Options means the
// defaults, and so does a zero field; for Daily, Weekly, Noise and
// EventsPerDay a negative value turns the feature off.
type Options struct {
	// Start is the time of the first point. Zero means
	// 2026-01-05T00:00:00Z, a Monday. The cycles follow UTC.
	Start time.Time
	// Step is the grid step, at most MaxStep. Zero means DefaultStep.
	Step time.Duration
	// Days is the length of the trace: Days*24h/Step points, at most
	// MaxPoints. Zero means DefaultDays.
	Days int
	// Capacity is the load one replica serves, in requests per minute:
	// the --capacity of a backtest of the trace. Zero means
	// DefaultCapacity.
	Capacity float64
	// BaseReplicas is the mean weekday load without flash crowds, in
	// replicas. Zero means DefaultBaseReplicas.
	BaseReplicas float64
	// Daily is the relative amplitude of the daily cycle: weekday load
	// peaks at BaseReplicas*(1+Daily) at 14:00 UTC and bottoms out at
	// BaseReplicas*(1-0.6*Daily) at 02:00. At most 1. Zero means
	// DefaultDaily.
	Daily float64
	// Weekly is how much lower the weekend is: Saturday and Sunday carry
	// 1-Weekly of the weekday load, with two-hour ramps on either side of
	// midnight. Below 1. Zero means DefaultWeekly.
	Weekly float64
	// Noise is the standard deviation of a multiplicative Gaussian noise,
	// drawn afresh at every point; the requests of a step are then a
	// Poisson count of that rate, so the values of a 1m grid are whole
	// numbers. A negative Noise turns off both, leaving the smooth rate.
	// At most MaxNoise. Zero means DefaultNoise.
	Noise float64
	// EventsPerDay is the mean number of flash crowds a day. Crowds do
	// not overlap: the time from the end of one to the start of the next
	// is exponential, with the mean that makes starts EventsPerDay a day
	// apart on average, so they fall at irregular times. At most one
	// day over twice the mean length of a crowd (3.4 with the default
	// ramps). Zero means DefaultEventsPerDay.
	EventsPerDay float64
	// MinFactor and MaxFactor bound the factor a crowd multiplies the
	// baseline by at its peak; see MinPeakReplicas. MinFactor is at
	// least 1. Zero means DefaultMinFactor and DefaultMaxFactor.
	MinFactor, MaxFactor float64
	// MinRamp and MaxRamp bound the time a crowd takes to ramp up to its
	// peak, a uniform draw. MinRamp is at least Step. Zero means
	// DefaultMinRamp and DefaultMaxRamp.
	MinRamp, MaxRamp time.Duration
	// MinPeakReplicas and MaxPeakReplicas bound the load at a crowd's
	// peak, in replicas. Its factor is a uniform draw among those in
	// [MinFactor, MaxFactor] that put the peak (the baseline at the peak
	// time, times the factor) within these bounds. When there is none,
	// at a baseline below MinPeakReplicas/MaxFactor, the factor is the one
	// that reaches MinPeakReplicas and the Event is Clamped. The weekday
	// peak of the baseline times MinFactor must not exceed
	// MaxPeakReplicas, so no crowd ever needs less than MinFactor. Zero
	// means DefaultMinPeakReplicas and DefaultMaxPeakReplicas.
	MinPeakReplicas, MaxPeakReplicas float64
	// Seed selects the crowds and the noise; the same Options give the
	// same trace. Zero is a seed like any other.
	Seed uint64
}

// Event is one flash crowd: the load rises smoothly (a raised cosine)
// from the baseline at Start to its peak at Peak, holds there until
// PlateauEnd, and falls smoothly back to the baseline at End. The crowd
// adds its requests to the baseline's, so the noise-free load at Peak is
// Factor times the baseline at Peak.
type Event struct {
	Start      time.Time `json:"start"`
	Peak       time.Time `json:"peak"`
	PlateauEnd time.Time `json:"plateau_end"`
	End        time.Time `json:"end"`
	// Factor is the noise-free load at Peak over the baseline at Peak.
	Factor float64 `json:"factor"`
	// PeakReplicas is the noise-free load at Peak over Capacity.
	PeakReplicas float64 `json:"peak_replicas"`
	// Clamped is a Factor above MaxFactor, raised to reach
	// MinPeakReplicas.
	Clamped bool `json:"clamped,omitempty"`
}

// Ramp returns the time the crowd takes to reach its peak.
func (e *Event) Ramp() time.Duration { return e.Peak.Sub(e.Start) }

// shape is the crowd's share of its peak extra load at t, from 0 to 1.
func (e *Event) shape(t time.Time) float64 {
	switch {
	case t.Before(e.Start) || !t.Before(e.End):
		return 0
	case t.Before(e.Peak):
		u := float64(t.Sub(e.Start)) / float64(e.Peak.Sub(e.Start))
		return (1 - math.Cos(math.Pi*u)) / 2
	case t.Before(e.PlateauEnd):
		return 1
	default:
		u := float64(t.Sub(e.PlateauEnd)) / float64(e.End.Sub(e.PlateauEnd))
		return (1 + math.Cos(math.Pi*u)) / 2
	}
}

// Validate reports options that make no sensible trace, naming the
// field. Each check is written so that a NaN fails it.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	d := o.withDefaults()
	day := float64(24 * time.Hour)
	switch {
	case d.Step < 0 || d.Step > MaxStep:
		return fmt.Errorf("%w: Step %v is not within (0, %v]", ErrOptions, d.Step, MaxStep)
	case d.Days < 0 || d.Days > MaxDays:
		return fmt.Errorf("%w: Days %d is not within [1, %d]", ErrOptions, d.Days, MaxDays)
	case float64(d.Days)*day/float64(d.Step) > MaxPoints:
		return fmt.Errorf("%w: Days %d of Step %v make more than %d points", ErrOptions, d.Days, d.Step, MaxPoints)
	case !(d.Capacity > 0) || math.IsInf(d.Capacity, 1):
		return fmt.Errorf("%w: Capacity %v is not a finite number > 0", ErrOptions, d.Capacity)
	case !(d.BaseReplicas > 0) || math.IsInf(d.BaseReplicas, 1):
		return fmt.Errorf("%w: BaseReplicas %v is not a finite number > 0", ErrOptions, d.BaseReplicas)
	case !(d.Daily <= 1):
		return fmt.Errorf("%w: Daily %v is above 1", ErrOptions, d.Daily)
	case !(d.Weekly < 1):
		return fmt.Errorf("%w: Weekly %v is not below 1", ErrOptions, d.Weekly)
	case !(d.Noise <= MaxNoise):
		return fmt.Errorf("%w: Noise %v is above %v", ErrOptions, d.Noise, MaxNoise)
	case !(d.MinFactor >= 1) || math.IsInf(d.MinFactor, 1):
		return fmt.Errorf("%w: MinFactor %v is not a finite number >= 1", ErrOptions, d.MinFactor)
	case !(d.MaxFactor >= d.MinFactor) || math.IsInf(d.MaxFactor, 1):
		return fmt.Errorf("%w: MaxFactor %v is not a finite number >= MinFactor %v", ErrOptions, d.MaxFactor, d.MinFactor)
	case d.MinRamp < d.Step:
		return fmt.Errorf("%w: MinRamp %v is shorter than Step %v", ErrOptions, d.MinRamp, d.Step)
	case d.MaxRamp < d.MinRamp:
		return fmt.Errorf("%w: MaxRamp %v is shorter than MinRamp %v", ErrOptions, d.MaxRamp, d.MinRamp)
	case !(d.MinPeakReplicas > 0) || math.IsInf(d.MinPeakReplicas, 1):
		return fmt.Errorf("%w: MinPeakReplicas %v is not a finite number > 0", ErrOptions, d.MinPeakReplicas)
	case !(d.MaxPeakReplicas >= d.MinPeakReplicas) || math.IsInf(d.MaxPeakReplicas, 1):
		return fmt.Errorf("%w: MaxPeakReplicas %v is not a finite number >= MinPeakReplicas %v",
			ErrOptions, d.MaxPeakReplicas, d.MinPeakReplicas)
	case !(d.BaseReplicas*(1+d.Daily)*d.MinFactor <= d.MaxPeakReplicas):
		return fmt.Errorf("%w: BaseReplicas %v peaks at %v replicas, which MinFactor %v takes above MaxPeakReplicas %v",
			ErrOptions, d.BaseReplicas, d.BaseReplicas*(1+d.Daily), d.MinFactor, d.MaxPeakReplicas)
	case !(d.EventsPerDay*2*float64(d.meanLength()) <= day):
		return fmt.Errorf("%w: EventsPerDay %v is above %.2f: crowds of %v on average need twice that between starts",
			ErrOptions, d.EventsPerDay, day/(2*float64(d.meanLength())), d.meanLength())
	}
	return nil
}

// withDefaults returns a copy of o with its zero fields set and its
// turned-off features zeroed.
func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	orOff := func(v *float64, def float64) {
		if *v < 0 {
			*v = 0
		} else {
			orDefault(v, def)
		}
	}
	if d.Start.IsZero() {
		d.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	orDefault(&d.Step, DefaultStep)
	orDefault(&d.Days, DefaultDays)
	orDefault(&d.Capacity, DefaultCapacity)
	orDefault(&d.BaseReplicas, DefaultBaseReplicas)
	orOff(&d.Daily, DefaultDaily)
	orOff(&d.Weekly, DefaultWeekly)
	orOff(&d.Noise, DefaultNoise)
	orOff(&d.EventsPerDay, DefaultEventsPerDay)
	orDefault(&d.MinFactor, DefaultMinFactor)
	orDefault(&d.MaxFactor, DefaultMaxFactor)
	orDefault(&d.MinRamp, DefaultMinRamp)
	orDefault(&d.MaxRamp, DefaultMaxRamp)
	orDefault(&d.MinPeakReplicas, DefaultMinPeakReplicas)
	orDefault(&d.MaxPeakReplicas, DefaultMaxPeakReplicas)
	return d
}

// orDefault sets *v to def if it is zero.
func orDefault[T int | float64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// meanLength is the mean length of a crowd, ramp to end.
func (o *Options) meanLength() time.Duration {
	return (o.MinRamp + o.MaxRamp + MinPlateau + MaxPlateau + MinDecay + MaxDecay) / 2
}

// Random streams of a seed: the crowds draw from one, the noise from the
// other, so turning the noise off leaves the crowds where they were.
const (
	streamEvents uint64 = iota + 1
	streamNoise
)

// FlashCrowds returns the trace opts describe, in requests per minute,
// and its flash crowds in time order. Memory is linear in the points.
func FlashCrowds(opts *Options) (*feed.Series, []Event, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	o := opts.withDefaults()
	s := &feed.Series{
		Name:   Name,
		Start:  o.Start,
		Step:   o.Step,
		Values: make([]float64, time.Duration(o.Days)*24*time.Hour/o.Step),
	}
	for i := range s.Values {
		s.Values[i] = o.Capacity * o.baseline(s.Time(i))
	}
	events := o.events(s.End())
	for _, e := range events {
		extra := o.Capacity * e.PeakReplicas * (1 - 1/e.Factor)
		// The first point at or after e.Start.
		for i := int((e.Start.Sub(o.Start) + o.Step - 1) / o.Step); i < s.Len() && s.Time(i).Before(e.End); i++ {
			s.Values[i] += extra * e.shape(s.Time(i))
		}
	}
	o.addNoise(s.Values)
	return s, events, nil
}

// events places the crowds that end by end, one after another.
func (o *Options) events(end time.Time) []Event {
	if o.EventsPerDay == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(o.Seed, streamEvents))
	meanGap := float64(24*time.Hour)/o.EventsPerDay - float64(o.meanLength())
	var events []Event
	at := o.Start
	for {
		var e Event
		e.Start = at.Add(time.Duration(rng.ExpFloat64() * meanGap).Round(time.Second))
		e.Peak = e.Start.Add(uniform(rng, o.MinRamp, o.MaxRamp))
		e.PlateauEnd = e.Peak.Add(uniform(rng, MinPlateau, MaxPlateau))
		e.End = e.PlateauEnd.Add(uniform(rng, MinDecay, MaxDecay))
		u := rng.Float64()
		if e.End.After(end) {
			return events
		}
		base := o.baseline(e.Peak)
		lo := max(o.MinFactor, o.MinPeakReplicas/base)
		hi := min(o.MaxFactor, o.MaxPeakReplicas/base)
		if lo > hi {
			// Validate leaves only a baseline too low for MaxFactor.
			e.Factor, e.Clamped = lo, true
		} else {
			e.Factor = lo + (hi-lo)*u
		}
		e.PeakReplicas = base * e.Factor
		events = append(events, e)
		at = e.End
	}
}

// uniform draws a duration in [lo, hi], to the second.
func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return (lo + time.Duration(rng.Float64()*float64(hi-lo))).Round(time.Second)
}

// baseline is the noise-free load without crowds at t, in replicas.
func (o *Options) baseline(t time.Time) float64 {
	t = t.UTC()
	h, m, s := t.Clock()
	hours := float64(h) + float64(m)/60 + (float64(s)+float64(t.Nanosecond())/1e9)/3600
	// One harmonic peaking at 14:00 and a smaller second one that
	// sharpens the afternoon and flattens the night.
	theta := 2 * math.Pi * (hours - 14) / 24
	daily := 1 + o.Daily*(0.8*math.Cos(theta)+0.2*math.Cos(2*theta))

	// Days since Monday 00:00; the weekend is days 5 and 6, entered and
	// left with a smoothstep two hours either side of midnight.
	days := float64((t.Weekday()+6)%7) + hours/24
	const half = 2.0 / 24
	if days < half {
		days += 7 // Monday's first hours end the previous weekend
	}
	weekend := smoothstep((days-5+half)/(2*half)) - smoothstep((days-7+half)/(2*half))
	return o.BaseReplicas * daily * (1 - o.Weekly*weekend)
}

// smoothstep is 0 below 0, 1 above 1, and a smooth S between.
func smoothstep(x float64) float64 {
	x = min(max(x, 0), 1)
	return x * x * (3 - 2*x)
}

// addNoise turns the rates in values into noisy counts, per minute.
func (o *Options) addNoise(values []float64) {
	if o.Noise == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(o.Seed, streamNoise))
	minutes := o.Step.Minutes()
	for i, rate := range values {
		rate *= max(0, 1+o.Noise*rng.NormFloat64())
		values[i] = poisson(rng, rate*minutes) / minutes
	}
}

// poisson draws a Poisson count of the given mean: exactly (Knuth's
// product of uniforms) below 30, and above as a rounded normal of the
// same mean and variance, which differs from it by little there.
func poisson(rng *rand.Rand, mean float64) float64 {
	if mean < 30 {
		limit := math.Exp(-mean)
		k, p := 0, rng.Float64()
		for p > limit {
			k++
			p *= rng.Float64()
		}
		return float64(k)
	}
	return max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
}
