package main

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed/prometheus/promtest"
	"github.com/prescale/prescale/models/snapshot"
)

// TestServeRestartKill9 kills the server with SIGKILL at random moments
// while it saves snapshots (every 10ms, of each target whose state
// advanced: here every second), and checks after each kill that every
// snapshot on disk is intact (Save is atomic: a kill leaves the old file or
// the new one) and that the next start is ready from them and serves.
// Every other kill waits, after its random delay, for a snapshot write to
// begin, so that some kills surely land in the middle of one. Once it
// plants a corrupt and a wrong-version snapshot: the server must say so,
// refit those targets and serve.
func TestServeRestartKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prometheus and prescale")
	}
	// Targets on a one-second step: every second each one's state advances
	// and is saved.
	const (
		step       = time.Second
		kills      = 12
		plantAfter = 5 // the kill after which the bad files are planted
	)
	var targets []string
	for _, c := range "abc" {
		targets = append(targets, "kill-"+string(c))
	}
	load := func(t time.Time) float64 {
		return 300 + 80*math.Sin(2*math.Pi*float64(t.Unix()%300)/300) + 5*loadNoise(t, 3)
	}
	series := loadHistory("restart_load", time.Now().Truncate(step), time.Hour, step, load)
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{series}})
	startFeed(t, srv, series, load)

	var cfg strings.Builder
	cfg.WriteString("targets:\n")
	for _, name := range targets {
		cfg.WriteString("  - name: " + name + "\n    query: restart_load\n    step: 1s\n    history: 20m\n" +
			"    capacityPerReplica: 20\n    leadTime: 1m\n    seasons: [5m]\n")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "targets.yaml")
	writeFileAtomically(t, config, cfg.String())
	snapDir := filepath.Join(dir, "snapshots")
	args := []string{"--config", config, "--prometheus.url", srv.URL, "--data-dir", snapDir, "--snapshot.interval", "10ms"}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("kill delays drawn with seed %d", seed)

	var (
		midWrite int               // kills that left a temporary file
		aimed    int               // kills sent as a temporary file appeared
		saved    map[string]uint64 // generation of each snapshot after the last kill
		planted  map[string][]byte // bad files planted for the next start
	)
	for i := range kills {
		p := startServe(t, serveProcOptions{Args: args})
		readyIn := time.Since(p.Started)
		p.WaitModels(60 * time.Second)
		modelsIn := time.Since(p.Started)
		if planted != nil {
			checkPlanted(t, p, snapDir, planted)
		}
		for _, name := range targets {
			var rec prescalev1.Recommendation
			p.GetProto("/v1/targets/"+name+"/recommendation", &rec)
			var tg prescalev1.Target
			p.GetProto("/v1/targets/"+name, &tg)
			if g := tg.GetModel().GetGeneration(); planted[name] == nil && g < saved[name] {
				t.Errorf("start %d: %s serves model generation %d, but its snapshot had %d: the snapshot was not used", i+1, name, g, saved[name])
			}
			if rec.Replicas < 1 {
				t.Errorf("start %d: %s recommends %d replicas", i+1, name, rec.Replicas)
			}
		}
		planted = nil

		delay := time.Duration(rng.Int64N(int64(400 * time.Millisecond)))
		time.Sleep(delay)
		when := "after a random delay"
		if i%2 == 1 && waitTempFile(snapDir, 3*time.Second) {
			aimed++
			when = "as a snapshot write began, after a random delay"
		}
		p.Kill()

		entries, err := os.ReadDir(snapDir)
		if err != nil {
			t.Fatal(err)
		}
		var temps, snaps []string
		for _, e := range entries {
			switch {
			case strings.HasPrefix(e.Name(), ".tmp-"):
				temps = append(temps, e.Name())
			case strings.HasSuffix(e.Name(), ".snap"):
				snaps = append(snaps, strings.TrimSuffix(e.Name(), ".snap"))
			}
		}
		if len(temps) > 0 {
			midWrite++
		}
		store, err := snapshot.Open(snapDir)
		if err != nil {
			t.Fatalf("kill %d: open the snapshots: %v", i+1, err)
		}
		if left, _ := filepath.Glob(filepath.Join(snapDir, ".tmp-*")); len(left) > 0 {
			t.Errorf("kill %d: OpenStore left the temporary files %v", i+1, left)
		}
		// A fit is saved just after it is served, so a kill right after
		// a target's first fit may find no snapshot; but a kill never
		// takes away one that was there.
		for name := range saved {
			if !slices.Contains(snaps, name) {
				t.Errorf("kill %d: the snapshot of %s is gone", i+1, name)
			}
		}
		for _, name := range snaps {
			if !slices.Contains(targets, name) {
				t.Errorf("kill %d: snapshot of an unknown target %q", i+1, name)
			}
		}
		saved = map[string]uint64{}
		for _, name := range snaps {
			snap, err := store.Load(name)
			switch {
			case err == nil:
				saved[name] = snap.Generation
			case errors.Is(err, snapshot.ErrCorrupt), errors.Is(err, snapshot.ErrVersion):
				// What Load may say of a bad file, but Save is atomic and
				// SIGKILL loses nothing written: after a kill a damaged
				// file means a snapshot was written in place.
				t.Errorf("kill %d after %v: %v (Save is atomic: want the previous snapshot or the new one)", i+1, delay, err)
			default:
				t.Errorf("kill %d after %v: load %s: %v (want success, ErrCorrupt or ErrVersion)", i+1, delay, name, err)
			}
		}
		t.Logf("start %d: ready in %v, every model in %v, killed %s of %v; temporary files %v, snapshot generations %v",
			i+1, readyIn.Round(time.Millisecond), modelsIn.Round(time.Millisecond), when, delay.Round(time.Millisecond), temps, saved)

		if i+1 == plantAfter {
			planted = plantBadSnapshots(t, store, snapDir, targets[0], targets[1])
		}
	}
	t.Logf("%d of %d kills landed in the middle of a snapshot write (a temporary file was left); %d were sent as one appeared", midWrite, kills, aimed)
}

// waitTempFile polls dir until a temporary snapshot file appears, and
// reports whether one did within timeout.
func waitTempFile(dir string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				return true
			}
		}
	}
	return false
}

// plantBadSnapshots replaces the snapshot of corrupt with garbage and that
// of wrongVersion with a copy claiming another format version, checks that
// the store sees them so, and returns what was written.
func plantBadSnapshots(t *testing.T, store *snapshot.Store, dir, corrupt, wrongVersion string) map[string][]byte {
	t.Helper()
	garbage := []byte("not a snapshot at all \x00\x01\x02\n{")
	good, err := os.ReadFile(filepath.Join(dir, wrongVersion+".snap"))
	if err != nil {
		t.Fatal(err)
	}
	// The header is "prescale-snapshot <version> <length> <sha256>".
	header, payload, _ := bytes.Cut(good, []byte("\n"))
	fields := strings.Fields(string(header))
	if len(fields) != 4 {
		t.Fatalf("snapshot header %q: want 4 fields", header)
	}
	fields[1] = "999"
	other := append([]byte(strings.Join(fields, " ")+"\n"), payload...)
	planted := map[string][]byte{corrupt: garbage, wrongVersion: other}
	for name, data := range planted {
		if err := os.WriteFile(filepath.Join(dir, name+".snap"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Load(corrupt); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("planted garbage loads with %v, want ErrCorrupt", err)
	}
	if _, err := store.Load(wrongVersion); !errors.Is(err, snapshot.ErrVersion) {
		t.Fatalf("planted version 999 loads with %v, want ErrVersion", err)
	}
	t.Logf("planted a corrupt snapshot for %s and a version 999 one for %s", corrupt, wrongVersion)
	return planted
}

// checkPlanted checks a start over planted bad snapshots: the log names
// each problem, the targets are refitted by this process, their
// recommendations are served, and their snapshots are rewritten.
func checkPlanted(t *testing.T, p *serveProc, dir string, planted map[string][]byte) {
	t.Helper()
	log, _ := os.ReadFile(p.LogFile)
	for name := range planted {
		problem := "corrupt snapshot"
		if bytes.HasPrefix(planted[name], []byte("prescale-snapshot 999 ")) {
			problem = "unsupported snapshot version"
		}
		found := false
		for line := range bytes.Lines(log) {
			if bytes.Contains(line, []byte(name)) && bytes.Contains(line, []byte(problem)) {
				found = true
			}
		}
		if !found {
			t.Errorf("the log of a start over a planted bad snapshot of %s does not say %q:\n%s", name, problem, p.LogTail())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for name, bad := range planted {
		for {
			var tg prescalev1.Target
			if code, body := p.Get("/v1/targets/" + name); code == http.StatusOK {
				decodeProto(t, body, &tg)
			}
			fitted := tg.GetModel().GetFittedAt()
			data, _ := os.ReadFile(filepath.Join(dir, name+".snap"))
			if fitted != nil && !fitted.AsTime().Before(p.Started.Add(-time.Second)) && !bytes.Equal(data, bad) && len(data) > 0 {
				t.Logf("%s refitted (generation %d, %s) at %v and its snapshot rewritten", name,
					tg.GetModel().GetGeneration(), tg.GetModel().GetKind(), fitted.AsTime().Format(time.TimeOnly))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not refitted by this process, or its bad snapshot not replaced, after 30s: model %v\n%s", name, tg.GetModel(), p.LogTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
