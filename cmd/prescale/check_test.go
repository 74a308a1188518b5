package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig runs `prescale check config` as CI would: exit 0 and a
// count for valid files, exit 1 and every problem with its file and line
// for an invalid one, exit 2 for a usage error.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", `targets:
  - name: web
    query: sum(rate(http_requests_total{job="web"}[1m]))
    step: 1m
    capacityPerReplica: 20
    leadTime: 3m
  - name: api
    query: sum(rate(http_requests_total{job="api"}[1m]))
    step: 30s
    capacityPerReplica: 50
    leadTime: 2m
`)
	bad := write("bad.yaml", `targets:
  - name: web
    query: up
    step: 0s
    capacityPerReplica: 20
    leadTime: 3m
    bogus: 1
  - name: web
    step: 1m
`)

	code, out, stderr := runCLI(t, "check", "config", good)
	if code != 0 || !strings.Contains(out, "SUCCESS "+good+": 2 targets") {
		t.Errorf("valid file: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "check", "config", good, bad)
	for _, want := range []string{
		"SUCCESS " + good,
		"FAILED " + bad,
		bad + ":4: targets[0].step: must be positive, got 0s",
		bad + ":7: targets[0].bogus: unknown field",
		bad + ":8: targets[1].query: required",
		bad + `:8: targets[1].name: duplicate target name "web"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(stderr, "1 of 2 files invalid") {
		t.Errorf("an invalid file: exit %d, stderr %q; want 1 and the count", code, stderr)
	}
	if code, out, _ := runCLI(t, "check", "config", "--max-targets", "1", good); code != 1 || !strings.Contains(out, "2 targets declared, more than the limit of 1") {
		t.Errorf("--max-targets 1: exit %d, stdout %q", code, out)
	}
	if code, out, _ := runCLI(t, "check", "config", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(out, "missing.yaml") {
		t.Errorf("a missing file: exit %d, stdout %q", code, out)
	}
	for _, args := range [][]string{{"check"}, {"check", "rules"}, {"check", "config"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
