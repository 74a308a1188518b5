package registry_test

import (
	"testing"

	"github.com/prescale/prescale/models"
)

// TestRegistryNamespaceChange checks that a config reload that changes
// only a target's namespace applies it and keeps the model.
func TestRegistryNamespaceChange(t *testing.T) {
	h := newHarness(t, nil)
	web := h.add(regTarget("web"))
	if err := h.reg.SetConfig([]models.Target{web}); err != nil {
		t.Fatal(err)
	}
	h.run()
	fitted := h.waitFitted("web", 1)

	web.Namespace = "shop"
	if err := h.reg.SetConfig([]models.Target{web}); err != nil {
		t.Fatal(err)
	}
	st := h.status("web")
	if st.Target.Namespace != "shop" {
		t.Errorf("namespace %q after the reload, want shop", st.Target.Namespace)
	}
	if st.Generation != 1 || !st.FittedAt.Equal(fitted.FittedAt) {
		t.Errorf("generation %d, fitted at %v: a namespace change must keep the model", st.Generation, st.FittedAt)
	}
}
