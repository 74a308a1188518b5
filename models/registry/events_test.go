package registry_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// promoTarget is a target whose load quadruples for an hour at the
// promos of its calendar, at irregular times (a seasonal model cannot know
// them): four before the clock starts (Monday noon), and one an hour
// after; all four before teach (the first has a day and eight hours of
// history before it: enough for a usual level). It returns the target,
// its load and the promos' starts.
func promoTarget(name string) (models.Target, fakeLoad, []time.Time) {
	starts := []time.Time{
		time.Date(2025, 2, 25, 20, 0, 0, 0, time.UTC), time.Date(2025, 2, 27, 9, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 16, 0, 0, 0, time.UTC), time.Date(2025, 3, 2, 7, 0, 0, 0, time.UTC),
		regStart.Add(time.Hour),
	}
	var specs []events.Spec
	for _, s := range starts {
		specs = append(specs, events.Spec{Name: "promo", Start: s.Format(time.RFC3339), Duration: "1h", Lead: "15m"})
	}
	load := regLoad
	load.Boost = func(at time.Time) float64 {
		for _, s := range starts {
			if !at.Before(s) && at.Before(s.Add(time.Hour)) {
				return 4
			}
		}
		return 1
	}
	tg := regTarget(name)
	tg.History = 7 * 24 * time.Hour
	tg.Events = specs
	return tg, load, starts
}

// TestRegistryUnknownEventSizedByOthers checks, through the service, that
// an event of a new name (a "gala" where the promos were) is a known
// unknown sized as the target's four past promos went: the recommendation
// provisions for about four times the usual load and says so, and the
// status lists it as unknown, sized by 4 past events.
func TestRegistryUnknownEventSizedByOthers(t *testing.T) {
	tg, load, starts := promoTarget("gala")
	tg.Events[len(tg.Events)-1].Name = "gala"
	h := newHarness(t, nil)
	h.add(tg, load)
	h.run()
	h.create(tg, load)
	h.stepTo("gala", regStart.Add(50*time.Minute)) // the lead window reaches 13:05
	r, err := h.reg.Recommendation("gala")
	if err != nil {
		t.Fatal(err)
	}
	usual := regLoad.At(starts[4])
	if !strings.Contains(r.Reason, "'gala' event at 2025-03-03 13:00 UTC") || !strings.Contains(r.Reason, "as 4 past events of this target went") ||
		r.Replicas < int(3*usual/tg.CapacityPerReplica) {
		t.Errorf("%d replicas (the usual %.0f, %.0f a replica): %s; want about four times the usual, sized by the 4 promos",
			r.Replicas, usual, tg.CapacityPerReplica, r.Reason)
	}
	st := h.status("gala")
	if len(st.Events) != 1 || st.Events[0].Name != "gala" || st.Events[0].Effect != "unknown" || st.Events[0].Others != 4 ||
		math.Abs(st.Events[0].Factor-4) > 0.5 {
		t.Errorf("status events %+v, want the gala, unknown, ×4 as 4 past events went", st.Events)
	}
}

// TestRegistryEvents checks that a target's events reach its fits and its
// recommendations: a promotion that quadruples the load for an hour
// is learned from its past occurrences, and the recommendation before the
// next one provisions for it and names it, where a twin target told
// nothing does not; the live detector flags the promo only on the twin.
func TestRegistryEvents(t *testing.T) {
	told, load, starts := promoTarget("told")
	h := newHarness(t, nil)
	untold := told
	untold.Name, untold.Events = "untold", nil
	h.add(told, load)
	h.run()
	h.create(told, load)
	h.create(untold, load)

	// At 12:50 the lead window (10m lead time + 5m margin) reaches 13:05.
	at := regStart.Add(50 * time.Minute)
	h.stepTo("told", at)
	h.stepTo("untold", at)
	withEvents, err := h.reg.Recommendation("told")
	if err != nil {
		t.Fatal(err)
	}
	without, err := h.reg.Recommendation("untold")
	if err != nil {
		t.Fatal(err)
	}
	usual := regLoad.At(regStart.Add(time.Hour)) // 13:00 without the event
	if !strings.Contains(withEvents.Reason, "'promo' event at 2025-03-03 13:00 UTC") ||
		!strings.Contains(withEvents.Reason, "learned from 4 past occurrences") {
		t.Errorf("reason %q does not name the event and what its effect was learned from", withEvents.Reason)
	}
	// The learned ratio is 4 at the event, so the replicas are about
	// 4 × usual / capacity; told nothing, the model follows the day.
	if want := int(3 * usual / told.CapacityPerReplica); withEvents.Replicas < want {
		t.Errorf("with the calendar: %d replicas, want at least %d (3 × the usual %.0f / %.0f); %s",
			withEvents.Replicas, want, usual, told.CapacityPerReplica, withEvents.Reason)
	}
	if without.Replicas*2 > withEvents.Replicas {
		t.Errorf("without the calendar: %d replicas against %d with it; want under half", without.Replicas, withEvents.Replicas)
	}
	// The forecast the API serves takes the event in as the policy does.
	fc, err := h.reg.Forecast("told", 4, []float64{0.5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if i := int(starts[4].Sub(fc.Start) / regStep); fc.Quantiles[0].Values[i] < 3*usual || fc.Point[i] < 3*usual ||
		!strings.Contains(strings.Join(fc.Notes, "; "), "the 'promo' event at 2025-03-03T13:00:00Z is in the forecast (learned effect)") {
		t.Errorf("median %v and point %v from %v (the promo at %v, usual %.0f), notes %q: want the event in", fc.Quantiles[0].Values, fc.Point, fc.Start, starts[4], usual, fc.Notes)
	}
	// The status lists the next occurrence with the effect it gets.
	st := h.status("told")
	if len(st.Events) != 1 || st.Events[0].Name != "promo" || !st.Events[0].Start.Equal(starts[4]) ||
		st.Events[0].Effect != "learned" || st.Events[0].Learned != 4 || math.Abs(st.Events[0].Factor-4) > 0.5 ||
		!st.Events[0].From.Equal(starts[4].Add(-15*time.Minute)) {
		t.Errorf("status events %+v, want the promo at %v, learned ×4 from 4", st.Events, starts[4])
	}
	if st := h.status("untold"); len(st.Events) != 0 {
		t.Errorf("a target without events lists %+v", st.Events)
	}
	t.Logf("at %s: %d replicas with the calendar (%s), %d without", at.Format(time.TimeOnly), withEvents.Replicas, withEvents.Reason, without.Replicas)

	// Through the promo: the live detector flags it on the target told
	// nothing, not on the one whose calendar announced it.
	after := starts[4].Add(90 * time.Minute)
	h.stepTo("told", after)
	h.stepTo("untold", after)
	flagged := func(name string) []models.AnomalyEvent {
		all, err := h.reg.Anomalies(name, starts[4], starts[4].Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var live []models.AnomalyEvent
		for _, e := range all {
			if e.Kind == models.AnomalyLive || e.Kind == models.AnomalyLevelShift {
				live = append(live, e)
			}
		}
		return live
	}
	if got := flagged("untold"); len(got) == 0 {
		t.Errorf("told nothing, the promo was not flagged")
	}
	if got := flagged("told"); len(got) != 0 {
		t.Errorf("a promo the calendar announced was flagged: %+v", got)
	}
}

// TestRegistryEventsAfterRestore checks that the effects a target learned
// of its events come back with its snapshot: restored, the target lists
// the promo's learned effect before any refit. A snapshot written before
// effects were kept is served at once and refitted right after, so that
// its events are known again; so is one whose effects do not restore.
func TestRegistryEventsAfterRestore(t *testing.T) {
	store := openSnapStore(t)
	tg, load, starts := promoTarget("web")
	h1 := newHarness(t, store)
	h1.add(tg, load)
	h1.run()
	if err := h1.reg.SetConfig([]models.Target{tg}); err != nil {
		t.Fatal(err)
	}
	learned := h1.waitFitted("web", 1).Events
	h1.stop()
	if len(learned) != 1 || learned[0].Effect != "learned" || learned[0].Learned != 4 {
		t.Fatalf("events at the fit %+v, want the promo learned from 4", learned)
	}

	restore := func() *harness {
		h := newHarness(t, store)
		h.add(tg, load)
		if err := h.reg.SetConfig([]models.Target{tg}); err != nil {
			t.Fatal(err)
		}
		h.run()
		return h
	}
	h2 := restore()
	st := h2.waitStatus("web", "restore", func(st registry.TargetStatus) bool { return st.ModelKind != "" })
	if st.Generation != 1 || len(st.Events) != 1 || st.Events[0] != learned[0] {
		t.Errorf("restored (generation %d): events %+v, want %+v before any refit", st.Generation, st.Events, learned)
	}
	if now := h2.clock.Now(); !st.NextRefit.After(now) {
		t.Errorf("restored with its effects: next refit %v, want after the restore at %v (not at once)", st.NextRefit, now)
	}
	h2.stop()

	// An older snapshot, without effects, and one whose effects name an
	// event the calendar lacks: each is served at once and refitted.
	saved, err := store.Load("web")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*events.State) *events.State
	}{
		{"without effects", func(*events.State) *events.State { return nil }},
		{"an unknown name", func(st *events.State) *events.State {
			return &events.State{Learned: map[string]*events.Learned{"sale": st.Learned["promo"]},
				Usual: st.Usual, UsualStart: st.UsualStart, UsualStep: st.UsualStep}
		}},
	} {
		snap := *saved
		snap.Generation = 1
		snap.Effects = tc.change(saved.Effects)
		if err := store.Save(&snap); err != nil {
			t.Fatal(err)
		}
		h := restore()
		h.waitStatus("web", "restore", func(st registry.TargetStatus) bool { return st.ModelKind != "" })
		h.advance(time.Second)
		st = h.waitFitted("web", 2)
		if len(st.Events) != 1 || !st.Events[0].Start.Equal(starts[4]) || st.Events[0].Effect != "learned" {
			t.Errorf("%s: events after the refit %+v, want the promo at %v, learned", tc.name, st.Events, starts[4])
		}
		h.stop()
	}
}
