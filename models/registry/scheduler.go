package registry

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
	"sync"
	"time"
)

// taskKind is what a scheduled task does for its target.
type taskKind uint8

const (
	taskFetch taskKind = iota // a streaming fetch of the points since the last one
	taskFit                   // a fit (the first one may restore a snapshot instead)
)

// task is a target's next fetch or fit. Its fields other than state and
// kind are guarded by scheduler.mu. A task is in at most one place: the
// scheduler's heap (index >= 0), the run loop's queue or a worker (busy),
// or nowhere (removed, or not scheduled yet).
type task struct {
	state *targetState
	kind  taskKind

	at    time.Time
	index int  // position in the heap; -1 when not in it
	busy  bool // handed to the run loop or a worker and not finished
	// again is the earliest time asked for while busy; finish schedules
	// the task no later than that. Zero when none was asked for.
	again   time.Time
	removed bool
	// parked: out of the queue until scheduled again (a target another
	// replica now holds); a run under way is not scheduled after it ends.
	parked bool
}

// taskHeap orders tasks by time.
type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// scheduler is the registry's queue of timed tasks. The run loop takes the
// due ones and hands them to the workers, which finish them with the time
// of their next run. Lock order: a targetState's mu may be held while
// calling the scheduler, never the other way round.
type scheduler struct {
	mu    sync.Mutex
	queue taskHeap
	// wake tells the run loop that the queue changed (buffered, 1).
	wake chan struct{}
}

func newScheduler() *scheduler { return &scheduler{wake: make(chan struct{}, 1)} }

// poke wakes the run loop without blocking.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// schedule sets the task's next run to at (or, while it waits for a
// worker or runs, no later than at: the run may be for a configuration
// that has changed).
func (s *scheduler) schedule(t *task, at time.Time) { s.put(t, at, false) }

// expedite moves the task's next run to at if that is sooner. A task
// waiting for a worker or running is left alone: that run takes the
// newest data, and a second one at once would repeat it.
func (s *scheduler) expedite(t *task, at time.Time) { s.put(t, at, true) }

func (s *scheduler) put(t *task, at time.Time, onlySooner bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.parked = false
	switch {
	case t.removed:
		return
	case t.busy:
		if !onlySooner {
			s.askAgain(t, at)
		}
		return
	case t.index >= 0:
		if onlySooner && !at.Before(t.at) {
			return
		}
		t.at = at
		heap.Fix(&s.queue, t.index)
	default:
		t.at = at
		heap.Push(&s.queue, t)
	}
	s.poke()
}

func (s *scheduler) askAgain(t *task, at time.Time) {
	if t.again.IsZero() || at.Before(t.again) {
		t.again = at
	}
}

// park takes the task out of the queue until it is scheduled again.
func (s *scheduler) park(t *task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.parked, t.again = true, time.Time{}
	if t.index >= 0 {
		heap.Remove(&s.queue, t.index)
	}
}

// remove takes the task out for good.
func (s *scheduler) remove(t *task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.removed = true
	if t.index >= 0 {
		heap.Remove(&s.queue, t.index)
	}
}

// dueSince returns when the task fell due if, at now, it is due and waits
// in the queue or in the run loop's (or runs: the caller tells that
// apart), and zero otherwise.
func (s *scheduler) dueSince(t *task, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.removed || t.parked || t.index < 0 && !t.busy || t.at.After(now) {
		return time.Time{}
	}
	return t.at
}

// finish ends a task's run and schedules the next one at next, or sooner
// if that was asked for during the run.
func (s *scheduler) finish(t *task, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.busy = false
	if t.removed || t.parked {
		return
	}
	if !t.again.IsZero() && t.again.Before(next) {
		next = t.again
	}
	t.again = time.Time{}
	t.at = next
	heap.Push(&s.queue, t)
	s.poke()
}

// due takes the tasks due at now out of the queue, marks them busy and
// appends them to dst. It also returns the time of the next task, or zero
// when the queue is empty.
func (s *scheduler) due(now time.Time, dst []*task) ([]*task, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && !s.queue[0].at.After(now) {
		t := heap.Pop(&s.queue).(*task)
		t.busy = true
		dst = append(dst, t)
	}
	if len(s.queue) == 0 {
		return dst, time.Time{}
	}
	return dst, s.queue[0].at
}

// maxIdle bounds the run loop's sleep, so that a clock that jumps (a
// suspended machine) is noticed.
const maxIdle = time.Minute

// loop hands due tasks to the fit and fetch workers and asks the saver to
// save snapshots every SnapshotInterval, until ctx is done. Tasks wait in
// the loop's queues while every worker of their kind is busy, so a slow fit
// never delays a fetch; the fits of targets without a model (new ones, or
// ones this replica has just come to hold) go before the refits of
// targets that have one, which serve meanwhile.
func (r *Registry) loop(ctx context.Context, fits, fetches chan<- *task, saves chan<- struct{}) {
	var firstQ, refitQ, fetchQ, due []*task
	timer := time.NewTimer(maxIdle)
	defer timer.Stop()
	nextSave := r.now().Add(r.opts.SnapshotInterval)
	for {
		now := r.now()
		var next time.Time
		due, next = r.sched.due(now, due[:0])
		for _, t := range due {
			switch {
			case t.kind != taskFit:
				fetchQ = append(fetchQ, t)
			case t.state.modeled.Load():
				refitQ = append(refitQ, t)
			default:
				firstQ = append(firstQ, t)
			}
		}
		if r.opts.Store != nil && !now.Before(nextSave) {
			select {
			case saves <- struct{}{}:
			default: // the saver is still at the previous round
			}
			nextSave = now.Add(r.opts.SnapshotInterval)
		}

		wait := maxIdle
		if !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
		if r.opts.Store != nil {
			wait = min(wait, nextSave.Sub(now))
		}
		timer.Reset(max(wait, 0))

		// A nil channel disables its case when its queue is empty.
		var fitC, fetchC chan<- *task
		var fitHead, fetchHead *task
		fitQ := &refitQ
		if len(firstQ) > 0 {
			fitQ = &firstQ
		}
		if len(*fitQ) > 0 {
			fitC, fitHead = fits, (*fitQ)[0]
		}
		if len(fetchQ) > 0 {
			fetchC, fetchHead = fetches, fetchQ[0]
		}
		select {
		case <-ctx.Done():
			return
		case fitC <- fitHead:
			(*fitQ)[0] = nil
			*fitQ = (*fitQ)[1:]
		case fetchC <- fetchHead:
			fetchQ[0] = nil
			fetchQ = fetchQ[1:]
		case <-timer.C:
		case <-r.sched.wake:
		}
	}
}

// maxDueRounds bounds RunDue's rounds at one instant: a fit abandoned
// because its target changed runs again at once, nothing else does.
const maxDueRounds = 16

// RunDue runs every fetch and fit due at the registry's clock on the calling
// goroutine, the fetches first, again until none is due (a fetch that finds
// a level shift makes a fit due at once), and returns how many ran. It is
// Run's loop without goroutines or timers, for simulations and tests that
// drive the clock through Options.Now; it must not be called while
// Run runs.
func (r *Registry) RunDue(ctx context.Context) int {
	ran := 0
	var due []*task
	for range maxDueRounds {
		due, _ = r.sched.due(r.now(), due[:0])
		if len(due) == 0 {
			break
		}
		// Fetches, then first fits, then refits, as loop orders them.
		slices.SortStableFunc(due, func(a, b *task) int {
			return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(fitOrder(a), fitOrder(b)))
		})
		for _, t := range due {
			r.run(ctx, t)
		}
		ran += len(due)
	}
	return ran
}

// fitOrder is 0 for the fit of a target without a model, 1 otherwise.
func fitOrder(t *task) int {
	if t.kind == taskFit && !t.state.modeled.Load() {
		return 0
	}
	return 1
}

// run runs one task.
func (r *Registry) run(ctx context.Context, t *task) {
	if t.kind == taskFit {
		r.fit(ctx, t)
		return
	}
	r.fetch(ctx, t)
}

// worker runs the tasks it receives until the channel is closed.
func (r *Registry) worker(ctx context.Context, tasks <-chan *task) {
	for t := range tasks {
		r.run(ctx, t)
	}
}

// saver saves the snapshots of the targets whose state advanced, each time
// the run loop asks, until ctx is done.
func (r *Registry) saver(ctx context.Context, rounds <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-rounds:
			r.saveChanged()
		}
	}
}
