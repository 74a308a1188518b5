package apitest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// Backend is a fake api.Backend: targets in a map, with the answers of
// the model calls (recommendation, forecast, anomalies) set by the test.
// It keeps the registry's rules that the API relies on, and passes
// RunConformance as the registry does: names are unique (registry.ErrExists),
// targets and origins are validated (models.ErrConfig), config and demo
// targets are read-only (registry.ErrReadOnly), an unknown name is
// registry.ErrNotFound, Forecast's arguments are checked first
// (forecast.ErrBadOptions), a target with no recommendation or forecast set
// has no data yet (registry.ErrNotReady), and statuses are copies. It fits no
// model and reads no clock. Its methods are safe for concurrent use.
type Backend struct {
	mu      sync.Mutex
	targets map[string]*fakeTarget
	ready   bool
	creates int
	updates int
	// quantiles and horizon are those of the last Forecast call.
	quantiles []float64
	horizon   int
}

// fakeTarget is a target's status and the answers set for it.
type fakeTarget struct {
	status    registry.TargetStatus
	rec       *models.Recommendation
	forecast  *registry.ForecastView
	anomalies []models.AnomalyEvent
	history   registry.History
	err       error
}

var _ api.Backend = (*Backend)(nil)

// NewBackend returns an empty fake that is ready.
func NewBackend() *Backend {
	return &Backend{targets: map[string]*fakeTarget{}, ready: true}
}

// Put adds or replaces a target with the whole of its status, bypassing
// validation, as the registry's own fitting and fetching would fill it.
// The answers already set for that name are kept.
func (b *Backend) Put(st registry.TargetStatus) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st = cloneStatus(st)
	st.Held = true // one replica, holding every target it serves
	if ft, ok := b.targets[st.Target.Name]; ok {
		ft.status = st
		return
	}
	b.targets[st.Target.Name] = &fakeTarget{status: st}
}

// SetRecommendation sets what Recommendation answers for an existing
// target.
func (b *Backend) SetRecommendation(name string, r models.Recommendation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mustGet(name).rec = &r
}

// SetForecast sets what Forecast answers for an existing target, whatever
// the horizon, quantiles and history asked, once they pass its checks.
func (b *Backend) SetForecast(name string, f *registry.ForecastView) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mustGet(name).forecast = f
}

// SetAnomalies sets the spans Anomalies filters for an existing target.
func (b *Backend) SetAnomalies(name string, events []models.AnomalyEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mustGet(name).anomalies = slices.Clone(events)
}

// SetHistory sets the changes and accuracy windows History filters for an
// existing target.
func (b *Backend) SetHistory(name string, h registry.History) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mustGet(name).history = registry.History{Changes: slices.Clone(h.Changes), Accuracy: slices.Clone(h.Accuracy)}
}

// SetError makes Recommendation, Forecast, Anomalies and History fail with err for
// an existing target; nil clears it.
func (b *Backend) SetError(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mustGet(name).err = err
}

// SetReady sets what Ready answers.
func (b *Backend) SetReady(ready bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready = ready
}

// Calls returns how many Create and Update calls succeeded.
func (b *Backend) Calls() (creates, updates int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.creates, b.updates
}

// mustGet is for the setters: setting an answer for a target the test
// never added is a mistake in the test.
func (b *Backend) mustGet(name string) *fakeTarget {
	ft, ok := b.targets[name]
	if !ok {
		panic(fmt.Sprintf("apitest: no target %q; Put or Create it first", name))
	}
	return ft
}

// List returns every target's status, sorted by name.
func (b *Backend) List() []registry.TargetStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]registry.TargetStatus, 0, len(b.targets))
	for _, ft := range b.targets {
		out = append(out, cloneStatus(ft.status))
	}
	slices.SortFunc(out, func(x, y registry.TargetStatus) int { return strings.Compare(x.Target.Name, y.Target.Name) })
	return out
}

// Get returns one target's status.
func (b *Backend) Get(name string) (registry.TargetStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ft, ok := b.targets[name]
	if !ok {
		return registry.TargetStatus{}, fmt.Errorf("get %q: %w", name, registry.ErrNotFound)
	}
	return cloneStatus(ft.status), nil
}

// cloneStatus returns st with nothing shared: callers may change what
// they get, or what they passed, without changing the fake's state.
func cloneStatus(st registry.TargetStatus) registry.TargetStatus {
	st.Target.Seasons = slices.Clone(st.Target.Seasons)
	st.Seasons = slices.Clone(st.Seasons)
	st.ModelNotes = slices.Clone(st.ModelNotes)
	st.LeadForecast = slices.Clone(st.LeadForecast)
	for i := range st.LeadForecast {
		st.LeadForecast[i].Values = slices.Clone(st.LeadForecast[i].Values)
	}
	if st.Recommendation != nil {
		r := *st.Recommendation
		st.Recommendation = &r
	}
	return st
}

// Create validates t and adds it with origin, which must be
// registry.OriginAPI, OriginKEDA or OriginDemo as for the registry: config
// targets come from the file (use Put for them).
func (b *Backend) Create(t models.Target, origin string) (registry.TargetStatus, error) {
	switch origin {
	case registry.OriginAPI, registry.OriginKEDA, registry.OriginDemo:
	default:
		return registry.TargetStatus{}, &models.FieldError{Field: "origin", Msg: fmt.Sprintf("must be %s, %s or %s, got %q",
			registry.OriginAPI, registry.OriginKEDA, registry.OriginDemo, origin)}
	}
	if err := t.Validate(); err != nil {
		return registry.TargetStatus{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.targets[t.Name]; ok {
		return registry.TargetStatus{}, fmt.Errorf("create %q: %w", t.Name, registry.ErrExists)
	}
	st := cloneStatus(registry.TargetStatus{Target: t, Origin: origin, Held: true})
	b.targets[t.Name] = &fakeTarget{status: st}
	b.creates++
	return cloneStatus(st), nil
}

// Update validates t and replaces the configuration of the target of
// its name, keeping its origin, state and answers.
func (b *Backend) Update(t models.Target) (registry.TargetStatus, error) {
	if err := t.Validate(); err != nil {
		return registry.TargetStatus{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ft, err := b.writable("update", t.Name)
	if err != nil {
		return registry.TargetStatus{}, err
	}
	ft.status.Target = t
	ft.status.Target.Seasons = slices.Clone(t.Seasons)
	b.updates++
	return cloneStatus(ft.status), nil
}

// Delete removes a target.
func (b *Backend) Delete(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.writable("delete", name); err != nil {
		return err
	}
	delete(b.targets, name)
	return nil
}

// writable returns a target the API may change.
func (b *Backend) writable(op, name string) (*fakeTarget, error) {
	ft, ok := b.targets[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%s %q: %w", op, name, registry.ErrNotFound)
	case ft.status.Origin == registry.OriginConfig || ft.status.Origin == registry.OriginDemo || ft.status.Origin == registry.OriginResource:
		return nil, &registry.ReadOnlyError{Op: op, Name: name, Origin: ft.status.Origin}
	}
	return ft, nil
}

// answerable returns a target whose model calls may be answered.
func (b *Backend) answerable(op, name string) (*fakeTarget, error) {
	ft, ok := b.targets[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%s %q: %w", op, name, registry.ErrNotFound)
	case ft.err != nil:
		return nil, fmt.Errorf("%s %q: %w", op, name, ft.err)
	}
	return ft, nil
}

// Recommendation returns the recommendation set for the target, which
// also becomes its status's last recommendation, as in the registry.
func (b *Backend) Recommendation(name string) (models.Recommendation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ft, err := b.answerable("recommendation", name)
	if err != nil {
		return models.Recommendation{}, err
	}
	if ft.rec == nil {
		return models.Recommendation{}, fmt.Errorf("recommendation %q: %w", name, registry.ErrNotReady)
	}
	r := *ft.rec
	ft.status.Recommendation = &r
	return r, nil
}

// Forecast returns the forecast set for the target, whatever the horizon,
// quantiles and history, once they pass the registry's checks (a horizon
// of at least 1, quantiles in (0, 1), a history not negative; its upper
// bound on the horizon is not modelled). The view is shared, not copied:
// callers must not modify it.
// ForecastQuantiles returns the quantile levels the last Forecast call
// asked for.
func (b *Backend) ForecastQuantiles() []float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.quantiles)
}

// ForecastHorizon returns the horizon, in steps, the last Forecast call
// asked for.
func (b *Backend) ForecastHorizon() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.horizon
}

func (b *Backend) Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*registry.ForecastView, error) {
	if err := registry.CheckForecastArgs(horizon, quantiles, history); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.quantiles = slices.Clone(quantiles)
	b.horizon = horizon
	ft, err := b.answerable("forecast", name)
	if err != nil {
		return nil, err
	}
	if ft.forecast == nil {
		return nil, fmt.Errorf("forecast %q: %w", name, registry.ErrNotReady)
	}
	return ft.forecast, nil
}

// Anomalies returns the spans set for the target that overlap
// [start, end), sorted by start as the registry sorts them.
func (b *Backend) Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ft, err := b.answerable("anomalies", name)
	if err != nil {
		return nil, err
	}
	var out []models.AnomalyEvent
	for _, e := range ft.anomalies {
		if e.Start.Before(end) && e.End.After(start) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(x, y models.AnomalyEvent) int { return x.Start.Compare(y.Start) })
	return out, nil
}

// History returns the changes set for the target in [start, end), led by
// the last one before start, and the accuracy windows that overlap it.
func (b *Backend) History(name string, start, end time.Time) (registry.History, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ft, err := b.answerable("history", name)
	if err != nil {
		return registry.History{}, err
	}
	var out registry.History
	for _, c := range ft.history.Changes {
		switch {
		case !c.Time.Before(end):
		case c.Time.Before(start):
			out.Changes = append(out.Changes[:0], c)
		default:
			out.Changes = append(out.Changes, c)
		}
	}
	for _, w := range ft.history.Accuracy {
		if w.Start.Before(end) && w.End.After(start) {
			out.Accuracy = append(out.Accuracy, w)
		}
	}
	return out, nil
}

// Ready returns what SetReady set; true at first.
func (b *Backend) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready
}
