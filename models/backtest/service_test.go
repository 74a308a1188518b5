package backtest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// seriesSource serves a series as Prometheus would: the grid points in
// [start, end], NaN where the series has no value.
type seriesSource struct{ s *feed.Series }

func (src seriesSource) Range(_ context.Context, _ string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	if step != src.s.Step {
		return nil, errors.New("step mismatch")
	}
	n := int(end.Sub(start)/step) + 1
	out := &feed.Series{Start: start, Step: step, Values: make([]float64, n)}
	for i := range out.Values {
		k := int(start.Add(time.Duration(i)*step).Sub(src.s.Start) / step)
		out.Values[i] = math.NaN()
		if k >= 0 && k < len(src.s.Values) {
			out.Values[i] = src.s.Values[k]
		}
	}
	return out, nil
}

// halfSource makes rand.Float64 return 0.5: the registry's refit jitter
// factor is then exactly 1, as in the backtest.
type halfSource struct{}

func (halfSource) Uint64() uint64 { return 1 << 52 }

// serviceSeries is two days at one minute with an hourly cycle, noise, a
// level shift, a short gap, a gap longer than half the history (the model
// and detector fall behind) and one longer than the history (fits fail).
func serviceSeries() *feed.Series {
	rng := rand.New(rand.NewPCG(7, 11))
	s := &feed.Series{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Step: time.Minute, Values: make([]float64, 2*1440)}
	for i := range s.Values {
		level := 200.0
		if i >= 1100 {
			level = 420 // a level shift
		}
		s.Values[i] = level + 80*math.Sin(2*math.Pi*float64(i)/60) + 10*rng.NormFloat64()
		switch {
		case i >= 900 && i < 915: // a short gap
			s.Values[i] = math.NaN()
		case i >= 1500 && i < 1700: // longer than half the history
			s.Values[i] = math.NaN()
		case i >= 2100 && i < 2500: // longer than the history
			s.Values[i] = math.NaN()
		}
	}
	return s
}

// TestBacktestReplaysTheService runs one series through the registry, driven
// step by step by a fake clock, and through the backtest's replay of the
// prescale policy: both must fit at the same steps, fail at the same steps
// and recommend the same replicas from the same forecast, step for step;
// without a calendar, and with one whose windows hold refits (a fit's
// history then ends in a gap the model is caught up through).
func TestBacktestReplaysTheService(t *testing.T) {
	t.Run("no events", func(t *testing.T) { replaysTheService(t, nil) })
	t.Run("events", func(t *testing.T) {
		replaysTheService(t, []events.Spec{
			{Name: "promo", Start: "2026-03-02T06:40:00Z", Duration: "2h", Lead: "20m", Multiplier: 2},
			{Name: "promo", Start: "2026-03-02T19:00:00Z", Duration: "90m", Lead: "20m", Lag: "10m"},
			{Name: "gala", Start: "2026-03-03T11:30:00Z", Duration: "3h", Lead: "30m"},
		})
	})
}

func replaysTheService(t *testing.T, specs []events.Spec) {
	series := serviceSeries()
	c, err := Config{
		CapacityPerReplica: 50,
		Startup:            Startup{Kind: StartupFixed, A: 3 * time.Minute},
		Sync:               series.Step,
		Lead:               5 * time.Minute,
		History:            6 * time.Hour,
		RefitInterval:      30 * time.Minute,
		MinHistory:         3 * time.Hour,
		Seasons:            []time.Duration{time.Hour},
		Model:              "holtwinters",
		Policies:           []string{Prescale},
		Workers:            2,
	}.withDefaults(series.Step)
	if err != nil {
		t.Fatal(err)
	}
	target := c.target(series.Step)
	target.Name, target.Query, target.Events = "web", "load", specs
	if err := target.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Events, err = target.Calendar(); err != nil {
		t.Fatal(err)
	}
	from := int(c.MinHistory/series.Step) - 1

	// The backtest.
	d := &data{values: series.Values, start: series.Start, step: series.Step, lastObs: make([]int32, len(series.Values))}
	last := int32(-1)
	for i, v := range d.values {
		if !math.IsNaN(v) {
			last = int32(i)
		}
		d.lastObs[i] = last
	}
	res := &Result{}
	fc, err := prescaleForecasts(context.Background(), d, &c, []float64{0.1, c.Quantile, 0.9}, res)
	if err != nil {
		t.Fatal(err)
	}
	replayed := &replay{c: &c, d: d, fc: fc, policy: Prescale, knob: c.Quantile}
	staleAfter := c.Lag + models.StaleAfter(&target, 0)
	buf := make([]float64, fc.h)
	backtestFits := map[int]bool{}
	for _, j := range fc.fits {
		backtestFits[j] = true
	}

	// The service.
	now := series.Time(from)
	r, err := registry.New(seriesSource{series}, &registry.Options{
		Now:  func() time.Time { return now },
		Rand: rand.New(halfSource{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(target, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	var prev *models.Recommendation
	var generation, fitErrors uint64
	serviceFits, failed, compared := 0, 0, 0
	for j := from; j < len(series.Values); j++ {
		now = series.Time(j)
		r.RunDue(ctx)
		st, err := r.Get(target.Name)
		if err != nil {
			t.Fatal(err)
		}
		fitted := st.Generation > generation
		generation = st.Generation
		if fitted {
			serviceFits++
		}
		if st.FitErrors > fitErrors {
			failed += int(st.FitErrors - fitErrors)
		}
		fitErrors = st.FitErrors
		if fitted != backtestFits[j] {
			t.Errorf("step %d (%s): the service fitted %v, the backtest %v", j, now.Format(time.TimeOnly), fitted, backtestFits[j])
		}

		want := replayed.recommend(now, &target, staleAfter, prev, buf)
		prev = &want
		got, err := r.Recommendation(target.Name)
		if err != nil {
			t.Fatalf("step %d: %v", j, err)
		}
		if got.Replicas != want.Replicas || got.Won != want.Won || got.Stale != want.Stale ||
			got.Forecast != want.Forecast || got.Reactive != want.Reactive ||
			// The reason too, dynamics included; a stale one names the
			// service's last fetch, which the replay has no clock for.
			!got.Stale && got.Reason != want.Reason {
			t.Errorf("step %d (%s): the service recommends %d (%s, stale %v, forecast %+v, reactive %+v: %s)\nthe backtest %d (%s, stale %v, forecast %+v, reactive %+v: %s)",
				j, now.Format(time.TimeOnly), got.Replicas, got.Won, got.Stale, got.Forecast, got.Reactive, got.Reason,
				want.Replicas, want.Won, want.Stale, want.Forecast, want.Reactive, want.Reason)
		}
		compared++
		if t.Failed() && compared > 20 {
			t.FailNow()
		}
	}
	if serviceFits != len(fc.fits) || failed != fc.failed {
		t.Errorf("the service made %d fits (%d failed), the backtest %d (%d failed)", serviceFits, failed, len(fc.fits), fc.failed)
	}
	if len(res.LevelShifts) == 0 || failed == 0 {
		t.Errorf("the series should exercise a level shift (%d found) and failing fits (%d)", len(res.LevelShifts), failed)
	}
	t.Logf("%d steps compared, %d fits, %d failed, %d level shifts", compared, serviceFits, failed, len(res.LevelShifts))
}
