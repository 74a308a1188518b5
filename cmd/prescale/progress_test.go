package main

import (
	"strings"
	"testing"
	"time"
)

// TestProgressTerminal checks the bar drawn in place on a terminal: one
// line per stage, redrawn with a carriage return, at most every 100 ms
// except the last update, and ended by finish.
func TestProgressTerminal(t *testing.T) {
	var b strings.Builder
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{w: &b, tty: true, width: 60, now: func() time.Time { return now }}
	p.update("fit", 0, 4)
	now = now.Add(10 * time.Millisecond)
	p.update("fit", 1, 4) // within 100 ms of the last draw: skipped
	now = now.Add(time.Second)
	p.update("fit", 2, 4)
	now = now.Add(time.Second)
	p.update("fit", 4, 4)
	p.update("replay", 1, 1)
	p.finish()
	out := b.String()
	if n := strings.Count(out, "\r"); n != 4 {
		t.Errorf("%d redraws, want 4 (0/4, 2/4, 4/4, replay 1/1):\n%q", n, out)
	}
	if strings.Contains(out, " 1/4 ") {
		t.Errorf("an update within 100 ms was drawn: %q", out)
	}
	for _, want := range []string{"fit     [", " 2/4  50% 1s eta 1s", " 4/4 100% 2s\x1b[K\n", "replay  [", "1/1 100% 0s\x1b[K\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 2 {
		t.Errorf("%d lines, want one per stage: %q", len(lines), out)
	}
}

// TestProgressPlain checks the plain lines written when stderr is not a
// terminal: one per tenth of a stage, and the last.
func TestProgressPlain(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b)
	for i := 0; i <= 25; i++ {
		p.update("fit", i, 25)
	}
	p.finish()
	out := b.String()
	if strings.Contains(out, "\r") {
		t.Errorf("a bar on a non-terminal: %q", out)
	}
	if n := strings.Count(out, "backtest: fit "); n != 10 {
		t.Errorf("%d lines, want 10 (one per tenth):\n%s", n, out)
	}
	if !strings.Contains(out, "backtest: fit 25/25 (100%)") {
		t.Errorf("no final line:\n%s", out)
	}
}
