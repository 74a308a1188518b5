package backtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/prescale/prescale/models/backtest"
)

// TestNASAFrontierFloor replays the first 15 days of the NASA-HTTP trace
// in the setting (refitting every 6 hours instead of every hour, to
// keep the test short) and asserts generous floors only: prescale's
// frontier is below the reactive one wherever both have a setting of the
// same cost, and the reduction at the cost of the reactive HPA with a 20%
// margin is at least 15% (measured 36.8% here; the whole trace with
// hourly refits gives about 40%, printed by make backtest-nasa).
func TestNASAFrontierFloor(t *testing.T) {
	s := nasa(t)
	s.Values = s.Values[:15*1440]
	c := nasaConfig()
	c.Warmup, c.MinHistory = 48*time.Hour, 48*time.Hour
	c.RefitInterval = 6 * time.Hour
	c.Sweep = true
	res, err := backtest.Run(context.Background(), s, c)
	if err != nil {
		t.Fatal(err)
	}
	e := res.EqualCost
	if e.FrontierCompared < 3 || e.FrontierBelowAt != e.FrontierCompared {
		t.Errorf("prescale's frontier is below the reactive one at %d of %d comparable settings; want all, and at least 3",
			e.FrontierBelowAt, e.FrontierCompared)
	}
	if r := res.ReductionAtEqualCost; r == nil || *r < 15 {
		t.Errorf("reduction at equal cost %v (%+v), want at least 15%%", r, e)
	}
	if a := res.Forecast; a.FailedFits > 0 || !(a.MASE > 0 && a.MASE < 1) || a.Coverage80 < 0.6 {
		t.Errorf("forecast accuracy %+v: want no failed fit, MASE in (0, 1), 80%% interval covering at least 60%%", a)
	}
}
