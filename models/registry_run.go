package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
)

// restoreSpread bounds the random delay of the background refit of a
// target restored from its snapshot, so that a restart does not refit
// every target at once.
const restoreSpread = 10 * time.Minute

// maxGap is how many steps a model or detector may be behind and still
// catch up by streaming: half the history. Further behind, it is refitted.
func maxGap(t *Target) int { return max(1, int(t.History/t.Step/2)) }

// restore loads every snapshot and installs those whose targets are
// declared with the same model configuration; targets created through the
// API or by KEDA are registered again. Targets declared later ask the
// store at their first fit.
func (r *Registry) restore() {
	type restoring struct {
		s      *targetState
		snap   *Snapshot
		target Target
		epoch  uint64
		plan   forecastPlan
	}
	var matched []restoring
	var snaps []*Snapshot
	if r.opts.Store != nil {
		var problems []error
		snaps, problems = r.opts.Store.LoadAll()
		for _, err := range problems {
			r.log.Warn("snapshot not restored; its target is fitted anew", "err", err)
		}
	}

	r.mu.Lock()
	for _, s := range r.targets {
		s.mu.Lock()
		s.loadTried = true
		s.mu.Unlock()
	}
	for _, snap := range snaps {
		s := r.targets[snap.Name]
		if s == nil {
			if snap.Origin != OriginAPI && snap.Origin != OriginKEDA {
				r.log.Info("snapshot of a target that is not declared; left on disk", "target", snap.Name, "origin", snap.Origin)
				continue
			}
			if err := snap.Target.Validate(); err != nil {
				r.log.Warn("snapshot of an invalid target; left on disk", "target", snap.Name, "err", err)
				continue
			}
			s = r.newState(snap.Target, snap.Origin)
			s.loadTried = true
			r.targets[snap.Name] = s
			r.start(s)
		}
		s.mu.Lock()
		ok := s.fitted == nil && sameModel(&s.target, &snap.Target)
		m := restoring{s: s, snap: snap, target: s.target, epoch: s.epoch}
		s.mu.Unlock()
		if !ok {
			r.log.Info("snapshot is for another configuration of the target; fitting anew", "target", snap.Name)
			continue
		}
		matched = append(matched, m)
	}
	r.mu.Unlock()

	// Each plan takes a few sorts of calibration errors: spread them over
	// the workers.
	parallel(r.opts.Workers, len(matched), func(i int) {
		matched[i].plan = r.newPlan(matched[i].snap.Model, &matched[i].target)
	})
	for _, m := range matched {
		if at, ok := r.useSnapshot(m.s, m.snap, m.plan, &m.target, m.epoch); ok {
			r.sched.schedule(&m.s.fitTask, at)
		}
	}
}

// parallel runs f(0), ..., f(n-1) on up to workers goroutines.
func parallel(workers, n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// useSnapshot installs a snapshot whose plan was made for the target
// configuration planned in epoch, unless the target changed meanwhile or
// has a model. It schedules a fetch to catch up and returns when to
// refit.
func (r *Registry) useSnapshot(s *targetState, snap *Snapshot, plan forecastPlan, planned *Target, epoch uint64) (time.Time, bool) {
	now := r.now()
	s.mu.Lock()
	if s.deleted || s.epoch != epoch || s.fitted != nil {
		s.mu.Unlock()
		return time.Time{}, false
	}
	if !samePolicy(planned, &s.target) {
		plan = r.newPlan(snap.Model, &s.target)
	}
	s.restoreSnapshot(snap, plan)
	refit := now.Add(r.restoreDelay(&s.target))
	s.mu.Unlock()
	r.log.Info("restored from snapshot", "target", snap.Name, "model", snap.Model.Model,
		"generation", snap.Generation, "last_observed", snap.LastObserved)
	r.sched.expedite(&s.fetchTask, now)
	return refit, true
}

// restoreDelay is how long after a restore the target is refitted: a step,
// and a random share of its refit interval (at most restoreSpread).
func (r *Registry) restoreDelay(t *Target) time.Duration {
	r.randMu.Lock()
	u := r.rand.Float64()
	r.randMu.Unlock()
	return t.Step + time.Duration(u*float64(min(t.RefitInterval, restoreSpread)))
}

// restoreSnapshot installs a snapshot; s.mu is held. The last good
// recommendation it holds becomes the previous one, so that a restart
// while Prometheus is down holds it instead of scaling down.
func (s *targetState) restoreSnapshot(snap *Snapshot, plan forecastPlan) {
	s.fitted = snap.Model
	s.plan = plan
	s.generation = max(s.generation, snap.Generation)
	s.fittedAt = snap.FittedAt
	s.dataStart, s.dataEnd = snap.DataStart, snap.DataEnd
	s.lastObserved = snap.LastObserved
	s.training = trainingEvents(snap.Model.Anomalies, snap.DataStart, snap.Step)
	s.replay()
	if !snap.LastGoodAt.IsZero() && !s.hasLast {
		t := &s.target
		s.last = Recommendation{
			Target:             t.Name,
			Time:               snap.LastGoodAt,
			Replicas:           snap.LastGoodReplicas,
			Won:                WonHeld,
			Reason:             "restored from the snapshot: the last recommendation made from fresh data before the restart",
			MinReplicas:        t.MinReplicas,
			MaxReplicas:        t.MaxReplicas,
			CapacityPerReplica: t.CapacityPerReplica,
			LeadTime:           t.LeadTime,
			Margin:             t.Margin,
			HoldFor:            t.HoldFor,
			ModelKind:          snap.Model.Model,
			ModelVersion:       snap.Generation,
			ModelFittedAt:      snap.FittedAt,
			DataStart:          snap.DataStart,
			DataEnd:            snap.DataEnd,
		}
		s.hasLast = true
		s.lastGood, s.lastGoodAt = snap.LastGoodReplicas, snap.LastGoodAt
	}
	s.refreshForecast()
	s.version++
	s.savedVersion = s.version // it is what is on disk
}

// fit refits a target on its history (or, the first time for a target
// declared after Run started, restores its snapshot). On failure the old
// model stays and the fit is retried with a backoff.
func (r *Registry) fit(ctx context.Context, t *task) {
	s := t.state
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		r.sched.finish(t, r.now())
		return
	}
	tg := s.target
	epoch := s.epoch
	tryLoad := r.opts.Store != nil && !s.loadTried && s.fitted == nil
	s.loadTried = true
	s.mu.Unlock()

	if tryLoad {
		if at, ok := r.loadSnapshot(s, &tg, epoch); ok {
			r.sched.finish(t, at)
			return
		}
	}

	start := r.now()
	series, first, last, err := r.history(ctx, &tg, start)
	fetchedAt := r.now()
	var f *forecast.Fitted
	var plan forecastPlan
	if err == nil {
		f, err = forecast.Fit(series.Values[first:last+1], &forecast.Options{
			Model:   tg.Model,
			Horizon: fitHorizon(&tg),
			Periods: periods(&tg),
			Step:    tg.Step,
		})
		if err != nil {
			err = fmt.Errorf("fit %d points: %w", last+1-first, err)
		} else {
			plan = r.newPlan(f, &tg)
		}
	}
	now := r.now()
	if ctx.Err() != nil {
		r.sched.finish(t, now) // shutting down: not the target's failure
		return
	}

	s.mu.Lock()
	if s.deleted || s.epoch != epoch {
		s.mu.Unlock()
		r.sched.finish(t, now)
		return
	}
	if series != nil {
		s.lastFetch = later(s.lastFetch, fetchedAt)
	}
	if err != nil {
		s.fitErr = err.Error()
		s.fitErrors++
		s.fitFailures++
		s.fitAttempted = true
		backoff := min(tg.RefitInterval, time.Minute<<min(s.fitFailures-1, 20))
		failures, kept := s.fitFailures, s.fitted != nil
		// Finished under the lock, so that a status never shows a fit
		// done but not yet scheduled again.
		r.sched.finish(t, now.Add(backoff))
		s.mu.Unlock()
		r.log.Warn("fit failed", "target", tg.Name, "failures", failures, "model_kept", kept, "retry_in", backoff, "err", err)
		return
	}
	if !samePolicy(&tg, &s.target) {
		plan = r.newPlan(f, &s.target)
	}
	s.fitted, s.plan = f, plan
	s.generation++
	s.fittedAt, s.fitDuration = now, now.Sub(start)
	s.fitErr, s.fitFailures, s.fitAttempted = "", 0, true
	s.dataStart, s.dataEnd = series.Time(first), series.Time(last)
	s.lastObserved = s.dataEnd
	s.training = trainingEvents(f.Anomalies, s.dataStart, tg.Step)
	// The history goes to the parts that have not seen it: the data, and
	// a detector kept from before (a detector is kept across refits).
	s.ingest(series, last, maxGap(&tg))
	var detErr error
	if s.detector == nil {
		detErr = s.newDetector(series, first, last)
	}
	// Streaming went on during the fit: the new model (or detector)
	// catches up at once, from the history cache or else a fetch.
	catchUp := !s.replay()
	s.refreshForecast()
	s.version++
	generation, kind, reason := s.generation, f.Model, f.Reason
	r.sched.finish(t, now.Add(r.jittered(s.target.RefitInterval)))
	s.mu.Unlock()

	r.log.Info("fitted", "target", tg.Name, "model", kind, "generation", generation,
		"points", last+1-first, "took", now.Sub(start), "seasons", f.Seasons, "reason", reason)
	if detErr != nil {
		r.log.Warn("no live anomaly detection", "target", tg.Name, "err", detErr)
	}
	if catchUp {
		r.sched.expedite(&s.fetchTask, now)
	}
	r.save(s)
}

// loadSnapshot restores a target declared after Run started from its
// snapshot, when there is one for the same model configuration.
func (r *Registry) loadSnapshot(s *targetState, tg *Target, epoch uint64) (time.Time, bool) {
	snap, err := r.opts.Store.Load(tg.Name)
	switch {
	case errors.Is(err, ErrSnapshotNotFound):
		return time.Time{}, false
	case err != nil:
		r.log.Warn("snapshot not restored; the target is fitted anew", "target", tg.Name, "err", err)
		return time.Time{}, false
	case !sameModel(tg, &snap.Target):
		r.log.Info("snapshot is for another configuration of the target; fitting anew", "target", tg.Name)
		return time.Time{}, false
	}
	return r.useSnapshot(s, snap, r.newPlan(snap.Model, tg), tg, epoch)
}

// history fetches the target's history window ending at now, and returns
// it with the indices of its first and last finite points.
func (r *Registry) history(ctx context.Context, t *Target, now time.Time) (s *feed.Series, first, last int, err error) {
	end := now.Truncate(t.Step)
	n := max(int(t.History/t.Step), minHistorySteps)
	start := end.Add(-time.Duration(n-1) * t.Step)
	s, err = r.src.Range(ctx, t.Query, start, end, t.Step)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("fetch history: %w", err)
	}
	first, last = -1, -1
	for i, v := range s.Values {
		if finite(v) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if last < 0 {
		return s, 0, 0, fmt.Errorf("fetch history: no data in the %s before %s", fmtDuration(t.History), end.Format(time.RFC3339))
	}
	return s, first, last, nil
}

// fetch streams the points since the last one the target took, through
// the last grid point before now. A fetch that fails changes nothing but
// the fetch error: the policy sees the data age and holds.
func (r *Registry) fetch(ctx context.Context, t *task) {
	s := t.state
	now := r.now()
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		r.sched.finish(t, now)
		return
	}
	tg := s.target
	epoch := s.epoch
	step := tg.Step
	end := now.Truncate(step)
	next := end.Add(step)
	gapLimit := maxGap(&tg)
	var start time.Time
	if w := s.watermark(); w.IsZero() {
		// Nothing yet: enough for the history cache and a reactive answer.
		n := min(max(len(s.history.buf), 5), max(int(tg.History/step), 1))
		start = end.Add(-time.Duration(n-1) * step)
	} else {
		start = w.Add(step)
	}
	// Far behind, only the recent points are fetched, and the model is
	// refitted rather than streamed through the gap (unless fits are
	// failing: then their backoff stands).
	start = later(start, end.Add(-time.Duration(gapLimit)*step))
	refitting := s.fitFailures == 0
	behind := refitting && s.fitted != nil && stepsBetween(s.lastObserved, end, step) > gapLimit
	s.mu.Unlock()
	if behind {
		r.sched.expedite(&s.fitTask, now)
	}
	if start.After(end) {
		r.sched.finish(t, next)
		return
	}

	series, err := r.src.Range(ctx, tg.Query, start, end, step)
	if ctx.Err() != nil {
		r.sched.finish(t, next)
		return
	}
	s.mu.Lock()
	if s.deleted || s.epoch != epoch {
		s.mu.Unlock()
		r.sched.finish(t, next)
		return
	}
	if err != nil {
		s.fetchErr = err.Error()
		s.fetchErrors++
		began := !s.fetchFailing
		s.fetchFailing = true
		s.mu.Unlock()
		if began {
			r.log.Warn("fetch failed; the last good state is kept until data is back", "target", tg.Name, "err", err)
		}
		_, _ = r.recommend(s, tg.Name) // stale now, or soon: held, never lower
		r.sched.finish(t, next)
		return
	}
	if s.fetchFailing {
		r.log.Info("fetch recovered", "target", tg.Name, "errors", s.fetchErrors)
	}
	s.fetchErr, s.fetchFailing = "", false
	s.lastFetch = r.now()
	var shiftAt time.Time
	if last := lastFinite(series.Values); last >= 0 {
		advanced, shift, lagging := s.ingest(series, last, gapLimit)
		if advanced {
			s.refreshForecast()
		}
		s.version++
		behind = behind || refitting && lagging
		if shift {
			// A level shift: refit soon, but not more often than every
			// shiftRefitSteps steps.
			shiftAt = now
			if !s.shiftRefit.IsZero() {
				shiftAt = later(shiftAt, s.shiftRefit.Add(shiftRefitSteps*step))
			}
			s.shiftRefit = shiftAt
		}
	}
	s.mu.Unlock()
	if !shiftAt.IsZero() {
		r.log.Info("level shift; refitting", "target", tg.Name, "at", shiftAt)
		r.sched.expedite(&s.fitTask, shiftAt)
	}
	if behind {
		r.sched.expedite(&s.fitTask, now)
	}
	_, _ = r.recommend(s, tg.Name) // ErrNotReady only before any data
	r.sched.finish(t, next)
}

// save writes the target's snapshot if its state changed since the last
// one. Errors are logged: the next save tries again.
func (r *Registry) save(s *targetState) {
	if r.opts.Store == nil {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	if s.deleted || s.fitted == nil || s.version == s.savedVersion {
		s.mu.Unlock()
		return
	}
	snap := &Snapshot{
		Name:             s.target.Name,
		Origin:           s.origin,
		Target:           s.target,
		Generation:       s.generation,
		FittedAt:         s.fittedAt,
		DataStart:        s.dataStart,
		DataEnd:          s.dataEnd,
		Step:             s.target.Step,
		LastObserved:     s.lastObserved,
		LastGoodReplicas: s.lastGood,
		LastGoodAt:       s.lastGoodAt,
	}
	// The model's state keeps changing after the lock is released: save a
	// copy of its components. The rest (the calibration, by far the
	// largest part, the notes, the anomalies) never changes after a fit
	// and is shared.
	model := *s.fitted
	components, err := json.Marshal(s.fitted.Components)
	version := s.version
	s.mu.Unlock()
	if err == nil {
		model.Components = nil // Unmarshal would reuse the shared array
		err = json.Unmarshal(components, &model.Components)
		snap.Model = &model
	}
	if err == nil {
		err = r.opts.Store.Save(snap)
	}
	if err != nil {
		r.log.Warn("snapshot not saved", "target", snap.Name, "err", err)
		return
	}
	s.mu.Lock()
	s.savedVersion = max(s.savedVersion, version)
	s.mu.Unlock()
}

// saveChanged saves the snapshot of every target whose state changed
// since its last one.
func (r *Registry) saveChanged() {
	if r.opts.Store == nil {
		return
	}
	for _, s := range r.states() {
		r.save(s)
	}
}

// lastFinite is the index of the last finite value, or -1.
func lastFinite(values []float64) int {
	for i := len(values) - 1; i >= 0; i-- {
		if finite(values[i]) {
			return i
		}
	}
	return -1
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
