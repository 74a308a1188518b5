package registry_test

import (
	"errors"
	"testing"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// TestRegistryResourceTargets: a target a custom resource declares is
// created, reconfigured and removed by SetResource and DeleteResource
// only; the API cannot change it, and it never takes over a target
// declared elsewhere.
func TestRegistryResourceTargets(t *testing.T) {
	h := newHarness(t, nil)
	declared := h.add(regTarget("declared"))
	if err := h.reg.SetConfig([]models.Target{declared}); err != nil {
		t.Fatal(err)
	}
	h.run()
	web := h.add(regTarget("shop-web"))
	if _, created, err := h.reg.SetResource(web); err != nil || !created {
		t.Fatalf("SetResource: created %v, %v", created, err)
	}
	first := h.waitFitted("shop-web", 1)
	if first.Origin != registry.OriginResource {
		t.Errorf("origin %q, want %q", first.Origin, registry.OriginResource)
	}

	// A policy change keeps the model; SetResource of the same target
	// changes nothing.
	web.MaxReplicas = 30
	st, created, err := h.reg.SetResource(web)
	if err != nil || created || st.Target.MaxReplicas != 30 || st.Generation != 1 {
		t.Errorf("SetResource of a change: created %v, max %d, generation %d, %v", created, st.Target.MaxReplicas, st.Generation, err)
	}

	// The API cannot change or delete it, and says where it is declared.
	var ro *registry.ReadOnlyError
	if _, err := h.reg.Update(web); !errors.As(err, &ro) || ro.Origin != registry.OriginResource || !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Update through the API: %v, want a ReadOnlyError of origin resource", err)
	}
	if err := h.reg.Delete("shop-web"); !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Delete through the API: %v, want ErrReadOnly", err)
	}

	// A resource never takes over another origin's target.
	var conflict *registry.ConflictError
	if _, _, err := h.reg.SetResource(declared); !errors.As(err, &conflict) || conflict.Origin != registry.OriginConfig || !errors.Is(err, registry.ErrExists) {
		t.Errorf("SetResource over a config target: %v, want a ConflictError of origin config", err)
	}
	if err := h.reg.DeleteResource("declared"); !errors.As(err, &conflict) {
		t.Errorf("DeleteResource of a config target: %v, want a ConflictError", err)
	}
	if _, err := h.reg.Get("declared"); err != nil {
		t.Errorf("the config target after a resource's attempts: %v", err)
	}
	bad := web
	bad.LeadTime = 0
	if _, _, err := h.reg.SetResource(bad); !errors.Is(err, models.ErrConfig) {
		t.Errorf("SetResource of an invalid target: %v, want ErrConfig", err)
	}

	if err := h.reg.DeleteResource("shop-web"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Get("shop-web"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("after DeleteResource: %v, want ErrNotFound", err)
	}
	if err := h.reg.DeleteResource("shop-web"); err != nil {
		t.Errorf("DeleteResource of no target: %v, want nil", err)
	}
}
