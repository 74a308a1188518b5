package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's sample output from what the commands print")

// TestREADMEForecastOutput runs the forecast command the README shows
// ("Forecasting offline") and checks that the sample output under
// "Reading the forecast" is what it prints, up to the first row of the
// table, so that the README cannot go stale: go test ./cmd/prescale
// -run TestREADMEForecastOutput -update-readme rewrites it.
func TestREADMEForecastOutput(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	section := readme[strings.Index(readme, "## Forecasting offline"):]
	start := strings.Index(section, "`bin/prescale forecast ")
	if start < 0 {
		t.Fatal(`README: no "bin/prescale forecast" command under "## Forecasting offline"`)
	}
	command := section[start+1:]
	command = command[:strings.Index(command, "`")]
	args := strings.Fields(strings.ReplaceAll(command, "../shared/data", dataDir(t)))[1:]
	code, out, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", command, code, stderr)
	}
	out = strings.ReplaceAll(out, dataDir(t), "../shared/data") // as the command names it
	// The output up to the table's first row.
	var want []string
	for line := range strings.SplitSeq(out, "\n") {
		want = append(want, strings.TrimRight(line, " "))
		if f := strings.Fields(line); len(f) > 0 && f[0] == "1" {
			break
		}
	}
	sample := strings.Join(want, "\n") + "\n"

	const heading = "### Reading the forecast\n\n```\n"
	i := strings.Index(readme, heading)
	if i < 0 {
		t.Fatalf("README: no %q", heading)
	}
	i += len(heading)
	j := i + strings.Index(readme[i:], "```\n")
	if got := readme[i:j]; got != sample {
		if *updateReadme {
			if err := os.WriteFile(path, []byte(readme[:i]+sample+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("README.md: sample output rewritten")
			return
		}
		t.Errorf("README's sample output of %q is not what it prints (-update-readme rewrites it):\nREADME:\n%s\nprinted:\n%s", command, got, sample)
	}
}
