package snapshot_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/snapshot"
)

// snapSeries is a small hourly series with a daily season, noise and a
// slight trend.
func snapSeries(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	for i := range y {
		y[i] = 100 + 0.05*float64(i) + 30*math.Sin(2*math.Pi*float64(i)/24) + 5*rng.NormFloat64()
	}
	return y
}

// snapFit fits a model of the given kind to snapSeries(n, seed).
func snapFit(tb testing.TB, kind string, n int, seed uint64) *forecast.Fitted {
	tb.Helper()
	f, err := forecast.Fit(snapSeries(n, seed), &forecast.Options{Model: kind, Periods: []int{24}, Horizon: 24, Step: time.Hour})
	if err != nil {
		tb.Fatalf("fit %s: %v", kind, err)
	}
	return f
}

// snapOf wraps a fitted model in a snapshot of target name, as fitted on
// n hourly points.
func snapOf(name string, f *forecast.Fitted, n int, generation uint64) *snapshot.Snapshot {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(time.Duration(n-1) * time.Hour)
	return &snapshot.Snapshot{
		Name: name,
		Target: models.Target{
			Name: name, Query: `sum(rate(http_requests_total{job="` + name + `"}[5m]))`,
			Step: time.Hour, History: time.Duration(n) * time.Hour, CapacityPerReplica: 50,
			LeadTime: 3 * time.Minute, Quantile: 0.9, MinReplicas: 2, MaxReplicas: 20,
			Seasons: []time.Duration{24 * time.Hour}, RefitInterval: time.Hour, Model: forecast.KindAuto,
			HoldFor: 10 * time.Minute,
		},
		Model:            f,
		Generation:       generation,
		FittedAt:         end.Add(90 * time.Second),
		DataStart:        start,
		DataEnd:          end,
		Step:             time.Hour,
		LastObserved:     end,
		LastGoodReplicas: 4,
		LastGoodAt:       end.Add(time.Minute),
	}
}

// snapFile builds a snapshot file by hand, as the format is documented:
// a header line (magic, version, payload length, sha256) and the payload.
func snapFile(magic string, version int, payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return fmt.Appendf(nil, "%s %d %d %s\n%s", magic, version, len(payload), hex.EncodeToString(sum[:]), payload)
}

func openSnapStore(tb testing.TB) *snapshot.Store {
	tb.Helper()
	s, err := snapshot.Open(filepath.Join(tb.TempDir(), "snapshots"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// snapForecast is what a restarted service needs to reproduce exactly.
func snapForecast(t *testing.T, f *forecast.Fitted) *forecast.Result {
	t.Helper()
	r, err := f.Forecast(48, []float64{0.1, 0.5, 0.9})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, kind := range []string{forecast.KindAuto, forecast.KindNaive, forecast.KindHoltWinters, forecast.KindHarmonic} {
		t.Run(kind, func(t *testing.T) {
			const n = 24 * 10
			f := snapFit(t, kind, n, 1)
			want := snapOf("web", f, n, 3)
			store := openSnapStore(t)
			if err := store.Save(want); err != nil {
				t.Fatal(err)
			}
			if want.Version != 0 {
				t.Errorf("Save changed the caller's Version to %d", want.Version)
			}
			got, err := store.Load("web")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != snapshot.Version {
				t.Errorf("Version = %d, want %d", got.Version, snapshot.Version)
			}
			if !reflect.DeepEqual(got.Target, want.Target) || got.Name != want.Name || got.Generation != want.Generation ||
				got.Step != want.Step || got.LastGoodReplicas != want.LastGoodReplicas {
				t.Errorf("loaded %+v\nwant %+v", got, want)
			}
			for _, tt := range []struct {
				field     string
				got, want time.Time
			}{
				{"FittedAt", got.FittedAt, want.FittedAt},
				{"DataStart", got.DataStart, want.DataStart},
				{"DataEnd", got.DataEnd, want.DataEnd},
				{"LastObserved", got.LastObserved, want.LastObserved},
				{"LastGoodAt", got.LastGoodAt, want.LastGoodAt},
			} {
				if !tt.got.Equal(tt.want) {
					t.Errorf("%s = %v, want %v", tt.field, tt.got, tt.want)
				}
			}
			if g, w := snapForecast(t, got.Model), snapForecast(t, f); !reflect.DeepEqual(g, w) {
				t.Fatalf("forecast after Load differs:\n got %v\nwant %v", g.Point[:5], w.Point[:5])
			}
			// Both continue the grid identically.
			for _, v := range snapSeries(n+5, 1)[n:] {
				if err := f.Observe(v); err != nil {
					t.Fatal(err)
				}
				if err := got.Model.Observe(v); err != nil {
					t.Fatal(err)
				}
			}
			if g, w := snapForecast(t, got.Model), snapForecast(t, f); !reflect.DeepEqual(g, w) {
				t.Fatalf("forecast after Load and 5 observations differs:\n got %v\nwant %v", g.Point[:5], w.Point[:5])
			}
		})
	}
}

func TestSnapshotFileFormat(t *testing.T) {
	store := openSnapStore(t)
	snap := snapOf("web", snapFit(t, forecast.KindNaive, 24*4, 1), 24*4, 1)
	if err := store.Save(snap); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(store.Dir(), "web.snap"))
	if err != nil {
		t.Fatal(err)
	}
	header, payload, _ := bytes.Cut(data, []byte("\n"))
	// The documented format, rebuilt independently, is what was written.
	if want := snapFile("prescale-snapshot", snapshot.Version, payload); !bytes.Equal(data, want) {
		t.Errorf("header %q does not match the documented format", header)
	}
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatalf("payload is not one JSON document: %v", err)
	}
	for _, key := range []string{"version", "name", "target", "model", "generation", "fitted_at", "data_start", "data_end", "step", "last_observed"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("payload has no %q", key)
		}
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	store := openSnapStore(t)
	snap := snapOf("web", snapFit(t, forecast.KindHoltWinters, 24*6, 1), 24*6, 1)
	if err := store.Save(snap); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(store.Dir(), "web.snap")
	current := fmt.Sprintf("prescale-snapshot %d ", snapshot.Version)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := bytes.Cut(good, []byte("\n"))
	headerLen := len(good) - len(payload)

	// rewrite decodes the good payload, changes it and re-encodes it with
	// a valid checksum, so only the content check can catch it.
	rewrite := func(change func(doc map[string]any)) []byte {
		var doc map[string]any
		if err := json.Unmarshal(payload, &doc); err != nil {
			t.Fatal(err)
		}
		change(doc)
		p, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return snapFile("prescale-snapshot", snapshot.Version, p)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"flipped payload byte", flip(headerLen + len(payload)/2), snapshot.ErrCorrupt},
		{"flipped last byte", flip(len(good) - 1), snapshot.ErrCorrupt},
		{"flipped checksum digit", flip(headerLen - 2), snapshot.ErrCorrupt},
		{"truncated payload", good[:len(good)-10], snapshot.ErrCorrupt},
		{"truncated to header", good[:headerLen], snapshot.ErrCorrupt},
		{"truncated in header", good[:headerLen/2], snapshot.ErrCorrupt},
		{"trailing bytes", append(bytes.Clone(good), "\n"...), snapshot.ErrCorrupt},
		{"garbage", []byte("\x00\x01\x02 not a snapshot at all \xff\xfe"), snapshot.ErrCorrupt},
		{"zeros", make([]byte, 4096), snapshot.ErrCorrupt},
		{"empty file", nil, snapshot.ErrCorrupt},
		{"bare JSON", payload, snapshot.ErrCorrupt},
		{"wrong magic", snapFile("prescale-snapshop", snapshot.Version, payload), snapshot.ErrCorrupt},
		{"old version", snapFile("prescale-snapshot", 0, payload), snapshot.ErrVersion},
		{"newer version", snapFile("prescale-snapshot", snapshot.Version+1, payload), snapshot.ErrVersion},
		{"old version, other header layout", []byte("prescale-snapshot 0 crc32=1234\n{}"), snapshot.ErrVersion},
		{"non-numeric version", []byte("prescale-snapshot v1 2 " + strings.Repeat("0", 64) + "\n{}"), snapshot.ErrCorrupt},
		{"missing header fields", []byte(current + "2\n{}"), snapshot.ErrCorrupt},
		{"bad length", []byte(current + "-2 " + strings.Repeat("0", 64) + "\n{}"), snapshot.ErrCorrupt},
		{"huge length", []byte(current + "99999999999999999999 " + strings.Repeat("0", 64) + "\n{}"), snapshot.ErrCorrupt},
		{"short checksum", []byte(current + "2 abcd\n{}"), snapshot.ErrCorrupt},
		{"unterminated header", []byte("prescale-snapshot 1 " + strings.Repeat("9", 200)), snapshot.ErrCorrupt},
		{"checksummed garbage", snapFile("prescale-snapshot", snapshot.Version, []byte("{not json")), snapshot.ErrCorrupt},
		{"checksummed empty payload", snapFile("prescale-snapshot", snapshot.Version, nil), snapshot.ErrCorrupt},
		{"payload version differs", rewrite(func(d map[string]any) { d["version"] = 7 }), snapshot.ErrCorrupt},
		{"other target's snapshot", rewrite(func(d map[string]any) {
			d["name"] = "api"
			d["target"].(map[string]any)["name"] = "api"
		}), snapshot.ErrCorrupt},
		{"no model", rewrite(func(d map[string]any) { delete(d, "model") }), snapshot.ErrCorrupt},
		{"model without components", rewrite(func(d map[string]any) { d["model"].(map[string]any)["components"] = nil }), snapshot.ErrCorrupt},
		{"model with two states", rewrite(func(d map[string]any) {
			c := d["model"].(map[string]any)["components"].([]any)[0].(map[string]any)
			c["naive"] = map[string]any{"period": 1, "history": []float64{1}}
		}), snapshot.ErrCorrupt},
		{"zero step", rewrite(func(d map[string]any) { d["step"] = 0 }), snapshot.ErrCorrupt},
		{"last observation before data end", rewrite(func(d map[string]any) { d["last_observed"] = "2000-01-01T00:00:00Z" }), snapshot.ErrCorrupt},
		{"effects with 10 bins, not 64", rewrite(func(d map[string]any) {
			ratios := make([][]float64, 10)
			for i := range ratios {
				ratios[i] = []float64{2}
			}
			d["effects"] = map[string]any{"learned": map[string]any{"promo": map[string]any{"seen": 1, "ratios": ratios}}}
		}), snapshot.ErrCorrupt},
		{"effects with a ratio that is not a number", rewrite(func(d map[string]any) {
			d["effects"] = map[string]any{"usual": []any{1, "x"}, "usual_step": 60e9}
		}), snapshot.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := store.Load("web")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load: error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			snaps, problems := store.LoadAll()
			if len(snaps) != 0 || len(problems) != 1 || !errors.Is(problems[0], tt.want) || !strings.Contains(problems[0].Error(), path) {
				t.Errorf("LoadAll = %d snapshots, problems %v; want only a problem naming %s wrapping %v", len(snaps), problems, path, tt.want)
			}
		})
	}
	// The untouched file still loads: the cases only differ from it where stated.
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load("web"); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotNames(t *testing.T) {
	store := openSnapStore(t)
	f := snapFit(t, forecast.KindNaive, 24*4, 1)
	for _, name := range []string{
		"", ".", "..", "../web", "web/..", "a/b", `a\b`, "/etc/passwd", ".hidden", ".tmp-web-1",
		"Web", "web app", "web\x00", "web\n", "-web", "web-", "web.", "wéb", "web:1", "web.snap/x",
		strings.Repeat("a", 251),
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if err := store.Save(snapOf(name, f, 24*4, 1)); !errors.Is(err, snapshot.ErrName) {
				t.Errorf("Save: error %v, want ErrSnapshotName", err)
			}
			if _, err := store.Load(name); !errors.Is(err, snapshot.ErrName) {
				t.Errorf("Load: error %v, want ErrSnapshotName", err)
			}
			if err := store.Delete(name); !errors.Is(err, snapshot.ErrName) {
				t.Errorf("Delete: error %v, want ErrSnapshotName", err)
			}
		})
	}
	for _, name := range []string{"a", "web", "web-1", "0web", "ns.web", strings.Repeat("a", 250)} {
		t.Run(name, func(t *testing.T) {
			if err := store.Save(snapOf(name, f, 24*4, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Load(name); err != nil {
				t.Fatal(err)
			}
		})
	}
	entries, err := os.ReadDir(filepath.Dir(store.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files escaped the store directory: %v", entries)
	}
}

func TestSnapshotSaveInvalid(t *testing.T) {
	store := openSnapStore(t)
	f := snapFit(t, forecast.KindNaive, 24*4, 1)
	mutate := func(change func(s *snapshot.Snapshot)) *snapshot.Snapshot {
		s := snapOf("web", f, 24*4, 1)
		change(s)
		return s
	}
	for _, tt := range []struct {
		name string
		snap *snapshot.Snapshot
	}{
		{"nil", nil},
		{"no model", mutate(func(s *snapshot.Snapshot) { s.Model = nil })},
		{"target name differs", mutate(func(s *snapshot.Snapshot) { s.Target.Name = "api" })},
		{"zero step", mutate(func(s *snapshot.Snapshot) { s.Step = 0 })},
		{"window ends before it starts", mutate(func(s *snapshot.Snapshot) { s.DataStart = s.DataEnd.Add(time.Hour) })},
		{"last observation before window end", mutate(func(s *snapshot.Snapshot) { s.LastObserved = s.DataStart })},
		{"NaN in model", mutate(func(s *snapshot.Snapshot) {
			g := *f
			g.Scores = map[string]float64{"x": math.NaN()}
			s.Model = &g
		})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.Save(tt.snap); !errors.Is(err, snapshot.ErrInvalid) {
				t.Errorf("Save: error %v, want ErrSnapshotInvalid", err)
			}
		})
	}
	if _, err := store.Load("web"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Load after refused saves: error %v, want ErrSnapshotNotFound", err)
	}
}

func TestStoreDelete(t *testing.T) {
	store := openSnapStore(t)
	if err := store.Save(snapOf("web", snapFit(t, forecast.KindNaive, 24*4, 1), 24*4, 1)); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load("web"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Load after Delete: error %v, want ErrSnapshotNotFound", err)
	}
	if err := store.Delete("web"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("second Delete: error %v, want ErrSnapshotNotFound", err)
	}
	if snaps, problems := store.LoadAll(); len(snaps)+len(problems) != 0 {
		t.Errorf("LoadAll after Delete = %v, %v", snaps, problems)
	}
}

func TestStoreLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	store, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := snapFit(t, forecast.KindNaive, 24*4, 1)
	for _, name := range []string{"web", "api"} {
		if err := store.Save(snapOf(name, f, 24*4, 1)); err != nil {
			t.Fatal(err)
		}
	}
	good, err := os.ReadFile(filepath.Join(dir, "web.snap"))
	if err != nil {
		t.Fatal(err)
	}
	leave := func() {
		t.Helper()
		// What a crash leaves: a half-written temporary file, a complete
		// one not yet renamed, and an empty one.
		for name, data := range map[string][]byte{
			".tmp-web-1234": good[:len(good)/2],
			".tmp-api-99":   good,
			".tmp-web-77":   nil,
		} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Files that are not the store's are left alone.
	for _, name := range []string{"README", ".keep", "web.snap.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{".keep", "README", "api.snap", "web.snap", "web.snap.bak"}; !reflect.DeepEqual(names, want) {
			t.Errorf("%s: directory holds %q, want %q", when, names, want)
		}
	}

	leave()
	snaps, problems := store.LoadAll()
	if len(snaps) != 2 || len(problems) != 0 || snaps[0].Name != "api" || snaps[1].Name != "web" {
		t.Errorf("LoadAll with leftovers = %d snapshots, problems %v; want api and web", len(snaps), problems)
	}
	check("after LoadAll")

	leave()
	if _, err := snapshot.Open(dir); err != nil {
		t.Fatal(err)
	}
	check("after OpenStore")

	// A .snap file whose name is no target name is reported, not loaded.
	if err := os.WriteFile(filepath.Join(dir, "Web.snap"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	snaps, problems = store.LoadAll()
	if len(snaps) != 2 || len(problems) != 1 || !errors.Is(problems[0], snapshot.ErrName) {
		t.Errorf("LoadAll with Web.snap = %d snapshots, problems %v; want 2 and one ErrSnapshotName", len(snaps), problems)
	}
}

// TestStoreConcurrentSave saves different targets from many goroutines
// while LoadAll runs (and cleans up) alongside; run it with -race.
func TestStoreConcurrentSave(t *testing.T) {
	store := openSnapStore(t)
	fits := []*forecast.Fitted{snapFit(t, forecast.KindNaive, 24*4, 1), snapFit(t, forecast.KindHoltWinters, 24*4, 2)}
	const targets, saves = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, targets*saves+100)
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			_, problems := store.LoadAll()
			for _, p := range problems {
				errs <- fmt.Errorf("LoadAll during saves: %w", p)
			}
		}
	})
	var savers sync.WaitGroup
	for i := range targets {
		savers.Go(func() {
			name := fmt.Sprintf("target-%d", i)
			for gen := range uint64(saves) {
				if err := store.Save(snapOf(name, fits[gen%2], 24*4, gen)); err != nil {
					errs <- err
				}
			}
		})
	}
	savers.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	snaps, problems := store.LoadAll()
	if len(snaps) != targets || len(problems) != 0 {
		t.Fatalf("LoadAll = %d snapshots, problems %v; want %d", len(snaps), problems, targets)
	}
	for i, s := range snaps {
		if want := fmt.Sprintf("target-%d", i); s.Name != want || s.Generation != saves-1 {
			t.Errorf("snapshot %d: %s generation %d, want %s generation %d", i, s.Name, s.Generation, want, saves-1)
		}
	}
}

// FuzzSnapshotLoad checks that no file content makes Load panic, and that
// whatever it accepts saves and loads again to the same snapshot.
func FuzzSnapshotLoad(f *testing.F) {
	dir := f.TempDir()
	store, err := snapshot.Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	if err := store.Save(snapOf("web", snapFit(f, forecast.KindNaive, 24*3, 1), 24*3, 1)); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "web.snap"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte("prescale-snapshot 1 2 " + strings.Repeat("0", 64) + "\n{}"))
	f.Add(snapFile("prescale-snapshot", 1, []byte(`{"version":1,"name":"web","target":{"name":"web"},"step":1,"model":{"components":[{"naive":{}}]}}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "web.snap")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := store.Load("web")
		if err != nil {
			if !errors.Is(err, snapshot.ErrCorrupt) && !errors.Is(err, snapshot.ErrVersion) {
				t.Fatalf("Load: error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			return
		}
		if err := store.Save(s); err != nil {
			t.Fatalf("Save of a loaded snapshot: %v", err)
		}
		again, err := store.Load("web")
		if err != nil {
			t.Fatalf("Load after Save: %v", err)
		}
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("snapshot changed through Save and Load:\n%s\n%s", a, b)
		}
	})
}

func BenchmarkSnapshotSave(b *testing.B) {
	store := openSnapStore(b)
	snap := snapOf("web", snapFit(b, forecast.KindAuto, 24*14, 1), 24*14, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := store.Save(snap); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(store.Dir(), "web.snap"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size()), "file-bytes")
}

func BenchmarkSnapshotLoad(b *testing.B) {
	store := openSnapStore(b)
	snap := snapOf("web", snapFit(b, forecast.KindAuto, 24*14, 1), 24*14, 1)
	if err := store.Save(snap); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Load("web"); err != nil {
			b.Fatal(err)
		}
	}
}
