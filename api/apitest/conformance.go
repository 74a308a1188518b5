package apitest

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// Harness is an implementation of api.Backend for RunConformance.
type Harness struct {
	// New returns an empty backend. The targets the suite creates in it
	// must have no data (no model and no observed load) until Feed.
	New func(t *testing.T) api.Backend
	// Feed gives a target the suite created through the API data, so that
	// its Recommendation and Forecast answer, and returns once they do. It
	// may change the target's query. Nil skips the cases that need data.
	Feed func(t *testing.T, b api.Backend, name string)
}

// RunConformance checks the contract of api.Backend that the API servers
// rely on and that every implementation shares, *registry.Registry and
// this package's fake alike: create, get, list, update and delete; the
// error classes (registry.ErrNotFound, ErrExists, ErrReadOnly, ErrNotReady,
// ErrConfig naming the field, forecast.ErrBadOptions for Forecast's
// arguments); copies, not shared slices; and the range of Anomalies.
func RunConformance(t *testing.T, h Harness) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, h.New(t)) })
	t.Run("CreateExisting", func(t *testing.T) { testCreateExisting(t, h.New(t)) })
	t.Run("List", func(t *testing.T) { testList(t, h.New(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h.New(t)) })
	t.Run("InvalidTarget", func(t *testing.T) { testInvalidTarget(t, h.New(t)) })
	t.Run("InvalidOrigin", func(t *testing.T) { testInvalidOrigin(t, h.New(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, h.New(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, h.New(t)) })
	t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, h.New(t)) })
	t.Run("Copies", func(t *testing.T) { testCopies(t, h.New(t)) })
	t.Run("NotReady", func(t *testing.T) { testNotReady(t, h.New(t)) })
	t.Run("ForecastArguments", func(t *testing.T) { testForecastArguments(t, h.New(t)) })
	t.Run("AnomaliesWithoutData", func(t *testing.T) { testAnomaliesWithoutData(t, h.New(t)) })
	t.Run("WithData", func(t *testing.T) {
		if h.Feed == nil {
			t.Skip("the harness cannot feed data")
		}
		testWithData(t, h)
	})
}

// conformanceTarget is a small valid target with a season, named name.
func conformanceTarget(name string) models.Target {
	t := models.DefaultTarget()
	t.Name = name
	t.Query = `conformance_load{target="` + name + `"}`
	t.Step = 5 * time.Minute
	t.History = 3 * 24 * time.Hour
	t.Seasons = []time.Duration{24 * time.Hour}
	t.CapacityPerReplica = 10
	t.LeadTime = 10 * time.Minute
	return t
}

func mustCreate(t *testing.T, b api.Backend, tg models.Target, origin string) registry.TargetStatus {
	t.Helper()
	st, err := b.Create(tg, origin)
	if err != nil {
		t.Fatalf("Create(%s, %s): %v", tg.Name, origin, err)
	}
	return st
}

// wantTarget checks that name's status holds tg and origin.
func wantTarget(t *testing.T, b api.Backend, tg models.Target, origin string) {
	t.Helper()
	st, err := b.Get(tg.Name)
	if err != nil {
		t.Fatalf("Get(%s): %v", tg.Name, err)
	}
	if !reflect.DeepEqual(st.Target, tg) || st.Origin != origin {
		t.Fatalf("Get(%s) = target %+v, origin %q; want %+v, %q", tg.Name, st.Target, st.Origin, tg, origin)
	}
}

// wantField checks that err is a models.ErrConfig naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *models.FieldError
	if !errors.Is(err, models.ErrConfig) || !errors.As(err, &fe) {
		t.Fatalf("error %v, want a *models.FieldError wrapping ErrConfig", err)
	}
	if fe.Field != field {
		t.Fatalf("error %v names field %q, want %q", err, fe.Field, field)
	}
}

func testCreateGet(t *testing.T, b api.Backend) {
	for _, origin := range []string{registry.OriginAPI, registry.OriginKEDA} {
		tg := conformanceTarget("web-" + origin)
		st := mustCreate(t, b, tg, origin)
		if !reflect.DeepEqual(st.Target, tg) || st.Origin != origin {
			t.Errorf("Create returned target %+v, origin %q; want %+v, %q", st.Target, st.Origin, tg, origin)
		}
		if st.Recommendation != nil || st.Generation != 0 || st.ModelKind != "" {
			t.Errorf("a new target has recommendation %v, generation %d, model %q; want none", st.Recommendation, st.Generation, st.ModelKind)
		}
		wantTarget(t, b, tg, origin)
	}
}

func testCreateExisting(t *testing.T, b api.Backend) {
	tg := conformanceTarget("web")
	mustCreate(t, b, tg, registry.OriginAPI)
	again := tg
	again.CapacityPerReplica = 99
	if _, err := b.Create(again, registry.OriginKEDA); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("Create of an existing name: %v, want ErrExists", err)
	}
	wantTarget(t, b, tg, registry.OriginAPI)
}

func testList(t *testing.T, b api.Backend) {
	if got := b.List(); len(got) != 0 {
		t.Fatalf("a new backend lists %d targets", len(got))
	}
	for _, c := range []struct{ name, origin string }{{"web", registry.OriginAPI}, {"batch", registry.OriginKEDA}, {"api-gw", registry.OriginAPI}} {
		mustCreate(t, b, conformanceTarget(c.name), c.origin)
	}
	var got []string
	for _, st := range b.List() {
		got = append(got, st.Target.Name+"/"+st.Origin)
	}
	if want := []string{"api-gw/api", "batch/keda", "web/api"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v (sorted by name)", got, want)
	}
}

func testNotFound(t *testing.T, b api.Backend) {
	mustCreate(t, b, conformanceTarget("web"), registry.OriginAPI)
	const name = "nope"
	t0 := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	calls := map[string]func() error{
		"Get":            func() error { _, err := b.Get(name); return err },
		"Update":         func() error { _, err := b.Update(conformanceTarget(name)); return err },
		"Delete":         func() error { return b.Delete(name) },
		"Recommendation": func() error { _, err := b.Recommendation(name); return err },
		"Forecast":       func() error { _, err := b.Forecast(name, 12, []float64{0.9}, time.Hour); return err },
		"Anomalies":      func() error { _, err := b.Anomalies(name, t0, t0.Add(time.Hour)); return err },
	}
	for op, call := range calls {
		if err := call(); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("%s of an unknown target: %v, want ErrNotFound", op, err)
		}
	}
}

func testInvalidTarget(t *testing.T, b api.Backend) {
	tests := []struct {
		name  string
		edit  func(*models.Target)
		field string
	}{
		{"quantile", func(tg *models.Target) { tg.Quantile = 2 }, "quantile"},
		{"capacity", func(tg *models.Target) { tg.CapacityPerReplica = 0 }, "capacityPerReplica"},
		{"step", func(tg *models.Target) { tg.Step = -time.Minute }, "step"},
		{"season", func(tg *models.Target) { tg.Seasons = []time.Duration{7 * time.Minute} }, "seasons[0]"},
	}
	good := conformanceTarget("web")
	mustCreate(t, b, good, registry.OriginAPI)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := conformanceTarget("other")
			tc.edit(&bad)
			_, err := b.Create(bad, registry.OriginAPI)
			wantField(t, err, tc.field)
			if _, err := b.Get(bad.Name); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("Get after a rejected Create: %v, want ErrNotFound", err)
			}
			bad.Name = good.Name
			_, err = b.Update(bad)
			wantField(t, err, tc.field)
			wantTarget(t, b, good, registry.OriginAPI)
		})
	}
	_, err := b.Create(conformanceTarget("Not_A_Label"), registry.OriginAPI)
	wantField(t, err, "name")
}

// testInvalidOrigin: the config file is the only source of config
// targets; Create takes the origins of targets registered at run time.
func testInvalidOrigin(t *testing.T, b api.Backend) {
	for _, origin := range []string{registry.OriginConfig, "", "kubectl"} {
		_, err := b.Create(conformanceTarget("web"), origin)
		wantField(t, err, "origin")
	}
	if got := b.List(); len(got) != 0 {
		t.Fatalf("rejected creates left %d targets", len(got))
	}
}

func testUpdate(t *testing.T, b api.Backend) {
	for _, origin := range []string{registry.OriginAPI, registry.OriginKEDA} {
		tg := conformanceTarget("web-" + origin)
		mustCreate(t, b, tg, origin)
		tg.CapacityPerReplica, tg.MaxReplicas, tg.Margin = 25, 40, time.Minute
		st, err := b.Update(tg)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !reflect.DeepEqual(st.Target, tg) || st.Origin != origin {
			t.Errorf("Update returned target %+v, origin %q; want %+v and the origin kept, %q", st.Target, st.Origin, tg, origin)
		}
		wantTarget(t, b, tg, origin)
	}
}

func testDelete(t *testing.T, b api.Backend) {
	tg := conformanceTarget("web")
	mustCreate(t, b, tg, registry.OriginAPI)
	if err := b.Delete(tg.Name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(tg.Name); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := b.Delete(tg.Name); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Delete twice: %v, want ErrNotFound", err)
	}
	if _, err := b.Update(tg); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Update after Delete: %v, want ErrNotFound", err)
	}
	if got := b.List(); len(got) != 0 {
		t.Fatalf("List after Delete has %d targets", len(got))
	}
	tg.CapacityPerReplica = 30
	mustCreate(t, b, tg, registry.OriginKEDA)
	wantTarget(t, b, tg, registry.OriginKEDA)
}

// testReadOnly uses the demo, the read-only origin Create accepts; config
// targets come from the file, which the Backend interface does not reach.
func testReadOnly(t *testing.T, b api.Backend) {
	tg := conformanceTarget("demo")
	mustCreate(t, b, tg, registry.OriginDemo)
	changed := tg
	changed.CapacityPerReplica = 99
	if _, err := b.Update(changed); !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Update of the demo: %v, want ErrReadOnly", err)
	}
	if err := b.Delete(tg.Name); !errors.Is(err, registry.ErrReadOnly) {
		t.Errorf("Delete of the demo: %v, want ErrReadOnly", err)
	}
	wantTarget(t, b, tg, registry.OriginDemo)
}

// testCopies: neither the target a caller passed nor the status it got
// back shares memory with the backend's state.
func testCopies(t *testing.T, b api.Backend) {
	tg := conformanceTarget("web")
	want := conformanceTarget("web")
	st := mustCreate(t, b, tg, registry.OriginAPI)
	tg.Seasons[0] = 12 * time.Hour
	st.Target.Seasons[0] = 6 * time.Hour
	wantTarget(t, b, want, registry.OriginAPI)

	got, _ := b.Get(want.Name)
	got.Target.Seasons[0] = 6 * time.Hour
	b.List()[0].Target.Seasons[0] = 6 * time.Hour
	wantTarget(t, b, want, registry.OriginAPI)

	up := conformanceTarget("web")
	if _, err := b.Update(up); err != nil {
		t.Fatalf("Update: %v", err)
	}
	up.Seasons[0] = 12 * time.Hour
	wantTarget(t, b, want, registry.OriginAPI)
}

func testNotReady(t *testing.T, b api.Backend) {
	tg := conformanceTarget("web")
	mustCreate(t, b, tg, registry.OriginAPI)
	if _, err := b.Recommendation(tg.Name); !errors.Is(err, registry.ErrNotReady) {
		t.Errorf("Recommendation before data: %v, want ErrNotReady", err)
	}
	if _, err := b.Forecast(tg.Name, 12, []float64{0.1, 0.9}, time.Hour); !errors.Is(err, registry.ErrNotReady) {
		t.Errorf("Forecast before data: %v, want ErrNotReady", err)
	}
	st, err := b.Get(tg.Name)
	if err != nil || st.Recommendation != nil {
		t.Errorf("Get before data = recommendation %v, %v; want none and no error", st.Recommendation, err)
	}
}

// wantForecastArgumentErrors checks that each bad argument is rejected
// with forecast.ErrBadOptions naming it, whatever the target's state.
func wantForecastArgumentErrors(t *testing.T, b api.Backend, name string) {
	t.Helper()
	tests := []struct {
		name      string
		horizon   int
		quantiles []float64
		history   time.Duration
		field     string
	}{
		{"zero horizon", 0, nil, 0, "horizon"},
		{"negative horizon", -3, []float64{0.9}, 0, "horizon"},
		{"quantile 0", 12, []float64{0.5, 0}, 0, "quantiles[1]"},
		{"quantile 1", 12, []float64{1}, 0, "quantiles[0]"},
		{"quantile NaN", 12, []float64{math.NaN()}, 0, "quantiles[0]"},
		{"negative history", 12, nil, -time.Minute, "history"},
		{"horizon too long", registry.MaxForecastHorizon + 1, nil, 0, "horizon"},
		{"too many quantiles", 12, make([]float64, registry.MaxForecastQuantiles+1), 0, "quantiles"},
	}
	for _, tc := range tests {
		_, err := b.Forecast(name, tc.horizon, tc.quantiles, tc.history)
		if !errors.Is(err, forecast.ErrBadOptions) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Forecast error %v, want forecast.ErrBadOptions naming %s", tc.name, err, tc.field)
		}
	}
}

// testForecastArguments: argument errors come before the target's state,
// so a target without data still reports them.
func testForecastArguments(t *testing.T, b api.Backend) {
	mustCreate(t, b, conformanceTarget("web"), registry.OriginAPI)
	wantForecastArgumentErrors(t, b, "web")
}

func testAnomaliesWithoutData(t *testing.T, b api.Backend) {
	mustCreate(t, b, conformanceTarget("web"), registry.OriginAPI)
	t0 := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	for _, r := range [][2]time.Time{{t0, t0.Add(time.Hour)}, {t0, t0}, {t0.Add(time.Hour), t0}, {{}, t0.AddDate(100, 0, 0)}} {
		got, err := b.Anomalies("web", r[0], r[1])
		if err != nil || len(got) != 0 {
			t.Errorf("Anomalies(%v, %v) before data = %v, %v; want none", r[0], r[1], got, err)
		}
	}
}

func testWithData(t *testing.T, h Harness) {
	b := h.New(t)
	tg := conformanceTarget("web")
	mustCreate(t, b, tg, registry.OriginAPI)
	h.Feed(t, b, tg.Name)

	rec, err := b.Recommendation(tg.Name)
	if err != nil {
		t.Fatalf("Recommendation after Feed: %v", err)
	}
	if rec.Target != tg.Name || rec.Replicas < tg.MinReplicas || rec.Replicas > tg.MaxReplicas {
		t.Errorf("Recommendation = target %q, %d replicas; want %q within [%d, %d]", rec.Target, rec.Replicas, tg.Name, tg.MinReplicas, tg.MaxReplicas)
	}
	if st, err := b.Get(tg.Name); err != nil || st.Recommendation == nil {
		t.Errorf("Get after a recommendation = %v, %v; want the status to hold it", st.Recommendation, err)
	}
	v, err := b.Forecast(tg.Name, 6, []float64{0.1, 0.9}, time.Hour)
	if err != nil {
		t.Fatalf("Forecast after Feed: %v", err)
	}
	if v.Target != tg.Name {
		t.Errorf("Forecast is of target %q, want %q", v.Target, tg.Name)
	}
	wantForecastArgumentErrors(t, b, tg.Name)
	testAnomalyRanges(t, b, tg.Name)

	if err := b.Delete(tg.Name); err != nil {
		t.Fatalf("Delete of a target with data: %v", err)
	}
	if _, err := b.Recommendation(tg.Name); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Recommendation after Delete: %v, want ErrNotFound", err)
	}
}

// testAnomalyRanges checks Anomalies(start, end) on whatever spans the
// target has: sorted by start, each overlapping [start, end), End
// exclusive.
func testAnomalyRanges(t *testing.T, b api.Backend, name string) {
	all, err := b.Anomalies(name, time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Anomalies: %v", err)
	}
	if len(all) == 0 {
		t.Log("no anomalous spans to check the ranges on")
	}
	if !slices.IsSortedFunc(all, func(x, y models.AnomalyEvent) int { return x.Start.Compare(y.Start) }) {
		t.Errorf("Anomalies not sorted by start: %v", all)
	}
	has := func(events []models.AnomalyEvent, e models.AnomalyEvent) bool {
		return slices.ContainsFunc(events, func(x models.AnomalyEvent) bool {
			return x.Start.Equal(e.Start) && x.End.Equal(e.End) && x.Kind == e.Kind
		})
	}
	for _, e := range all {
		if !e.Start.Before(e.End) {
			t.Errorf("span %v does not end after it starts", e)
		}
		for _, r := range []struct {
			name       string
			start, end time.Time
			want       bool
		}{
			{"the span itself", e.Start, e.End, true},
			{"its last instant", e.End.Add(-time.Nanosecond), e.End, true},
			{"from its end", e.End, e.End.Add(time.Hour), false},
			{"up to its start", e.Start.Add(-time.Hour), e.Start, false},
		} {
			got, err := b.Anomalies(name, r.start, r.end)
			if err != nil {
				t.Fatalf("Anomalies: %v", err)
			}
			if has(got, e) != r.want {
				t.Errorf("Anomalies over %s (%v, %v): holds %v is %v, want %v", r.name, r.start, r.end, e, !r.want, r.want)
			}
		}
	}
}
