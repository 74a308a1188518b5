package demo_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/demo"
	"github.com/prescale/prescale/forecast"
)

// The method set of registry.Source, checked here without importing models.
var _ interface {
	Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error)
} = (*demo.Source)(nil)

// monday is a Monday, 00:00 UTC.
var monday = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

func newSource(t testing.TB, opts *demo.Options) *demo.Source {
	t.Helper()
	s, err := demo.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func rangeOf(t testing.TB, s *demo.Source, query string, start, end time.Time, step time.Duration) *feed.Series {
	t.Helper()
	series, err := s.Range(t.Context(), query, start, end, step)
	if err != nil {
		t.Fatalf("Range(%q, %v, %v, %v): %v", query, start, end, step, err)
	}
	return series
}

func TestRangeGrid(t *testing.T) {
	s := newSource(t, nil)
	start := monday.Add(90 * time.Second)
	tests := []struct {
		name string
		end  time.Time
		step time.Duration
		want int
	}{
		{"one point", start, time.Minute, 1},
		{"end on the grid", start.Add(10 * time.Minute), time.Minute, 11},
		{"end between points", start.Add(10*time.Minute + 59*time.Second), time.Minute, 11},
		{"two weeks of 5m", start.Add(14 * 24 * time.Hour), 5 * time.Minute, 4033},
		{"sub-second step", start.Add(time.Second), 100 * time.Millisecond, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rangeOf(t, s, demo.Query, start, tt.end, tt.step)
			if got.Len() != tt.want || !got.Start.Equal(start) || got.Step != tt.step || got.Name != demo.Query {
				t.Fatalf("got %d points from %v every %v named %q, want %d from %v every %v named %q",
					got.Len(), got.Start, got.Step, got.Name, tt.want, start, tt.step, demo.Query)
			}
			for i, v := range got.Values {
				if !(v > 0) || math.IsInf(v, 0) {
					t.Fatalf("value %d at %v is %v, want a positive finite load", i, got.Time(i), v)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	start := monday.Add(3*24*time.Hour + 7*time.Hour)
	end := start.Add(6 * time.Hour)
	a := rangeOf(t, newSource(t, &demo.Options{Seed: 7}), demo.Query, start, end, time.Minute)

	t.Run("a new source gives the same values", func(t *testing.T) {
		b := rangeOf(t, newSource(t, &demo.Options{Seed: 7}), demo.Query, start, end, time.Minute)
		if !slices.Equal(a.Values, b.Values) {
			t.Fatal("two sources with the same seed differ")
		}
	})
	t.Run("a time has one value whatever the grid", func(t *testing.T) {
		s := newSource(t, &demo.Options{Seed: 7})
		// Start an hour earlier with a 20s step: every third point is a's.
		wide := rangeOf(t, s, demo.Query, start.Add(-time.Hour), end, 20*time.Second)
		for i, v := range a.Values {
			j := (i + 60) * 3 // an hour of 20s steps is 180
			if wide.Values[j] != v {
				t.Fatalf("at %v: %v on a 1m grid, %v on a 20s grid", a.Time(i), v, wide.Values[j])
			}
		}
		one := rangeOf(t, s, demo.Query, a.Time(100), a.Time(100), time.Hour)
		if one.Values[0] != a.Values[100] {
			t.Fatalf("at %v: %v alone, %v in a range", a.Time(100), one.Values[0], a.Values[100])
		}
	})
	t.Run("demo:0 is demo", func(t *testing.T) {
		b := rangeOf(t, newSource(t, &demo.Options{Seed: 7}), "demo:0", start, end, time.Minute)
		if !slices.Equal(a.Values, b.Values) {
			t.Fatal(`"demo:0" differs from "demo"`)
		}
	})
	t.Run("seeds and variants differ", func(t *testing.T) {
		other := rangeOf(t, newSource(t, &demo.Options{Seed: 8}), demo.Query, start, end, time.Minute)
		v1 := rangeOf(t, newSource(t, &demo.Options{Seed: 7}), "demo:1", start, end, time.Minute)
		v2 := rangeOf(t, newSource(t, &demo.Options{Seed: 7}), "demo:2", start, end, time.Minute)
		for name, s := range map[string]*feed.Series{"seed 8": other, "demo:1": v1, "demo:2": v2} {
			same := 0
			for i := range s.Values {
				if s.Values[i] == a.Values[i] {
					same++
				}
			}
			if same > 0 {
				t.Errorf("%s shares %d of %d values with seed 7's demo", name, same, s.Len())
			}
		}
	})
}

// hourMeans returns the mean load of each UTC hour of the day, over
// weekdays and over weekends.
func hourMeans(s *feed.Series) (weekday, weekend [24]float64) {
	var nd, ne [24]int
	for i, v := range s.Values {
		at := s.Time(i)
		h := at.Hour()
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend[h] += v
			ne[h]++
		} else {
			weekday[h] += v
			nd[h]++
		}
	}
	for h := range 24 {
		weekday[h] /= float64(nd[h])
		weekend[h] /= float64(ne[h])
	}
	return weekday, weekend
}

func mean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

func TestShape(t *testing.T) {
	s := newSource(t, nil)
	series := rangeOf(t, s, demo.Query, monday, monday.Add(28*24*time.Hour), 5*time.Minute)
	weekday, weekend := hourMeans(series)

	t.Run("afternoon above night", func(t *testing.T) {
		afternoon, night := mean(weekday[13:17]), mean(weekday[1:5])
		if ratio := afternoon / night; ratio < 2 {
			t.Errorf("weekday 13-17h mean %.1f is %.2f times the 01-05h mean %.1f, want at least 2", afternoon, ratio, night)
		}
		peak := slices.Index(weekday[:], slices.Max(weekday[:]))
		trough := slices.Index(weekday[:], slices.Min(weekday[:]))
		if peak < 13 || peak > 17 || trough < 1 || trough > 5 {
			t.Errorf("weekday peak at %02d:00 and trough at %02d:00, want the afternoon and the night", peak, trough)
		}
	})
	t.Run("weekend lower", func(t *testing.T) {
		// Away from the midnight ramps.
		ratio := mean(weekend[4:20]) / mean(weekday[4:20])
		if math.Abs(ratio-(1-demo.DefaultWeekly)) > 0.05 {
			t.Errorf("weekend/weekday load is %.3f, want %.2f ± 0.05", ratio, 1-demo.DefaultWeekly)
		}
	})
	t.Run("mean near Base", func(t *testing.T) {
		// Weekdays average a little above Base: spikes add to it.
		if m := mean(weekday[:]); math.Abs(m/demo.DefaultBase-1) > 0.1 {
			t.Errorf("weekday mean %.1f, want within 10%% of %v", m, demo.DefaultBase)
		}
	})
	t.Run("variants change level or phase", func(t *testing.T) {
		v := rangeOf(t, s, "demo:3", monday, monday.Add(14*24*time.Hour), 5*time.Minute)
		vd, _ := hourMeans(v)
		level := mean(vd[:]) / mean(weekday[:])
		peak := slices.Index(vd[:], slices.Max(vd[:]))
		basePeak := slices.Index(weekday[:], slices.Max(weekday[:]))
		if math.Abs(level-1) < 0.05 && peak == basePeak {
			t.Errorf("demo:3 is %.2f times demo with its peak at the same hour, want another level or phase", level)
		}
	})
}

// spike is a run of points where the load is raised by a spike.
type spike struct {
	start, end time.Time
	factor     float64
}

// spikes finds the spikes of series by comparing it with the same
// workload without spikes.
func spikes(t *testing.T, with, without *feed.Series) []spike {
	t.Helper()
	var out []spike
	for i, v := range with.Values {
		f := v / without.Values[i]
		switch {
		case f < 1.0000001:
			continue
		case len(out) > 0 && out[len(out)-1].end.Equal(with.Time(i)):
			last := &out[len(out)-1]
			last.end = with.Time(i + 1)
			if math.Abs(last.factor-f) > 1e-9 {
				t.Fatalf("spike factor changes within a spike at %v: %v then %v", with.Time(i), last.factor, f)
			}
		default:
			out = append(out, spike{start: with.Time(i), end: with.Time(i + 1), factor: f})
		}
	}
	return out
}

func TestSpikes(t *testing.T) {
	const days = 60
	start, end := monday, monday.Add(days*24*time.Hour)
	with := rangeOf(t, newSource(t, &demo.Options{Seed: 1}), demo.Query, start, end, time.Minute)
	without := rangeOf(t, newSource(t, &demo.Options{Seed: 1, SpikeRate: -1}), demo.Query, start, end, time.Minute)
	found := spikes(t, with, without)

	// 1440 hours each holding a spike with probability 1/8: 180 ± 12.5.
	want := days * demo.DefaultSpikeRate
	if n := float64(len(found)); math.Abs(n-want) > 4*math.Sqrt(want*(1-demo.DefaultSpikeRate/24)) {
		t.Errorf("%d spikes in %d days, want about %v", len(found), days, want)
	}
	for _, s := range found {
		d := s.end.Sub(s.start)
		if d < 2*time.Minute || d > 8*time.Minute {
			t.Errorf("spike at %v lasts %v, want 3 to 7 minutes of 1m points", s.start, d)
		}
		if s.factor < 2-1e-9 || s.factor > 3+1e-9 {
			t.Errorf("spike at %v multiplies the load by %.3f, want 2 to 3", s.start, s.factor)
		}
	}
}

func TestNeverNegative(t *testing.T) {
	s := newSource(t, &demo.Options{Daily: 1, Weekly: 0.99, Noise: demo.MaxNoise})
	series := rangeOf(t, s, "demo:5", monday, monday.Add(14*24*time.Hour), time.Minute)
	if m := slices.Min(series.Values); !(m >= 0) {
		t.Fatalf("minimum load %v, want >= 0", m)
	}
}

func TestFeaturesOff(t *testing.T) {
	s := newSource(t, &demo.Options{Base: 100, Daily: -1, Weekly: -1, Noise: -1, SpikeRate: -1})
	series := rangeOf(t, s, demo.Query, monday, monday.Add(7*24*time.Hour), 7*time.Minute)
	for i, v := range series.Values {
		if math.Abs(v-100) > 1e-9 {
			t.Fatalf("value %d at %v is %v, want a flat 100 with every feature off", i, series.Time(i), v)
		}
	}
}

func TestRangeErrors(t *testing.T) {
	s := newSource(t, nil)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		query    string
		end      time.Time
		step     time.Duration
		want     error
		contains string
	}{
		{"prometheus query", t.Context(), "sum(rate(http_requests_total[5m]))", monday, time.Minute, demo.ErrQuery,
			`demo: unknown query "sum(rate(http_requests_total[5m]))"; the demo source serves "demo" and "demo:<n>"`},
		{"empty query", t.Context(), "", monday, time.Minute, demo.ErrQuery, `unknown query ""`},
		{"variant not a number", t.Context(), "demo:x", monday, time.Minute, demo.ErrQuery, `"demo:x"`},
		{"negative variant", t.Context(), "demo:-1", monday, time.Minute, demo.ErrQuery, `"demo:-1"`},
		{"no variant", t.Context(), "demo:", monday, time.Minute, demo.ErrQuery, `"demo:"`},
		{"prefix only", t.Context(), "demonstration", monday, time.Minute, demo.ErrQuery, `"demonstration"`},
		{"zero step", t.Context(), demo.Query, monday, 0, demo.ErrRange, "step 0s is not positive"},
		{"negative step", t.Context(), demo.Query, monday, -time.Minute, demo.ErrRange, "step -1m0s is not positive"},
		{"end before start", t.Context(), demo.Query, monday.Add(-time.Second), time.Minute, demo.ErrRange, "is before start"},
		{"too many points", t.Context(), demo.Query, monday.Add(365 * 24 * time.Hour), time.Second, demo.ErrRange, "more than 10000000"},
		{"canceled", canceled, demo.Query, monday.Add(time.Hour), time.Minute, context.Canceled, `demo: range "demo": context canceled`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Range(tt.ctx, tt.query, monday, tt.end, tt.step)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("Range = %v, %v; want an error matching %v and containing %q", got, err, tt.want, tt.contains)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts *demo.Options
		bad  string // "" when valid
	}{
		{"nil", nil, ""},
		{"zero", &demo.Options{}, ""},
		{"everything off", &demo.Options{Daily: -1, Weekly: -1, Noise: -1, SpikeRate: -1}, ""},
		{"limits", &demo.Options{Daily: 1, Weekly: 0.99, Noise: demo.MaxNoise, SpikeRate: demo.MaxSpikeRate,
			SpikeHeight: 1, SpikeDuration: demo.MaxSpikeDuration}, ""},
		{"negative base", &demo.Options{Base: -1}, "Base"},
		{"NaN base", &demo.Options{Base: math.NaN()}, "Base"},
		{"infinite base", &demo.Options{Base: math.Inf(1)}, "Base"},
		{"daily above 1", &demo.Options{Daily: 1.5}, "Daily"},
		{"NaN daily", &demo.Options{Daily: math.NaN()}, "Daily"},
		{"weekly of 1", &demo.Options{Weekly: 1}, "Weekly"},
		{"too noisy", &demo.Options{Noise: 0.5}, "Noise"},
		{"NaN noise", &demo.Options{Noise: math.NaN()}, "Noise"},
		{"too many spikes", &demo.Options{SpikeRate: 25}, "SpikeRate"},
		{"spikes that dip", &demo.Options{SpikeHeight: 0.5}, "SpikeHeight"},
		{"NaN spike height", &demo.Options{SpikeHeight: math.NaN()}, "SpikeHeight"},
		{"negative spike duration", &demo.Options{SpikeDuration: -time.Minute}, "SpikeDuration"},
		{"long spikes", &demo.Options{SpikeDuration: time.Hour}, "SpikeDuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				if _, err := demo.New(tt.opts); err != nil {
					t.Fatalf("New = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, demo.ErrOptions) || !strings.Contains(err.Error(), tt.bad) {
				t.Fatalf("Validate = %v, want ErrOptions naming %s", err, tt.bad)
			}
			if _, err := demo.New(tt.opts); !errors.Is(err, demo.ErrOptions) {
				t.Fatalf("New = %v, want ErrOptions", err)
			}
		})
	}
}

// TestLive checks that a range up to now ends at now: the workload needs
// no stored data.
func TestLive(t *testing.T) {
	s := newSource(t, nil)
	now := time.Now()
	series := rangeOf(t, s, demo.Query, now.Add(-time.Hour), now, time.Minute)
	if last := series.Time(series.Len() - 1); !last.Equal(now) {
		t.Fatalf("last point at %v, want now (%v)", last, now)
	}
}

// TestFitFindsDailySeason fits two weeks of 5-minute points: the daily
// season, 288 steps, must be found.
func TestFitFindsDailySeason(t *testing.T) {
	step := 5 * time.Minute
	series := rangeOf(t, newSource(t, nil), demo.Query, monday, monday.Add(14*24*time.Hour), step)
	f, err := forecast.Fit(series.Values, &forecast.Options{Model: forecast.KindNaive, Step: step, Horizon: 12})
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	const daily = 288
	if !slices.ContainsFunc(f.Detected, func(s forecast.Season) bool { return s.Period == daily }) {
		t.Fatalf("detected seasons %+v, want one of %d steps (a day)", f.Detected, daily)
	}
	if !slices.Contains(f.Seasons, daily) {
		t.Fatalf("the model uses seasons %v, want %d among them", f.Seasons, daily)
	}
}

func BenchmarkRange(b *testing.B) {
	s := newSource(b, nil)
	start := monday
	end := start.Add(14 * 24 * time.Hour)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Range(ctx, demo.Query, start, end, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleSource_Range() {
	src, err := demo.New(nil)
	if err != nil {
		panic(err)
	}
	wednesday := time.Date(2024, 3, 6, 15, 0, 0, 0, time.UTC)
	sunday := time.Date(2024, 3, 10, 3, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{wednesday, sunday} {
		s, err := src.Range(context.Background(), demo.Query, at, at.Add(2*time.Minute), time.Minute)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %.0f\n", at.Format("Mon 15:04"), s.Values)
	}
	// Output:
	// Wed 15:00: [632 668 605]
	// Sun 03:00: [143 147 143]
}
