package synth_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/synth"
)

func generate(t testing.TB, opts *synth.Options) (*feed.Series, []synth.Event) {
	t.Helper()
	s, events, err := synth.FlashCrowds(opts)
	if err != nil {
		t.Fatalf("FlashCrowds: %v", err)
	}
	return s, events
}

// index returns the first grid point at or after at.
func index(s *feed.Series, at time.Time) int {
	return int((at.Sub(s.Start) + s.Step - 1) / s.Step)
}

func TestGrid(t *testing.T) {
	monday := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tuesday := time.Date(2025, 3, 4, 6, 30, 0, 0, time.UTC)
	tests := []struct {
		name  string
		opts  *synth.Options
		start time.Time
		step  time.Duration
		want  int
	}{
		{"defaults", nil, monday, time.Minute, 35 * 1440},
		{"a week of 5m", &synth.Options{Days: 7, Step: 5 * time.Minute}, monday, 5 * time.Minute, 7 * 288},
		{"a day of 30s", &synth.Options{Days: 1, Step: 30 * time.Second, Start: tuesday}, tuesday, 30 * time.Second, 2880},
		{"a step that does not divide a day", &synth.Options{Days: 3, Step: 7 * time.Minute}, monday, 7 * time.Minute, 3 * 1440 / 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := generate(t, tt.opts)
			if s.Len() != tt.want || !s.Start.Equal(tt.start) || s.Step != tt.step || s.Name != synth.Name {
				t.Fatalf("got %d points from %v every %v named %q, want %d from %v every %v named %q",
					s.Len(), s.Start, s.Step, s.Name, tt.want, tt.start, tt.step, synth.Name)
			}
		})
	}
}

func TestValuesFiniteNonNegative(t *testing.T) {
	tests := []struct {
		name string
		opts *synth.Options
	}{
		{"defaults", nil},
		{"extreme cycles and noise", &synth.Options{Seed: 3, Daily: 1, Weekly: 0.99, Noise: synth.MaxNoise, EventsPerDay: 3}},
		{"small counts", &synth.Options{Seed: 4, Capacity: 1, BaseReplicas: 0.5, Days: 7}},
		{"a coarse grid", &synth.Options{Seed: 5, Step: synth.MaxStep}},
		{"no noise", &synth.Options{Seed: 6, Noise: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := generate(t, tt.opts)
			for i, v := range s.Values {
				if !(v >= 0) || math.IsInf(v, 0) {
					t.Fatalf("value %d at %v is %v, want a finite load >= 0", i, s.Time(i), v)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	opts := &synth.Options{Seed: 7, Days: 14}
	a, aEvents := generate(t, opts)

	t.Run("the same seed gives the same trace", func(t *testing.T) {
		b, bEvents := generate(t, &synth.Options{Seed: 7, Days: 14})
		if !slices.Equal(a.Values, b.Values) {
			t.Fatal("two traces of seed 7 differ")
		}
		if !slices.Equal(aEvents, bEvents) {
			t.Fatalf("two traces of seed 7 have different crowds:\n%+v\n%+v", aEvents, bEvents)
		}
	})
	t.Run("another seed gives another trace", func(t *testing.T) {
		b, bEvents := generate(t, &synth.Options{Seed: 8, Days: 14})
		same := 0
		for i := range a.Values {
			if a.Values[i] == b.Values[i] {
				same++
			}
		}
		// Whole-number counts of a few hundred coincide now and then.
		if same > a.Len()/20 {
			t.Errorf("seeds 7 and 8 share %d of %d values", same, a.Len())
		}
		if len(aEvents) > 0 && len(bEvents) > 0 && aEvents[0] == bEvents[0] {
			t.Errorf("seeds 7 and 8 start with the same crowd %+v", aEvents[0])
		}
	})
	t.Run("the noise leaves the crowds in place", func(t *testing.T) {
		_, quiet := generate(t, &synth.Options{Seed: 7, Days: 14, Noise: -1})
		if !slices.Equal(aEvents, quiet) {
			t.Fatal("turning the noise off moved the crowds")
		}
	})
}

func TestEvents(t *testing.T) {
	tests := []struct {
		name    string
		opts    synth.Options
		clamped bool // whether some crowds are Clamped
	}{
		{"seed 0", synth.Options{Seed: 0}, false},
		{"seed 1", synth.Options{Seed: 1}, false},
		{"seed 2", synth.Options{Seed: 2}, false},
		{"seed 3", synth.Options{Seed: 3}, false},
		// 6 times a baseline of 1.3 to 4.8 replicas is mostly below 20.
		{"low baseline", synth.Options{Seed: 4, BaseReplicas: 3}, true},
		// 3 times a weekday afternoon's 64 replicas is 192: the factors
		// narrow towards 3 there.
		{"high baseline", synth.Options{Seed: 5, BaseReplicas: 40}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			s, events := generate(t, &opts)
			opts.Noise = -1
			smooth, _ := generate(t, &opts)
			opts.EventsPerDay = -1
			base, _ := generate(t, &opts)

			// About 52 expected; the gaps are exponential, so the count
			// varies like a Poisson count's (sd about 7) or less.
			want := synth.DefaultEventsPerDay * synth.DefaultDays
			if n := float64(len(events)); n < 0.6*want || n > 1.4*want {
				t.Errorf("%d crowds in %d days, want about %.0f", len(events), synth.DefaultDays, want)
			}
			clamped := 0
			for k, e := range events {
				plateau, decay := e.PlateauEnd.Sub(e.Peak), e.End.Sub(e.PlateauEnd)
				switch {
				case e.Start.Before(s.Start) || e.End.After(s.End()):
					t.Errorf("crowd %d from %v to %v is not within the trace", k, e.Start, e.End)
				case k > 0 && e.Start.Before(events[k-1].End):
					t.Errorf("crowd %d starts at %v, before crowd %d ends at %v", k, e.Start, k-1, events[k-1].End)
				case e.Ramp() < synth.DefaultMinRamp || e.Ramp() > synth.DefaultMaxRamp:
					t.Errorf("crowd %d ramps up in %v, want %v to %v", k, e.Ramp(), synth.DefaultMinRamp, synth.DefaultMaxRamp)
				case plateau < synth.MinPlateau || plateau > synth.MaxPlateau:
					t.Errorf("crowd %d holds its peak %v, want %v to %v", k, plateau, synth.MinPlateau, synth.MaxPlateau)
				case decay < synth.MinDecay || decay > synth.MaxDecay:
					t.Errorf("crowd %d decays in %v, want %v to %v", k, decay, synth.MinDecay, synth.MaxDecay)
				}
				checkPeak(t, k, e, s, smooth, base)
				if e.Clamped {
					clamped++
				}
			}
			if (clamped > 0) != tt.clamped {
				t.Errorf("%d of %d crowds clamped, want some: %v", clamped, len(events), tt.clamped)
			}
		})
	}
}

// checkPeak checks crowd k's peak: as drawn, in the noise-free trace and,
// within 25% for the noise, in the trace.
func checkPeak(t *testing.T, k int, e synth.Event, s, smooth, base *feed.Series) {
	t.Helper()
	const tol = 1e-9
	if e.PeakReplicas < synth.DefaultMinPeakReplicas-tol || e.PeakReplicas > synth.DefaultMaxPeakReplicas+tol {
		t.Errorf("crowd %d peaks at %.2f replicas, want %v to %v", k, e.PeakReplicas,
			synth.DefaultMinPeakReplicas, synth.DefaultMaxPeakReplicas)
	}
	if e.Clamped {
		if e.Factor <= synth.DefaultMaxFactor || math.Abs(e.PeakReplicas-synth.DefaultMinPeakReplicas) > tol {
			t.Errorf("clamped crowd %d has factor %.2f and peak %.2f replicas, want above %v and %v",
				k, e.Factor, e.PeakReplicas, synth.DefaultMaxFactor, synth.DefaultMinPeakReplicas)
		}
	} else if e.Factor < synth.DefaultMinFactor-tol || e.Factor > synth.DefaultMaxFactor+tol {
		t.Errorf("crowd %d has factor %.3f, want %v to %v", k, e.Factor, synth.DefaultMinFactor, synth.DefaultMaxFactor)
	}

	// The first point of the plateau; the baseline moves a little
	// between Peak and it.
	i := index(s, e.Peak)
	if f := smooth.Values[i] / base.Values[i]; math.Abs(f/e.Factor-1) > 0.02 {
		t.Errorf("crowd %d: the noise-free load at %v is %.3f times the baseline, want %.3f within 2%%",
			k, s.Time(i), f, e.Factor)
	}
	const noise = 0.25
	replicas := s.Values[i] / synth.DefaultCapacity
	if replicas < synth.DefaultMinPeakReplicas*(1-noise) || replicas > synth.DefaultMaxPeakReplicas*(1+noise) {
		t.Errorf("crowd %d: %.1f replicas at %v, want %v to %v within %v%%", k, replicas, s.Time(i),
			synth.DefaultMinPeakReplicas, synth.DefaultMaxPeakReplicas, 100*noise)
	}
	if f := s.Values[i] / base.Values[i]; !e.Clamped &&
		(f < synth.DefaultMinFactor*(1-noise) || f > synth.DefaultMaxFactor*(1+noise)) {
		t.Errorf("crowd %d: the load at %v is %.2f times the baseline, want %v to %v within %v%%", k, s.Time(i), f,
			synth.DefaultMinFactor, synth.DefaultMaxFactor, 100*noise)
	}
}

func TestIrregularTimes(t *testing.T) {
	_, events := generate(t, nil)
	var gaps []float64
	hours := map[int]bool{}
	for k, e := range events {
		hours[e.Start.Hour()] = true
		if k > 0 {
			gaps = append(gaps, e.Start.Sub(events[k-1].Start).Hours())
		}
	}
	mean, sd := meanSD(gaps)
	// A fixed grid has a coefficient of variation of 0; exponential gaps
	// after crowds of 1 to 6 hours have one of about 0.8.
	if sd/mean < 0.4 {
		t.Errorf("crowds start %.1f ± %.1f hours apart, want irregular gaps (sd at least 0.4 of the mean)", mean, sd)
	}
	if len(hours) < 12 {
		t.Errorf("crowds start in %d distinct hours of the day, want at least 12", len(hours))
	}
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

func TestCycles(t *testing.T) {
	s, events := generate(t, nil)
	crowd := make([]bool, s.Len())
	for _, e := range events {
		for i := index(s, e.Start); i < s.Len() && s.Time(i).Before(e.End); i++ {
			crowd[i] = true
		}
	}
	// Mean load by UTC hour of weekdays and weekends, outside the crowds.
	var sum, n [2][24]float64
	for i, v := range s.Values {
		if crowd[i] {
			continue
		}
		at := s.Time(i)
		weekend := 0
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend = 1
		}
		sum[weekend][at.Hour()] += v
		n[weekend][at.Hour()]++
	}
	mean := func(weekend, from, to int) float64 {
		var s, c float64
		for h := from; h < to; h++ {
			s, c = s+sum[weekend][h], c+n[weekend][h]
		}
		return s / c
	}

	t.Run("afternoon above night", func(t *testing.T) {
		// 1.568 over 0.641 times BaseReplicas with the default Daily:
		// 2.45 (the cycle's formula averaged over the minutes of the
		// hours, in Python).
		afternoon, night := mean(0, 13, 16), mean(0, 1, 4)
		if ratio := afternoon / night; math.Abs(ratio/2.45-1) > 0.05 {
			t.Errorf("weekday 13-16h mean %.1f is %.2f times the 01-04h mean %.1f, want 2.45 within 5%%", afternoon, ratio, night)
		}
	})
	t.Run("weekend lower", func(t *testing.T) {
		// Away from the midnight ramps.
		ratio := mean(1, 4, 20) / mean(0, 4, 20)
		if want := 1 - synth.DefaultWeekly; math.Abs(ratio-want) > 0.05 {
			t.Errorf("weekend/weekday load is %.3f, want %.2f ± 0.05", ratio, want)
		}
	})
	t.Run("weekday mean near BaseReplicas", func(t *testing.T) {
		want := synth.DefaultBaseReplicas * synth.DefaultCapacity
		if m := mean(0, 0, 24); math.Abs(m/want-1) > 0.05 {
			t.Errorf("weekday mean outside crowds %.1f, want %v within 5%%", m, want)
		}
	})
}

func TestFeaturesOff(t *testing.T) {
	s, events := generate(t, &synth.Options{Days: 7, BaseReplicas: 10, Daily: -1, Weekly: -1, Noise: -1, EventsPerDay: -1})
	if len(events) != 0 {
		t.Fatalf("%d crowds with EventsPerDay -1, want none", len(events))
	}
	for i, v := range s.Values {
		if math.Abs(v-10*synth.DefaultCapacity) > 1e-9 {
			t.Fatalf("value %d at %v is %v, want a flat %v with every feature off", i, s.Time(i), v, 10*synth.DefaultCapacity)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts *synth.Options
		bad  string // "" when valid
	}{
		{"nil", nil, ""},
		{"zero", &synth.Options{}, ""},
		{"everything off", &synth.Options{Daily: -1, Weekly: -1, Noise: -1, EventsPerDay: -1}, ""},
		{"limits", &synth.Options{Step: synth.MaxStep, Days: synth.MaxDays, Daily: 1, Weekly: 0.99, Noise: synth.MaxNoise,
			MinFactor: 1, MaxFactor: 1, MinRamp: synth.MaxStep, MaxRamp: synth.MaxStep, EventsPerDay: 4}, ""},
		{"negative step", &synth.Options{Step: -time.Minute}, "Step"},
		{"long step", &synth.Options{Step: time.Hour}, "Step"},
		{"negative days", &synth.Options{Days: -1}, "Days"},
		{"too many days", &synth.Options{Days: synth.MaxDays + 1}, "Days"},
		{"too many points", &synth.Options{Days: 200, Step: time.Second}, "Days"},
		{"negative capacity", &synth.Options{Capacity: -1}, "Capacity"},
		{"NaN capacity", &synth.Options{Capacity: math.NaN()}, "Capacity"},
		{"infinite capacity", &synth.Options{Capacity: math.Inf(1)}, "Capacity"},
		{"negative base", &synth.Options{BaseReplicas: -1}, "BaseReplicas"},
		{"NaN base", &synth.Options{BaseReplicas: math.NaN()}, "BaseReplicas"},
		{"base too high for the peaks", &synth.Options{BaseReplicas: 50}, "BaseReplicas"},
		{"daily above 1", &synth.Options{Daily: 1.5}, "Daily"},
		{"NaN daily", &synth.Options{Daily: math.NaN()}, "Daily"},
		{"weekly of 1", &synth.Options{Weekly: 1}, "Weekly"},
		{"too noisy", &synth.Options{Noise: 0.5}, "Noise"},
		{"NaN noise", &synth.Options{Noise: math.NaN()}, "Noise"},
		{"too many crowds", &synth.Options{EventsPerDay: 4}, "EventsPerDay"},
		{"NaN crowds", &synth.Options{EventsPerDay: math.NaN()}, "EventsPerDay"},
		{"factor below 1", &synth.Options{MinFactor: 0.5}, "MinFactor"},
		{"min factor above the default max", &synth.Options{MinFactor: 8}, "MaxFactor"},
		{"max factor below min", &synth.Options{MinFactor: 4, MaxFactor: 3.5}, "MaxFactor"},
		{"infinite max factor", &synth.Options{MaxFactor: math.Inf(1)}, "MaxFactor"},
		{"ramp shorter than the step", &synth.Options{Step: 5 * time.Minute, MinRamp: time.Minute}, "MinRamp"},
		{"negative ramp", &synth.Options{MinRamp: -time.Minute}, "MinRamp"},
		{"max ramp below min", &synth.Options{MinRamp: time.Hour, MaxRamp: 30 * time.Minute}, "MaxRamp"},
		{"negative min peak", &synth.Options{MinPeakReplicas: -1}, "MinPeakReplicas"},
		{"max peak below min", &synth.Options{MinPeakReplicas: 300}, "MaxPeakReplicas"},
		{"NaN max peak", &synth.Options{MaxPeakReplicas: math.NaN()}, "MaxPeakReplicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, synth.ErrOptions) || !strings.Contains(err.Error(), ": "+tt.bad+" ") {
				t.Fatalf("Validate = %v, want ErrOptions naming %s", err, tt.bad)
			}
			if _, _, err := synth.FlashCrowds(tt.opts); !errors.Is(err, synth.ErrOptions) {
				t.Fatalf("FlashCrowds = %v, want ErrOptions", err)
			}
		})
	}
}

func BenchmarkFlashCrowds(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := synth.FlashCrowds(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleFlashCrowds() {
	s, events, err := synth.FlashCrowds(nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d points every %v from %s\n", s.Name, s.Len(), s.Step, s.Start.Format(time.DateOnly))
	fmt.Printf("%d flash crowds\n", len(events))
	for _, e := range events[:3] {
		fmt.Printf("%s: %v ramp to %.0f replicas (%.1fx)\n", e.Start.Format("Mon Jan 2 15:04"), e.Ramp(), e.PeakReplicas, e.Factor)
	}
	// Output:
	// flash-crowds: 50400 points every 1m0s from 2026-01-05
	// 50 flash crowds
	// Mon Jan 5 21:10: 1h31m59s ramp to 46 replicas (3.5x)
	// Tue Jan 6 10:40: 1h57m36s ramp to 167 replicas (5.4x)
	// Wed Jan 7 01:31: 1h38m58s ramp to 69 replicas (5.4x)
}
