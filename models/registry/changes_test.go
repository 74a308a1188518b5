package registry

import (
	"testing"
	"time"

	"github.com/prescale/prescale/models"
)

// TestChangeRing checks that only changes are kept, that a window is led
// by the change in effect at its start, and that the ring keeps the last
// MaxChanges.
func TestChangeRing(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	var c changeRing
	rec := func(i, replicas int, won string, stale bool, current int32) {
		c.add(&models.Recommendation{Time: at(i), Replicas: replicas, Won: won, Stale: stale}, current)
	}
	rec(0, 3, models.WonForecast, false, -1)
	rec(1, 3, models.WonForecast, false, -1) // the same: not kept
	rec(2, 4, models.WonForecast, false, -1)
	rec(3, 4, models.WonForecast, false, 3) // the workload's replicas became known
	rec(4, 4, models.WonHeld, true, 3)
	rec(5, 5, models.WonReactive, false, 4)
	if len(c.buf) != 5 {
		t.Fatalf("%d changes kept, want 5: %+v", len(c.buf), c.buf)
	}
	got := c.in(at(3).Add(30*time.Second), at(5))
	want := []Change{
		{Time: at(3), Replicas: 4, Won: models.WonForecast, Current: 3, CurrentKnown: true},
		{Time: at(4), Replicas: 4, Won: models.WonHeld, Stale: true, Current: 3, CurrentKnown: true},
	}
	if len(got) != len(want) {
		t.Fatalf("window: %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].Replicas != want[i].Replicas || got[i].Won != want[i].Won ||
			got[i].Stale != want[i].Stale || got[i].Current != want[i].Current || got[i].CurrentKnown != want[i].CurrentKnown {
			t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := c.in(at(0), at(1)); len(got) != 1 || got[0].CurrentKnown {
		t.Errorf("first minute: %+v, want the first change, its workload unknown", got)
	}
	for i := range MaxChanges + 10 {
		rec(10+i, 10+i%2, models.WonForecast, false, -1)
	}
	all := c.in(at(0), at(10_000))
	if len(all) != MaxChanges || !all[0].Time.Equal(at(20)) || !all[len(all)-1].Time.Equal(at(10+MaxChanges+9)) {
		t.Errorf("after overflow: %d changes from %v to %v, want %d from %v", len(all), all[0].Time, all[len(all)-1].Time, MaxChanges, at(20))
	}
}

// TestChangePacking: a change's time, deciding input and staleness come
// back from their 16 bytes as they went in.
func TestChangePacking(t *testing.T) {
	if len(wonNames) > 8 {
		t.Fatalf("%d names of Won do not fit in replicaChange's 3 bits", len(wonNames))
	}
	for _, at := range []int64{0, 1, 1_733_000_000_123, -86_400_000} {
		for won := range wonNames {
			for _, stale := range []bool{false, true} {
				c := replicaChange{packed: packChange(at, won, stale)}
				if c.at() != at || c.won() != won || c.stale() != stale {
					t.Errorf("packChange(%d, %d, %v) unpacks to %d, %d, %v", at, won, stale, c.at(), c.won(), c.stale())
				}
			}
		}
	}
}
