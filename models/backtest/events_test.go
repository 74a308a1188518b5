package backtest_test

import (
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed/synth"
	"github.com/prescale/prescale/models/backtest"
)

// TestEventsCalendar replays a short trace of named events without and
// with its calendar: told of it, prescale is under-provisioned for fewer
// minutes within the events' windows (a generous floor: fewer at all;
// `prescale eval events` prints the figures at equal cost), the result
// lists the occurrences, and without a calendar nothing is measured.
func TestEventsCalendar(t *testing.T) {
	s, _, raw, err := synth.NamedEvents(&synth.Options{Days: 24, Step: 5 * time.Minute, EventsPerDay: 2, Seed: 3, Capacity: 20}, synth.DefaultKinds, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := events.Parse(raw, "named.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := func(told *events.Calendar, measured *events.Calendar) *backtest.Result {
		res, err := backtest.Run(t.Context(), s, backtest.Config{
			CapacityPerReplica: 20,
			Startup:            backtest.Startup{Kind: backtest.StartupFixed, A: 3 * time.Minute},
			Lag:                2 * time.Minute,
			MaxReplicas:        250,
			Warmup:             10 * 24 * time.Hour,
			MinHistory:         7 * 24 * time.Hour,
			RefitInterval:      6 * time.Hour,
			Policies:           []string{backtest.Prescale},
			Workers:            2,
			Events:             told,
			Measured:           measured,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	without := run(nil, cal).Policies[backtest.Prescale]
	res := run(cal, nil)
	with := res.Policies[backtest.Prescale]
	t.Logf("within the events' windows: %.1f under-provisioned minutes without the calendar, %.1f with it (replica-hours %.0f, %.0f)",
		without.EventUnderprovisionedMinutes, with.EventUnderprovisionedMinutes, without.ReplicaHours, with.ReplicaHours)
	if without.EventUnderprovisionedMinutes == 0 || with.EventUnderprovisionedMinutes >= without.EventUnderprovisionedMinutes {
		t.Errorf("under-provisioned minutes within the events: %.1f without the calendar, %.1f with it; want fewer with it",
			without.EventUnderprovisionedMinutes, with.EventUnderprovisionedMinutes)
	}
	if ev := res.Settings.Events; ev == nil || !ev.Told || len(ev.Occurrences) != len(cal.Occurrences) {
		t.Errorf("settings' events %+v, want the %d occurrences, told", ev, len(cal.Occurrences))
	}
	if plain := run(nil, nil); plain.Settings.Events != nil || plain.Policies[backtest.Prescale].EventUnderprovisionedMinutes != 0 {
		t.Errorf("without a calendar: events %+v measured", plain.Settings.Events)
	}
}
