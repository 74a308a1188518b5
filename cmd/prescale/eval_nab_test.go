package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prescale/prescale/feed/feedtest"
)

func testEnv(out *bytes.Buffer) *env {
	return &env{stdout: out, stderr: io.Discard, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func nabTestDataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PRESCALE_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "nab")); err != nil {
		t.Fatalf("NAB data missing (set PRESCALE_DATA): %v", err)
	}
	return dir
}

func TestRunEvalNAB(t *testing.T) {
	dir := nabTestDataDir(t)
	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		if err := runEvalNAB(context.Background(), testEnv(&out), []string{"--data", dir, "--detector", "prescale", "--json"}); err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Detectors map[string]map[string]float64 `json:"detectors"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v in %s", err, out.String())
		}
		got := map[string]float64{}
		for _, k := range []string{"standard", "low_fp", "low_fn"} {
			v, ok := rep.Detectors["prescale"][k]
			if !ok {
				t.Fatalf("no %q in %s", k, out.String())
			}
			got["prescale/"+k] = v
		}
		// The command must score as the anomaly package's own golden test
		// does; that test owns the file (and its -update).
		golden := filepath.Join("..", "..", "anomaly", "testdata", "nab_golden.json")
		feedtest.Golden(t, golden, got, map[string]feedtest.Tolerance{"": {Rel: 0.01}}, false)
	})
	t.Run("table", func(t *testing.T) {
		var out bytes.Buffer
		// A two-file NAB checkout keeps the table check quick under -race;
		// the json case scores the whole corpus.
		small := smallNAB(t, filepath.Join(dir, "nab"), "artificialWithAnomaly/art_daily_jumpsup.csv", "artificialNoAnomaly/art_daily_no_noise.csv")
		if err := runEvalNAB(context.Background(), testEnv(&out), []string{"--data", small, "--detector", "prescale"}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"prescale", "ARTime", "74.85", "windowedGaussian"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("unknown detector", func(t *testing.T) {
		err := runEvalNAB(context.Background(), testEnv(new(bytes.Buffer)), []string{"--data", dir, "--detector", "nope"})
		if !errors.Is(err, errUsage) {
			t.Errorf("err %v, want errUsage", err)
		}
	})
}

// smallNAB writes a NAB checkout holding only the named data files of the
// one at src, with their labels, and returns its directory.
func smallNAB(t *testing.T, src string, names ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(src, "labels", "combined_windows.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	labels := map[string]json.RawMessage{}
	for _, name := range names {
		labels[name] = all[name]
		data, err := os.ReadFile(filepath.Join(src, "data", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, "data", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := json.Marshal(labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "labels"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "labels", "combined_windows.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
