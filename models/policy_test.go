package models_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// t0 is the time of the latest observation in the policy tests.
var t0 = time.Date(2025, 1, 6, 14, 0, 0, 0, time.UTC)

func policyTarget() models.Target {
	return models.Target{
		Name:               "web",
		Step:               time.Minute,
		CapacityPerReplica: 100,
		LeadTime:           2 * time.Minute,
		Margin:             time.Minute, // lead window (now, now+3m]
		Quantile:           0.9,
		MinReplicas:        1,
		MaxReplicas:        10,
		HoldFor:            5 * time.Minute,
	}
}

// policyInput is fresh data at t0: observed load at t0 and a forecast
// starting one step later (14:01, 14:02, ...).
func policyInput(observed float64, fc ...float64) models.PolicyInput {
	return models.PolicyInput{
		Target:        policyTarget(),
		Now:           t0,
		Forecast:      fc,
		ForecastStart: t0.Add(time.Minute),
		Observed:      observed,
		ObservedAt:    t0,
		DataStart:     t0.Add(-14 * 24 * time.Hour),
		DataEnd:       t0,
		ModelKind:     "harmonic",
		ModelVersion:  3,
	}
}

func TestRecommendPolicy(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	prev := func(n int) *models.Recommendation {
		return &models.Recommendation{Replicas: n, Time: t0.Add(-time.Minute)}
	}
	tests := []struct {
		name    string
		in      func() models.PolicyInput
		want    int
		won     string
		stale   bool
		fcSteps int     // forecast steps used
		fcMax   float64 // when fcSteps > 0
		short   bool
		reason  string // a substring of Reason
	}{
		{
			name: "forecast wins",
			in:   func() models.PolicyInput { return policyInput(300, 300, 412, 350, 900) },
			want: 5, won: models.WonForecast, fcSteps: 3, fcMax: 412,
			reason: "forecast q-0.9 provision 412.0 at 14:02 over the 3m lead window needs 5 replicas; observed load 300.0 needs 3; the forecast wins",
		},
		{
			name: "reactive wins",
			in:   func() models.PolicyInput { return policyInput(480, 200, 250, 220) },
			want: 5, won: models.WonReactive, fcSteps: 3, fcMax: 250,
			reason: "observed load 480.0 needs 5; the reactive floor wins",
		},
		{
			name: "tie goes to the forecast",
			in:   func() models.PolicyInput { return policyInput(450, 500) },
			want: 5, won: models.WonForecast, fcSteps: 1, fcMax: 500, short: true,
		},
		{
			name: "min clamp",
			in: func() models.PolicyInput {
				in := policyInput(50, 100, 90, 80)
				in.Target.MinReplicas = 3
				return in
			},
			want: 3, won: models.WonMin, fcSteps: 3, fcMax: 100, reason: "raised to min 3",
		},
		{
			name: "max clamp",
			in:   func() models.PolicyInput { return policyInput(300, 5000, 100, 100) },
			want: 10, won: models.WonMax, fcSteps: 3, fcMax: 5000, reason: "capped at max 10",
		},
		{
			name: "max below min: min wins",
			in: func() models.PolicyInput {
				in := policyInput(900, 900)
				in.Target.MinReplicas, in.Target.MaxReplicas = 4, 2
				return in
			},
			want: 4, won: models.WonMax, fcSteps: 1, fcMax: 900, short: true,
		},
		{
			name: "exact multiple is not rounded up",
			in:   func() models.PolicyInput { return policyInput(400, 400, 400, 400) },
			want: 4, won: models.WonForecast, fcSteps: 3, fcMax: 400,
		},
		{
			name: "exact multiple with float error (1.1/0.1)",
			in: func() models.PolicyInput {
				in := policyInput(0.7, 1.1)
				in.Target.CapacityPerReplica = 0.1
				in.Target.MaxReplicas = 100
				return in
			},
			want: 11, won: models.WonForecast, fcSteps: 1, fcMax: 1.1, short: true,
		},
		{
			name: "just above a multiple needs one more",
			in:   func() models.PolicyInput { return policyInput(400.0001, 100) },
			want: 5, won: models.WonReactive, fcSteps: 1, fcMax: 100, short: true,
		},
		{
			name: "spike at the window end is inside",
			in:   func() models.PolicyInput { return policyInput(100, 100, 100, 800, 100) },
			want: 8, won: models.WonForecast, fcSteps: 3, fcMax: 800, reason: "800.0 at 14:03",
		},
		{
			name: "spike one step after the window end is outside",
			in:   func() models.PolicyInput { return policyInput(100, 100, 100, 100, 800) },
			want: 1, won: models.WonForecast, fcSteps: 3, fcMax: 100,
		},
		{
			name: "spike a nanosecond after the window end is outside",
			in: func() models.PolicyInput {
				in := policyInput(100, 100, 100, 100, 800)
				in.Target.Margin += time.Minute - time.Nanosecond
				return in
			},
			want: 1, won: models.WonForecast, fcSteps: 3, fcMax: 100,
		},
		{
			name: "window end on a step with now off the grid",
			in: func() models.PolicyInput {
				in := policyInput(100, 100, 100, 100, 800)
				in.Target.Margin += time.Minute - time.Nanosecond
				in.Now = in.Now.Add(time.Nanosecond)
				return in
			},
			want: 8, won: models.WonForecast, fcSteps: 4, fcMax: 800,
		},
		{
			name: "step at now is excluded",
			in: func() models.PolicyInput {
				in := policyInput(100, 900, 100, 100, 100)
				in.Now = in.ForecastStart // 14:01: the 900 is the present
				in.ObservedAt = in.Now
				return in
			},
			want: 1, won: models.WonForecast, fcSteps: 3, fcMax: 100,
		},
		{
			name: "window between two steps uses the next step",
			in: func() models.PolicyInput {
				in := policyInput(100, 600, 900)
				in.Target.LeadTime, in.Target.Margin = 20*time.Second, 0
				in.Now = t0.Add(10 * time.Second)
				return in
			},
			want: 6, won: models.WonForecast, fcSteps: 1, fcMax: 600,
			reason: "no step falls in the window; the next step is used",
		},
		{
			name: "short forecast uses what is there",
			in:   func() models.PolicyInput { return policyInput(300, 300, 700) },
			want: 7, won: models.WonForecast, fcSteps: 2, fcMax: 700, short: true,
			reason: "(the forecast ends at 14:02, before the window does)",
		},
		{
			name: "forecast step defaults to the target step and can differ",
			in: func() models.PolicyInput {
				in := policyInput(100, 100, 100, 100, 700)
				in.ForecastStep = 45 * time.Second // 14:01, 14:01:45, 14:02:30, 14:03:15
				return in
			},
			want: 1, won: models.WonForecast, fcSteps: 3, fcMax: 100,
		},
		{
			name: "no forecast",
			in:   func() models.PolicyInput { return policyInput(420) },
			want: 5, won: models.WonReactive, reason: "no forecast; observed load 420.0 needs 5; reactive only",
		},
		{
			name: "forecast entirely in the past",
			in: func() models.PolicyInput {
				in := policyInput(420, 900, 900)
				in.Now = t0.Add(2 * time.Minute)
				in.ObservedAt = in.Now
				return in
			},
			want: 5, won: models.WonReactive, reason: "no forecast (it ends at 14:02, before now)",
		},
		{
			name: "NaN, Inf and negative forecast values are missing",
			in:   func() models.PolicyInput { return policyInput(420, nan, inf, -5, 900) },
			want: 5, won: models.WonReactive, reason: "no forecast (no usable value in the lead window)",
		},
		{
			name: "some forecast values missing",
			in:   func() models.PolicyInput { return policyInput(100, nan, 300, math.Inf(-1)) },
			want: 3, won: models.WonForecast, fcSteps: 1, fcMax: 300,
		},
		{
			name: "NaN observation with nothing else: min",
			in:   func() models.PolicyInput { return policyInput(nan) },
			want: 1, won: models.WonMin, stale: true, reason: "no observed load; nothing to go on: min 1",
		},
		{
			name: "negative observation is missing",
			in: func() models.PolicyInput {
				in := policyInput(-1, 300)
				in.Previous = prev(6)
				return in
			},
			want: 6, won: models.WonHeld, stale: true, fcSteps: 1, fcMax: 300, short: true,
		},
		{
			name: "infinite observation is missing",
			in:   func() models.PolicyInput { return policyInput(inf, 300, 300, 300) },
			want: 1, won: models.WonMin, stale: true, fcSteps: 3, fcMax: 300,
		},
		{
			name: "NaN capacity: nothing usable",
			in: func() models.PolicyInput {
				in := policyInput(300, 300)
				in.Target.CapacityPerReplica = nan
				return in
			},
			want: 1, won: models.WonMin, reason: "no valid capacity per replica",
		},
		{
			name: "stale within HoldFor holds the previous",
			in: func() models.PolicyInput {
				in := policyInput(300, 200, 200, 200)
				in.Now = t0.Add(4 * time.Minute) // stale since 14:02:30
				in.Previous = prev(8)
				return in
			},
			want: 8, won: models.WonHeld, stale: true, fcSteps: 0,
			reason: "data stale for 1m30s (latest observation at 14:00, stale after 2m30s); holding the previous 8 replicas, 3m30s of the 5m hold left",
		},
		{
			name: "stale beyond HoldFor does not go below the previous",
			in: func() models.PolicyInput {
				in := policyInput(300)
				in.Now = t0.Add(8 * time.Minute)
				in.Previous = prev(8)
				return in
			},
			want: 8, won: models.WonHeld, stale: true,
			reason: "past the 5m hold, fall back to the last known load: observed load 300.0 needs 3; not below the previous 8",
		},
		{
			name: "stale beyond HoldFor: reactive above the previous",
			in: func() models.PolicyInput {
				in := policyInput(900)
				in.Now = t0.Add(8 * time.Minute)
				in.Previous = prev(6)
				return in
			},
			want: 9, won: models.WonReactive, stale: true,
		},
		{
			name: "stale without a previous: reactive at once",
			in: func() models.PolicyInput {
				in := policyInput(300, 900)
				in.Now = t0.Add(3 * time.Minute)
				in.ForecastStart = in.Now.Add(time.Minute)
				return in
			},
			want: 3, won: models.WonReactive, stale: true, fcSteps: 1, fcMax: 900, short: true,
			reason: "needs 9 replicas (the forecast ends at 14:04, before the window does), not used while data is stale; data stale for 30s",
		},
		{
			name: "hold clamped to the current max",
			in: func() models.PolicyInput {
				in := policyInput(300)
				in.Now = t0.Add(3 * time.Minute)
				in.Previous = prev(40)
				return in
			},
			want: 10, won: models.WonHeld, stale: true,
		},
		{
			name: "old last fetch makes fresh-looking data stale",
			in: func() models.PolicyInput {
				in := policyInput(300, 200)
				in.Now = t0.Add(time.Minute)
				in.LastFetch = t0.Add(-2 * time.Minute)
				in.Previous = prev(7)
				return in
			},
			want: 7, won: models.WonHeld, stale: true, reason: "last fetch at 13:58",
		},
		{
			name: "explicit StaleAfter",
			in: func() models.PolicyInput {
				in := policyInput(300)
				in.Now = t0.Add(90 * time.Second)
				in.StaleAfter = time.Minute
				in.Previous = prev(7)
				return in
			},
			want: 7, won: models.WonHeld, stale: true, reason: "stale for 30s",
		},
		{
			name: "missing observation uses the previous one's load",
			in: func() models.PolicyInput {
				in := policyInput(math.NaN())
				in.ObservedAt = time.Time{}
				in.Now = t0.Add(10 * time.Minute)
				in.Previous = &models.Recommendation{
					Replicas: 2, Time: t0,
					Reactive: models.ReactivePart{Known: true, Load: 650, At: t0, Replicas: 7},
				}
				return in
			},
			want: 7, won: models.WonReactive, stale: true, reason: "observed load 650.0 needs 7",
		},
		{
			name: "missing observation holds from the previous answer",
			in: func() models.PolicyInput {
				in := policyInput(0)
				in.ObservedAt = time.Time{}
				in.Now = t0.Add(time.Minute)
				in.Previous = prev(6)
				return in
			},
			want: 6, won: models.WonHeld, stale: true, reason: "data missing for 2m",
		},
		{
			name: "recovery: fresh data after staleness resumes the policy",
			in: func() models.PolicyInput {
				in := policyInput(300, 300, 300, 300)
				in.Previous = &models.Recommendation{Replicas: 8, Won: models.WonHeld, Stale: true,
					StaleSince: t0.Add(-10 * time.Minute), Time: t0.Add(-time.Minute)}
				return in
			},
			want: 3, won: models.WonForecast, fcSteps: 3, fcMax: 300,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			r := models.Recommend(in)
			if r.Replicas != tt.want || r.Won != tt.won || r.Stale != tt.stale {
				t.Errorf("got %d replicas, won %q, stale %v; want %d, %q, %v\nreason: %s",
					r.Replicas, r.Won, r.Stale, tt.want, tt.won, tt.stale, r.Reason)
			}
			// Stale answers report the forecast too, only for the record.
			if r.Forecast.Steps != tt.fcSteps && !(tt.stale && tt.fcSteps == 0) {
				t.Errorf("forecast steps %d, want %d", r.Forecast.Steps, tt.fcSteps)
			}
			if tt.fcSteps > 0 && r.Forecast.Max != tt.fcMax {
				t.Errorf("forecast max %v, want %v", r.Forecast.Max, tt.fcMax)
			}
			if r.Forecast.Short != tt.short && tt.fcSteps > 0 {
				t.Errorf("short %v, want %v", r.Forecast.Short, tt.short)
			}
			if !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("reason %q\ndoes not contain %q", r.Reason, tt.reason)
			}
			if r.Stale != (r.StaleFor > 0 || !r.StaleSince.IsZero()) {
				t.Errorf("stale %v with StaleFor %v, StaleSince %v", r.Stale, r.StaleFor, r.StaleSince)
			}
			checkRecommendation(t, in, r)
		})
	}
}

// checkRecommendation checks what holds for every recommendation.
func checkRecommendation(t *testing.T, in models.PolicyInput, r models.Recommendation) {
	t.Helper()
	lo := max(in.Target.MinReplicas, 0)
	hi := max(in.Target.MaxReplicas, lo)
	if r.Replicas < lo || r.Replicas > hi {
		t.Errorf("replicas %d outside [%d, %d]", r.Replicas, lo, hi)
	}
	if r.Reason == "" {
		t.Error("empty reason")
	}
	switch r.Won {
	case models.WonForecast, models.WonReactive, models.WonMin, models.WonMax, models.WonHeld:
	default:
		t.Errorf("won %q", r.Won)
	}
	if r.Stale && in.Previous != nil && r.Replicas < min(max(in.Previous.Replicas, lo), hi) {
		t.Errorf("stale data lowered the recommendation from %d to %d", in.Previous.Replicas, r.Replicas)
	}
	if f := r.Forecast; f.Steps > 0 && (f.MaxAt.Before(f.From) || f.MaxAt.After(f.To) || !f.From.After(in.Now)) {
		t.Errorf("forecast max at %v outside the steps used (%v, %v] after %v", f.MaxAt, f.From, f.To, in.Now)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

// TestRecommendPolicyOutage replays a Prometheus outage minute by minute,
// feeding each answer back as the previous one: the recommendation is held
// for HoldFor, then never drops below it, and the policy resumes when data
// returns.
func TestRecommendPolicyOutage(t *testing.T) {
	target := policyTarget()
	forecastAt := func(now time.Time) []float64 { return []float64{200, 250, 200} } // needs 3
	var prev *models.Recommendation
	lastObs, lastLoad := t0, 600.0 // needs 6
	for m := 0; m <= 20; m++ {
		now := t0.Add(time.Duration(m) * time.Minute)
		outage := m >= 1 && m < 15
		in := models.PolicyInput{
			Target: target, Now: now,
			Forecast: forecastAt(now), ForecastStart: lastObs.Add(time.Minute),
			Observed: lastLoad, ObservedAt: lastObs, LastFetch: lastObs,
			Previous: prev,
		}
		if !outage {
			in.ObservedAt, in.LastFetch, in.ForecastStart = now, now, now.Add(time.Minute)
			lastObs = now
			if m > 0 {
				in.Observed = 100 // demand fell during the outage
			}
		}
		r := models.Recommend(in)
		staleSince := t0.Add(2*time.Minute + 30*time.Second)
		switch {
		case m == 0:
			if r.Replicas != 6 || r.Won != models.WonReactive || r.Stale {
				t.Fatalf("minute %d: %d %s stale=%v", m, r.Replicas, r.Won, r.Stale)
			}
		case outage && now.Sub(t0) <= 2*time.Minute+30*time.Second:
			if r.Stale || r.Replicas != 6 {
				t.Errorf("minute %d: not yet stale: %d %s stale=%v", m, r.Replicas, r.Won, r.Stale)
			}
		case outage && now.Before(staleSince.Add(target.HoldFor)):
			if !r.Stale || r.Won != models.WonHeld || r.Replicas != 6 || r.StaleFor != now.Sub(staleSince) {
				t.Errorf("minute %d: want held 6, got %d %s stale=%v for %v", m, r.Replicas, r.Won, r.Stale, r.StaleFor)
			}
		case outage:
			if !r.Stale || r.Replicas != 6 || !strings.Contains(r.Reason, "past the 5m hold") {
				t.Errorf("minute %d: want fallback not below 6, got %d %s: %s", m, r.Replicas, r.Won, r.Reason)
			}
		default:
			if r.Stale || r.Replicas != 3 || r.Won != models.WonForecast {
				t.Errorf("minute %d: want fresh forecast 3, got %d %s stale=%v", m, r.Replicas, r.Won, r.Stale)
			}
		}
		prev = &r
	}
}

func FuzzRecommendPolicy(f *testing.F) {
	f.Add(300.0, 100.0, 412.0, 350.0, 900.0, 1, 10, 5, true, int64(0), int64(0), int64(2*time.Minute), int64(time.Minute))
	f.Add(math.NaN(), 0.0, math.Inf(1), -1.0, 0.0, 0, 0, 0, false, int64(-1), int64(1<<62), int64(0), int64(0))
	f.Add(1.1, 0.1, 1.1, 1.1, 1.1, 3, 2, -4, true, int64(10*time.Minute), int64(time.Second), int64(-time.Hour), int64(1))
	f.Add(1e308, 1e-308, 1e308, 5e-324, math.NaN(), -5, math.MaxInt, math.MaxInt, true, int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, observed, capacity, f0, f1, f2 float64, minR, maxR, prevR int, hasPrev bool,
		obsAgo, fcOffset, lead, step int64) {
		target := policyTarget()
		target.CapacityPerReplica = capacity
		target.MinReplicas, target.MaxReplicas = minR, maxR
		target.LeadTime = time.Duration(lead)
		target.Step = time.Duration(step)
		in := models.PolicyInput{
			Target:        target,
			Now:           t0,
			Forecast:      []float64{f0, f1, f2},
			ForecastStart: t0.Add(time.Duration(fcOffset)),
			Observed:      observed,
			ObservedAt:    t0.Add(-time.Duration(obsAgo)),
		}
		if hasPrev {
			in.Previous = &models.Recommendation{Replicas: prevR, Time: t0.Add(-time.Minute)}
		}
		r := models.Recommend(in)
		checkRecommendation(t, in, r)
		if math.IsNaN(r.Forecast.Max) || math.IsNaN(r.Reactive.Load) {
			t.Errorf("NaN in the answer: %+v", r)
		}
	})
}

func BenchmarkRecommend(b *testing.B) {
	fc := make([]float64, 60)
	for i := range fc {
		fc[i] = 300 + 100*math.Sin(float64(i)/10)
	}
	in := policyInput(320, fc...)
	in.Target.LeadTime = 5 * time.Minute
	prev := models.Recommend(in)
	in.Previous = &prev
	b.ReportAllocs()
	for b.Loop() {
		prev = models.Recommend(in)
	}
}

func ExampleRecommend() {
	now := time.Date(2025, 1, 6, 14, 0, 0, 0, time.UTC)
	r := models.Recommend(models.PolicyInput{
		Target: models.Target{
			Name:               "web",
			Step:               time.Minute,
			CapacityPerReplica: 100, // requests/s one replica serves
			LeadTime:           2 * time.Minute,
			Margin:             time.Minute,
			Quantile:           0.9,
			MinReplicas:        2,
			MaxReplicas:        20,
			HoldFor:            10 * time.Minute,
		},
		Now: now,
		// The load provisioned at 0.9 for 14:01, 14:02, 14:03 and 14:04.
		Forecast:      []float64{330, 412, 380, 650},
		ForecastStart: now.Add(time.Minute),
		Observed:      300,
		ObservedAt:    now,
		ModelKind:     "harmonic",
		ModelVersion:  7,
	})
	fmt.Println(r.Replicas, r.Won)
	fmt.Println(r.Reason)
	// Output:
	// 5 forecast
	// forecast q-0.9 provision 412.0 at 14:02 over the 3m lead window needs 5 replicas; observed load 300.0 needs 3; the forecast wins
}

// TestRecommendNamesTheDynamics checks that the reason says how the
// model's short-horizon dynamics shaped the forecast, and only when they
// did.
func TestRecommendNamesTheDynamics(t *testing.T) {
	for _, tc := range []struct {
		name          string
		weight, scale float64
		want, not     string
	}{
		{"trend and wider intervals", 0.62, 2.1, "needs 4 replicas (the last minutes' trend weighs 62% at the lead; intervals 2.10× the calibrated width)", ""},
		{"narrower intervals only", 0, 0.5, "(intervals 0.50× the calibrated width)", "trend"},
		{"no dynamics", 0, 0, "", "("},
		{"dynamics that changed nothing", 0.001, 1.002, "", "("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := policyInput(100, 250, 310, 280)
			in.LocalWeight, in.IntervalScale = tc.weight, tc.scale
			r := models.Recommend(in)
			if !strings.Contains(r.Reason, tc.want) || (tc.not != "" && strings.Contains(r.Reason, tc.not)) {
				t.Errorf("reason %q: want %q in it and not %q", r.Reason, tc.want, tc.not)
			}
		})
	}
}

// TestRecommendForAnEvent checks that a known event in the lead window
// raises the forecast as its effect says, and that the reason names it:
// declared, and a known unknown.
func TestRecommendForAnEvent(t *testing.T) {
	for _, tc := range []struct {
		name, event string
		replicas    int
		want        string
	}{
		{"declared ×3", "multiplier: 3", 9, "for the 'match' event at 2025-01-06 14:02 UTC: load ×3 its usual, as declared"},
		{"declared load", "load: 450", 5, "load 450.0 at least, as declared"},
		{"a known unknown", "", 6, "no past occurrence and no declared effect, so the forecast is widened ×2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cal, err := events.Parse([]byte("events:\n  - {name: match, start: \""+t0.Add(2*time.Minute).Format(time.RFC3339)+"\", duration: 1h, "+tc.event+"}\n"), "cal.yaml")
			if err != nil {
				t.Fatal(err)
			}
			in := policyInput(100, 250, 280, 290)
			in.Events = events.Learn(cal, nil, t0, time.Minute)
			r := models.Recommend(in)
			if r.Replicas != tc.replicas || r.Won != models.WonForecast || !strings.Contains(r.Reason, tc.want) {
				t.Errorf("%d replicas (%s): %s; want %d and %q", r.Replicas, r.Won, r.Reason, tc.replicas, tc.want)
			}
		})
	}
	if r := models.Recommend(policyInput(100, 250, 280, 290)); r.Replicas != 3 || strings.Contains(r.Reason, "event") {
		t.Errorf("without a calendar: %d replicas, %s", r.Replicas, r.Reason)
	}
}

// TestRecommendSizesAnUnknownAsOthersWent checks that a known unknown on
// a target that has seen events of other names is sized as they went,
// and that the reason says so.
func TestRecommendSizesAnUnknownAsOthersWent(t *testing.T) {
	start := t0.Add(-8 * 24 * time.Hour)
	var b strings.Builder
	b.WriteString("events:\n")
	for d := 1; d < 7; d += 2 { // a sale at 02:00 every other day: eight times the usual load
		fmt.Fprintf(&b, "  - {name: sale, start: %q, duration: 1h}\n", start.Add(time.Duration(d)*24*time.Hour+12*time.Hour).Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "  - {name: match, start: %q, duration: 1h}\n", t0.Add(time.Minute).Format(time.RFC3339))
	cal, err := events.Parse([]byte(b.String()), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float64, 8*24*60)
	for i := range values {
		values[i] = 100
		if at := start.Add(time.Duration(i) * time.Minute); cal.Mask(1, at, time.Minute)[0] && at.Hour() == 2 {
			values[i] = 800
		}
	}
	in := policyInput(100, 250, 280, 290)
	in.Events = events.Learn(cal, values, start, time.Minute)
	r := models.Recommend(in)
	if want := "load ×8.00 its usual, as 3 past events of this target went"; r.Replicas != 8 || !strings.Contains(r.Reason, want) {
		t.Errorf("%d replicas: %s; want 8 and %q", r.Replicas, r.Reason, want)
	}
}

// TestRecommendHoldsACollapse replays load that falls at once to almost
// nothing, minute by minute, feeding each answer back as the previous one:
// the Twitter stream's last partial minute before its nightly gap reads 4
// where the minute before read 2,552, and acting on it scaled the
// workload down just before the load came back. A collapse holds the
// previous recommendation for HoldFor from its first point, then is taken
// as real; a fall to more than a tenth is followed at once.
func TestRecommendHoldsACollapse(t *testing.T) {
	target := policyTarget() // HoldFor 5m, 100 a replica
	type minute struct {
		load  float64 // NaN: no new data (the last point stays the latest)
		want  int
		won   string
		since time.Duration // CollapseSince - t0, -1 for none
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name    string
		minutes []minute
	}{
		{"a collapse that lasts is taken as real after the hold", []minute{
			{600, 6, models.WonForecast, -1},
			{4, 6, models.WonHeld, time.Minute},
			{3, 6, models.WonHeld, time.Minute},
			{5, 6, models.WonHeld, time.Minute},
			{4, 6, models.WonHeld, time.Minute},
			{4, 6, models.WonHeld, time.Minute},
			{4, 1, models.WonForecast, -1}, // 5m after 14:01
			{2, 1, models.WonForecast, -1}, // compared with 4 now
		}},
		{"a collapse before a gap never scales down", []minute{
			{600, 6, models.WonForecast, -1},
			{4, 6, models.WonHeld, time.Minute},
			{nan, 6, models.WonHeld, time.Minute},
			{nan, 6, models.WonHeld, time.Minute}, // stale from 14:03:30
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1},
			{nan, 6, models.WonHeld, -1}, // past the hold, not below 6
			{580, 6, models.WonForecast, -1},
		}},
		{"a fall to more than a tenth is followed at once", []minute{
			{600, 6, models.WonForecast, -1},
			{90, 1, models.WonForecast, -1},
		}},
		{"a collapse from a small load is not held above it", []minute{
			{600, 6, models.WonForecast, -1},
			{4, 6, models.WonHeld, time.Minute},
			{700, 7, models.WonForecast, -1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev *models.Recommendation
			lastAt, lastLoad := time.Time{}, 0.0
			for m, want := range tc.minutes {
				now := t0.Add(time.Duration(m) * time.Minute)
				if !math.IsNaN(want.load) {
					lastAt, lastLoad = now, want.load
				}
				// The model follows the load: its forecast is the last point.
				fc := lastLoad
				in := models.PolicyInput{
					Target: target, Now: now,
					Forecast: []float64{fc, fc, fc}, ForecastStart: lastAt.Add(time.Minute),
					Observed: lastLoad, ObservedAt: lastAt, LastFetch: lastAt,
					Previous: prev,
				}
				r := models.Recommend(in)
				checkRecommendation(t, in, r)
				since := time.Duration(-1)
				if !r.CollapseSince.IsZero() {
					since = r.CollapseSince.Sub(t0)
				}
				if r.Replicas != want.want || r.Won != want.won || since != want.since {
					t.Errorf("minute %d (load %v): %d %s collapse since %v, want %d %s since %v: %s",
						m, want.load, r.Replicas, r.Won, since, want.want, want.won, want.since, r.Reason)
				}
				if since > 0 && r.Won == models.WonHeld && !strings.Contains(r.Reason, "fell under a tenth of the 600.0 before it at 14:01, more often data going missing than demand gone; holding the previous 6 replicas") {
					t.Errorf("minute %d: reason %q does not name the collapse", m, r.Reason)
				}
				prev = &r
			}
		})
	}
}

// TestProvisionKeepsTheQuantileInEvents checks that the load provisioned
// is spent by density outside known events' windows and is the calibrated
// quantile within them (lead, event and lag), where the event's effect
// then adjusts it.
func TestProvisionKeepsTheQuantileInEvents(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	cal, err := events.Parse([]byte("events:\n  - {name: match, start: \""+t0.Add(time.Hour).Format(time.RFC3339)+"\", duration: 1h, lead: 30m}\n"), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fx := events.Learn(cal, nil, t0, time.Minute)
	c := forecast.Calibration{ReferenceSpread: 50}
	const point, offset, core, q, scale = 1000.0, 40.0, 20.0, 0.9, 1.2 // a spread well below the usual one
	density, quantile := c.Provision(point, offset, core, q, scale), c.Apply(point, offset, scale)
	if density == quantile {
		t.Fatalf("the density and the quantile agree (%v): the test cannot tell them apart", density)
	}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{0, density},                 // before the lead
		{40 * time.Minute, quantile}, // in the lead
		{90 * time.Minute, quantile}, // during the event
		{3 * time.Hour, density},     // long after
	} {
		if got := models.Provision(&c, fx, t0.Add(tc.at), point, offset, core, q, scale); got != tc.want {
			t.Errorf("at +%v: %v, want %v", tc.at, got, tc.want)
		}
	}
	if got := models.Provision(&c, nil, t0.Add(90*time.Minute), point, offset, core, q, scale); got != density {
		t.Errorf("without a calendar: %v, want the density's %v", got, density)
	}
}
