package snapshot_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/snapshot"
)

func specOf(name string) *snapshot.Spec {
	t := models.DefaultTarget()
	t.Name = name
	t.Query = `sum(rate(http_requests_total{job="` + name + `"}[5m]))`
	t.CapacityPerReplica = 50
	t.LeadTime = 3 * time.Minute
	t.Seasons = []time.Duration{24 * time.Hour}
	return &snapshot.Spec{Name: name, Origin: "api", Target: t}
}

func TestSpecRoundTrip(t *testing.T) {
	store := openSnapStore(t)
	for _, name := range []string{"web", "api"} {
		if err := store.SaveSpec(specOf(name)); err != nil {
			t.Fatal(err)
		}
	}
	changed := specOf("web")
	changed.Target.CapacityPerReplica = 75
	changed.Origin = "keda"
	if err := store.SaveSpec(changed); err != nil {
		t.Fatal(err)
	}
	specs, problems := store.LoadSpecs()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	want := []*snapshot.Spec{specOf("api"), changed}
	for _, w := range want {
		w.Version = snapshot.SpecVersion
	}
	if !reflect.DeepEqual(specs, want) {
		t.Errorf("LoadSpecs: %+v, want %+v", specs, want)
	}
	// Specs and snapshots do not see each other's files.
	if snaps, problems := store.LoadAll(); len(snaps) > 0 || len(problems) > 0 {
		t.Errorf("LoadAll sees specs: %v, %v", snaps, problems)
	}

	if err := store.DeleteSpec("web"); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSpec("web"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("second DeleteSpec: %v, want ErrNotFound", err)
	}
	if specs, _ := store.LoadSpecs(); len(specs) != 1 || specs[0].Name != "api" {
		t.Errorf("after DeleteSpec: %+v", specs)
	}
}

func TestSpecSaveInvalid(t *testing.T) {
	store := openSnapStore(t)
	noOrigin := specOf("web")
	noOrigin.Origin = ""
	otherName := specOf("web")
	otherName.Name = "api"
	for name, spec := range map[string]*snapshot.Spec{"nil": nil, "no origin": noOrigin, "other name": otherName} {
		if err := store.SaveSpec(spec); !errors.Is(err, snapshot.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := store.SaveSpec(&snapshot.Spec{Name: "../x", Origin: "api"}); !errors.Is(err, snapshot.ErrName) {
		t.Errorf("bad name: %v, want ErrName", err)
	}
}

// TestSpecUnreadable: a spec that cannot be read is reported with its
// file and renamed aside, never deleted; the others load.
func TestSpecUnreadable(t *testing.T) {
	store := openSnapStore(t)
	dir := store.Dir()
	if err := store.SaveSpec(specOf("good")); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveSpec(specOf("flipped")); err != nil {
		t.Fatal(err)
	}
	flipped := filepath.Join(dir, "flipped.spec")
	data, err := os.ReadFile(flipped)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-3] ^= 1
	bad := map[string][]byte{
		"flipped.spec":  data,
		"empty.spec":    nil,
		"newer.spec":    []byte("prescale-spec 99 2 00\n{}"),
		"Bad_Name.spec": []byte("x"),
	}
	for file, data := range bad {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A file already renamed aside by an earlier start is kept too.
	if err := os.WriteFile(filepath.Join(dir, "empty.spec.corrupt"), []byte("older"), 0o644); err != nil {
		t.Fatal(err)
	}

	specs, problems := store.LoadSpecs()
	if len(specs) != 1 || specs[0].Name != "good" {
		t.Errorf("specs %+v, want good only", specs)
	}
	if len(problems) != len(bad) {
		t.Errorf("%d problems, want %d: %v", len(problems), len(bad), problems)
	}
	for _, err := range problems {
		if !errors.Is(err, snapshot.ErrCorrupt) && !errors.Is(err, snapshot.ErrVersion) && !errors.Is(err, snapshot.ErrName) {
			t.Errorf("problem %v wraps none of ErrCorrupt, ErrVersion, ErrName", err)
		}
		if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), ".corrupt") {
			t.Errorf("problem %q does not name the file and where it went", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"Bad_Name.spec.corrupt", "empty.spec.corrupt", "empty.spec.corrupt-2", "flipped.spec.corrupt", "good.spec", "newer.spec.corrupt"}
	if !slices.Equal(names, want) {
		t.Errorf("directory %v, want %v", names, want)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "flipped.spec.corrupt")); err != nil || string(got) != string(data) {
		t.Errorf("the renamed file's contents changed: %v", err)
	}
	// A second start finds nothing more to complain about.
	if _, problems := store.LoadSpecs(); len(problems) > 0 {
		t.Errorf("second LoadSpecs: %v", problems)
	}
}
