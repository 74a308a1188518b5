package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports a long command's advance on w: a bar redrawn in place
// when w is a terminal, otherwise a plain line every tenth of a stage.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	width    int
	stage    string
	started  time.Time
	lastDraw time.Time
	lastTick int // tenths reported in plain mode
	drawn    bool
	now      func() time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, now: time.Now, width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 40 {
			p.width = width
		}
	}
	return p
}

// update takes a stage's progress: done of total units.
func (p *progress) update(stage string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if stage != p.stage {
		if p.tty && p.drawn {
			fmt.Fprintln(p.w)
		}
		p.stage, p.started, p.lastTick, p.drawn = stage, now, 0, false
	}
	if total <= 0 {
		return
	}
	frac := float64(done) / float64(total)
	elapsed := now.Sub(p.started)
	eta := ""
	if done > 0 && done < total {
		eta = fmt.Sprintf(" eta %s", (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second))
	}
	if !p.tty {
		if tick := done * 10 / total; tick > p.lastTick || done == total && p.lastTick < 10 {
			p.lastTick = tick
			fmt.Fprintf(p.w, "backtest: %s %d/%d (%d%%) after %s%s\n", stage, done, total, int(100*frac), elapsed.Round(time.Second), eta)
		}
		return
	}
	if done < total && now.Sub(p.lastDraw) < 100*time.Millisecond {
		return
	}
	p.lastDraw = now
	label := fmt.Sprintf("%-7s", stage)
	tail := fmt.Sprintf(" %d/%d %3d%% %s%s", done, total, int(100*frac), elapsed.Round(time.Second), eta)
	barWidth := max(10, p.width-len(label)-len(tail)-4)
	filled := int(frac * float64(barWidth))
	fmt.Fprintf(p.w, "\r%s [%s%s]%s\x1b[K", label, strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), tail)
	p.drawn = true
}

// finish ends the bar's line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
