package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
	"github.com/prescale/prescale/models/snapshot"
)

// crashCopy copies the store's directory as it is now, as a kill -9 would
// leave it (nothing saved at shutdown), and opens a store on the copy.
func crashCopy(t *testing.T, store *snapshot.Store) *snapshot.Store {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(store.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(store.Dir(), e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // a temporary file renamed meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := snapshot.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkTarget fails unless the registry serves name with origin and
// exactly the configuration want.
func checkTarget(t *testing.T, h *harness, want models.Target, origin string) registry.TargetStatus {
	t.Helper()
	st, err := h.reg.Get(want.Name)
	if err != nil {
		t.Fatalf("%s after the restart: %v", want.Name, err)
	}
	if st.Origin != origin || !reflect.DeepEqual(st.Target, want) {
		t.Errorf("%s after the restart: origin %q, target %+v; want %q, %+v", want.Name, st.Origin, st.Target, origin, want)
	}
	return st
}

// TestRegistryCreateDurable: a target created while Prometheus is down
// (so never fitted, never snapshotted) is registered again after a
// restart, from its spec, with its origin; KEDA's too.
func TestRegistryCreateDurable(t *testing.T) {
	store := openSnapStore(t)
	h1 := newHarness(t, store)
	h1.src.fail(errors.New("prometheus is down"))
	h1.run()
	api, keda := regTarget("api"), regTarget("keda")
	keda.Namespace = "shop"
	if _, err := h1.reg.Create(api, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.reg.Create(keda, registry.OriginKEDA); err != nil {
		t.Fatal(err)
	}
	h1.waitStatus("api", "a failed fit", func(st registry.TargetStatus) bool { return st.FitErrors > 0 })
	crashed := crashCopy(t, store)
	h1.stop()
	if snaps, _ := store.LoadAll(); len(snaps) != 0 {
		t.Fatalf("%d snapshots: the test needs targets never fitted", len(snaps))
	}

	for name, s := range map[string]*snapshot.Store{"after SIGTERM": store, "after kill -9": crashed} {
		t.Run(name, func(t *testing.T) {
			h2 := newHarness(t, s)
			h2.add(api)
			h2.add(keda)
			h2.run()
			waitFor(t, "ready", h2.reg.Ready)
			checkTarget(t, h2, api, registry.OriginAPI)
			checkTarget(t, h2, keda, registry.OriginKEDA)
			h2.waitFitted("api", 1)
		})
	}
}

// TestRegistryUpdateDurable: an update acknowledged just before a crash
// (no snapshot saved since, none at shutdown) is what the restart serves,
// even though the snapshot on disk holds the old configuration.
func TestRegistryUpdateDurable(t *testing.T) {
	store := openSnapStore(t)
	h1 := newHarness(t, store)
	h1.run()
	tg := regTarget("web")
	h1.create(tg)
	waitFor(t, "snapshot", func() bool { _, err := store.Load("web"); return err == nil })

	policy := tg
	policy.CapacityPerReplica = 25
	policy.MaxReplicas = 7
	if _, err := h1.reg.Update(policy); err != nil {
		t.Fatal(err)
	}
	crashedPolicy := crashCopy(t, store)
	refit := policy
	refit.Query = `load{target="other"}`
	h1.add(refit)
	if _, err := h1.reg.Update(refit); err != nil {
		t.Fatal(err)
	}
	crashedRefit := crashCopy(t, store)
	h1.stop()

	t.Run("policy", func(t *testing.T) {
		h2 := newHarness(t, crashedPolicy)
		h2.add(tg)
		h2.run()
		waitFor(t, "ready", h2.reg.Ready)
		st := checkTarget(t, h2, policy, registry.OriginAPI)
		// The snapshot's model applies to the new policy: kept.
		if st.Generation != 1 || st.ModelKind == "" {
			t.Errorf("generation %d, model %q: the snapshot was not used", st.Generation, st.ModelKind)
		}
	})
	t.Run("query", func(t *testing.T) {
		h2 := newHarness(t, crashedRefit)
		h2.add(refit)
		h2.run()
		waitFor(t, "ready", h2.reg.Ready)
		checkTarget(t, h2, refit, registry.OriginAPI)
		// The snapshot is of the old query: fitted anew.
		if st := h2.waitFitted("web", 1); !st.FittedAt.Equal(h2.clock.Now()) {
			t.Errorf("fitted at %v: the old query's model was used", st.FittedAt)
		}
	})
}

// TestRegistryCorruptSnapshotKeepsSpec: an API target whose snapshot is
// corrupt is still served after a restart, refitted, and the log says so.
func TestRegistryCorruptSnapshotKeepsSpec(t *testing.T) {
	store := openSnapStore(t)
	h1 := newHarness(t, store)
	h1.run()
	tg := regTarget("web")
	h1.create(tg)
	h1.stop()
	path := filepath.Join(store.Dir(), "web.snap")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("prescale-snapshot %d 999 00\n{", snapshot.Version)), 0o644); err != nil {
		t.Fatal(err)
	}

	h2 := newHarness(t, store)
	h2.clock.Advance(time.Hour)
	h2.add(tg)
	h2.run()
	waitFor(t, "ready", h2.reg.Ready)
	checkTarget(t, h2, tg, registry.OriginAPI)
	if st := h2.waitFitted("web", 1); !st.FittedAt.Equal(h2.clock.Now()) {
		t.Errorf("fitted at %v, want a new fit at %v", st.FittedAt, h2.clock.Now())
	}
	logs := h2.logs.String()
	if !strings.Contains(logs, path) || !strings.Contains(logs, "fitted anew") || !strings.Contains(logs, "target restored from its spec") {
		t.Errorf("the log does not say the snapshot was bad and the target is refitted:\n%s", logs)
	}
}

// TestRegistrySpecUnreadable: a spec that cannot be read is logged as an
// error naming its file and renamed aside; the other targets come back.
func TestRegistrySpecUnreadable(t *testing.T) {
	store := openSnapStore(t)
	h1 := newHarness(t, store)
	for _, name := range []string{"good", "bad"} {
		if _, err := h1.reg.Create(regTarget(name), registry.OriginAPI); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(store.Dir(), "bad.spec")
	if err := os.WriteFile(path, []byte("prescale-spec 1 2 00\n{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, store)
	h2.run()
	waitFor(t, "ready", h2.reg.Ready)
	checkTarget(t, h2, regTarget("good"), registry.OriginAPI)
	if _, err := h2.reg.Get("bad"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("bad: %v", err)
	}
	if logs := h2.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, path) || !strings.Contains(logs, "bad.spec.corrupt") {
		t.Errorf("the unreadable spec was not logged with its file:\n%s", logs)
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("the unreadable spec was not kept aside: %v", err)
	}
}

// TestRegistryOldDataDir: a data directory written before specs existed
// holds API targets in their snapshots only; they come back, and get a
// spec. A snapshot written since, whose spec is gone (a delete that
// crashed before removing the snapshot), does not bring its target back.
func TestRegistryOldDataDir(t *testing.T) {
	store := openSnapStore(t)
	h1 := newHarness(t, store)
	h1.run()
	old, deleted := regTarget("old"), regTarget("deleted")
	h1.create(old)
	h1.create(deleted)
	h1.stop()
	snap, err := store.Load("old")
	if err != nil {
		t.Fatal(err)
	}
	if !snap.OwnSpec {
		t.Error("a snapshot of an API target does not say its spec is kept apart")
	}
	snap.OwnSpec = false
	if err := store.Save(snap); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old", "deleted"} {
		if err := store.DeleteSpec(name); err != nil {
			t.Fatal(err)
		}
	}

	h2 := newHarness(t, store)
	h2.add(old)
	h2.run()
	waitFor(t, "ready", h2.reg.Ready)
	if st := checkTarget(t, h2, old, registry.OriginAPI); st.Generation != 1 {
		t.Errorf("generation %d: the old snapshot's model was not used", st.Generation)
	}
	if _, err := h2.reg.Get("deleted"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("deleted: %v; a snapshot without its spec must not bring it back", err)
	}
	if _, err := store.Load("deleted"); err != nil {
		t.Errorf("the deleted target's snapshot was not left on disk: %v", err)
	}
	specs, _ := store.LoadSpecs()
	if len(specs) != 1 || specs[0].Name != "old" || !reflect.DeepEqual(specs[0].Target, old) {
		t.Errorf("specs after the restart %+v, want old's", specs)
	}
}

// TestRegistrySpecWriteFails: when the spec cannot be written (or
// removed), Create, Update and Delete fail and change nothing.
func TestRegistrySpecWriteFails(t *testing.T) {
	store := openSnapStore(t)
	h := newHarness(t, store)
	h.run()
	waitFor(t, "ready", h.reg.Ready) // restored: the blocks below stay
	// A non-empty directory where a spec goes: rename over it and remove
	// it fail, even for root.
	block := func(name string) func() {
		dir := filepath.Join(store.Dir(), name+".spec")
		if err := os.MkdirAll(filepath.Join(dir, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
	}

	unblock := block("web")
	tg := h.add(regTarget("web"))
	if _, err := h.reg.Create(tg, registry.OriginAPI); err == nil || errors.Is(err, registry.ErrExists) {
		t.Fatalf("Create with the spec unwritable: %v, want an I/O error", err)
	}
	if _, err := h.reg.Get("web"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("the target whose spec failed is registered: %v", err)
	}
	unblock()

	h.create(tg)
	if err := os.Remove(filepath.Join(store.Dir(), "web.spec")); err != nil {
		t.Fatal(err)
	}
	unblock = block("web")
	changed := tg
	changed.CapacityPerReplica = 99
	if _, err := h.reg.Update(changed); err == nil {
		t.Fatal("Update with the spec unwritable succeeded")
	}
	if st := h.status("web"); st.Target.CapacityPerReplica != tg.CapacityPerReplica {
		t.Errorf("the failed update was applied: capacity %v", st.Target.CapacityPerReplica)
	}
	if err := h.reg.Delete("web"); err == nil {
		t.Fatal("Delete with the spec irremovable succeeded")
	}
	if _, err := h.reg.Get("web"); err != nil {
		t.Errorf("the failed delete removed the target: %v", err)
	}
	unblock()
	if err := h.reg.Delete("web"); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryMaxTargets: Create beyond the limit fails with ErrTooMany
// whatever the origin; a config declaring more is a config error; config
// targets count toward the limit.
func TestRegistryMaxTargets(t *testing.T) {
	h := newHarness(t, nil, func(o *registry.Options) { o.MaxTargets = 2 })
	if _, err := h.reg.Create(regTarget("a"), registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Create(regTarget("b"), registry.OriginKEDA); err != nil {
		t.Fatal(err)
	}
	for _, origin := range []string{registry.OriginAPI, registry.OriginKEDA} {
		_, err := h.reg.Create(regTarget("c"), origin)
		var lim *registry.LimitError
		if !errors.Is(err, registry.ErrTooMany) || !errors.As(err, &lim) || lim.Limit != 2 {
			t.Errorf("third Create (%s): %v, want ErrTooMany with limit 2", origin, err)
		}
	}
	if _, err := h.reg.Get("c"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("c: %v", err)
	}

	err := h.reg.SetConfig([]models.Target{regTarget("x"), regTarget("y"), regTarget("z")})
	if !errors.Is(err, models.ErrConfig) || !strings.Contains(err.Error(), "limit of 2") {
		t.Errorf("SetConfig of 3: %v, want a config error naming the limit", err)
	}
	if n := len(h.reg.List()); n != 2 {
		t.Errorf("%d targets after the refused config, want 2", n)
	}
	// The config's own targets fit: it is applied, and the API's wait.
	if err := h.reg.SetConfig([]models.Target{regTarget("x")}); err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Create(regTarget("c"), registry.OriginAPI); !errors.Is(err, registry.ErrTooMany) {
		t.Errorf("Create at 2 of 2 with a config target: %v, want ErrTooMany", err)
	}
	if err := h.reg.Delete("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Create(regTarget("c"), registry.OriginAPI); err != nil {
		t.Errorf("Create at 1 of 2: %v", err)
	}

	if _, err := registry.New(h.src, &registry.Options{MaxTargets: -1}); !errors.Is(err, registry.ErrOptions) {
		t.Errorf("MaxTargets -1: %v, want ErrOptions", err)
	}
}

// gatedSource blocks every Range until open is closed.
type gatedSource struct {
	open  chan struct{}
	inner registry.Source
}

func (g *gatedSource) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.inner.Range(ctx, query, start, end, step)
}

// TestRegistryReadyBeforeFits: the registry is ready once it has restored,
// while first fits still wait; the status says which fit is waiting and
// since when.
func TestRegistryReadyBeforeFits(t *testing.T) {
	clock := &fakeClock{t: regStart}
	src := &fakeSource{clock: clock, loads: map[string]fakeLoad{}}
	gate := &gatedSource{open: make(chan struct{}), inner: src}
	reg, err := registry.New(gate, &registry.Options{Workers: 1, Fetchers: 1, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, name := range []string{"a", "b", "c"} {
		tg := regTarget(name)
		src.set(tg.Query, regLoad)
		if _, err := reg.Create(tg, registry.OriginAPI); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = reg.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	waitFor(t, "ready", reg.Ready)
	// One worker holds one fit at the gate: the other two wait for it.
	waitFor(t, "two fits waiting", func() bool {
		waiting := 0
		for _, st := range reg.List() {
			if !st.FitDueSince.IsZero() {
				waiting++
				if !st.FitDueSince.Equal(regStart) {
					t.Errorf("%s: due since %v, want %v", st.Target.Name, st.FitDueSince, regStart)
				}
			}
		}
		return waiting == 2
	})
	for _, st := range reg.List() {
		if st.ModelKind != "" {
			t.Errorf("%s has a model before any fit", st.Target.Name)
		}
	}
	if !reg.Ready() {
		t.Error("not ready while fits wait")
	}
	close(gate.open)
	for _, name := range names {
		waitFor(t, name+" fitted", func() bool {
			st, err := reg.Get(name)
			return err == nil && st.ModelKind != "" && st.FitDueSince.IsZero()
		})
	}
}
