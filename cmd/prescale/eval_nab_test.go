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
		s := rep.Detectors["prescale"]
		for _, k := range []string{"standard", "low_fp", "low_fn"} {
			if _, ok := s[k]; !ok {
				t.Fatalf("no %q in %s", k, out.String())
			}
		}
		if s["standard"] < 47 {
			t.Errorf("standard %.2f, want at least 47", s["standard"])
		}
	})
	t.Run("table", func(t *testing.T) {
		var out bytes.Buffer
		if err := runEvalNAB(context.Background(), testEnv(&out), []string{"--data", filepath.Join(dir, "nab"), "--detector", "cusum"}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cusum", "ARTime", "74.85", "windowedGaussian"} {
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
