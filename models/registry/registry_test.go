package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
	"github.com/prescale/prescale/models/snapshot"
)

// regStart is the fake clock's start: a Monday noon, on every step's grid.
var regStart = time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)

const regStep = 5 * time.Minute

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeLoad is a synthetic load as a function of time: a daily and a weekly
// cycle around Level, deterministic noise, and optionally an outage (zero
// load) and a level shift.
type fakeLoad struct {
	Level  float64
	Daily  float64 // amplitude of the daily cycle, relative to Level
	Weekly float64 // amplitude of the weekly cycle, relative to Level
	Noise  float64 // amplitude of the noise, relative to Level
	Phase  time.Duration
	Seed   uint64

	OutageFrom, OutageTo time.Time // zero load in [OutageFrom, OutageTo)
	ShiftAt              time.Time // the load is multiplied by ShiftBy from then on
	ShiftBy              float64
	// Boost, when set, multiplies the load at t (an event's spike).
	Boost func(t time.Time) float64
}

func (l fakeLoad) At(t time.Time) float64 {
	if !t.Before(l.OutageFrom) && t.Before(l.OutageTo) {
		return 0
	}
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	x := t.Add(l.Phase).UnixNano()
	v := l.Level * (1 +
		l.Daily*math.Sin(2*math.Pi*float64(x%int64(day))/float64(day)) +
		l.Weekly*math.Sin(2*math.Pi*float64(x%int64(week))/float64(week)) +
		l.Noise*(2*noise(l.Seed, t)-1))
	if !l.ShiftAt.IsZero() && !t.Before(l.ShiftAt) {
		v *= l.ShiftBy
	}
	if l.Boost != nil {
		v *= l.Boost(t)
	}
	return max(v, 0)
}

// noise is a uniform number in [0, 1) that depends only on seed and t.
func noise(seed uint64, t time.Time) float64 {
	z := seed ^ uint64(t.Unix())*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// fakeSource serves fakeLoads by query. Points after the clock's now minus
// Lag have no sample yet (NaN), like a Prometheus that has not scraped
// them; while Err is set every call fails with it.
type fakeSource struct {
	clock *fakeClock

	mu    sync.Mutex
	loads map[string]fakeLoad
	err   error
	lag   time.Duration
	calls int
}

var errNoSeries = errors.New("fake source: no such series")

func (f *fakeSource) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, fmt.Errorf("query range %q: %w", query, f.err)
	}
	load, ok := f.loads[query]
	if !ok {
		return nil, fmt.Errorf("query range %q: %w", query, errNoSeries)
	}
	newest := f.clock.Now().Add(-f.lag)
	s := &feed.Series{Start: start, Step: step, Values: make([]float64, int(end.Sub(start)/step)+1)}
	for i := range s.Values {
		if t := s.Time(i); t.After(newest) {
			s.Values[i] = math.NaN()
		} else {
			s.Values[i] = load.At(t)
		}
	}
	return s, nil
}

func (f *fakeSource) set(query string, l fakeLoad) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads[query] = l
}

func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSource) setLag(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lag = d
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// regLoad is the load of the tests' targets.
var regLoad = fakeLoad{Level: 100, Daily: 0.5, Noise: 0.03, Seed: 1}

// regTarget is a small target: three days of five-minute steps, a lead
// window of three steps.
func regTarget(name string) models.Target {
	t := models.DefaultTarget()
	t.Name = name
	t.Query = `load{target="` + name + `"}`
	t.Step = regStep
	t.History = 3 * 24 * time.Hour
	t.CapacityPerReplica = 10
	t.LeadTime = 10 * time.Minute
	t.Margin = 5 * time.Minute
	t.HoldFor = 30 * time.Minute
	t.RefitInterval = 6 * time.Hour
	return t
}

// harness is a registry on a fake clock and a fake source.
type harness struct {
	t     testing.TB
	clock *fakeClock
	src   *fakeSource
	reg   *registry.Registry
	logs  *syncBuffer

	cancel context.CancelFunc
	done   chan error
}

// newHarness makes a registry with store (nil for none), after each of
// configure has changed its options.
func newHarness(t testing.TB, store *snapshot.Store, configure ...func(*registry.Options)) *harness {
	t.Helper()
	clock := &fakeClock{t: regStart}
	h := &harness{
		t:     t,
		clock: clock,
		src:   &fakeSource{clock: clock, loads: map[string]fakeLoad{}},
		logs:  &syncBuffer{},
	}
	opts := &registry.Options{
		Store:  store,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		Rand:   rand.New(rand.NewPCG(1, 2)),
	}
	for _, c := range configure {
		c(opts)
	}
	reg, err := registry.New(h.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.reg = reg
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("registry log:\n%s", h.logs.String())
		}
	})
	return h
}

// add declares a target served by regLoad (or load) in the fake source.
func (h *harness) add(t models.Target, load ...fakeLoad) models.Target {
	l := regLoad
	if len(load) > 0 {
		l = load[0]
	}
	h.src.set(t.Query, l)
	return t
}

// create registers t (served by regLoad, or load) through the API and
// waits for its first fit; Run must be running.
func (h *harness) create(t models.Target, load ...fakeLoad) registry.TargetStatus {
	h.t.Helper()
	h.add(t, load...)
	if _, err := h.reg.Create(t, registry.OriginAPI); err != nil {
		h.t.Fatal(err)
	}
	return h.waitFitted(t.Name, 1)
}

// run starts Run; stop (also at cleanup) ends it and checks that no
// goroutine of it is left.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.reg.Run(ctx) }()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Fatal("Run did not return after its context was canceled")
	}
	h.cancel = nil
	checkNoRegistryGoroutines(h.t)
}

// advance moves the clock and wakes the registry's loop.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.reg.Wake()
}

// status is Get, failing the test on an error.
func (h *harness) status(name string) registry.TargetStatus {
	h.t.Helper()
	st, err := h.reg.Get(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitStatus waits until the target's status satisfies ok.
func (h *harness) waitStatus(name, what string, ok func(registry.TargetStatus) bool) registry.TargetStatus {
	h.t.Helper()
	var st registry.TargetStatus
	waitFor(h.t, name+": "+what, func() bool {
		var err error
		st, err = h.reg.Get(name)
		return err == nil && ok(st)
	})
	return st
}

// waitFitted waits for the target's fit number generation.
func (h *harness) waitFitted(name string, generation uint64) registry.TargetStatus {
	h.t.Helper()
	return h.waitStatus(name, fmt.Sprintf("fit %d", generation), func(st registry.TargetStatus) bool {
		return st.Generation >= generation
	})
}

// stepTo moves the clock one step at a time up to at, waiting after each
// step until the target has fetched.
func (h *harness) stepTo(name string, at time.Time) {
	h.t.Helper()
	for h.clock.Now().Before(at) {
		h.advance(regStep)
		now := h.clock.Now()
		h.waitStatus(name, "fetch at "+now.Format(time.TimeOnly), func(st registry.TargetStatus) bool {
			return !st.LastFetch.Before(now) || st.FetchErrors > 0 && st.FetchError != ""
		})
	}
}

// waitFor polls cond until it holds, for up to 30 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkNoRegistryGoroutines fails if a goroutine of a registry is still
// running: every one must end before Run returns.
func checkNoRegistryGoroutines(t testing.TB) {
	t.Helper()
	var stacks string
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "models.(*Registry)") && !strings.Contains(stacks, "models.parallel") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("registry goroutines left after Run returned:\n%s", stacks)
}

func TestRegistryCreateFitRecommend(t *testing.T) {
	h := newHarness(t, nil)
	tg := h.add(regTarget("web"))
	h.run()

	st, err := h.reg.Create(tg, registry.OriginAPI)
	if err != nil {
		t.Fatal(err)
	}
	if st.Origin != registry.OriginAPI || st.Target.Name != "web" {
		t.Errorf("Create: origin %q, name %q", st.Origin, st.Target.Name)
	}
	st = h.waitFitted("web", 1)
	waitFor(t, "ready", h.reg.Ready)

	if st.ModelKind == "" || st.FitError != "" || st.FitErrors != 0 {
		t.Errorf("model %q, fit error %q (%d)", st.ModelKind, st.FitError, st.FitErrors)
	}
	if !st.DataEnd.Equal(regStart) || !st.LastObserved.Equal(regStart) {
		t.Errorf("data end %v, last observed %v, want %v", st.DataEnd, st.LastObserved, regStart)
	}
	if want := regStart.Add(-tg.History + tg.Step); !st.DataStart.Equal(want) {
		t.Errorf("data start %v, want %v", st.DataStart, want)
	}
	if !st.ObservedAt.Equal(regStart) || st.Observed != regLoad.At(regStart) {
		t.Errorf("observed %v at %v, want %v at %v", st.Observed, st.ObservedAt, regLoad.At(regStart), regStart)
	}
	if len(st.LeadForecast) != 3 {
		t.Fatalf("lead forecast %v, want 3 quantiles", st.LeadForecast)
	}
	for i, q := range st.LeadForecast {
		if len(q.Values) != 1 || i > 0 && q.Values[0] < st.LeadForecast[i-1].Values[0] {
			t.Errorf("lead forecast %v: not one nondecreasing value per quantile", st.LeadForecast)
		}
	}
	if st.NextRefit.Before(regStart.Add(tg.RefitInterval*9/10)) || st.NextRefit.After(regStart.Add(tg.RefitInterval*11/10)) {
		t.Errorf("next refit %v, want within 10%% of %v after %v", st.NextRefit, tg.RefitInterval, regStart)
	}

	rec, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Won != models.WonForecast && rec.Won != models.WonReactive {
		t.Errorf("won %q, want forecast or reactive: %s", rec.Won, rec.Reason)
	}
	if rec.Stale || rec.ModelVersion != 1 || rec.ModelKind != st.ModelKind || rec.Forecast.Steps == 0 {
		t.Errorf("stale %v, version %d, kind %q, forecast steps %d", rec.Stale, rec.ModelVersion, rec.ModelKind, rec.Forecast.Steps)
	}
	if want := max(rec.Forecast.Replicas, rec.Reactive.Replicas); rec.Replicas != want {
		t.Errorf("replicas %d, want %d (%s)", rec.Replicas, want, rec.Reason)
	}
	if !strings.Contains(rec.Reason, "forecast q-0.9 provision") || !strings.Contains(rec.Reason, "observed load") {
		t.Errorf("reason %q does not explain the forecast and the reactive floor", rec.Reason)
	}
	// The recommendation provisions what the calibration's Provision
	// makes of the forecast that Forecast returns: at least its point.
	v, err := h.reg.Forecast("web", 3, []float64{0.9}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cal, scale := h.reg.Calibration("web")
	if cal == nil || !(cal.ReferenceSpread > 0) {
		t.Fatalf("calibration %+v: want a reference spread", cal)
	}
	provision := make([]float64, len(v.Point))
	for i, p := range v.Point {
		off := cal.Offset(i+1, 0.9)
		provision[i] = cal.Provision(p, off, cal.Offset(i+1, forecast.CoreLevel), 0.9, scale)
		if provision[i] < p {
			t.Errorf("step %d provisions %v, below the point forecast %v", i+1, provision[i], p)
		}
		if i >= len(v.Provision) || math.Abs(v.Provision[i]-provision[i]) > 1e-9*provision[i] {
			t.Errorf("Forecast's provision %v, want %v", v.Provision, provision)
		}
	}
	if want := slices.Max(provision); math.Abs(rec.Forecast.Max-want) > 1e-9*want {
		t.Errorf("forecast max %v, want %v of %v (quantile %v)", rec.Forecast.Max, want, provision, v.Quantiles[0].Values)
	}
	if st := h.status("web"); st.Recommendation == nil || st.Recommendation.Replicas != rec.Replicas {
		t.Errorf("status recommendation %+v, want the last one", st.Recommendation)
	}
}

func TestRegistryStreaming(t *testing.T) {
	h := newHarness(t, nil)
	tg := regTarget("web")
	var workload atomic.Int32 // the workload's replicas: 0 unknown
	h.reg.SetWorkloads(func(target string) (int32, bool) { n := workload.Load(); return n, target == "web" && n > 0 })
	h.run()
	h.create(tg)

	h.stepTo("web", regStart.Add(3*regStep))
	st := h.status("web")
	if now := h.clock.Now(); !st.LastObserved.Equal(now) || !st.ObservedAt.Equal(now) || st.Observed != regLoad.At(now) {
		t.Errorf("last observed %v, observed %v at %v; want %v at %v", st.LastObserved, st.Observed, st.ObservedAt, regLoad.At(now), now)
	}
	if !st.DataEnd.Equal(regStart) || st.Generation != 1 {
		t.Errorf("data end %v, generation %d: streaming must not refit", st.DataEnd, st.Generation)
	}
	rec, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	if want := st.LastObserved.Add(regStep); rec.Forecast.From.Before(want) || rec.Stale {
		t.Errorf("forecast from %v, stale %v; want from %v on", rec.Forecast.From, rec.Stale, want)
	}

	// A sample that comes late is not taken as a gap: the model waits for
	// it and takes it at the next fetch.
	h.src.setLag(regStep)
	h.stepTo("web", h.clock.Now().Add(2*regStep))
	late := h.clock.Now()
	if st := h.status("web"); !st.LastObserved.Equal(late.Add(-regStep)) {
		t.Errorf("last observed %v with the newest sample missing, want %v", st.LastObserved, late.Add(-regStep))
	}
	h.src.setLag(0)
	h.stepTo("web", late.Add(regStep))
	st = h.status("web")
	if now := h.clock.Now(); !st.LastObserved.Equal(now) {
		t.Errorf("last observed %v, want %v", st.LastObserved, now)
	}
	v, err := h.reg.Forecast("web", 1, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.History) != 12 || !v.HistoryStart.Equal(st.LastObserved.Add(-11*regStep)) {
		t.Fatalf("history of %d points from %v, want 12 from %v", len(v.History), v.HistoryStart, st.LastObserved.Add(-11*regStep))
	}
	for i, x := range v.History {
		// The cache keeps float32s: the source's value to 7 digits.
		if at := v.HistoryStart.Add(time.Duration(i) * regStep); x != float64(float32(regLoad.At(at))) {
			t.Errorf("history at %v: %v, want %v as a float32", at, x, regLoad.At(at))
		}
	}
	if slices.ContainsFunc(v.Notes, func(n string) bool { return strings.HasPrefix(n, "history:") }) {
		t.Errorf("notes %q: a note on history when all of it was returned", v.Notes)
	}
	// More history than the target keeps: the answer says so.
	long, err := h.reg.Forecast("web", 1, nil, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(30 * 24 * time.Hour / regStep); len(long.History) >= want ||
		!slices.ContainsFunc(long.Notes, func(n string) bool {
			return strings.HasPrefix(n, fmt.Sprintf("history: %d of the %d points asked: a target keeps its history window (history: 3d)", len(long.History), want))
		}) {
		t.Errorf("30d of history: %d points, notes %q; want fewer, and a note saying why", len(long.History), long.Notes)
	}
	// Forecasts made three steps ahead have been scored.
	if st.Accuracy.Points == 0 || st.Accuracy.IntervalLow != 0.1 || st.Accuracy.IntervalHigh != 0.9 || !(st.Accuracy.WAPE > 0 && st.Accuracy.WAPE < 0.5) {
		t.Errorf("accuracy %+v after %d streamed steps", st.Accuracy, 6)
	}

	// The history: the recommendations made so far, then one with the
	// workload's replicas known; the accuracy windows sum to the whole.
	workload.Store(7)
	last, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	hist, err := h.reg.History("web", regStart.Add(-time.Hour), h.clock.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(hist.Changes); n == 0 || hist.Changes[0].CurrentKnown || !hist.Changes[n-1].CurrentKnown ||
		hist.Changes[n-1].Current != 7 || hist.Changes[n-1].Replicas != last.Replicas || !hist.Changes[n-1].Time.Equal(last.Time) {
		t.Errorf("changes %+v; want the first without the workload's replicas, the last %d with 7", hist.Changes, last.Replicas)
	}
	points := 0
	for _, w := range hist.Accuracy {
		points += w.Points
	}
	if len(hist.Accuracy) == 0 || points != st.Accuracy.Points {
		t.Errorf("accuracy windows %+v: %d points, want %d", hist.Accuracy, points, st.Accuracy.Points)
	}
	if _, err := h.reg.History("nope", regStart, h.clock.Now()); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("History of an unknown target: %v, want ErrNotFound", err)
	}
}

func TestRegistryOutageHolds(t *testing.T) {
	h := newHarness(t, nil)
	tg := regTarget("web")
	h.run()
	first := h.create(tg)

	// The registry also recommends after every fetch, failed or not, so
	// the value held is the last one made while data was still fresh: at
	// 10m, before the 10m30s threshold, the forecast window has moved on
	// from the one at 0m.
	h.src.fail(errors.New("prometheus is down"))
	h.stepTo("web", regStart.Add(2*regStep))
	before, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	if before.Stale {
		t.Fatalf("stale before the threshold: %s", before.Reason)
	}
	h.stepTo("web", regStart.Add(3*regStep)) // 15m: past the 10m30s threshold
	st := h.status("web")
	if st.FetchErrors == 0 || !strings.Contains(st.FetchError, "prometheus is down") {
		t.Errorf("fetch errors %d, %q", st.FetchErrors, st.FetchError)
	}
	if st.ModelKind != first.ModelKind || st.Generation != 1 || !st.LastObserved.Equal(regStart) || len(st.LeadForecast) == 0 {
		t.Errorf("the outage changed the model state: %+v", st)
	}
	held, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	if !held.Stale || held.Won != models.WonHeld || held.Replicas != before.Replicas {
		t.Errorf("during the outage: stale %v, won %q, replicas %d; want held %d (%s)", held.Stale, held.Won, held.Replicas, before.Replicas, held.Reason)
	}

	// Past the hold, and past a failed refit: never below the last good
	// recommendation, and the model stays.
	h.advance(7 * time.Hour)
	st = h.waitStatus("web", "a failed refit", func(st registry.TargetStatus) bool { return st.FitErrors > 0 })
	if st.Generation != 1 || st.ModelKind != first.ModelKind || !strings.Contains(st.FitError, "prometheus is down") {
		t.Errorf("after a failed refit: generation %d, model %q, fit error %q", st.Generation, st.ModelKind, st.FitError)
	}
	if !h.reg.Ready() {
		t.Error("not ready with a model")
	}
	for range 3 {
		rec, err := h.reg.Recommendation("web")
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Stale || rec.Replicas < before.Replicas {
			t.Errorf("after the hold: stale %v, replicas %d, want at least %d (%s)", rec.Stale, rec.Replicas, before.Replicas, rec.Reason)
		}
		h.advance(time.Hour)
	}

	// Data is back: fresh again, and the fit is retried (its backoff is
	// at most the refit interval).
	h.src.fail(nil)
	h.advance(tg.RefitInterval)
	now := h.clock.Now()
	st = h.waitStatus("web", "recovery", func(st registry.TargetStatus) bool {
		return st.Generation == 2 && st.FetchError == "" && st.LastObserved.Equal(now)
	})
	if st.FitError != "" || st.FitErrors == 0 {
		t.Errorf("after the outage: fit error %q, %d errors", st.FitError, st.FitErrors)
	}
	rec, err := h.reg.Recommendation("web")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stale || rec.ModelVersion != 2 {
		t.Errorf("after the outage: stale %v, version %d (%s)", rec.Stale, rec.ModelVersion, rec.Reason)
	}
}

func TestRegistrySetConfig(t *testing.T) {
	h := newHarness(t, nil)
	a, b, c := h.add(regTarget("a")), h.add(regTarget("b")), h.add(regTarget("c"))
	if err := h.reg.SetConfig([]models.Target{a, b, c}); err != nil {
		t.Fatal(err)
	}
	h.run()
	fitted := map[string]registry.TargetStatus{}
	for _, name := range []string{"a", "b", "c"} {
		fitted[name] = h.waitFitted(name, 1)
	}

	a2 := a
	a2.CapacityPerReplica, a2.Quantile, a2.LeadTime = 5, 0.8, 20*time.Minute
	b2 := b
	b2.Query = `load{target="b", version="2"}`
	h.src.set(b2.Query, fakeLoad{Level: 300, Daily: 0.2, Seed: 7})
	d := h.add(regTarget("d"))
	if err := h.reg.SetConfig([]models.Target{a2, b2, d}); err != nil {
		t.Fatal(err)
	}

	st := h.status("a")
	if st.Generation != 1 || !st.FittedAt.Equal(fitted["a"].FittedAt) || st.ModelKind != fitted["a"].ModelKind {
		t.Errorf("a: generation %d, fitted at %v, model %q: a policy change must keep the model", st.Generation, st.FittedAt, st.ModelKind)
	}
	if st.Target.CapacityPerReplica != 5 || st.Target.Quantile != 0.8 || len(st.LeadForecast) == 0 {
		t.Errorf("a: target %+v, lead forecast %v", st.Target, st.LeadForecast)
	}
	if _, err := h.reg.Get("c"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("c after removal: %v, want ErrNotFound", err)
	}
	stB := h.waitFitted("b", 2)
	if stB.Target.Query != b2.Query || math.Abs(stB.Observed-300) > 100 {
		t.Errorf("b: query %q, observed %v: the new query must be fitted", stB.Target.Query, stB.Observed)
	}
	h.waitFitted("d", 1)
	if st := h.status("a"); st.Generation != 1 {
		t.Errorf("a refitted (generation %d)", st.Generation)
	}
	rec, err := h.reg.Recommendation("a")
	if err != nil {
		t.Fatal(err)
	}
	if rec.CapacityPerReplica != 5 || rec.Forecast.Quantile != 0.8 || rec.LeadTime != 20*time.Minute || rec.Forecast.Steps == 0 {
		t.Errorf("a: capacity %v, quantile %v, lead %v, steps %d", rec.CapacityPerReplica, rec.Forecast.Quantile, rec.LeadTime, rec.Forecast.Steps)
	}
	if rec.Forecast.Short {
		t.Errorf("a: the cached forecast does not cover the new lead window: %s", rec.Reason)
	}

	// Config targets are read-only through the API.
	if _, err := h.reg.Update(a2); !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Update of a config target: %v, want ErrReadOnly", err)
	}
	if err := h.reg.Delete("a"); !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Delete of a config target: %v, want ErrReadOnly", err)
	}
	// An invalid configuration changes nothing.
	bad := a2
	bad.Quantile = 1.5
	err = h.reg.SetConfig([]models.Target{bad, d, d})
	if !errors.Is(err, models.ErrConfig) || !strings.Contains(err.Error(), "targets[0].quantile: ") || !strings.Contains(err.Error(), "targets[2].name: duplicates") {
		t.Errorf("invalid config: %v, want ErrConfig naming quantile and the duplicate", err)
	}
	if names := targetNames(h.reg.List()); !slices.Equal(names, []string{"a", "b", "d"}) {
		t.Errorf("targets %v after an invalid config, want [a b d]", names)
	}
}

func targetNames(list []registry.TargetStatus) []string {
	var out []string
	for _, st := range list {
		out = append(out, st.Target.Name)
	}
	return out
}

func TestRegistryUpdate(t *testing.T) {
	h := newHarness(t, nil)
	tg := h.add(regTarget("web"))
	h.run()
	if _, err := h.reg.Create(tg, registry.OriginKEDA); err != nil {
		t.Fatal(err)
	}
	first := h.waitFitted("web", 1)

	policy := tg
	policy.MaxReplicas, policy.HoldFor = 7, time.Hour
	st, err := h.reg.Update(policy)
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != 1 || st.ModelKind != first.ModelKind || st.Target.MaxReplicas != 7 || st.Origin != registry.OriginKEDA {
		t.Errorf("after a policy update: %+v", st)
	}
	model := policy
	model.History = 2 * 24 * time.Hour
	if st, err = h.reg.Update(model); err != nil {
		t.Fatal(err)
	}
	if st.ModelKind != "" {
		t.Errorf("model %q kept after a change of history", st.ModelKind)
	}
	st = h.waitFitted("web", 2)
	if want := regStart.Add(-model.History + model.Step); !st.DataStart.Equal(want) {
		t.Errorf("data start %v, want %v", st.DataStart, want)
	}
	invalid := model
	invalid.Step = 0
	if _, err := h.reg.Update(invalid); !errors.Is(err, models.ErrConfig) {
		t.Errorf("invalid update: %v, want ErrConfig", err)
	}
}

func TestRegistryRestore(t *testing.T) {
	store := openSnapStore(t)
	cfg, gone, api := regTarget("cfg"), regTarget("gone"), regTarget("api")

	// The first run fits, streams a step, recommends and saves at exit.
	h1 := newHarness(t, store)
	h1.add(cfg)
	h1.add(gone)
	h1.add(api)
	if err := h1.reg.SetConfig([]models.Target{cfg, gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.reg.Create(api, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	h1.run()
	for _, name := range []string{"cfg", "gone", "api"} {
		h1.waitFitted(name, 1)
	}
	h1.stepTo("cfg", regStart.Add(regStep))
	good, err := h1.reg.Recommendation("cfg")
	if err != nil {
		t.Fatal(err)
	}
	fitted := h1.status("cfg")
	h1.stop()

	snap, err := store.Load("cfg")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Generation != 1 || snap.Origin != registry.OriginConfig || !snap.LastObserved.Equal(fitted.LastObserved) ||
		snap.LastGoodReplicas != good.Replicas || !snap.LastGoodAt.Equal(good.Time) {
		t.Errorf("snapshot: generation %d, origin %q, last observed %v, last good %d at %v; want 1, config, %v, %d at %v",
			snap.Generation, snap.Origin, snap.LastObserved, snap.LastGoodReplicas, snap.LastGoodAt, fitted.LastObserved, good.Replicas, good.Time)
	}
	if snap, err := store.Load("api"); err != nil || snap.Origin != registry.OriginAPI {
		t.Fatalf("api snapshot: %v, %v", snap, err)
	}

	// The second run starts during a Prometheus outage: it serves at once
	// from the snapshots and holds the last good recommendation.
	h2 := newHarness(t, store)
	h2.clock.Advance(2 * regStep)
	h2.add(cfg)
	h2.add(api)
	h2.src.fail(errors.New("prometheus is down"))
	if err := h2.reg.SetConfig([]models.Target{cfg}); err != nil {
		t.Fatal(err)
	}
	h2.run()
	waitFor(t, "ready", h2.reg.Ready)
	st := h2.status("cfg")
	if st.Generation != 1 || st.ModelKind != fitted.ModelKind || !st.LastObserved.Equal(fitted.LastObserved) || !st.FittedAt.Equal(fitted.FittedAt) {
		t.Errorf("restored: generation %d, model %q, last observed %v, fitted at %v; want 1, %q, %v, %v",
			st.Generation, st.ModelKind, st.LastObserved, st.FittedAt, fitted.ModelKind, fitted.LastObserved, fitted.FittedAt)
	}
	if st.NextRefit.IsZero() || !st.NextRefit.After(h2.clock.Now()) || st.NextRefit.After(h2.clock.Now().Add(cfg.Step+10*time.Minute)) {
		t.Errorf("next refit %v, want soon after %v", st.NextRefit, h2.clock.Now())
	}
	stAPI, err := h2.reg.Get("api")
	if err != nil {
		t.Fatalf("the API target is not registered again: %v", err)
	}
	if stAPI.Origin != registry.OriginAPI || stAPI.Generation != 1 {
		t.Errorf("api: origin %q, generation %d", stAPI.Origin, stAPI.Generation)
	}
	if _, err := h2.reg.Get("gone"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("gone: %v; a config target no longer declared must not come back", err)
	}
	if _, err := store.Load("gone"); err != nil {
		t.Errorf("the snapshot of a target no longer declared was not left alone: %v", err)
	}
	rec, err := h2.reg.Recommendation("cfg")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Won != models.WonHeld || rec.Replicas != good.Replicas || rec.ModelVersion != 1 {
		t.Errorf("after the restart: won %q, replicas %d, version %d; want held %d (%s)", rec.Won, rec.Replicas, rec.ModelVersion, good.Replicas, rec.Reason)
	}
	h2.advance(2 * time.Hour)
	if rec, err = h2.reg.Recommendation("cfg"); err != nil || rec.Replicas < good.Replicas {
		t.Errorf("past the hold: %d replicas (%v), want at least %d", rec.Replicas, err, good.Replicas)
	}
	h2.stop()

	// Data is back: the restored model catches up by streaming.
	h3 := newHarness(t, store)
	h3.clock.Advance(3 * regStep)
	h3.add(cfg)
	if err := h3.reg.SetConfig([]models.Target{cfg}); err != nil {
		t.Fatal(err)
	}
	h3.run()
	st = h3.waitStatus("cfg", "catch-up", func(st registry.TargetStatus) bool { return st.LastObserved.Equal(h3.clock.Now()) })
	if st.Generation != 1 {
		t.Errorf("generation %d: the catch-up must stream, not refit", st.Generation)
	}
	if rec, err := h3.reg.Recommendation("cfg"); err != nil || rec.Stale || rec.Forecast.Steps == 0 {
		t.Errorf("after the catch-up: %+v, %v", rec, err)
	}
}

func TestRegistryCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	store, err := snapshot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "web.snap")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("prescale-snapshot %d 999 00\n{", snapshot.Version)), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, store)
	h.clock.Advance(time.Hour)
	tg := h.add(regTarget("web"))
	if err := h.reg.SetConfig([]models.Target{tg}); err != nil {
		t.Fatal(err)
	}
	h.run()
	st := h.waitFitted("web", 1)
	if !st.FittedAt.Equal(h.clock.Now()) {
		t.Errorf("fitted at %v, want a new fit at %v", st.FittedAt, h.clock.Now())
	}
	if logs := h.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, path) || !strings.Contains(logs, "corrupt") {
		t.Errorf("the corrupt snapshot was not logged:\n%s", logs)
	}
	waitFor(t, "a good snapshot", func() bool {
		snap, err := store.Load("web")
		return err == nil && snap.Generation == 1
	})
}

func TestRegistryLateTargetUsesSnapshot(t *testing.T) {
	store := openSnapStore(t)
	tg := regTarget("web")
	h1 := newHarness(t, store)
	h1.add(tg)
	h1.run()
	if err := h1.reg.SetConfig([]models.Target{tg}); err != nil {
		t.Fatal(err)
	}
	first := h1.waitFitted("web", 1)
	h1.stop()

	// Declared after Run started, the target still finds its snapshot.
	h2 := newHarness(t, store)
	h2.add(tg)
	h2.run()
	waitFor(t, "ready", h2.reg.Ready)
	if err := h2.reg.SetConfig([]models.Target{tg}); err != nil {
		t.Fatal(err)
	}
	st := h2.waitStatus("web", "restore", func(st registry.TargetStatus) bool { return st.ModelKind != "" })
	if st.Generation != 1 || !st.FittedAt.Equal(first.FittedAt) {
		t.Errorf("generation %d fitted at %v, want the snapshot's 1 at %v", st.Generation, st.FittedAt, first.FittedAt)
	}
}

func TestRegistryDelete(t *testing.T) {
	store := openSnapStore(t)
	h := newHarness(t, store)
	tg := regTarget("web")
	h.run()
	h.create(tg)
	waitFor(t, "snapshot", func() bool { _, err := store.Load("web"); return err == nil })

	if err := h.reg.Delete("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load("web"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("snapshot after Delete: %v, want ErrSnapshotNotFound", err)
	}
	if _, err := h.reg.Get("web"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := h.reg.Delete("web"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	h.advance(24 * time.Hour) // nothing of the deleted target may run
	if _, err := h.reg.Create(tg, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	if st := h.waitFitted("web", 1); st.FittedAt.Before(h.clock.Now()) {
		t.Errorf("the new target has the old model (fitted at %v)", st.FittedAt)
	}
}

func TestRegistryErrors(t *testing.T) {
	h := newHarness(t, nil)
	tg := h.add(regTarget("web"))
	if _, err := h.reg.Create(tg, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}

	t.Run("not ready", func(t *testing.T) {
		// Run has not started: nothing fetched, nothing fitted.
		if _, err := h.reg.Recommendation("web"); !errors.Is(err, registry.ErrNotReady) {
			t.Errorf("Recommendation: %v", err)
		}
		if _, err := h.reg.Forecast("web", 10, nil, 0); !errors.Is(err, registry.ErrNotReady) {
			t.Errorf("Forecast: %v", err)
		}
		if h.reg.Ready() {
			t.Error("Ready before Run")
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, getErr := h.reg.Get("nope")
		_, updErr := h.reg.Update(regTarget("nope"))
		_, recErr := h.reg.Recommendation("nope")
		_, fcErr := h.reg.Forecast("nope", 10, nil, 0)
		_, anErr := h.reg.Anomalies("nope", regStart, regStart.Add(time.Hour))
		for i, err := range []error{getErr, updErr, h.reg.Delete("nope"), recErr, fcErr, anErr} {
			if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
				t.Errorf("call %d: %v, want ErrNotFound naming the target", i, err)
			}
		}
	})
	t.Run("exists", func(t *testing.T) {
		if _, err := h.reg.Create(tg, registry.OriginAPI); !errors.Is(err, registry.ErrExists) {
			t.Errorf("Create twice: %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		bad := regTarget("Bad_Name")
		if _, err := h.reg.Create(bad, registry.OriginAPI); !errors.Is(err, models.ErrConfig) {
			t.Errorf("invalid name: %v", err)
		}
		if _, err := h.reg.Create(regTarget("other"), registry.OriginConfig); !errors.Is(err, models.ErrConfig) || !strings.Contains(err.Error(), "origin") {
			t.Errorf("Create with origin config: %v", err)
		}
	})
	t.Run("forecast arguments", func(t *testing.T) {
		for _, c := range []struct {
			horizon   int
			quantiles []float64
			history   time.Duration
			field     string
		}{
			{0, nil, 0, "horizon"},
			{10001, nil, 0, "horizon"},
			{10, []float64{0.5, 1}, 0, "quantiles[1]"},
			{10, []float64{math.NaN()}, 0, "quantiles[0]"},
			{10, nil, -time.Hour, "history"},
		} {
			_, err := h.reg.Forecast("web", c.horizon, c.quantiles, c.history)
			if !errors.Is(err, forecast.ErrBadOptions) || !strings.Contains(err.Error(), c.field+":") {
				t.Errorf("Forecast(%d, %v, %v): %v, want ErrBadOptions naming %s", c.horizon, c.quantiles, c.history, err, c.field)
			}
		}
	})
	t.Run("options", func(t *testing.T) {
		for _, o := range []registry.Options{{Workers: -1}, {Fetchers: -1}, {Jitter: 1}, {Jitter: -0.1}, {SnapshotInterval: -1}, {StaleAfter: -1}, {Quantiles: []float64{0}}} {
			if _, err := registry.New(h.src, &o); !errors.Is(err, registry.ErrOptions) {
				t.Errorf("NewRegistry(%+v): %v, want ErrOptions", o, err)
			}
		}
		if _, err := registry.New(nil, nil); !errors.Is(err, registry.ErrOptions) {
			t.Errorf("NewRegistry(nil source): %v", err)
		}
	})
}

func TestRegistryTrainingAnomalies(t *testing.T) {
	h := newHarness(t, nil)
	outFrom := regStart.Add(-25 * time.Hour)
	outTo := outFrom.Add(time.Hour)
	load := regLoad
	load.OutageFrom, load.OutageTo = outFrom, outTo
	tg := regTarget("web")
	h.run()
	h.create(tg, load)
	events, err := h.reg.Anomalies("web", regStart.Add(-tg.History), regStart)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Kind == forecast.AnomalyOutage && e.Start.Before(outTo) && e.End.After(outFrom) {
			found = e.Score == 1 && !e.Start.Before(outFrom.Add(-time.Hour)) && !e.End.After(outTo.Add(time.Hour))
		}
	}
	if !found {
		t.Errorf("no outage span at [%v, %v) in %+v", outFrom, outTo, events)
	}
	if !slices.IsSortedFunc(events, func(a, b models.AnomalyEvent) int { return a.Start.Compare(b.Start) }) {
		t.Errorf("events not sorted by start: %+v", events)
	}
	// A window that misses the outage does not list it.
	if events, err := h.reg.Anomalies("web", outTo, outTo.Add(time.Hour)); err != nil || len(events) != 0 {
		t.Errorf("Anomalies after the outage: %+v, %v", events, err)
	}
}

func TestRegistryLevelShift(t *testing.T) {
	h := newHarness(t, nil)
	shiftAt := regStart.Add(2 * regStep)
	load := regLoad
	load.ShiftAt, load.ShiftBy = shiftAt, 3
	tg := regTarget("web")
	h.run()
	h.create(tg, load)
	var shift *models.AnomalyEvent
	for i := 0; i < 20 && shift == nil; i++ {
		h.stepTo("web", h.clock.Now().Add(regStep))
		events, err := h.reg.Anomalies("web", regStart, h.clock.Now().Add(regStep))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Kind == models.AnomalyLevelShift {
				shift = &e
			}
		}
	}
	if shift == nil {
		t.Fatal("no level shift found after 20 steps")
	}
	if shift.Start.Before(shiftAt.Add(-regStep)) || shift.Start.After(shiftAt.Add(regStep)) || !shift.End.After(shift.Start) {
		t.Errorf("level shift %+v, want one starting at %v", shift, shiftAt)
	}
	st := h.waitFitted("web", 2)
	if !st.DataEnd.After(shiftAt) {
		t.Errorf("refit on data ending %v, before the shift at %v", st.DataEnd, shiftAt)
	}
}

func TestRegistryFarBehind(t *testing.T) {
	h := newHarness(t, nil)
	tg := regTarget("web")
	tg.RefitInterval = 30 * 24 * time.Hour // no scheduled refit in the test
	h.run()
	h.create(tg)
	// The first fit is made before the clock moves: made after, it would
	// be at the far end already, and nothing would be behind (the test
	// timed out so under load).
	h.waitFitted("web", 1)
	// More than half the history without a fetch (a suspended machine, a
	// long outage): the model is refitted, not streamed through the gap.
	h.advance(tg.History/2 + time.Hour)
	st := h.waitFitted("web", 2)
	if now := h.clock.Now(); !st.DataEnd.Equal(now) || !st.LastObserved.Equal(now) || !st.ObservedAt.Equal(now) {
		t.Errorf("data end %v, last observed %v, observed at %v; want %v", st.DataEnd, st.LastObserved, st.ObservedAt, now)
	}
}

func TestRegistryPeriodicSnapshot(t *testing.T) {
	store := openSnapStore(t)
	h := newHarness(t, store)
	tg := regTarget("web")
	h.run()
	h.create(tg)
	waitFor(t, "the fit's snapshot", func() bool { _, err := store.Load("web"); return err == nil })
	// Five minutes (the default interval) of streaming later, the
	// advanced state is saved without a fit.
	// (The round due at 5m may run before the fetch at 5m; the one at 10m
	// comes after it.)
	h.stepTo("web", regStart.Add(5*time.Minute))
	h.advance(5 * time.Minute)
	waitFor(t, "a snapshot of the streamed state", func() bool {
		snap, err := store.Load("web")
		return err == nil && !snap.LastObserved.Before(regStart.Add(5*time.Minute)) && snap.Generation == 1
	})
}

// openSnapStore opens a snapshot store in a temporary directory.
func openSnapStore(tb testing.TB) *snapshot.Store {
	tb.Helper()
	s, err := snapshot.Open(filepath.Join(tb.TempDir(), "snapshots"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
