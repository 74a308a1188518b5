package snapshot_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models/snapshot"
)

// snapshotTarget reads the "target" object of a snapshot file's payload.
func snapshotTarget(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := bytes.Cut(data, []byte("\n"))
	var doc struct {
		Target map[string]any `json:"target"`
	}
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Target
}

// TestSnapshotNamespace checks that the snapshot format did not change
// for targets without a namespace (the field is omitted), that files
// written before the field existed load, and that a namespace survives a
// restart.
func TestSnapshotNamespace(t *testing.T) {
	const n = 24 * 4
	fitted := snapFit(t, forecast.KindNaive, n, 1)
	store := openSnapStore(t)

	plain := snapOf("web", fitted, n, 1)
	if err := store.Save(plain); err != nil {
		t.Fatal(err)
	}
	target := snapshotTarget(t, filepath.Join(store.Dir(), "web.snap"))
	if _, ok := target["namespace"]; ok {
		t.Errorf("a target without a namespace is saved with one: %v", target)
	}

	// A file of the format before the field: every key but namespace, as
	// an older binary wrote it.
	old := snapOf("old", fitted, n, 1)
	old.Version = snapshot.Version
	payload, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(payload, []byte(`"namespace"`)) {
		t.Fatalf("payload has a namespace: %s", payload[:200])
	}
	if err := os.WriteFile(filepath.Join(store.Dir(), "old.snap"), snapFile("prescale-snapshot", snapshot.Version, payload), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load("old")
	if err != nil {
		t.Fatalf("a snapshot without a namespace does not load: %v", err)
	}
	if got.Target.Namespace != "" || !reflect.DeepEqual(got.Target, old.Target) {
		t.Errorf("loaded target %+v, want %+v", got.Target, old.Target)
	}

	shop := snapOf("checkout", fitted, n, 1)
	shop.Target.Namespace = "shop"
	if err := shop.Target.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(shop); err != nil {
		t.Fatal(err)
	}
	if ns := snapshotTarget(t, filepath.Join(store.Dir(), "checkout.snap"))["namespace"]; ns != "shop" {
		t.Errorf("saved namespace %v, want shop", ns)
	}
	if got, err = store.Load("checkout"); err != nil || got.Target.Namespace != "shop" {
		t.Errorf("loaded namespace %q, %v; want shop", got.Target.Namespace, err)
	}
}
