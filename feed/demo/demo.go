package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prescale/prescale/feed"
)

// Query is the query of the default demo workload; "demo:<n>" (n a
// non-negative integer, "demo:0" being "demo") selects another.
const Query = "demo"

// Defaults for the zero fields of Options.
const (
	DefaultBase          = 400.0
	DefaultDaily         = 0.6
	DefaultWeekly        = 0.4
	DefaultNoise         = 0.05
	DefaultSpikeRate     = 3.0
	DefaultSpikeHeight   = 2.5
	DefaultSpikeDuration = 5 * time.Minute
)

// Limits of Options.
const (
	MaxNoise         = 0.25
	MaxSpikeRate     = 24.0 // one spike an hour
	MaxSpikeDuration = 30 * time.Minute
)

// MaxPoints bounds the grid of one Range call, as feed/prometheus does.
const MaxPoints = 10_000_000

// Errors of the demo source. They come wrapped, so test for them with
// errors.Is.
var (
	// ErrQuery is a query the demo source does not serve.
	ErrQuery = errors.New("demo: unknown query")
	// ErrRange is a range with no grid: a step that is not positive, end
	// before start, or more than MaxPoints points.
	ErrRange = errors.New("demo: invalid range")
	// ErrOptions is an Options that fails validation.
	ErrOptions = errors.New("demo: invalid options")
)

// Options shape the simulated workload. A nil *Options means the
// defaults. For Daily, Weekly, Noise and SpikeRate zero means the
// default and a negative value turns the feature off.
type Options struct {
	// Seed selects the noise and the spikes; the same seed gives the
	// same workload.
	Seed uint64
	// Base is the mean weekday load, requests per second or so. Zero means
	// DefaultBase.
	Base float64
	// Daily is the relative amplitude of the daily cycle: weekday load
	// peaks at Base*(1+Daily) at 15:00 UTC and bottoms out at
	// Base*(1-0.7*Daily) at 03:00. At most 1. Zero means DefaultDaily.
	Daily float64
	// Weekly is how much lower the weekend is: Saturday and Sunday (UTC)
	// carry 1-Weekly of the weekday load, with two-hour ramps around
	// midnight. Below 1. Zero means DefaultWeekly.
	Weekly float64
	// Noise is the standard deviation of the multiplicative noise, drawn
	// afresh every minute. At most MaxNoise. Zero means DefaultNoise.
	Noise float64
	// SpikeRate is the mean number of spikes a day: each hour holds one
	// with probability SpikeRate/24. At most MaxSpikeRate. Zero means
	// DefaultSpikeRate.
	SpikeRate float64
	// SpikeHeight is the typical factor a spike multiplies the load by;
	// each spike's factor is within a third of SpikeHeight-1 of it (2 to
	// 3 for 2.5). At least 1. Zero means DefaultSpikeHeight.
	SpikeHeight float64
	// SpikeDuration is the typical length of a spike; each lasts 0.6 to
	// 1.4 times it. At most MaxSpikeDuration. Zero means
	// DefaultSpikeDuration.
	SpikeDuration time.Duration
}

// Validate reports options that make no sensible workload. Each check is
// written so that a NaN fails it.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case !(o.Base >= 0) || math.IsInf(o.Base, 1):
		return fmt.Errorf("%w: Base %v is not a finite number >= 0", ErrOptions, o.Base)
	case !(o.Daily <= 1):
		return fmt.Errorf("%w: Daily %v is above 1", ErrOptions, o.Daily)
	case !(o.Weekly < 1):
		return fmt.Errorf("%w: Weekly %v is not below 1", ErrOptions, o.Weekly)
	case !(o.Noise <= MaxNoise):
		return fmt.Errorf("%w: Noise %v is above %v", ErrOptions, o.Noise, MaxNoise)
	case !(o.SpikeRate <= MaxSpikeRate):
		return fmt.Errorf("%w: SpikeRate %v is above %v a day", ErrOptions, o.SpikeRate, MaxSpikeRate)
	case o.SpikeHeight != 0 && !(o.SpikeHeight >= 1) || math.IsInf(o.SpikeHeight, 1):
		return fmt.Errorf("%w: SpikeHeight %v is not a finite number >= 1", ErrOptions, o.SpikeHeight)
	case o.SpikeDuration < 0 || o.SpikeDuration > MaxSpikeDuration:
		return fmt.Errorf("%w: SpikeDuration %v is not within [0, %v]", ErrOptions, o.SpikeDuration, MaxSpikeDuration)
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
	orDefault := func(v *float64, def float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	if d.Base == 0 {
		d.Base = DefaultBase
	}
	orDefault(&d.Daily, DefaultDaily)
	orDefault(&d.Weekly, DefaultWeekly)
	orDefault(&d.Noise, DefaultNoise)
	orDefault(&d.SpikeRate, DefaultSpikeRate)
	if d.SpikeHeight == 0 {
		d.SpikeHeight = DefaultSpikeHeight
	}
	if d.SpikeDuration == 0 {
		d.SpikeDuration = DefaultSpikeDuration
	}
	return d
}

// Source is the simulated workload. It implements registry.Source and is
// safe for concurrent use.
type Source struct {
	opts Options
}

// New returns the demo source.
func New(opts *Options) (*Source, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Source{opts: opts.withDefaults()}, nil
}

// Range returns the load of query on the grid start, start+step, ... up
// to end. The same time always has the same value, whatever the grid.
func (s *Source) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	w, err := s.workload(query)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("%w: step %v is not positive", ErrRange, step)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("%w: end %s is before start %s", ErrRange, end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	// Sub saturates, so a range of centuries is refused, not wrapped.
	n := end.Sub(start)/step + 1
	if n > MaxPoints {
		return nil, fmt.Errorf("%w: %d points of %v, more than %d; use a longer step", ErrRange, n, step, MaxPoints)
	}
	const checkEvery = 1 << 16 // points between looks at ctx
	values := make([]float64, n)
	for i := range values {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("demo: range %q: %w", query, err)
			}
		}
		values[i] = w.at(start.Add(time.Duration(i) * step))
	}
	return &feed.Series{Name: query, Start: start, Step: step, Values: values}, nil
}

// Random streams: each draws from its own hash sequence.
const (
	streamVariant uint64 = iota + 1
	streamNoise
	streamSpike
)

// Seconds in the calendar periods.
const (
	minute = 60
	hour   = 3600
	day    = 24 * hour
	week   = 7 * day
)

// workload is one query's workload: the options plus a variant's seed,
// level and phase.
type workload struct {
	Options
	level float64 // multiplies Base
	shift float64 // seconds added to the time of the daily and weekly cycles
}

// workload parses query: "demo" or "demo:<n>".
func (s *Source) workload(query string) (*workload, error) {
	w := &workload{Options: s.opts, level: 1}
	q := strings.TrimSpace(query)
	if q == Query {
		return w, nil
	}
	rest, ok := strings.CutPrefix(q, Query+":")
	n, err := strconv.ParseUint(rest, 10, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("%w %q; the demo source serves %q and %q", ErrQuery, query, Query, Query+":<n>")
	}
	if n == 0 {
		return w, nil
	}
	w.Seed = mix(mix(s.opts.Seed^streamVariant) + n)
	u := hash(w.Seed, streamVariant, 0)
	w.level = 0.5 + 1.5*unit(u, 0) // 0.5 to 2 times Base
	w.shift = (unit(u, 1) - 0.5) * 8 * hour
	return w, nil
}

// at is the load at time t.
func (w *workload) at(t time.Time) float64 {
	sec := t.Unix()
	cycle := float64(floorMod(sec, week)) + float64(t.Nanosecond())/1e9 + w.shift
	load := w.Base * w.level * w.daily(cycle) * w.weekly(cycle) * w.noise(sec) * w.spike(t)
	return max(load, 0)
}

// daily is the daily cycle's factor at second s of the week (UTC): one
// harmonic peaking at 15:00 and a smaller second one that sharpens the
// afternoon peak and flattens the night.
func (w *workload) daily(s float64) float64 {
	theta := 2 * math.Pi * (s - 15*hour) / day
	return 1 + w.Daily*(0.85*math.Cos(theta)+0.15*math.Cos(2*theta))
}

// weekly is the weekend's factor at second s of the week (from Thursday
// 00:00 UTC, the Unix epoch's weekday).
func (w *workload) weekly(s float64) float64 {
	const (
		saturday = 2 * day // from Thursday
		monday   = 4 * day
		ramp     = 2 * hour // half the width of each transition
	)
	s = math.Mod(s, week)
	if s < 0 {
		s += week
	}
	weekend := smoothstep((s-saturday+ramp)/(2*ramp)) * (1 - smoothstep((s-monday+ramp)/(2*ramp)))
	return 1 - w.Weekly*weekend
}

// noise is the multiplicative noise of the minute holding second sec:
// 1 plus Noise times a unit-variance draw (the sum of four uniforms),
// so it stays above 1-3.5*Noise.
func (w *workload) noise(sec int64) float64 {
	if w.Noise == 0 {
		return 1
	}
	h := hash(w.Seed, streamNoise, floorDiv(sec, minute))
	z := (unit(h, 0) + unit(h, 1) + unit(h, 2) + unit(h, 3) - 2) * math.Sqrt(3)
	return 1 + w.Noise*z
}

// spike is the spike factor at t: each hour holds at most one spike,
// whose presence, start, length and height its hash decides.
func (w *workload) spike(t time.Time) float64 {
	if w.SpikeRate == 0 {
		return 1
	}
	sec := t.Unix()
	slot := floorDiv(sec, hour)
	h := hash(w.Seed, streamSpike, slot)
	if unit(h, 0) >= w.SpikeRate/24 {
		return 1
	}
	length := w.SpikeDuration.Seconds() * (0.6 + 0.8*unit(h, 1))
	begin := (hour - length) * unit(h, 2)
	offset := float64(sec-slot*hour) + float64(t.Nanosecond())/1e9
	if offset < begin || offset >= begin+length {
		return 1
	}
	return 1 + (w.SpikeHeight-1)*(2+2*unit(h, 3))/3
}

// smoothstep is 0 below 0, 1 above 1, and a smooth S between.
func smoothstep(x float64) float64 {
	x = min(max(x, 0), 1)
	return x * x * (3 - 2*x)
}

// mix is SplitMix64's finalizer: a bijective hash of 64 bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash is 64 random-looking bits for element k of a stream of seed.
func hash(seed, stream uint64, k int64) uint64 {
	return mix(mix(mix(seed)+stream) + uint64(k))
}

// unit is the i-th 16-bit piece of h (i from 0 to 3) as a number in (0, 1).
func unit(h uint64, i int) float64 {
	return (float64(h>>(16*i)&0xffff) + 0.5) / 65536
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
