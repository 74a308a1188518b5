package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/snapshot"
)

// restore registers again the targets created through the API or by KEDA
// from their specs, loads every snapshot and installs those whose targets
// are declared with the same model configuration. Targets declared later
// ask the store at their first fit.
func (r *Registry) restore() {
	type restoring struct {
		s      *targetState
		snap   *snapshot.Snapshot
		target models.Target
		epoch  uint64
		plan   forecastPlan
	}
	var matched []restoring
	var specs []*snapshot.Spec
	var snaps []*snapshot.Snapshot
	if store := r.opts.Store; store != nil {
		var problems []error
		specs, problems = store.LoadSpecs()
		for _, err := range problems {
			r.log.Error("TARGET NOT RESTORED: its spec cannot be read; the file is kept for inspection", "err", err)
		}
		snaps, problems = store.LoadAll()
		for _, err := range problems {
			r.log.Warn("model snapshot not restored; a target declared by the config file or a spec is fitted anew", "err", err)
		}
	}

	r.specMu.Lock()
	defer r.specMu.Unlock()
	r.mu.Lock()
	for _, s := range r.targets {
		s.mu.Lock()
		s.loadTried = true
		s.mu.Unlock()
	}
	dropSpecs := r.registerSpecs(specs)
	var migrate []*snapshot.Snapshot
	for _, snap := range snaps {
		s := r.targets[snap.Name]
		if s == nil {
			if !hasSpec(snap.Origin) {
				r.log.Info("snapshot of a target that is not declared; left on disk", "target", snap.Name, "origin", snap.Origin)
				continue
			}
			if snap.OwnSpec {
				r.log.Info("snapshot of a target whose spec is gone (deleted); left on disk", "target", snap.Name, "origin", snap.Origin)
				continue
			}
			// Written before specs existed: the snapshot is the spec.
			if err := snap.Target.Validate(); err != nil {
				r.log.Warn("snapshot of an invalid target; left on disk", "target", snap.Name, "err", err)
				continue
			}
			s = r.register(snap.Target, snap.Origin)
			migrate = append(migrate, snap)
		}
		s.mu.Lock()
		if !s.held {
			// Another replica holds it; this one reads the snapshot if it
			// comes to hold it (Rebalance).
			s.loadTried = false
			s.mu.Unlock()
			continue
		}
		ok := s.fitted == nil && sameModel(&s.target, &snap.Target)
		m := restoring{s: s, snap: snap, target: s.target, epoch: s.epoch}
		s.mu.Unlock()
		if !ok {
			r.log.Info("snapshot is for another configuration of the target; fitting anew", "target", snap.Name)
			continue
		}
		matched = append(matched, m)
	}
	if n := len(r.targets); n > r.opts.MaxTargets {
		r.log.Warn("more targets restored than the limit; creates fail until some are deleted", "targets", n, "limit", r.opts.MaxTargets)
	}
	r.mu.Unlock()

	for _, name := range dropSpecs {
		r.dropSpec(name, "declared in the config file")
	}
	for _, snap := range migrate {
		if err := r.saveSpec(&snap.Target, snap.Origin); err != nil {
			r.log.Warn("spec of a target restored from an old snapshot not written; the snapshot still holds it", "target", snap.Name, "err", err)
		}
	}

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

// registerSpecs registers the target of every spec that nothing declares
// yet, and returns the names of those the config file declares (it took
// them over); r.mu is held.
func (r *Registry) registerSpecs(specs []*snapshot.Spec) (takenOver []string) {
	for _, spec := range specs {
		if s := r.targets[spec.Name]; s != nil {
			s.mu.Lock()
			origin := s.origin
			s.mu.Unlock()
			if origin == OriginConfig {
				takenOver = append(takenOver, spec.Name)
			}
			continue // created again before Run: its spec is already the new one
		}
		if !hasSpec(spec.Origin) {
			r.log.Error("TARGET NOT RESTORED: its spec has an unknown origin; the file is left on disk", "target", spec.Name, "origin", spec.Origin)
			continue
		}
		if err := spec.Target.Validate(); err != nil {
			r.log.Error("TARGET NOT RESTORED: its spec is not a valid target; the file is left on disk", "target", spec.Name, "err", err)
			continue
		}
		r.register(spec.Target, spec.Origin)
		r.log.Info("target restored from its spec", "target", spec.Name, "origin", spec.Origin)
	}
	return takenOver
}

// register adds a restored target and schedules it; r.mu is held.
func (r *Registry) register(t models.Target, origin string) *targetState {
	s := r.newState(t, origin)
	s.loadTried = true
	r.targets[t.Name] = s
	r.start(s)
	return s
}

// parallel runs f(0), ..., f(n-1) on up to workers goroutines.
func parallel(workers, n int, f func(i int)) {
	var g errgroup.Group
	g.SetLimit(max(1, workers))
	for i := range n {
		g.Go(func() error { f(i); return nil })
	}
	_ = g.Wait() // f returns no error
}

// useSnapshot installs a snapshot whose plan was made for the target
// configuration planned in epoch, unless the target changed meanwhile or
// has a model. It schedules a fetch to catch up and returns when to
// refit: at once for a target with events whose snapshot kept no learned
// effects.
func (r *Registry) useSnapshot(s *targetState, snap *snapshot.Snapshot, plan forecastPlan, planned *models.Target, epoch uint64) (time.Time, bool) {
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
	refit := s.timeline.Restored(now, r.uniform())
	var fxErr error
	if len(s.target.Events) > 0 {
		// The learned effects of its events come back with the model; a
		// snapshot without them (written before they were kept) or whose
		// effects do not restore is refitted at once.
		if s.effects, fxErr = restoreEffects(&s.target, snap.Effects); s.effects == nil {
			refit = s.timeline.RefitNow(now) // the status says so too
		}
	}
	s.mu.Unlock()
	if fxErr != nil {
		r.log.Warn("learned effects of events not restored; the target is refitted at once", "target", snap.Name, "err", fxErr)
	}
	r.log.Info("restored from snapshot", "target", snap.Name, "model", snap.Model.Model,
		"generation", snap.Generation, "last_observed", snap.LastObserved)
	r.sched.expedite(&s.fetchTask, now)
	return refit, true
}

// restoreEffects returns the effects a snapshot kept for tg's calendar;
// nil (and why, when it is not just an older snapshot) when there are
// none to restore.
func restoreEffects(tg *models.Target, st *events.State) (*events.Effects, error) {
	if st == nil {
		return nil, nil
	}
	cal, err := tg.Calendar()
	if err != nil {
		return nil, err
	}
	return events.Restore(cal, st)
}

// uniform draws a number in [0, 1) for the restore delay and the jitter.
func (r *Registry) uniform() float64 {
	r.randMu.Lock()
	defer r.randMu.Unlock()
	return r.rand.Float64()
}

// jitter draws the factor a refit interval is multiplied by: in
// [1-Jitter, 1+Jitter].
func (r *Registry) jitter() float64 { return 1 + r.opts.Jitter*(2*r.uniform()-1) }

// restoreSnapshot installs a snapshot; s.mu is held. The last good
// recommendation it holds becomes the previous one, so that a restart
// while Prometheus is down holds it instead of scaling down.
func (s *targetState) restoreSnapshot(snap *snapshot.Snapshot, plan forecastPlan) {
	s.fitted = snap.Model
	s.modeled.Store(true)
	s.plan = plan
	s.generation = max(s.generation, snap.Generation)
	s.fittedAt = snap.FittedAt
	s.dataStart, s.dataEnd = snap.DataStart, snap.DataEnd
	s.lastObserved = snap.LastObserved
	s.training = trainingEvents(snap.Model.Anomalies, snap.DataStart, snap.Step)
	s.replay()
	if !snap.LastGoodAt.IsZero() && !s.hasLast {
		t := &s.target
		s.last = models.Recommendation{
			Target:             t.Name,
			Time:               snap.LastGoodAt,
			Replicas:           snap.LastGoodReplicas,
			Won:                models.WonHeld,
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
	r.sched.finish(t, r.runFit(ctx, t.state))
}

// runFit is fit's work; it returns when the target is fitted next.
func (r *Registry) runFit(ctx context.Context, s *targetState) time.Time {
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return r.now()
	}
	tg := s.target
	epoch := s.epoch
	tryLoad := r.opts.Store != nil && !s.loadTried && s.fitted == nil
	s.loadTried = true
	s.timeline.BeginFit()
	s.mu.Unlock()

	if tryLoad {
		if at, ok := r.loadSnapshot(s, &tg, epoch); ok {
			return at
		}
	}

	start := r.now()
	series, err := r.src.Range(ctx, tg.Query, models.HistoryStart(&tg, start.Truncate(tg.Step)), start.Truncate(tg.Step), tg.Step)
	fetchedAt := r.now()
	var f *forecast.Fitted
	var first, last int
	var plan forecastPlan
	var fx *events.Effects
	cal, calErr := tg.Calendar() // validated with the target: an error here is a bug
	switch {
	case calErr != nil:
		err = calErr
	case err != nil:
		err = fmt.Errorf("fetch history: %w", err)
	default:
		if f, first, last, fx, err = models.FitHistoryEvents(&tg, series, cal); err == nil {
			plan = r.newPlan(f, &tg)
		}
	}
	now := r.now()

	s.mu.Lock()
	if ctx.Err() != nil || s.deleted || s.epoch != epoch {
		// Shutting down, or the target changed: not the target's failure.
		s.timeline.Cancel(now)
		s.mu.Unlock()
		return now
	}
	if series != nil {
		s.lastFetch = later(s.lastFetch, fetchedAt)
	}
	if err != nil {
		return r.fitFailed(s, &tg, now, err)
	}
	if !samePolicy(&tg, &s.target) {
		plan = r.newPlan(f, &s.target)
	}
	s.effects = fx // before install: its calendar's windows are gaps to the detector
	next, catchUp, detErr := s.install(f, plan, series, first, last, now, start)
	generation := s.generation
	s.mu.Unlock()

	r.log.Info("fitted", "target", tg.Name, "model", f.Model, "generation", generation,
		"points", last+1-first, "took", now.Sub(start), "seasons", f.Seasons, "reason", f.Reason)
	if detErr != nil {
		r.log.Warn("no live anomaly detection", "target", tg.Name, "err", detErr)
	}
	if catchUp {
		r.sched.expedite(&s.fetchTask, now)
	}
	r.save(s)
	return next
}

// fitFailed records a failed fit; s.mu is held and released.
func (r *Registry) fitFailed(s *targetState, tg *models.Target, now time.Time, err error) time.Time {
	s.fitErr = err.Error()
	s.fitErrors++
	s.fitAttempted = true
	backoff := s.timeline.FitFailed(now)
	failures, kept := s.timeline.Failures(), s.fitted != nil
	s.mu.Unlock()
	r.log.Warn("fit failed", "target", tg.Name, "failures", failures, "model_kept", kept, "retry_in", backoff, "err", err)
	return now.Add(backoff)
}

// install puts a model fitted at now (begun at start) on history[first:last+1]
// in place; s.mu is held. It returns when the next fit is due, whether the
// model must catch up by a fetch, and why there is no live detector.
func (s *targetState) install(f *forecast.Fitted, plan forecastPlan, history *feed.Series, first, last int, now, start time.Time) (next time.Time, catchUp bool, detErr error) {
	s.fitted, s.plan = f, plan
	s.modeled.Store(true)
	s.generation++
	s.fittedAt, s.fitDuration = now, now.Sub(start)
	s.fitErr, s.fitAttempted = "", true
	s.dataStart, s.dataEnd = history.Time(first), history.Time(last)
	s.lastObserved = s.dataEnd
	s.training = trainingEvents(f.Anomalies, s.dataStart, s.target.Step)
	// The history goes to the parts that have not seen it: the data, the
	// model from its last point on (an event's window under way is a gap
	// to the fit: the model is caught up through it here, from the fetched
	// values), and a detector kept from before (a detector is kept across
	// refits; it takes the windows of the calendar now known as gaps). A
	// new detector is made on the whole observed history, as the
	// backtest's is.
	// The observed bounds are the fit's own unless a known event's window,
	// a gap to it, opens or closes the history.
	seenFirst, seenLast := models.FiniteBounds(history.Values)
	if s.detector != nil {
		s.detector.SetKnown(s.effects.Known()) // the calendar may have changed
	}
	s.ingest(history, seenLast)
	if s.detector == nil {
		detErr = s.newDetector(history, seenFirst, seenLast)
	}
	// Streaming went on during the fit: the new model (or detector)
	// catches up at once, from the history cache or else a fetch.
	catchUp = !s.replay()
	s.refreshForecast()
	s.version++
	return s.timeline.Fitted(now), catchUp, detErr
}

// loadSnapshot restores a target declared after Run started from its
// snapshot, when there is one for the same model configuration.
func (r *Registry) loadSnapshot(s *targetState, tg *models.Target, epoch uint64) (time.Time, bool) {
	snap, err := r.opts.Store.Load(tg.Name)
	switch {
	case errors.Is(err, snapshot.ErrNotFound):
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

// fetch streams the points since the last one the target took, through
// the last grid point before now. A fetch that fails changes nothing but
// the fetch error: the policy sees the data age and holds.
func (r *Registry) fetch(ctx context.Context, t *task) {
	r.sched.finish(t, r.runFetch(ctx, t.state))
}

// runFetch is fetch's work; it returns when the target is fetched next.
func (r *Registry) runFetch(ctx context.Context, s *targetState) time.Time {
	now := r.now()
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return now
	}
	tg := s.target
	epoch := s.epoch
	step := tg.Step
	end := now.Truncate(step)
	next := end.Add(step)
	// Nothing yet: enough for the history cache and a reactive answer.
	initial := min(max(len(s.history.buf), 5), max(int(tg.History/step), 1))
	start, skipped := models.FetchStart(&tg, s.watermark(), end, initial)
	s.mu.Unlock()
	if start.After(end) {
		return next
	}

	series, err := r.src.Range(ctx, tg.Query, start, end, step)
	if ctx.Err() != nil {
		return next
	}
	s.mu.Lock()
	if s.deleted || s.epoch != epoch {
		s.mu.Unlock()
		return next
	}
	if err != nil {
		r.fetchFailed(s, &tg, err)
		return next
	}
	if s.fetchFailing {
		r.log.Info("fetch recovered", "target", tg.Name, "errors", s.fetchErrors)
	}
	s.fetchErr, s.fetchFailing = "", false
	s.lastFetch = r.now()
	var shiftAt time.Time
	behind := false
	if last := lastFinite(series.Values); last >= 0 {
		advanced, shift, lagging := s.ingest(series, last)
		if advanced {
			s.refreshForecast()
		}
		s.version++
		if (lagging || skipped && s.fitted != nil) && s.timeline.Behind(now) {
			behind = true
		}
		if shift {
			shiftAt = s.timeline.Shift(now)
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
	return next
}

// fetchFailed records a failed fetch; s.mu is held and released.
func (r *Registry) fetchFailed(s *targetState, tg *models.Target, err error) {
	s.fetchErr = err.Error()
	s.fetchErrors++
	began := !s.fetchFailing
	s.fetchFailing = true
	s.mu.Unlock()
	if began {
		r.log.Warn("fetch failed; the last good state is kept until data is back", "target", tg.Name, "err", err)
	}
	_, _ = r.recommend(s, tg.Name) // stale now, or soon: held, never lower
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
	snap := &snapshot.Snapshot{
		Name:             s.target.Name,
		Origin:           s.origin,
		OwnSpec:          hasSpec(s.origin),
		Target:           s.target,
		Generation:       s.generation,
		FittedAt:         s.fittedAt,
		DataStart:        s.dataStart,
		DataEnd:          s.dataEnd,
		Step:             s.target.Step,
		LastObserved:     s.lastObserved,
		LastGoodReplicas: s.lastGood,
		LastGoodAt:       s.lastGoodAt,
		Effects:          s.effects.State(), // never changes after a fit: shared
	}
	// The model's state keeps changing after the lock is released: save a
	// copy of its components and its dynamics. The rest (the calibration,
	// by far the largest part, the notes, the anomalies) never changes
	// after a fit and is shared.
	model := *s.fitted
	model.Dynamics = s.fitted.Dynamics.Clone()
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
