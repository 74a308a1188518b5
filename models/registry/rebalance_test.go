package registry_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/prescale/prescale/models/registry"
)

// TestRebalance checks Options.Holds and Rebalance: a target this replica
// does not hold is declared but has no model and answers ErrNotHeld; once
// held it is fitted; dropped again, it loses its model and its fits stop;
// held again, it is fitted anew (its tasks were parked, not removed).
func TestRebalance(t *testing.T) {
	var holds atomic.Bool
	h := newHarness(t, nil, func(o *registry.Options) {
		o.Holds = func(name string) bool { return name != "web" || holds.Load() }
	})
	h.run()
	other := h.create(regTarget("other"))
	if !other.Held {
		t.Fatalf("other: not held, with Holds true")
	}
	h.add(regTarget("web"))
	if _, err := h.reg.Create(regTarget("web"), registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	st := h.status("web")
	if st.Held || st.ModelKind != "" || !st.FitDueSince.IsZero() {
		t.Fatalf("web, not held: held %v, model %q, fit due since %v", st.Held, st.ModelKind, st.FitDueSince)
	}
	if _, err := h.reg.Recommendation("web"); !errors.Is(err, registry.ErrNotHeld) {
		t.Errorf("recommendation of a target not held: %v, want ErrNotHeld", err)
	}
	if _, err := h.reg.Forecast("web", 10, nil, 0); !errors.Is(err, registry.ErrNotHeld) {
		t.Errorf("forecast of a target not held: %v, want ErrNotHeld", err)
	}

	holds.Store(true)
	h.reg.Rebalance()
	h.waitFitted("web", 1)
	if _, err := h.reg.Recommendation("web"); err != nil {
		t.Errorf("recommendation once held: %v", err)
	}

	holds.Store(false)
	h.reg.Rebalance()
	st = h.status("web")
	if st.Held || st.ModelKind != "" || st.Recommendation != nil {
		t.Errorf("web, dropped: held %v, model %q, recommendation %v", st.Held, st.ModelKind, st.Recommendation)
	}
	if h.status("other").ModelKind == "" {
		t.Error("other lost its model in a rebalance that did not concern it")
	}

	holds.Store(true)
	h.reg.Rebalance()
	st = h.waitStatus("web", "fitted again", func(st registry.TargetStatus) bool { return st.Held && st.ModelKind != "" })
	if st.Generation < 2 {
		t.Errorf("web held again: generation %d, want a new fit", st.Generation)
	}
}
