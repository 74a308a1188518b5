package registry

import (
	"slices"
	"time"

	"github.com/prescale/prescale/models"
)

// MaxChanges is how many recommendation changes a target keeps, for the
// chart of its recommended against its workload's replicas: 16 bytes
// each, at most 4 KiB a target, allocated as they come.
const MaxChanges = 256

// Change is a recommendation that differed from the one before it, in
// its replicas, its deciding input, its staleness or the workload's
// current replicas.
type Change struct {
	Time     time.Time
	Replicas int
	// Won: forecast, reactive, min, max or held (models.Recommendation).
	Won   string
	Stale bool
	// Current is the workload's replicas as its HPA reported them when the
	// recommendation was made (Options: SetWorkloads); CurrentKnown is
	// false when no HPA of prescale's scales it, or another replica writes
	// it.
	Current      int
	CurrentKnown bool
}

// wonNames are the values of Change.Won, by their code in replicaChange.
var wonNames = []string{models.WonForecast, models.WonReactive, models.WonMin, models.WonMax, models.WonHeld}

// replicaChange is a Change in 16 bytes: its time in unix milliseconds,
// shifted left by 4 bits that hold its Won (an index in wonNames, 3 bits)
// and whether it was stale (the lowest bit).
type replicaChange struct {
	packed   int64
	replicas int32
	current  int32 // -1: unknown
}

func packChange(atMilli int64, won int, stale bool) int64 {
	p := atMilli<<4 | int64(won)<<1
	if stale {
		p |= 1
	}
	return p
}

func (c replicaChange) at() int64   { return c.packed >> 4 }
func (c replicaChange) won() int    { return int(c.packed>>1) & 7 }
func (c replicaChange) stale() bool { return c.packed&1 == 1 }

// changeRing keeps the last MaxChanges changes, oldest at head.
type changeRing struct {
	buf  []replicaChange
	head int
}

// add records rec, with the workload's current replicas (-1 unknown),
// when it differs from the last change recorded.
func (c *changeRing) add(rec *models.Recommendation, current int32) {
	won := slices.Index(wonNames, rec.Won)
	ch := replicaChange{packed: packChange(rec.Time.UnixMilli(), max(won, 0), rec.Stale), replicas: int32(rec.Replicas), current: current}
	if n := len(c.buf); n > 0 {
		last := c.buf[(c.head+n-1)%n]
		if last.replicas == ch.replicas && last.current == ch.current && last.packed&15 == ch.packed&15 {
			return
		}
		if ch.at() < last.at() {
			return // a clock that went back: the chart's times must increase
		}
	}
	if len(c.buf) < MaxChanges {
		c.buf = append(c.buf, ch)
		return
	}
	c.buf[c.head] = ch
	c.head = (c.head + 1) % len(c.buf)
}

// in returns the changes in [start, end), led by the one in effect at
// start (made before it), oldest first.
func (c *changeRing) in(start, end time.Time) []Change {
	var out []Change
	from, to := start.UnixMilli(), end.UnixMilli()
	for i := range c.buf {
		ch := c.buf[(c.head+i)%len(c.buf)]
		if ch.at() >= to {
			break
		}
		if ch.at() < from && len(out) > 0 {
			out = out[:0] // a later one is in effect at start
		}
		out = append(out, Change{
			Time: time.UnixMilli(ch.at()), Replicas: int(ch.replicas), Won: wonNames[ch.won()], Stale: ch.stale(),
			Current: int(max(ch.current, 0)), CurrentKnown: ch.current >= 0,
		})
	}
	return out
}

// History is what a target did over a window: its recommendation changes
// and the live accuracy of its lead-time forecasts, window by window.
type History struct {
	Changes  []Change
	Accuracy []AccuracyWindow
}

// History returns the target's recommendation changes in [start, end),
// led by the one in effect at start, and the accuracy windows that
// overlap it. Both are bounded: the last MaxChanges changes and
// accuracyWindows windows.
func (r *Registry) History(name string, start, end time.Time) (History, error) {
	s, err := r.lookupHeld("history", name)
	if err != nil {
		return History{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return History{Changes: s.changes.in(start, end), Accuracy: s.accuracy.windowsIn(start, end)}, nil
}

// Workloads reports the current replicas of the workload a target scales,
// when this replica knows them (controller.Controller.CurrentReplicas).
type Workloads func(target string) (replicas int32, ok bool)

// SetWorkloads makes the registry record, with every recommendation change,
// the workload's current replicas that w reports. Set it once, before
// Run; nil records none.
func (r *Registry) SetWorkloads(w Workloads) { r.workloads.Store(&w) }

// currentReplicas is the workload's replicas of target, -1 when unknown.
func (r *Registry) currentReplicas(target string) int32 {
	w := r.workloads.Load()
	if w == nil || *w == nil {
		return -1
	}
	n, ok := (*w)(target)
	if !ok || n < 0 {
		return -1
	}
	return n
}
