package events

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestLearnAndAdjust checks, on a daily cycle where every "sale" triples
// the load for its two hours, that the effect is learned (about 3× over
// the window, 1× outside), that a declared multiplier is used until
// MinLearned occurrences are seen, and that an event with neither is a
// known unknown that widens the forecast.
func TestLearnAndAdjust(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 5 * time.Minute
	n := 30 * 288
	var b strings.Builder
	b.WriteString("events:\n")
	// Sales every third day at 14:00 for 2 hours, from day 8; a "gala"
	// on day 29 with no history and nothing declared.
	for d := 8; d < 29; d += 3 {
		fmt.Fprintf(&b, "  - {name: sale, start: \"2026-01-%02dT14:00:00\", duration: 2h, lead: 30m, multiplier: 2}\n", d+1)
	}
	b.WriteString("  - {name: gala, start: \"2026-01-30T20:00:00\", duration: 1h}\n")
	c, err := Parse([]byte(b.String()), "sales.yaml")
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float64, n)
	mask := c.Mask(n, start, step)
	for i := range values {
		at := start.Add(time.Duration(i) * step)
		h := float64(at.Hour()) + float64(at.Minute())/60
		values[i] = 100 + 50*math.Sin(2*math.Pi*h/24)
		if o, ok := c.at(at); ok && !at.Before(o.Start) && at.Before(o.End) {
			values[i] *= 3
		}
	}
	if !mask[int(time.Date(2026, 1, 9, 13, 40, 0, 0, time.UTC).Sub(start)/step)] || mask[int(time.Date(2026, 1, 9, 13, 25, 0, 0, time.UTC).Sub(start)/step)] {
		t.Errorf("the mask does not open the sale's window 30 minutes before it")
	}

	before := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC) // forecasts made before any window
	// With the first two sales only, the declared ×2 is used.
	early := Learn(c, values[:12*288], start, step)
	at := time.Date(2026, 1, 27, 15, 0, 0, 0, time.UTC)
	if v, u := early.Adjust(100, at, before, 0.9); v != 200 || u == nil || u.Source != "declared" || u.Learned != 2 {
		t.Errorf("after 2 sales: %v, %+v; want 200, declared, 2 learned", v, u)
	}
	// With all of them, the learned effect: 3× during the sale, 1× in the
	// lead before it.
	e := Learn(c, values[:29*288], start, step)
	if e.Learned("sale") != 7 {
		t.Fatalf("learned from %d sales, want 7", e.Learned("sale"))
	}
	if v, u := e.Adjust(100, at, before, 0.9); math.Abs(v-300) > 5 || u.Source != "learned" {
		t.Errorf("during a sale: %v, %+v; want 300, learned", v, u)
	}
	if v, u := e.Adjust(100, at.Add(-80*time.Minute), before, 0.9); math.Abs(v-100) > 2 || u == nil {
		t.Errorf("in the lead before a sale: %v, %+v; want 100", v, u)
	}
	gala := time.Date(2026, 1, 30, 20, 30, 0, 0, time.UTC)
	if v, u := e.Adjust(100, gala, gala.Add(-time.Hour), 0.9); v != 200 || u.Source != "unknown" {
		t.Errorf("the gala, forecast before it: %v, %+v; want 200 (widened), unknown", v, u)
	}
	if v, u := e.Adjust(100, time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC), before, 0.9); v != 100 || u != nil {
		t.Errorf("outside events: %v, %+v", v, u)
	}

	// Forecasts made during an event: the model has taken its load so
	// far, so only the factor's growth since then counts: in a sale, from
	// its lead (1×) to its middle (3×), all of it; from its start on,
	// nothing more. The gala, a known unknown, stays widened.
	if v, _ := e.Adjust(100, gala, gala.Add(-10*time.Minute), 0.9); v != 200 {
		t.Errorf("the gala, forecast during it: %v, want 200", v)
	}
	if v, _ := e.Adjust(100, at, at.Add(-85*time.Minute), 0.9); math.Abs(v-300) > 5 {
		t.Errorf("a sale, forecast in its lead: %v, want 300", v)
	}
	if v, _ := e.Adjust(100, at, at.Add(-40*time.Minute), 0.9); math.Abs(v-100) > 2 {
		t.Errorf("a sale, forecast after its start: %v, want 100", v)
	}
}
