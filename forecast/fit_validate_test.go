package forecast

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// Two weeks of hourly data hold the weekly season exactly twice, which
// leaves nothing to validate it on: Fit drops the weekly season and keeps
// the daily one, instead of giving up on seasons altogether.
func TestFitDropsUnvalidatableLongestSeason(t *testing.T) {
	const day, week = 24, 168
	y := make([]float64, 2*week)
	for i := range y {
		weekend := 1.0
		if (i/day)%7 >= 5 {
			weekend = 0.6
		}
		y[i] = weekend * (100 + 50*math.Sin(2*math.Pi*float64(i)/day) + 3*math.Sin(float64(i)*1.7))
	}
	f, err := Fit(y, &Options{Periods: []int{day, week}, Horizon: 12})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Seasons, []int{day}) {
		t.Errorf("seasons %v, want [%d]", f.Seasons, day)
	}
	if !strings.Contains(f.Reason, "season of 168 steps ignored") {
		t.Errorf("reason %q does not say the weekly season was ignored", f.Reason)
	}
	if f.Model == KindNaive && slices.Equal(f.Components[0].seasons(), []int{1}) {
		t.Errorf("fell back to the non-seasonal naive forecast: %s", f.Reason)
	}
}
