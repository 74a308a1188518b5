package anomaly_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prescale/prescale/anomaly"
)

// dailyMinutes is days of one-minute load on a daily cycle (a smooth
// night-to-afternoon swing of 5×, the shape of a web service's day) with
// Poisson-like noise; from shiftAt on (if positive) the load is 1.6 times
// as high.
func dailyMinutes(days, shiftAt int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	y := make([]float64, days*1440)
	for i := range y {
		phase := 2 * math.Pi * float64(i%1440) / 1440
		mean := 300 - 200*math.Cos(phase)
		if shiftAt > 0 && i >= shiftAt {
			mean *= 1.6
		}
		y[i] = math.Max(0, mean+math.Sqrt(mean)*rng.NormFloat64())
	}
	return y
}

// TestShiftsOnACleanDailyCycle streams a clean daily cycle through the
// default detector, as the service's live detector does once warmed up on
// history: its change-point test must not take the daily ramps, or the
// noise growing with the load, for level shifts, and must confirm a real
// +60% shift within an hour.
func TestShiftsOnACleanDailyCycle(t *testing.T) {
	const days, warm = 14, 4 * 1440
	// stream returns the shifts confirmed after the warm-up: where each
	// began, and the index of the point that confirmed it.
	stream := func(y []float64) (starts, confirmed []int) {
		d, err := anomaly.NewDefault(&anomaly.Options{Period: 1440})
		if err != nil {
			t.Fatal(err)
		}
		last := -1
		for i, v := range y {
			d.Update(v)
			if sh := d.Shifts(); len(sh) > 0 && sh[len(sh)-1] != last {
				last = sh[len(sh)-1]
				if i >= warm {
					starts, confirmed = append(starts, last), append(confirmed, i)
				}
			}
		}
		return starts, confirmed
	}
	var clean int
	for seed := range uint64(3) {
		s, _ := stream(dailyMinutes(days, 0, seed))
		clean += len(s)
	}
	perDay := float64(clean) * 1440 / float64(3*(days*1440-warm))
	t.Logf("clean daily cycle: %d shifts in %d days after the warm-up (%.2f a day)", clean, 3*(days-4), perDay)
	if perDay > 0.25 {
		t.Errorf("%.2f level shifts a day on a clean daily cycle, want at most 0.25", perDay)
	}

	shiftAt := 10*1440 + 9*60 // day 10, 09:00, on the morning ramp
	starts, confirmed := stream(dailyMinutes(days, shiftAt, 7))
	for i, s := range starts {
		if s >= shiftAt-60 {
			t.Logf("+60%% shift at minute %d: began at %d, confirmed at %d (%d minutes late)", shiftAt, s, confirmed[i], confirmed[i]-shiftAt)
			if late := confirmed[i] - shiftAt; late > 60 {
				t.Errorf("the +60%% shift was confirmed %d minutes late, want within an hour", late)
			}
			return
		}
	}
	t.Fatalf("the +60%% shift at minute %d was not confirmed (shifts began at %v)", shiftAt, starts)
}
