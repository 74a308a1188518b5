package snapshot_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models/snapshot"
)

// The crash writer is this test binary run again with these variables set.
const (
	crashEnvDir    = "PRESCALE_SNAPSHOT_CRASH_DIR"    // the store directory
	crashEnvModels = "PRESCALE_SNAPSHOT_CRASH_MODELS" // JSON file of the fitted models to alternate
	crashEnvGen    = "PRESCALE_SNAPSHOT_CRASH_GEN"    // first generation to write
)

// crashTargets are the targets the writer saves, round after round.
var crashTargets = []string{"api", "checkout", "web"}

// TestMain runs the crash writer instead of the tests when this binary is
// started as TestSnapshotCrash's writer process.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		if err := crashWriter(dir); err != nil {
			os.Stderr.WriteString("crash writer: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The crash writer's store and every test leave no goroutine behind.
	goleak.VerifyTestMain(m)
}

// crashWriter is the writer process of TestSnapshotCrash: it saves
// snapshots of crashTargets as fast as it can, alternating between two
// fitted models by generation (even: the first, odd: the second), says
// "ready" on stdout once every target has been saved, and runs until it is
// killed.
func crashWriter(dir string) error {
	raw, err := os.ReadFile(os.Getenv(crashEnvModels))
	if err != nil {
		return err
	}
	var fits [2]*forecast.Fitted
	if err := json.Unmarshal(raw, &fits); err != nil {
		return err
	}
	gen, err := strconv.ParseUint(os.Getenv(crashEnvGen), 10, 64)
	if err != nil {
		return err
	}
	store, err := snapshot.Open(dir)
	if err != nil {
		return err
	}
	// A writer that is never killed (its parent died) stops on its own.
	ready := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); gen++ {
		for _, name := range crashTargets {
			if err := store.Save(snapOf(name, fits[gen%2], crashSeriesLen, gen)); err != nil {
				return err
			}
		}
		if !ready {
			os.Stdout.WriteString("ready\n")
			ready = true
		}
	}
	return nil
}

const crashSeriesLen = 24 * 14

// TestSnapshotCrash kills a process that is writing snapshots with
// SIGKILL at a random moment, again and again, and checks after every
// kill what a restarted service would load: every snapshot file is a
// complete version that the writer wrote (one of the two models, with a
// generation that matches it, no older than the last round the writer
// finished), or is cleanly rejected; temporary files left by the kill are
// ignored and removed. A killed process cannot lose what the kernel
// already has, so this tests atomicity against a process crash, not
// durability against power loss (that is what the fsyncs are for).
func TestSnapshotCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts up to 40 processes")
	}
	// Up to iterations kills, but no new one after budget once minimum
	// have run, so that a loaded machine slows the test down only so far.
	const (
		iterations = 40
		minimum    = 10
		budget     = 15 * time.Second
	)
	dir := filepath.Join(t.TempDir(), "snapshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Two models whose encodings differ, saved for the writer.
	fits := [2]*forecast.Fitted{
		snapFit(t, forecast.KindHoltWinters, crashSeriesLen, 1),
		snapFit(t, forecast.KindHarmonic, crashSeriesLen, 2),
	}
	var want [2][]byte
	for i, f := range fits {
		var err error
		if want[i], err = json.Marshal(f); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(fits)
	if err != nil {
		t.Fatal(err)
	}
	modelsFile := filepath.Join(t.TempDir(), "models.json")
	if err := os.WriteFile(modelsFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	// Files the writer never touches: an old-format snapshot and a damaged
	// one must be rejected the same way after every restart.
	legacy := snapFile("prescale-snapshot", 0, []byte(`{"name":"legacy"}`))
	if err := os.WriteFile(filepath.Join(dir, "legacy.snap"), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	broken := snapFile("prescale-snapshot", snapshot.Version, []byte(`{"name":"broken"}`))
	if err := os.WriteFile(filepath.Join(dir, "broken.snap"), broken[:len(broken)-3], 0o600); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(5, 2026))
	lastGen := map[string]uint64{}
	kills, caught, leftovers := 0, 0, 0
	start := time.Now()
	for it := range iterations {
		if it >= minimum && time.Since(start) > budget {
			break
		}
		kills++
		firstGen := uint64(it) * 1_000_000
		delay := time.Duration(rng.IntN(20_000)) * time.Microsecond
		tempFiles := runCrashWriter(t, dir, modelsFile, firstGen, delay)
		if tempFiles > 0 {
			caught++
			leftovers += tempFiles
		}

		// The restart.
		store, err := snapshot.Open(dir)
		if err != nil {
			t.Fatalf("iteration %d: OpenStore: %v", it, err)
		}
		if n := countTempFiles(t, dir); n != 0 {
			t.Errorf("iteration %d: %d temporary files survive OpenStore", it, n)
		}
		snaps, problems := store.LoadAll()
		var rejected []string
		for _, p := range problems {
			switch {
			case errors.Is(p, snapshot.ErrVersion) && strings.Contains(p.Error(), "legacy.snap"):
				rejected = append(rejected, "legacy")
			case errors.Is(p, snapshot.ErrCorrupt) && strings.Contains(p.Error(), "broken.snap"):
				rejected = append(rejected, "broken")
			default:
				t.Errorf("iteration %d: unexpected problem: %v", it, p)
			}
		}
		if strings.Join(rejected, ",") != "broken,legacy" {
			t.Errorf("iteration %d: rejected %v, want broken and legacy", it, rejected)
		}
		var loaded []string
		for _, s := range snaps {
			loaded = append(loaded, s.Name)
			got, err := json.Marshal(s.Model)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[s.Generation%2]) {
				t.Errorf("iteration %d: %s generation %d holds a model that was never written with it", it, s.Name, s.Generation)
			}
			// The writer finished a round of generation firstGen before it
			// said ready, so nothing older may be what a restart sees.
			if s.Generation < firstGen || s.Generation < lastGen[s.Name] {
				t.Errorf("iteration %d: %s went back to generation %d (writer started at %d, last load saw %d)",
					it, s.Name, s.Generation, firstGen, lastGen[s.Name])
			}
			lastGen[s.Name] = s.Generation
		}
		if strings.Join(loaded, ",") != strings.Join(crashTargets, ",") {
			t.Errorf("iteration %d: loaded %v, want %v", it, loaded, crashTargets)
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("%d kills in %v: %d caught a write in progress (%d temporary files left behind)",
		kills, time.Since(start).Round(time.Millisecond), caught, leftovers)
}

// runCrashWriter starts the writer, waits until it is writing, lets it
// run for delay, kills it with SIGKILL, and returns how many temporary
// files the kill left.
func runCrashWriter(t *testing.T, dir, modelsFile string, firstGen uint64, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		crashEnvDir+"="+dir, crashEnvModels+"="+modelsFile, crashEnvGen+"="+strconv.FormatUint(firstGen, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("writer exited before it was ready: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer not ready after 30s: %s", stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer ended with %v, not by SIGKILL: %s", err, stderr.String())
	}
	return countTempFiles(t, dir)
}

func countTempFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			n++
		}
	}
	return n
}
