package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/snapshot"
)

// Source gives a target's load history on a regular grid.
// *prometheus.Client (feed/prometheus) and the demo workload (feed/demo)
// implement it.
type Source interface {
	Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error)
}

// Where a target was declared (TargetStatus.Origin).
const (
	OriginConfig = "config" // the --config file; changed only by editing it
	OriginAPI    = "api"    // created through the gRPC / REST API
	OriginKEDA   = "keda"   // registered from a KEDA ScaledObject's trigger metadata
	OriginDemo   = "demo"   // the built-in simulated workload
	// OriginResource: declared by a PredictiveAutoscaler custom resource,
	// registered by the controller (SetResource); changed only by editing
	// the resource.
	OriginResource = "resource"
)

// Errors of the registry, mapped to gRPC codes and HTTP statuses by api.
var (
	// ErrNotFound: no target of that name.
	ErrNotFound = errors.New("registry: target not found")
	// ErrExists: Create with the name of an existing target.
	ErrExists = errors.New("registry: target already exists")
	// ErrReadOnly: Update or Delete through the API of a target declared
	// in the config file, by a custom resource, or the demo; edit the file
	// or the resource instead.
	ErrReadOnly = errors.New("registry: target is read-only here")
	// ErrNotReady: the target has neither a fitted model nor any observed
	// load yet, so there is nothing to answer with.
	ErrNotReady = errors.New("registry: target has no data yet")
	// ErrOptions: Options out of range.
	ErrOptions = errors.New("registry: invalid registry options")
	// ErrTooMany: Create while Options.MaxTargets targets are served
	// (a *LimitError says the limit).
	ErrTooMany = errors.New("registry: too many targets")
	// ErrNotHeld: a question about a target that other replicas hold
	// (Options.Holds); ask them.
	ErrNotHeld = errors.New("registry: target held by other replicas")
)

// LimitError is a Create refused because the registry serves its
// Options.MaxTargets targets already. It wraps ErrTooMany.
type LimitError struct {
	Name  string // the target refused
	Limit int    // Options.MaxTargets
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("create %q: %v: at most %d are served", e.Name, ErrTooMany, e.Limit)
}

func (e *LimitError) Unwrap() error { return ErrTooMany }

// Options configure a Registry. A nil *Options means the
// defaults.
type Options struct {
	// Store keeps the models' snapshots and the specs of the targets
	// created through the API or by KEDA; nil keeps neither (a restart
	// refits from scratch, and forgets those targets).
	Store *snapshot.Store
	// Logger receives fit, fetch and snapshot events; nil discards them.
	Logger *slog.Logger
	// Workers bounds concurrent fits. Default 2.
	Workers int
	// MaxTargets bounds the targets served: Create beyond it fails with
	// ErrTooMany, and SetConfig with more declared targets is a config
	// error. Every target counts, whatever its origin. Default 1000.
	MaxTargets int
	// Fetchers bounds concurrent streaming fetches. Default 4.
	Fetchers int
	// Jitter spreads refits: each is scheduled at RefitInterval times a
	// random factor in [1-Jitter, 1+Jitter]. Default 0.1.
	Jitter float64
	// SnapshotInterval is how often a target's advanced state is saved
	// between fits (fits always save). Default 5m.
	SnapshotInterval time.Duration
	// models.StaleAfter overrides the policy's staleness threshold (default two
	// steps plus models.StaleGrace) for every target.
	StaleAfter time.Duration
	// HistoryCache is how much recent history each target keeps in memory
	// for Forecast's history. Default 1 day; negative keeps none.
	HistoryCache time.Duration
	// Quantiles are the forecast quantiles tracked at the lead time for
	// every target (TargetStatus.LeadForecast), besides the target's own.
	// Default 0.1, 0.5, 0.9.
	Quantiles []float64
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
	// Rand draws the jitter; nil means a randomly seeded source.
	Rand *rand.Rand
	// Holds reports whether this replica holds a target, by name: fits
	// it, streams its points and answers for it. A target it does not hold
	// is only declared here: the replicas that hold it answer (serve
	// --cluster.replication); Rebalance applies a change. Nil: every target.
	Holds func(name string) bool
}

// Defaults of Options.
const (
	defaultWorkers          = 2
	defaultMaxTargets       = 1000
	defaultFetchers         = 4
	defaultJitter           = 0.1
	defaultSnapshotInterval = 5 * time.Minute
	defaultHistoryCache     = 24 * time.Hour
)

// Validate reports the first option out of range, wrapping ErrOptions.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.Workers < 0:
		return fmt.Errorf("%w: workers %d is negative", ErrOptions, o.Workers)
	case o.MaxTargets < 0:
		return fmt.Errorf("%w: max targets %d is negative", ErrOptions, o.MaxTargets)
	case o.Fetchers < 0:
		return fmt.Errorf("%w: fetchers %d is negative", ErrOptions, o.Fetchers)
	case !(o.Jitter >= 0 && o.Jitter < 1):
		return fmt.Errorf("%w: jitter %v is not in [0, 1)", ErrOptions, o.Jitter)
	case o.SnapshotInterval < 0:
		return fmt.Errorf("%w: snapshot interval %v is negative", ErrOptions, o.SnapshotInterval)
	case o.StaleAfter < 0:
		return fmt.Errorf("%w: stale after %v is negative", ErrOptions, o.StaleAfter)
	}
	for _, q := range o.Quantiles {
		if !(q > 0 && q < 1) {
			return fmt.Errorf("%w: quantile %v is not in (0, 1)", ErrOptions, q)
		}
	}
	return nil
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Workers == 0 {
		d.Workers = defaultWorkers
	}
	if d.Fetchers == 0 {
		d.Fetchers = defaultFetchers
	}
	if d.MaxTargets == 0 {
		d.MaxTargets = defaultMaxTargets
	}
	if d.Jitter == 0 {
		d.Jitter = defaultJitter
	}
	if d.SnapshotInterval == 0 {
		d.SnapshotInterval = defaultSnapshotInterval
	}
	switch {
	case d.HistoryCache == 0:
		d.HistoryCache = defaultHistoryCache
	case d.HistoryCache < 0:
		d.HistoryCache = 0
	}
	if len(d.Quantiles) == 0 {
		d.Quantiles = []float64{0.1, 0.5, 0.9}
	} else {
		d.Quantiles = slices.Clone(d.Quantiles)
		slices.Sort(d.Quantiles)
		d.Quantiles = slices.Compact(d.Quantiles)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return d
}

// Registry holds every target with its fitted forecaster, anomaly
// detector and calibration, keeps them current, and answers for them.
// Its methods are safe for concurrent use.
//
// Each target has its own lock, held briefly: fetches and fits run without
// it and install their result under it, so a recommendation never waits
// for I/O or a fit. Run's loop hands due fetches and fits to two bounded
// pools of workers.
type Registry struct {
	src  Source
	opts Options // with the defaults
	log  *slog.Logger
	now  func() time.Time

	randMu sync.Mutex // *rand.Rand is not safe for concurrent use
	rand   *rand.Rand

	sched *scheduler

	mu      sync.RWMutex
	targets map[string]*targetState
	// configMu makes SetConfig calls one at a time.
	configMu sync.Mutex
	// specMu makes the changes to the set of targets and to the specs on
	// disk one at a time (Create, Update, Delete, SetConfig, restore), so
	// that each is on disk before it is acknowledged, and the files are
	// left in the order the changes were acknowledged. Lookups do not take
	// it: they never wait for a disk. Lock order: configMu, specMu, mu,
	// then a target's locks.
	specMu sync.Mutex

	running  atomic.Bool
	restored atomic.Bool
	// workloads reports the workloads' current replicas (SetWorkloads).
	workloads atomic.Pointer[Workloads]
}

// TargetStatus is a target with the state of its model and data.
type TargetStatus struct {
	Target models.Target
	Origin string
	// Held says this replica holds the target (Options.Holds): without,
	// the rest of the status is empty, and the replicas that hold it
	// know it.
	Held bool

	// The fitted model: kind (empty before the first fit), generation
	// (counts fits), when and how long the last fit took, the seasons in
	// steps, and the last fit's error (empty when it succeeded).
	ModelKind   string
	Generation  uint64
	FittedAt    time.Time
	FitDuration time.Duration
	Seasons     []int
	// ModelReason says why the model is simpler than asked (a season
	// dropped for too little history, a fallback), or is empty;
	// ModelNotes say what was done to the history (gaps filled, anomalies
	// replaced).
	ModelReason string
	ModelNotes  []string
	FitError    string
	FitErrors   uint64
	NextRefit   time.Time
	// FitDueSince is when the target's next fit fell due, while it waits
	// for a worker; zero when no fit is due or one is running. A target
	// with no ModelKind and a FitDueSince is waiting for its first fit.
	FitDueSince time.Time

	// The data: the fitted history window, the last point the model has
	// observed, the latest observed load and its time, the last successful
	// fetch, and the last fetch's error.
	DataStart    time.Time
	DataEnd      time.Time
	LastObserved time.Time
	Observed     float64
	ObservedAt   time.Time
	LastFetch    time.Time
	FetchError   string
	FetchErrors  uint64

	// LeadForecast is the forecast at the lead time (LeadTime + Margin
	// after the last observation), one value per tracked quantile, for
	// /metrics.
	LeadForecast []forecast.Quantile
	// Accuracy is the live accuracy of past lead-time forecasts, scored as
	// their actuals arrive, since the target was declared or its lead
	// window or model configuration last changed.
	Accuracy Accuracy
	// models.Recommendation is the last recommendation made, or nil.
	Recommendation *models.Recommendation
	// Events are the occurrences of the target's events around now, with
	// the effect each gets (once a fit has learned them).
	Events []EventStatus
}

// Accuracy scores past forecasts made LeadTime+Margin ahead against the
// actual load when it arrives.
type Accuracy struct {
	// Points is how many forecasts have been scored.
	Points int
	// WAPE is sum|forecast-actual| / sum|actual| of the point forecasts.
	WAPE float64
	// Bias is sum(forecast-actual) / sum|actual|: positive over-forecasts.
	Bias float64
	// Coverage is the share of actuals inside the [IntervalLow,
	// IntervalHigh] quantile interval.
	Coverage     float64
	IntervalLow  float64
	IntervalHigh float64
}

// ForecastView is a forecast with the recent history it continues.
type ForecastView struct {
	Target     string
	Model      string
	Generation uint64
	Seasons    []int
	Notes      []string
	Step       time.Duration
	// models.HistoryStart is the time of History[0]; NaN is a gap.
	HistoryStart time.Time
	History      []float64
	// Start is the time of Point[0], of each quantile's Values[0] and of
	// Provision[0].
	Start     time.Time
	Point     []float64
	Quantiles []forecast.Quantile
	// Provision is the load the recommendation provisions at each step:
	// the target's quantile spent by density, the calibrated quantile
	// within known events' windows (models.Provision), known events taken
	// in.
	Provision []float64
}

// Bounds of one Forecast call: each quantile is a horizon of values in the
// answer, as are the point forecast and the load provisioned, so the
// answer holds at most MaxForecastHorizon times (MaxForecastQuantiles+2)
// numbers.
const (
	MaxForecastHorizon   = 10000
	MaxForecastQuantiles = 32
)

// New returns an empty registry reading history from src.
func New(src Source, opts *Options) (*Registry, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil source", ErrOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	return &Registry{
		src:     src,
		opts:    o,
		log:     o.Logger,
		now:     o.Now,
		rand:    o.Rand,
		sched:   newScheduler(),
		targets: map[string]*targetState{},
	}, nil
}

// Run restores targets from the snapshot store, then keeps every target
// current until ctx is done: streaming fetches each step, refits on
// schedule (and after a level shift), snapshots. It saves every target's
// state before returning.
//
// Targets created through the API or by KEDA are registered again from
// their specs (and, in a data directory written before specs existed,
// from their snapshots). A snapshot is used when its target is declared
// (by a spec, SetConfig or Create, before or after Run starts) with the
// same query, step, history, seasons, model and events: the target serves from it
// at once, catches up on the points since it was saved and is refitted
// soon after. Snapshots of other targets (a config target no longer
// declared, a deleted one) are left on disk untouched. A snapshot that
// cannot be read is logged and its target fitted anew; a spec that cannot
// be read is logged as an error and renamed aside (its target is not
// served); neither is fatal.
//
// Run returns nil when ctx is done, after every goroutine it started has
// ended. It may be called once.
func (r *Registry) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("registry: Registry.Run called twice")
	}
	r.restore()
	r.restored.Store(true)

	fits, fetches := make(chan *task), make(chan *task)
	saves := make(chan struct{}, 1)
	var g errgroup.Group // the workers and the saver return no error
	for range r.opts.Workers {
		g.Go(func() error { r.worker(ctx, fits); return nil })
	}
	for range r.opts.Fetchers {
		g.Go(func() error { r.worker(ctx, fetches); return nil })
	}
	if r.opts.Store != nil {
		g.Go(func() error { r.saver(ctx, saves); return nil })
	}
	r.loop(ctx, fits, fetches, saves)
	close(fits)
	close(fetches)
	_ = g.Wait()
	r.saveChanged()
	return nil
}

// Ready reports whether Run has restored the specs and snapshots: from
// then on every target is registered and answers as well as it can (a
// target whose first fit has not finished answers ErrNotReady, or
// reactively once it has data). The fits still to come are in each
// target's status (FitDueSince, ModelKind) and the API's metrics, not
// here: a restart with many targets is ready at once.
func (r *Registry) Ready() bool { return r.restored.Load() }

// SetConfig makes the config-declared targets exactly targets: new ones
// are added, removed ones deleted, changed ones updated. A target whose
// query, step, history, seasons, model and events are unchanged keeps its fitted
// model.
//
// Every target is validated first; if any is invalid (or two share a
// name, or there are more than Options.MaxTargets) nothing changes and the
// error joins the problems, wrapping models.ErrConfig. A declared target
// takes over a target of the same name created through the API or by
// KEDA, and its spec is removed. The declared targets alone are held to
// the limit: with those created through the API they may exceed it, and
// Create then fails until some are gone. The snapshots of removed targets
// stay on disk, as at a restart, so that a target removed by mistake and
// declared again is not refitted from scratch.
func (r *Registry) SetConfig(targets []models.Target) error {
	var errs []error
	if len(targets) > r.opts.MaxTargets {
		errs = append(errs, &models.FieldError{Field: "targets", Msg: fmt.Sprintf("%d targets declared, more than the limit of %d", len(targets), r.opts.MaxTargets)})
	}
	declared := make(map[string]int, len(targets))
	for i := range targets {
		t := &targets[i]
		if err := t.Validate(); err != nil {
			errs = append(errs, inTargets(i, err)...)
			continue
		}
		if j, dup := declared[t.Name]; dup {
			errs = append(errs, &models.FieldError{Field: fmt.Sprintf("targets[%d].name", i), Msg: fmt.Sprintf("duplicates targets[%d].name (%q)", j, t.Name)})
			continue
		}
		declared[t.Name] = i
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// One configuration at a time; the changes to existing targets are
	// applied after r.mu is released, as each may take a few sorts of
	// calibration errors and lookups must not wait for them.
	r.configMu.Lock()
	defer r.configMu.Unlock()
	r.specMu.Lock()
	defer r.specMu.Unlock()
	type change struct {
		s *targetState
		t models.Target
	}
	var added []*targetState
	var changed []change
	var takenOver []string
	r.mu.Lock()
	for _, t := range targets {
		s := r.targets[t.Name]
		if s == nil {
			s = r.newState(t, OriginConfig)
			r.targets[t.Name] = s
			added = append(added, s)
			continue
		}
		s.mu.Lock()
		if hasSpec(s.origin) {
			takenOver = append(takenOver, t.Name)
		}
		s.origin = OriginConfig
		if !sameModel(&s.target, &t) || !samePolicy(&s.target, &t) {
			changed = append(changed, change{s, t})
		}
		s.mu.Unlock()
	}
	var removed []*targetState
	for name, s := range r.targets {
		s.mu.Lock()
		if _, ok := declared[name]; !ok && s.origin == OriginConfig {
			s.deleted = true
			delete(r.targets, name)
			removed = append(removed, s)
		}
		s.mu.Unlock()
	}
	r.mu.Unlock()

	for _, s := range removed {
		r.sched.remove(&s.fetchTask)
		r.sched.remove(&s.fitTask)
	}
	for _, c := range changed {
		c.s.mu.Lock()
		r.reconfigure(c.s, c.t)
		c.s.mu.Unlock()
	}
	for _, s := range added {
		r.start(s)
	}
	for _, name := range takenOver {
		r.dropSpec(name, "declared in the config file")
	}
	return nil
}

// hasSpec reports whether targets of origin keep a spec in the store.
func hasSpec(origin string) bool { return origin == OriginAPI || origin == OriginKEDA }

// dropSpec removes the spec of a target no longer kept by one (taken over
// by the config file, why); a failure is logged: the config file, read
// first at every start, keeps the target's configuration all the same.
func (r *Registry) dropSpec(name, why string) {
	if r.opts.Store == nil {
		return
	}
	if err := r.opts.Store.DeleteSpec(name); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		r.log.Error("spec not removed", "target", name, "why", why, "err", err)
		return
	}
	r.log.Info("spec removed", "target", name, "why", why)
}

// saveSpec writes the spec of a target of origin before a change to it
// is acknowledged; targets of other origins, and a registry without a
// store, keep none.
func (r *Registry) saveSpec(t *models.Target, origin string) error {
	if r.opts.Store == nil || !hasSpec(origin) {
		return nil
	}
	return r.opts.Store.SaveSpec(&snapshot.Spec{Name: t.Name, Origin: origin, Target: *t})
}

// inTargets names the fields of Validate's errors for target i of a list,
// as a config file does: "targets[i].field: message".
func inTargets(i int, err error) []error { return models.InField(fmt.Sprintf("targets[%d]", i), err) }

// Create registers a new target after Validate; origin is OriginAPI,
// OriginKEDA or OriginDemo. The target is fetched and fitted at once (or
// restored from its snapshot, if one matches). With a store, the spec of
// an API or KEDA target is on disk when Create returns it: if it cannot
// be written, Create fails and the target is not registered. Beyond
// Options.MaxTargets targets it fails with a *LimitError (ErrTooMany).
func (r *Registry) Create(t models.Target, origin string) (TargetStatus, error) {
	switch origin {
	case OriginAPI, OriginKEDA, OriginDemo:
	default:
		return TargetStatus{}, &models.FieldError{Field: "origin", Msg: fmt.Sprintf("must be %s, %s or %s, got %q", OriginAPI, OriginKEDA, OriginDemo, origin)}
	}
	if err := t.Validate(); err != nil {
		return TargetStatus{}, err
	}
	r.specMu.Lock()
	defer r.specMu.Unlock()
	r.mu.RLock()
	_, exists := r.targets[t.Name]
	n := len(r.targets)
	r.mu.RUnlock()
	switch {
	case exists:
		return TargetStatus{}, fmt.Errorf("create %q: %w", t.Name, ErrExists)
	case n >= r.opts.MaxTargets:
		return TargetStatus{}, &LimitError{Name: t.Name, Limit: r.opts.MaxTargets}
	}
	if err := r.saveSpec(&t, origin); err != nil {
		return TargetStatus{}, fmt.Errorf("create %q: %w", t.Name, err)
	}
	s := r.newState(t, origin)
	r.mu.Lock()
	r.targets[t.Name] = s
	r.mu.Unlock()
	r.start(s)
	return r.status(s), nil
}

// Update replaces a target's configuration (ErrReadOnly for config
// targets, and the demo). A change of namespace, capacity, lead time, margin,
// quantile, replica bounds, refit interval or hold keeps the model; a
// change of query, step, history, seasons or model drops it and fits anew.
// With a store, the new spec is on disk when Update returns: if it cannot
// be written, Update fails and the target keeps its configuration.
func (r *Registry) Update(t models.Target) (TargetStatus, error) {
	if err := t.Validate(); err != nil {
		return TargetStatus{}, err
	}
	r.specMu.Lock()
	defer r.specMu.Unlock()
	s, err := r.lookup("update", t.Name)
	if err != nil {
		return TargetStatus{}, err
	}
	// Under specMu nothing else deletes the target or changes its origin.
	s.mu.Lock()
	origin := s.origin
	s.mu.Unlock()
	if readOnly(origin) {
		return TargetStatus{}, &ReadOnlyError{Op: "update", Name: t.Name, Origin: origin}
	}
	if err := r.saveSpec(&t, origin); err != nil {
		return TargetStatus{}, fmt.Errorf("update %q: %w", t.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.reconfigure(s, t)
	return r.statusLocked(s), nil
}

// Delete removes a target, its spec and its snapshot (ErrReadOnly for
// config targets, and the demo). The spec is removed first, durably: if
// that fails, Delete fails and the target stays. Should removing the
// snapshot then fail, the target is removed all the same and the error
// says so (a snapshot alone does not bring it back).
func (r *Registry) Delete(name string) error {
	r.specMu.Lock()
	defer r.specMu.Unlock()
	s, err := r.lookup("delete", name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	origin := s.origin
	s.mu.Unlock()
	if readOnly(origin) {
		return &ReadOnlyError{Op: "delete", Name: name, Origin: origin}
	}
	return r.remove(s, name, origin)
}

// ReadOnlyError is an Update or Delete of a target declared where the
// API cannot change it (Origin: the config file, a custom resource, the
// demo). It wraps ErrReadOnly.
type ReadOnlyError struct {
	Op, Name, Origin string
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("%s %q: registry: target is read-only here (origin %s)", e.Op, e.Name, e.Origin)
}

func (e *ReadOnlyError) Unwrap() error { return ErrReadOnly }

// Where reads as where a target of origin is changed, in messages.
func Where(origin string) string {
	switch origin {
	case OriginConfig:
		return "declared in the config file; change it there"
	case OriginResource:
		return "declared by a PredictiveAutoscaler resource; change the resource"
	case OriginDemo:
		return "the built-in demo; it cannot be changed"
	case OriginAPI:
		return "created through the REST or gRPC API; delete it there first"
	case OriginKEDA:
		return "registered from a KEDA ScaledObject's metadata; rename one of them"
	}
	return "origin " + origin
}

// readOnly reports whether targets of origin are changed only where they
// are declared, not through Update and Delete.
func readOnly(origin string) bool {
	return origin == OriginConfig || origin == OriginDemo || origin == OriginResource
}

// remove deletes target s (named name, of origin) under specMu.
func (r *Registry) remove(s *targetState, name, origin string) error {
	if r.opts.Store != nil && hasSpec(origin) {
		if err := r.opts.Store.DeleteSpec(name); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
			return fmt.Errorf("delete %q: %w", name, err)
		}
	}
	r.mu.Lock()
	s.mu.Lock()
	s.deleted = true
	s.mu.Unlock()
	delete(r.targets, name)
	r.mu.Unlock()

	r.sched.remove(&s.fetchTask)
	r.sched.remove(&s.fitTask)
	if r.opts.Store == nil {
		return nil
	}
	// saveMu waits for a save in progress, and every later save sees
	// deleted: the file cannot come back.
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if err := r.opts.Store.Delete(name); err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	return nil
}

// ConflictError is SetResource or DeleteResource on a target declared
// elsewhere (Origin): a custom resource never takes a target over. It
// wraps ErrExists.
type ConflictError struct {
	Name, Origin string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("registry: target %q already exists with origin %q", e.Name, e.Origin)
}

func (e *ConflictError) Unwrap() error { return ErrExists }

// SetResource registers t as declared by a custom resource (origin
// OriginResource): created when new, reconfigured when it changed, left
// alone when not. A target of that name declared elsewhere (the config
// file, the API, KEDA, the demo) is a *ConflictError. The resource is the
// spec's store, so none is written; the target's snapshot is kept as for
// every target. created reports that the target is new.
func (r *Registry) SetResource(t models.Target) (st TargetStatus, created bool, err error) {
	if err := t.Validate(); err != nil {
		return TargetStatus{}, false, err
	}
	r.specMu.Lock()
	defer r.specMu.Unlock()
	r.mu.RLock()
	s := r.targets[t.Name]
	n := len(r.targets)
	r.mu.RUnlock()
	if s == nil {
		if n >= r.opts.MaxTargets {
			return TargetStatus{}, false, &LimitError{Name: t.Name, Limit: r.opts.MaxTargets}
		}
		s = r.newState(t, OriginResource)
		r.mu.Lock()
		r.targets[t.Name] = s
		r.mu.Unlock()
		r.start(s)
		return r.status(s), true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origin != OriginResource {
		return TargetStatus{}, false, &ConflictError{Name: t.Name, Origin: s.origin}
	}
	if !sameModel(&s.target, &t) || !samePolicy(&s.target, &t) {
		r.reconfigure(s, t)
	}
	return r.statusLocked(s), false, nil
}

// DeleteResource removes a target SetResource registered, and its
// snapshot. A target of that name declared elsewhere is a *ConflictError
// and stays; no target is not an error.
func (r *Registry) DeleteResource(name string) error {
	r.specMu.Lock()
	defer r.specMu.Unlock()
	r.mu.RLock()
	s := r.targets[name]
	r.mu.RUnlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	origin := s.origin
	s.mu.Unlock()
	if origin != OriginResource {
		return &ConflictError{Name: name, Origin: origin}
	}
	return r.remove(s, name, origin)
}

// Get returns one target's status.
func (r *Registry) Get(name string) (TargetStatus, error) {
	s, err := r.lookup("get", name)
	if err != nil {
		return TargetStatus{}, err
	}
	return r.status(s), nil
}

// List returns every target's status, sorted by name.
func (r *Registry) List() []TargetStatus {
	states := r.states()
	out := make([]TargetStatus, 0, len(states))
	for _, s := range states {
		out = append(out, r.status(s))
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Target.Name, b.Target.Name) })
	return out
}

// Recommendation computes the target's recommendation now, from the
// forecast cached at the last observation (no forecasting happens here),
// and remembers it as the previous one, which is held while data is
// stale. It is ErrNotReady while the target has no model, no observed load
// and no previous recommendation.
func (r *Registry) Recommendation(name string) (models.Recommendation, error) {
	s, err := r.lookupHeld("recommendation", name)
	if err != nil {
		return models.Recommendation{}, err
	}
	return r.recommend(s, name)
}

// recommend makes the target's recommendation now and keeps it as the
// previous one. The scheduler calls it after every fetch and fit too, so
// /metrics and the status always carry a current recommendation (and a
// stale one during an outage), whether or not a client asks.
func (r *Registry) recommend(s *targetState, name string) (models.Recommendation, error) {
	current := r.currentReplicas(name) // before s.mu: it asks the controller
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fitted == nil && s.observedAt.IsZero() && !s.hasLast {
		return models.Recommendation{}, fmt.Errorf("recommendation %q: %w", name, ErrNotReady)
	}
	in := models.PolicyInput{
		Target:        s.target,
		Now:           r.now(),
		Forecast:      s.fc,
		ForecastStart: s.fcStart,
		ForecastStep:  s.target.Step,
		LocalWeight:   s.fcWeight,
		IntervalScale: s.fcScale,
		Observed:      s.observed,
		ObservedAt:    s.observedAt,
		DataStart:     s.dataStart,
		DataEnd:       s.dataEnd,
		ModelVersion:  s.generation,
		ModelFittedAt: s.fittedAt,
		LastFetch:     s.lastFetch,
		StaleAfter:    r.opts.StaleAfter,
		Events:        s.effects,
	}
	if s.fitted != nil {
		in.ModelKind = s.fitted.Model
	}
	if s.hasLast {
		in.Previous = &s.last
	}
	rec := models.Recommend(in)
	rec.Demo = s.origin == OriginDemo
	s.last, s.hasLast = rec, true
	s.changes.add(&rec, current)
	if !rec.Stale {
		if rec.Replicas != s.lastGood || s.lastGoodAt.IsZero() {
			s.version++ // worth a snapshot: a restart holds it
		}
		s.lastGood, s.lastGoodAt = rec.Replicas, rec.Time
	}
	return rec, nil
}

// Forecast returns the forecast for horizon steps after the last
// observation with the given quantiles, and up to history of the recent
// load. Arguments out of CheckForecastArgs's bounds are an error wrapping
// forecast.ErrBadOptions; a target without a model is ErrNotReady.
func (r *Registry) Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*ForecastView, error) {
	if err := CheckForecastArgs(horizon, quantiles, history); err != nil {
		return nil, err
	}
	s, err := r.lookupHeld("forecast", name)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.fitted == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("forecast %q: %w", name, ErrNotReady)
	}
	res, err := s.fitted.Forecast(horizon, nil)
	// The calibration is never changed after a fit, so its quantiles can
	// be computed without the lock: a long forecast with several quantiles
	// must not hold up recommendations.
	cal, scale := &s.fitted.Calibration, s.fitted.IntervalScale()
	level := s.target.Quantile
	step := s.target.Step
	v := &ForecastView{
		Target:     name,
		Generation: s.generation,
		Step:       step,
		Start:      s.lastObserved.Add(step),
	}
	k := int(history / step)
	if k > 0 {
		v.History, v.HistoryStart = s.history.last(k, step)
	}
	historyWindow := s.target.History
	fx := s.effects
	now := events.Observation{Value: s.observed, At: s.observedAt}
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("forecast %q: %w", name, err)
	}
	v.Model, v.Seasons, v.Notes, v.Point = res.Model, res.Seasons, res.Notes, res.Point
	if n := len(v.History); n < k {
		// The answer says why it holds less history than asked.
		v.Notes = append(v.Notes, fmt.Sprintf("history: %d of the %d points asked: a target keeps its history window (history: %s), and has observed %s of it",
			n, k, models.FormatDuration(historyWindow), models.FormatDuration(time.Duration(n)*step)))
	}
	offsets := cal.Offsets(make([]float64, horizon), level)
	core := cal.Offsets(make([]float64, horizon), forecast.CoreLevel)
	v.Provision = make([]float64, horizon)
	for i, p := range res.Point {
		t := v.Start.Add(time.Duration(i) * step)
		v.Provision[i] = models.Provision(cal, fx, t, p, offsets[i], core[i], level, scale)
	}
	if len(quantiles) > 0 {
		v.Quantiles = make([]forecast.Quantile, len(quantiles))
		for j, q := range quantiles {
			v.Quantiles[j] = forecast.Quantile{Level: q, Values: cal.QuantileForecast(nil, res.Point, q, scale)}
		}
		if note := cal.ExtrapolationNote(horizon); note != "" {
			v.Notes = append(v.Notes, note)
		}
	}
	v.Notes = append(v.Notes, withEvents(v, fx, now, level)...)
	return v, nil
}

// withEvents changes a forecast's values in the windows of known events
// as the policy does (events.Effects.Adjust), the point
// forecast as the median and the provisioned load as the target's
// quantile level, and says which events it took in.
func withEvents(v *ForecastView, fx *events.Effects, now events.Observation, level float64) []string {
	if fx == nil || fx.Calendar == nil {
		return nil
	}
	var notes []string
	seen := map[time.Time]bool{}
	adjust := func(vals []float64, q float64) {
		for i := range vals {
			var u *events.Use
			vals[i], u = fx.Adjust(vals[i], v.Start.Add(time.Duration(i)*v.Step), q, now)
			if u != nil && !seen[u.Occurrence.Start] {
				seen[u.Occurrence.Start] = true
				notes = append(notes, fmt.Sprintf("events: the '%s' event at %s is in the forecast (%s effect)",
					u.Occurrence.Event.Name, u.Occurrence.Start.Format(time.RFC3339), u.Source))
			}
		}
	}
	adjust(v.Point, 0.5)
	adjust(v.Provision, level)
	for j := range v.Quantiles {
		adjust(v.Quantiles[j].Values, v.Quantiles[j].Level)
	}
	return notes
}

// Anomalies returns the anomalous spans overlapping [start, end), sorted
// by start: those the live detector flagged (the last 1000), the
// confirmed level shifts, and those kept out of the last fit's training.
func (r *Registry) Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error) {
	s, err := r.lookupHeld("anomalies", name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := s.anomalies(start, end)
	s.mu.Unlock()
	slices.SortStableFunc(out, func(a, b models.AnomalyEvent) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// lookup finds a target for op.
func (r *Registry) lookup(op, name string) (*targetState, error) {
	r.mu.RLock()
	s := r.targets[name]
	r.mu.RUnlock()
	if s == nil {
		return nil, fmt.Errorf("%s %q: %w", op, name, ErrNotFound)
	}
	return s, nil
}

// lookupHeld finds a target this replica holds for op: ErrNotHeld for one
// it does not.
func (r *Registry) lookupHeld(op, name string) (*targetState, error) {
	s, err := r.lookup(op, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	if !held {
		return nil, fmt.Errorf("%s %q: %w", op, name, ErrNotHeld)
	}
	return s, nil
}

// Holds reports whether this replica holds the target name now
// (Options.Holds), whether or not it is declared.
func (r *Registry) Holds(name string) bool { return r.opts.Holds == nil || r.opts.Holds(name) }

// Rebalance applies a change of Options.Holds' answers: a target this
// replica now holds is fitted (from its snapshot, when the store has one)
// and streamed; one it no longer holds drops its model, detector and data,
// and its fits and fetches stop. The declarations stay.
func (r *Registry) Rebalance() {
	gained, lost := 0, 0
	for _, s := range r.states() {
		s.mu.Lock()
		holds, was := r.Holds(s.target.Name), s.held
		s.held = holds
		switch {
		case s.deleted || holds == was:
			s.mu.Unlock()
		case holds:
			s.loadTried = false
			s.history = newHistoryRing(r.historySteps(&s.target))
			s.mu.Unlock()
			r.start(s)
			gained++
		default:
			s.epoch++ // a fit or fetch under way is discarded
			s.dropModel(false)
			s.history = historyRing{} // a held target's cache costs 4 bytes a step
			s.changes = changeRing{}  // and its history of recommendations up to 4 KiB
			s.accuracy = newAccuracyTracker(accuracyCapacity(&s.target), accuracyWidth(&s.target))
			s.hasLast, s.last = false, models.Recommendation{}
			s.mu.Unlock()
			r.sched.park(&s.fetchTask)
			r.sched.park(&s.fitTask)
			lost++
		}
	}
	if gained+lost > 0 {
		r.log.Info("targets rebalanced", "gained", gained, "lost", lost)
	}
}

// states returns every target's state.
func (r *Registry) states() []*targetState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*targetState, 0, len(r.targets))
	for _, s := range r.targets {
		out = append(out, s)
	}
	return out
}

// newState returns the state of a target just declared, not yet
// scheduled.
func (r *Registry) newState(t models.Target, origin string) *targetState {
	t.Seasons = slices.Clone(t.Seasons)
	s := &targetState{target: t, origin: origin, timeline: models.NewTimeline(&t, r.now(), r.jitter), held: r.Holds(t.Name)}
	s.fetchTask = task{state: s, kind: taskFetch, index: -1}
	s.fitTask = task{state: s, kind: taskFit, index: -1}
	if s.held {
		s.history = newHistoryRing(r.historySteps(&t))
	}
	s.accuracy = newAccuracyTracker(accuracyCapacity(&t), accuracyWidth(&t))
	s.leadValues = make([]float64, len(r.opts.Quantiles))
	return s
}

// start schedules a new target's first fetch, for a reactive answer soon,
// and its first fit, when this replica holds it.
func (r *Registry) start(s *targetState) {
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	if !held {
		return
	}
	now := r.now()
	r.sched.schedule(&s.fetchTask, now)
	r.sched.schedule(&s.fitTask, now)
}

// reconfigure applies a new configuration to a target; s.mu is held.
func (r *Registry) reconfigure(s *targetState, t models.Target) {
	t.Seasons = slices.Clone(t.Seasons)
	old := s.target
	s.target = t
	now := r.now()
	if sameModel(&old, &t) {
		if s.fitted != nil && (old.Quantile != t.Quantile || old.LeadTime != t.LeadTime || old.Margin != t.Margin) {
			s.plan = r.newPlan(s.fitted, &t)
			if old.LeadSteps() != t.LeadSteps() {
				s.accuracy = newAccuracyTracker(accuracyCapacity(&t), accuracyWidth(&t))
			}
			s.refreshForecast()
		}
		reschedule := s.fitted != nil && !s.timeline.Failing() && old.RefitInterval != t.RefitInterval
		if next := s.timeline.SetRefitInterval(t.RefitInterval, s.fittedAt); reschedule {
			r.sched.schedule(&s.fitTask, next)
		}
		return
	}
	// The model no longer applies: fits and fetches under way are
	// discarded, and the target is fitted anew. Its data and detector
	// stay if the series is the same.
	keepData := old.Query == t.Query && old.Step == t.Step
	s.epoch++
	s.dropModel(keepData)
	if s.detector != nil {
		// A kept detector takes the new calendar's windows as gaps at
		// once, not at the next fit (which may fail for a while).
		cal, _ := t.Calendar() // checked with the target
		s.detector.SetKnown(cal)
	}
	s.timeline = models.NewTimeline(&t, now, r.jitter)
	if s.held {
		s.history.resize(r.historySteps(&t), keepData, t.Step)
	}
	s.accuracy = newAccuracyTracker(accuracyCapacity(&t), accuracyWidth(&t))
	if s.held {
		r.sched.schedule(&s.fetchTask, now)
		r.sched.schedule(&s.fitTask, now)
	}
}

// historySteps is how many points a target's history cache holds.
func (r *Registry) historySteps(t *models.Target) int {
	return int(min(r.opts.HistoryCache, t.History) / t.Step)
}

// sameModel reports whether a model fitted for a applies to b: no field
// marked Refit in models.TargetFields differs.
func sameModel(a, b *models.Target) bool { return !models.ModelChanged(a, b) }

// samePolicy reports whether the fields that do not shape a fit are equal.
func samePolicy(a, b *models.Target) bool { return !models.PolicyChanged(a, b) }

// CheckForecastArgs reports the first argument of a Forecast call out of
// bounds, naming it, as an error wrapping forecast.ErrBadOptions: a horizon
// outside [1, MaxForecastHorizon], more than MaxForecastQuantiles
// quantiles, a quantile outside (0, 1), a negative history.
func CheckForecastArgs(horizon int, quantiles []float64, history time.Duration) error {
	if horizon < 1 || horizon > MaxForecastHorizon {
		return fmt.Errorf("%w: horizon: must be between 1 and %d, got %d", forecast.ErrBadOptions, MaxForecastHorizon, horizon)
	}
	if len(quantiles) > MaxForecastQuantiles {
		return fmt.Errorf("%w: quantiles: must list at most %d levels, got %d", forecast.ErrBadOptions, MaxForecastQuantiles, len(quantiles))
	}
	for i, q := range quantiles {
		if !(q > 0 && q < 1) {
			return fmt.Errorf("%w: quantiles[%d]: must be between 0 and 1 (exclusive), got %v", forecast.ErrBadOptions, i, q)
		}
	}
	if history < 0 {
		return fmt.Errorf("%w: history: must not be negative, got %v", forecast.ErrBadOptions, history)
	}
	return nil
}
