package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed/prometheus/promtest"
	"github.com/prescale/prescale/models/snapshot"
)

// e2eLoad is a load in requests per second: a daily cycle between about
// 130 and 370 with noise.
func e2eLoad(t time.Time) float64 {
	day := 2 * math.Pi * float64(t.Unix()%86400) / 86400
	return 250 + 120*math.Sin(day) + 8*loadNoise(t, 1)
}

// TestServeEndToEnd runs prescale against a real Prometheus holding three
// days of a daily load kept current by remote write (the fewest that give a
// seasonal model: with two, forecast.Fit cannot validate a daily season and
// falls back to naive(1)), and checks that REST, gRPC and KEDA serve the
// same recommendation, that it is the documented policy applied to the
// served forecast and to the load Prometheus holds, and the rest of the API
// surface: errors, targets created at run time, OpenAPI, /metrics, gRPC
// health and reflection, and the snapshot a clean stop leaves.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prometheus and prescale")
	}
	const (
		name     = "e2e"
		step     = 15 * time.Second
		capacity = 25.0
		window   = 4 * time.Minute // leadTime 3m + margin 1m
		minR     = 1
		maxR     = 40
	)
	end := time.Now().Truncate(step)
	load := loadHistory("e2e_requests", end, 72*time.Hour, step, e2eLoad)
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{load}})
	feed := startFeed(t, srv, load, e2eLoad)

	config := filepath.Join(t.TempDir(), "prescale.yaml")
	launch := end.Add(2 * time.Minute).UTC()
	writeFileAtomically(t, config, `targets:
  - name: e2e
    query: e2e_requests
    step: 15s
    history: 3d
    capacityPerReplica: 25
    leadTime: 3m
    margin: 1m
    quantile: 0.9
    minReplicas: 1
    maxReplicas: 40
    seasons: [1d]
  # The same load with a launch under way: its window opened 3 minutes ago.
  - name: e2e-events
    query: e2e_requests
    step: 15s
    history: 3d
    capacityPerReplica: 25
    leadTime: 3m
    seasons: [1d]
    events:
      - name: launch
        start: "`+launch.Format(time.RFC3339)+`"
        duration: 1h
        lead: 5m
        multiplier: 3
`)
	snapshots := t.TempDir()
	p := startServe(t, serveProcOptions{Args: []string{
		"--config", config, "--prometheus.url", srv.URL, "--data-dir", snapshots, "--auth=none",
	}})
	p.WaitModels(60 * time.Second)
	waitFresh(t, p, name, 30*time.Second)

	client := prescalev1.NewPrescaleServiceClient(p.Conn())
	keda := externalscaler.NewExternalScalerClient(p.Conn())
	ref := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "default", ScalerMetadata: map[string]string{"target": name}}

	t.Run("REST, gRPC and KEDA agree", func(t *testing.T) {
		for attempt := 1; ; attempt++ {
			var r1, r2 prescalev1.Recommendation
			p.GetProto("/v1/targets/"+name+"/recommendation", &r1)
			g, err := client.GetRecommendation(rpcContext(t), &prescalev1.GetRecommendationRequest{Name: name})
			if err != nil {
				t.Fatalf("gRPC GetRecommendation: %v", err)
			}
			m, err := keda.GetMetrics(rpcContext(t), &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "prescale-" + name})
			if err != nil {
				t.Fatalf("KEDA GetMetrics: %v", err)
			}
			p.GetProto("/v1/targets/"+name+"/recommendation", &r2)
			// A new point may arrive, or the lead window cross a step,
			// between the calls: compare answers made from one state.
			if !sameInputs(&r1, g) || !sameInputs(&r1, &r2) || r1.Replicas != r2.Replicas || r1.Won != r2.Won {
				if attempt == 10 {
					t.Fatalf("no two REST answers around the gRPC and KEDA calls agreed in 10 attempts; last:\nREST %v\ngRPC %v\nREST %v", &r1, g, &r2)
				}
				time.Sleep(300 * time.Millisecond)
				continue
			}
			if g.Replicas != r1.Replicas || g.Won != r1.Won || g.ModelKind != r1.ModelKind || g.Stale != r1.Stale {
				t.Errorf("gRPC %d replicas (won %s, model %s, stale %v), REST %d (won %s, model %s, stale %v)",
					g.Replicas, g.Won, g.ModelKind, g.Stale, r1.Replicas, r1.Won, r1.ModelKind, r1.Stale)
			}
			if len(m.MetricValues) != 1 || m.MetricValues[0].MetricName != "prescale-"+name || m.MetricValues[0].MetricValueFloat != float64(r1.Replicas) {
				t.Errorf("KEDA GetMetrics = %v, want one value prescale-%s = %d", m.MetricValues, name, r1.Replicas)
			}
			t.Logf("attempt %d: %d replicas (won %s, model %s v%d): %s", attempt, r1.Replicas, r1.Won, r1.ModelKind, r1.ModelVersion, r1.Reason)
			break
		}
		spec, err := keda.GetMetricSpec(rpcContext(t), ref)
		if err != nil {
			t.Fatalf("KEDA GetMetricSpec: %v", err)
		}
		if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != "prescale-"+name || spec.MetricSpecs[0].TargetSizeFloat != 1 {
			t.Errorf("KEDA GetMetricSpec = %v, want prescale-%s with target size 1", spec.MetricSpecs, name)
		}
		active, err := keda.IsActive(rpcContext(t), ref)
		if err != nil || !active.Result {
			t.Errorf("KEDA IsActive = %v, %v; want true (at least %d replica)", active, err, minR)
		}
	})

	t.Run("the policy, computed here", func(t *testing.T) {
		for attempt := 1; ; attempt++ {
			var r1, r2 prescalev1.Recommendation
			var fc prescalev1.Forecast
			p.GetProto("/v1/targets/"+name+"/recommendation", &r1)
			p.GetProto("/v1/targets/"+name+"/forecast?quantiles=0.9&history=0s&horizon=40", &fc)
			p.GetProto("/v1/targets/"+name+"/recommendation", &r2)
			if !sameInputs(&r1, &r2) || fc.Generation != r1.ModelVersion {
				if attempt == 10 {
					t.Fatalf("the state changed around every forecast call in 10 attempts; last: %v / %v (forecast generation %d)", &r1, &r2, fc.Generation)
				}
				time.Sleep(300 * time.Millisecond)
				continue
			}
			if r1.Reactive == nil || !r1.Reactive.Known || r1.Reactive.At == nil {
				t.Fatalf("fresh recommendation without a known observed load: %v", &r1)
			}
			// The observed load, from Prometheus itself.
			observed := promInstant(t, srv.URL, "e2e_requests", r1.Reactive.At.AsTime())
			if observed != r1.Reactive.Load {
				t.Errorf("reactive.load %v at %v, Prometheus has %v there", r1.Reactive.Load, r1.Reactive.At.AsTime(), observed)
			}
			if want := r1.Reactive.At.AsTime().Add(step); !fc.Start.AsTime().Equal(want) {
				t.Errorf("forecast starts at %v, want one step after the latest observation (%v)", fc.Start.AsTime(), want)
			}
			t.Logf("forecast by %s (seasons %v): %v", fc.Model, fc.Seasons, fc.Notes)
			if daily := int32(24 * time.Hour / step); !slices.Contains(fc.Seasons, daily) {
				t.Errorf("forecast by %s with seasons %v: the declared daily season (%d steps) is not used", fc.Model, fc.Seasons, daily)
			}
			for _, r := range []*prescalev1.Recommendation{&r1, &r2} {
				checkPolicy(t, r, &fc, observed, capacity, window, minR, maxR)
			}
			break
		}
	})

	t.Run("unknown target and invalid input", func(t *testing.T) {
		if code, body := p.Get("/v1/targets/nope/recommendation"); code != http.StatusNotFound {
			t.Errorf("GET an unknown target's recommendation: %d %s, want 404", code, body)
		}
		if _, err := client.GetRecommendation(rpcContext(t), &prescalev1.GetRecommendationRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
			t.Errorf("gRPC GetRecommendation of an unknown target: %v, want NotFound", err)
		}
		nope := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "default", ScalerMetadata: map[string]string{"target": "nope"}}
		if _, err := keda.GetMetrics(rpcContext(t), &externalscaler.GetMetricsRequest{ScaledObjectRef: nope}); status.Code(err) != codes.NotFound {
			t.Errorf("KEDA GetMetrics of an unknown target: %v, want NotFound", err)
		}
		code, body := p.Do(http.MethodPost, "/v1/targets", []byte(`{"name":"bad","query":"up","capacityPerReplica":-1,"leadTime":"1m"}`))
		var e struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); code != http.StatusBadRequest || err != nil || !strings.Contains(e.Message, "capacityPerReplica") {
			t.Errorf("POST a target with capacityPerReplica -1: %d %s; want 400 whose message names capacityPerReplica", code, body)
		}
		if code, body := p.Get("/v1/targets/bad"); code != http.StatusNotFound {
			t.Errorf("the rejected target exists: %d %s", code, body)
		}
		// The query is put to Prometheus once before the target is created.
		for _, c := range []struct{ query, says string }{
			{`sum(`, "Prometheus refused it"},
			{`label_replace(vector(1), "a", "1", "", "") or label_replace(vector(1), "a", "2", "", "")`, "must return one series"},
		} {
			code, body := p.Do(http.MethodPost, "/v1/targets", []byte(fmt.Sprintf(`{"name":"bad-query","query":%q,"capacityPerReplica":1,"leadTime":"1m"}`, c.query)))
			var e struct {
				Message string `json:"message"`
				Details []struct {
					FieldViolations []struct{ Field, Description string } `json:"fieldViolations"`
				} `json:"details"`
			}
			_ = json.Unmarshal(body, &e)
			if code != http.StatusBadRequest || len(e.Details) == 0 || len(e.Details[0].FieldViolations) == 0 ||
				e.Details[0].FieldViolations[0].Field != "query" || !strings.Contains(e.Details[0].FieldViolations[0].Description, c.says) {
				t.Errorf("POST a target with query %s: %d %s; want 400 on field query saying %q", c.query, code, body, c.says)
			}
		}
		bad := &externalscaler.ScaledObjectRef{Name: "bad", Namespace: "default", ScalerMetadata: map[string]string{"query": "sum(", "capacityPerReplica": "1", "leadTime": "1m"}}
		if _, err := keda.GetMetricSpec(rpcContext(t), bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "metadata.query") {
			t.Errorf("KEDA metadata with query sum(: %v, want InvalidArgument naming metadata.query", err)
		}
	})

	t.Run("known events", func(t *testing.T) { checkKnownEvents(t, p, name, launch, capacity) })

	t.Run("targets through the API", func(t *testing.T) {
		spec := `{"name":"e2e-api","query":"e2e_requests","step":"15s","history":"2h","capacityPerReplica":25,"leadTime":"1m"}`
		code, body := p.Do(http.MethodPost, "/v1/targets", []byte(spec))
		if code != http.StatusOK {
			t.Fatalf("POST /v1/targets: %d %s", code, body)
		}
		var created prescalev1.Target
		decodeProto(t, body, &created)
		if created.Origin != "api" || created.Spec.GetName() != "e2e-api" || created.Spec.GetCapacityPerReplica() != 25 || created.Spec.GetQuantile() != 0.9 {
			t.Errorf("created %v, want origin api with the spec and the defaults", &created)
		}
		if code, body := p.Do(http.MethodPost, "/v1/targets", []byte(spec)); code != http.StatusConflict {
			t.Errorf("POST the same name again: %d %s, want 409", code, body)
		}
		var list prescalev1.ListTargetsResponse
		p.GetProto("/v1/targets", &list)
		origins := map[string]string{}
		for _, tg := range list.Targets {
			origins[tg.Spec.GetName()] = tg.Origin
		}
		if origins[name] != "config" || origins["e2e-api"] != "api" {
			t.Errorf("list: origins %v, want %s from config and e2e-api from api", origins, name)
		}
		if code, body := p.Do(http.MethodDelete, "/v1/targets/"+name, nil); code != http.StatusBadRequest {
			t.Errorf("DELETE a config target: %d %s, want 400 (FailedPrecondition)", code, body)
		}
		if code, body := p.Do(http.MethodDelete, "/v1/targets/e2e-api", nil); code != http.StatusOK {
			t.Fatalf("DELETE /v1/targets/e2e-api: %d %s", code, body)
		}
		if code, body := p.Get("/v1/targets/e2e-api"); code != http.StatusNotFound {
			t.Errorf("GET a deleted target: %d %s, want 404", code, body)
		}
		p.GetProto("/v1/targets", &list)
		var names []string
		for _, tg := range list.Targets {
			names = append(names, tg.Spec.GetName())
		}
		if !slices.Equal(names, []string{name, "e2e-events"}) {
			t.Errorf("after the delete the list has %v, want the config file's %s and e2e-events", names, name)
		}
	})

	t.Run("JSON mapping", func(t *testing.T) {
		_, body := p.Get("/v1/targets/" + name + "/recommendation")
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]any{"leadTime": "3m", "margin": "1m", "capacityPerReplica": 25.0, "minReplicas": 1.0, "maxReplicas": 40.0, "demo": false} {
			if raw[key] != want {
				t.Errorf("%s = %#v, want %#v", key, raw[key], want)
			}
		}
		for _, key := range []string{"time", "modelFittedAt", "dataEnd"} {
			s, _ := raw[key].(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("%s = %#v: not an RFC 3339 time", key, raw[key])
			}
		}
		if f, _ := raw["forecast"].(map[string]any); f == nil || f["windowEnd"] == nil || f["maxAt"] == nil {
			t.Errorf("forecast = %#v, want windowEnd and maxAt", raw["forecast"])
		}
	})

	t.Run("OpenAPI, metrics, health, web pages", func(t *testing.T) {
		code, body := p.Get("/openapi.json")
		var doc struct {
			Info struct {
				Version string `json:"version"`
			} `json:"info"`
			Paths map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(body, &doc); code != http.StatusOK || err != nil {
			t.Fatalf("GET /openapi.json: %d, %v", code, err)
		}
		for _, path := range []string{"/v1/targets", "/v1/targets/{name}", "/v1/targets/{name}/recommendation", "/v1/targets/{name}/forecast", "/v1/targets/{name}/anomalies"} {
			if doc.Paths[path] == nil {
				t.Errorf("/openapi.json has no path %s", path)
			}
		}

		code, body = p.Get("/metrics")
		// The build's version, the same in the metric and the API's
		// document.
		build := regexp.MustCompile(`(?m)^prescale_build_info\{[^}]*version="([^"]+)"[^}]*\} 1$`).FindSubmatch(body)
		if build == nil || string(build[1]) != doc.Info.Version {
			t.Errorf("/metrics: no prescale_build_info with the version of /openapi.json's info (%q):\n%s", doc.Info.Version, grepLines(body, "prescale_build"))
		}
		// REST, gRPC and KEDA requests were counted: the subtests above
		// made them.
		for _, want := range []string{
			`prescale_http_requests_total{code="200",handler="rest",method="get"}`,
			`prescale_http_requests_total{code="404",handler="rest",method="get"}`,
			`prescale_http_requests_total{code="200",handler="openapi",method="get"} 1`,
			`prescale_http_request_duration_seconds_count{handler="rest",method="get"}`,
			`grpc_server_handled_total{grpc_code="OK",grpc_method="GetRecommendation",grpc_service="prescale.v1.PrescaleService",grpc_type="unary"}`,
			`grpc_server_handled_total{grpc_code="OK",grpc_method="GetMetrics",grpc_service="externalscaler.ExternalScaler",grpc_type="unary"}`,
			`grpc_server_handling_seconds_count{grpc_method="GetRecommendation",grpc_service="prescale.v1.PrescaleService",grpc_type="unary"}`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s:\n%s", want, grepLines(body, want[:strings.IndexByte(want, '{')]))
			}
		}
		line := regexp.MustCompile(`(?m)^prescale_recommended_replicas\{[^}]*target="` + name + `"[^}]*\} (\S+)`).FindSubmatch(body)
		if code != http.StatusOK || line == nil {
			t.Errorf("/metrics: %d, no prescale_recommended_replicas{target=%q}:\n%s", code, name, grepLines(body, "prescale_"))
		} else if v, err := strconv.ParseFloat(string(line[1]), 64); err != nil || v < minR || v > maxR {
			t.Errorf("prescale_recommended_replicas{target=%q} = %s, want a count in [%d, %d]", name, line[1], minR, maxR)
		}
		if code, _ := p.Get("/healthz"); code != http.StatusOK {
			t.Errorf("/healthz: %d", code)
		}
		if code, body := p.Get("/targets/" + name); code != http.StatusOK || !strings.Contains(string(body), "/ui/target.js") {
			t.Errorf("target page: %d, want 200", code)
		}
		if code, body := p.Get("/v1/targets/" + name + "/recommendations"); code != http.StatusOK || !strings.Contains(string(body), `"replicas"`) {
			t.Errorf("recommendations: %d %s, want the recommendations made", code, body)
		}

		h, err := healthpb.NewHealthClient(p.Conn()).Check(rpcContext(t), &healthpb.HealthCheckRequest{})
		if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("gRPC health: %v, %v; want SERVING", h, err)
		}
		services := reflectedServices(t, p)
		for _, want := range []string{"prescale.v1.PrescaleService", "externalscaler.ExternalScaler", "grpc.health.v1.Health"} {
			if !slices.Contains(services, want) {
				t.Errorf("reflection lists %v, want %s among them", services, want)
			}
		}
	})

	// A clean stop saves every target's state.
	var last prescalev1.Target
	p.GetProto("/v1/targets/"+name, &last)
	p.Stop()
	store, err := snapshot.Open(snapshots)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := store.Load(name)
	switch {
	case err != nil:
		t.Errorf("after SIGTERM: %v", err)
	case snap.Generation != last.GetModel().GetGeneration() || snap.LastObserved.Before(last.GetData().GetLastObserved().AsTime()):
		t.Errorf("after SIGTERM the snapshot has generation %d observed to %v; the server last served generation %d observed to %v",
			snap.Generation, snap.LastObserved, last.GetModel().GetGeneration(), last.GetData().GetLastObserved().AsTime())
	}
	if err := feed.Err(); err != nil {
		t.Errorf("live feed: %v", err)
	}
}

// sameInputs reports whether two recommendations were made from the same
// model and data.
func sameInputs(a, b *prescalev1.Recommendation) bool {
	return a.ModelVersion == b.ModelVersion && a.ModelKind == b.ModelKind &&
		proto.Equal(a.DataEnd, b.DataEnd) && proto.Equal(a.Reactive, b.Reactive)
}

// checkPolicy recomputes r from the forecast fc (which continues the same
// state) and the observed load, following models.Recommend's documented
// rule for fresh data, without calling it.
func checkPolicy(t *testing.T, r *prescalev1.Recommendation, fc *prescalev1.Forecast, observed, capacity float64, window time.Duration, minR, maxR int) {
	t.Helper()
	// What the policy provisions: the forecast's 0.9 quantile spent by
	// density, never below the point forecast.
	q := fc.Provision
	step := fc.Step.AsDuration()
	if len(q) == 0 || len(q) != len(fc.Point) || step <= 0 {
		t.Fatalf("forecast without the load provisioned at each step or a step: %v", fc)
	}
	for i, v := range q {
		if v < fc.Point[i] {
			t.Errorf("step %d provisions %v, below the point forecast %v", i, v, fc.Point[i])
		}
	}
	now := r.Time.AsTime()
	windowEnd := now.Add(window)
	start := fc.Start.AsTime()
	if last := start.Add(time.Duration(len(q)-1) * step); last.Before(windowEnd) {
		t.Fatalf("forecast ends at %v, before the lead window (%v); ask a longer horizon", last, windowEnd)
	}
	fmax, steps := math.Inf(-1), 0
	var maxAt time.Time
	for i, v := range q {
		at := start.Add(time.Duration(i) * step)
		if !at.After(now) || at.After(windowEnd) || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			continue
		}
		steps++
		if v > fmax {
			fmax, maxAt = v, at
		}
	}
	if steps == 0 {
		t.Fatalf("no forecast step in (%v, %v]; forecast starts at %v every %v", now, windowEnd, start, step)
	}
	fr, rr := ceilReplicas(fmax, capacity), ceilReplicas(observed, capacity)
	want := min(max(fr, rr, minR), maxR)
	f := r.Forecast
	switch {
	case r.Stale:
		t.Errorf("stale recommendation from fresh data: %v", r)
	case r.ModelKind == "":
		t.Errorf("no model kind: %v", r)
	case r.Replicas != int32(want):
		t.Errorf("%d replicas, want %d = clamp(max(ceil(%v/%v), ceil(%v/%v)), %d, %d); the server says: %s",
			r.Replicas, want, fmax, capacity, observed, capacity, minR, maxR, r.Reason)
	case f.GetQuantile() != 0.9 || math.Abs(f.GetMax()-fmax) > 1e-9*fmax || int(f.GetReplicas()) != fr || int(f.GetSteps()) != steps:
		t.Errorf("forecast part: quantile %v, max %v, %d replicas, %d steps; want 0.9, %v, %d, %d", f.GetQuantile(), f.GetMax(), f.GetReplicas(), f.GetSteps(), fmax, fr, steps)
	case !f.GetMaxAt().AsTime().Equal(maxAt):
		t.Errorf("forecast max at %v, want %v", f.GetMaxAt().AsTime(), maxAt)
	case int(r.Reactive.Replicas) != rr:
		t.Errorf("reactive part: %d replicas for %v, want %d", r.Reactive.Replicas, r.Reactive.Load, rr)
	}
	var won []string
	switch {
	case max(fr, rr) < minR:
		won = []string{"min"}
	case max(fr, rr) > maxR:
		won = []string{"max"}
	case fr > rr:
		won = []string{"forecast"}
	case rr > fr:
		won = []string{"reactive"}
	default:
		won = []string{"forecast", "reactive"} // a tie: either decided it
	}
	if !slices.Contains(won, r.Won) {
		t.Errorf("won %q, want %v: forecast needs %d, the observed load %d", r.Won, won, fr, rr)
	}
	t.Logf("at %v: forecast max %.1f at %v needs %d, observed %.1f needs %d: %d replicas, won %s",
		now.Format(time.TimeOnly), fmax, maxAt.Format(time.TimeOnly), fr, observed, rr, r.Replicas, r.Won)
}

// waitFresh waits until the target's recommendation is served from fresh
// data, and returns it.
func waitFresh(t testing.TB, p *serveProc, name string, timeout time.Duration) *prescalev1.Recommendation {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := p.Get("/v1/targets/" + name + "/recommendation")
		if code == http.StatusOK {
			var r prescalev1.Recommendation
			decodeProto(t, body, &r)
			if !r.Stale {
				return &r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fresh recommendation for %s after %v; last: %d %s\n%s", name, timeout, code, body, p.LogTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reflectedServices lists the services gRPC reflection reports.
func reflectedServices(t *testing.T, p *serveProc) []string {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(p.Conn()).ServerReflectionInfo(rpcContext(t))
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("reflection: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}

// grepLines returns the lines of b containing s, for failure messages.
func grepLines(b []byte, s string) string {
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// checkKnownEvents: the config file's events are target e2e-events's,
// listed with the effect each gets; its recommendation provisions for
// the launch under way and names it, where the same load's target name,
// told of no event, does not.
func checkKnownEvents(t *testing.T, p *serveProc, name string, launch time.Time, capacity float64) {
	var tg prescalev1.Target
	p.GetProto("/v1/targets/e2e-events", &tg)
	if ev := tg.Spec.GetEvents(); len(ev) != 1 || ev[0].GetName() != "launch" || ev[0].GetMultiplier() != 3 || ev[0].GetLead() != "5m" {
		t.Errorf("spec events %v, want the config file's launch", ev)
	}
	if ev := tg.GetEvents(); len(ev) != 1 || ev[0].GetEffect() != "declared" || ev[0].GetFactor() != 3 ||
		!ev[0].GetStart().AsTime().Equal(launch) || !ev[0].GetWindowStart().AsTime().Equal(launch.Add(-5*time.Minute)) {
		t.Errorf("status events %v, want the launch at %v, declared ×3", ev, launch)
	}
	var with, without prescalev1.Recommendation
	p.GetProto("/v1/targets/e2e-events/recommendation", &with)
	p.GetProto("/v1/targets/"+name+"/recommendation", &without)
	if !strings.Contains(with.Reason, "for the 'launch' event at ") || !strings.Contains(with.Reason, "load ×3 its usual, as declared") {
		t.Errorf("reason %q does not name the launch and its declared effect", with.Reason)
	}
	if floor := 2 * with.GetReactive().GetLoad() / capacity; float64(with.Replicas) < floor || with.Replicas <= without.Replicas {
		t.Errorf("%d replicas with the launch (observed %.0f), %d without: want at least %.0f and more than without",
			with.Replicas, with.GetReactive().GetLoad(), without.Replicas, floor)
	}
	t.Logf("%d replicas with the launch, %d without: %s", with.Replicas, without.Replicas, with.Reason)
}

// TestServeDemo starts serve without a config or Prometheus: it must say
// loudly that it serves the built-in simulated workload, and serve it as
// target "demo", marked as such.
func TestServeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prescale")
	}
	p := startServe(t, serveProcOptions{})
	p.WaitModels(60 * time.Second)
	if l := p.FindLog(func(l logLine) bool { return strings.Contains(l.Msg(), "DEMO") }); l == nil {
		t.Errorf("the log does not say DEMO:\n%s", p.LogTail())
	}
	if l := p.FindLog(func(l logLine) bool { return l.Msg() == "listening" }); l["demo"] != true {
		t.Errorf("listening line %v, want demo=true", l)
	}
	r := waitFresh(t, p, "demo", 30*time.Second)
	if r.Replicas < 1 || r.Replicas > 50 || r.ModelKind == "" {
		t.Errorf("demo recommendation: %d replicas from model %q, want 1..50 from a fitted model", r.Replicas, r.ModelKind)
	}
	if !r.Demo {
		t.Errorf("GET /v1/targets/demo/recommendation: demo = false; the API says it is set for the built-in simulated workload")
	}
	g, err := prescalev1.NewPrescaleServiceClient(p.Conn()).GetRecommendation(rpcContext(t), &prescalev1.GetRecommendationRequest{Name: "demo"})
	if err != nil || !g.Demo {
		t.Errorf("gRPC GetRecommendation(demo): demo = %v, %v; want true", g.GetDemo(), err)
	}
	var target prescalev1.Target
	p.GetProto("/v1/targets/demo", &target)
	if target.Origin != "demo" || !target.GetRecommendation().GetDemo() {
		t.Errorf("GET /v1/targets/demo: origin %q, recommendation.demo %v; want demo and true", target.Origin, target.GetRecommendation().GetDemo())
	}
	if code, body := p.Get("/"); code != http.StatusOK || !strings.Contains(string(body), "/ui/fleet.js") {
		t.Errorf("fleet page: %d, want 200 (test/ui checks it says Demo mode)", code)
	}
	// The demo is open for reads; a write needs an identity that this
	// server, outside a cluster and without a client CA, cannot check.
	if code, body := p.Do(http.MethodDelete, "/v1/targets/demo", nil); code != http.StatusUnauthorized || !strings.Contains(string(body), "needs an identity") {
		t.Errorf("DELETE the demo target: %d %s, want 401 saying it needs an identity", code, body)
	}
}

// reloadConfig is a config of the named targets on one query; capacity
// overrides the capacity per replica of some of them.
func reloadConfig(names []string, capacity map[string]string) string {
	var b strings.Builder
	b.WriteString("targets:\n")
	for _, n := range names {
		c := capacity[n]
		if c == "" {
			c = "20"
		}
		fmt.Fprintf(&b, "  - name: %s\n    query: reload_load\n    step: 15s\n    history: 1h\n    capacityPerReplica: %s\n    leadTime: 1m\n    seasons: [15m]\n", n, c)
	}
	return b.String()
}

// TestServeConfigReload changes the config file under a running server:
// a new target appears (on the file watch, then on SIGHUP) while the
// unchanged one keeps its fitted model, an invalid file is reported with
// its file:line and changes nothing, and so does an emptied file.
func TestServeConfigReload(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prometheus and prescale")
	}
	const step = 15 * time.Second
	load := func(t time.Time) float64 {
		return 100 + 30*math.Sin(2*math.Pi*float64(t.Unix()%900)/900) + 2*loadNoise(t, 2)
	}
	series := loadHistory("reload_load", time.Now().Truncate(step), 3*time.Hour, step, load)
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{series}})
	startFeed(t, srv, series, load)

	config := filepath.Join(t.TempDir(), "targets.yaml")
	writeFileAtomically(t, config, reloadConfig([]string{"first"}, nil))
	p := startServe(t, serveProcOptions{Args: []string{
		"--config", config, "--prometheus.url", srv.URL, "--config.watch-interval", "200ms",
	}})
	target := func(name string) *prescalev1.Target {
		t.Helper()
		var tg prescalev1.Target
		p.GetProto("/v1/targets/"+name, &tg)
		return &tg
	}
	waitTarget := func(name string) *prescalev1.Target {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if code, body := p.Get("/v1/targets/" + name); code == http.StatusOK {
				var tg prescalev1.Target
				decodeProto(t, body, &tg)
				if tg.GetModel().GetKind() != "" {
					return &tg
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("target %s has no fitted model after 20s\n%s", name, p.LogTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := waitTarget("first")
	generation := first.GetModel().GetGeneration()
	if generation == 0 || first.Origin != "config" {
		t.Fatalf("first: generation %d, origin %q", generation, first.Origin)
	}
	keepsModel := func(when string) {
		t.Helper()
		if g := target("first").GetModel().GetGeneration(); g != generation {
			t.Errorf("%s: first's model generation went from %d to %d; its definition did not change", when, generation, g)
		}
	}

	// The watch sees the file change.
	writeFileAtomically(t, config, reloadConfig([]string{"first", "second"}, nil))
	second := waitTarget("second")
	p.WaitLog(5*time.Second, `"config reloaded" on the file change`, func(l logLine) bool {
		return l.Msg() == "config reloaded" && l["why"] == "file changed" && l["targets"] == 2.0
	})
	keepsModel("after adding second")

	// SIGHUP reloads too; second's capacity changes, which keeps its model.
	writeFileAtomically(t, config, reloadConfig([]string{"first", "second", "third"}, map[string]string{"second": "30"}))
	p.Signal(syscall.SIGHUP)
	p.WaitLog(10*time.Second, `"config reloaded" on SIGHUP`, func(l logLine) bool {
		return l.Msg() == "config reloaded" && l["why"] == "SIGHUP" && l["targets"] == 3.0
	})
	waitTarget("third")
	keepsModel("after SIGHUP")
	if s := target("second"); s.GetSpec().GetCapacityPerReplica() != 30 || s.GetModel().GetGeneration() != second.GetModel().GetGeneration() {
		t.Errorf("second after its capacity changed: capacity %v, generation %d (was %d); want 30 and the same model",
			s.GetSpec().GetCapacityPerReplica(), s.GetModel().GetGeneration(), second.GetModel().GetGeneration())
	}

	// An invalid file is reported with its line and changes nothing.
	bad := reloadConfig([]string{"first", "second", "third"}, map[string]string{"second": "30", "third": "-3"})
	line := slices.Index(strings.Split(bad, "\n"), "    capacityPerReplica: -3") + 1
	writeFileAtomically(t, config, bad)
	want := fmt.Sprintf("%s:%d:", config, line)
	failed := p.WaitLog(10*time.Second, "the invalid config reported", func(l logLine) bool {
		return strings.HasPrefix(l.Msg(), "config reload failed")
	})
	if msg, _ := failed["err"].(string); !strings.Contains(msg, want) || !strings.Contains(msg, "capacityPerReplica") {
		t.Errorf("reload error %q, want it to name %s and capacityPerReplica", msg, want)
	}
	// So do the metrics: two reloads succeeded (the file change, SIGHUP),
	// this one failed.
	_, metrics := p.Get("/metrics")
	for _, want := range []string{
		"prescale_config_last_reload_successful 0",
		`prescale_config_reloads_total{result="failure"} 1`,
		`prescale_config_reloads_total{result="success"} 2`,
		"prescale_config_last_reload_success_timestamp_seconds ",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics after an invalid reload lacks %q:\n%s", want, grepLines(metrics, "prescale_config"))
		}
	}
	var list prescalev1.ListTargetsResponse
	p.GetProto("/v1/targets", &list)
	var names []string
	for _, tg := range list.Targets {
		names = append(names, tg.GetSpec().GetName())
		if tg.GetSpec().GetName() == "third" && tg.GetSpec().GetCapacityPerReplica() != 20 {
			t.Errorf("third's capacity is %v after an invalid reload, want 20", tg.GetSpec().GetCapacityPerReplica())
		}
	}
	if !slices.Equal(names, []string{"first", "second", "third"}) {
		t.Errorf("targets after an invalid reload: %v, want first, second, third", names)
	}
	keepsModel("after the invalid config")

	// Targets taken out of the file are deleted.
	writeFileAtomically(t, config, reloadConfig([]string{"first"}, nil))
	p.WaitLog(10*time.Second, `"config reloaded" with one target`, func(l logLine) bool {
		return l.Msg() == "config reloaded" && l["targets"] == 1.0
	})
	for _, gone := range []string{"second", "third"} {
		if code, body := p.Get("/v1/targets/" + gone); code != http.StatusNotFound {
			t.Errorf("%s after it left the file: %d %s, want 404", gone, code, body)
		}
	}
	keepsModel("after removing second and third")

	// An emptied file (a truncated write, a ConfigMap mounted empty) is
	// refused; "targets: []" withdraws every target.
	writeFileAtomically(t, config, "# emptied\n")
	p.WaitLog(10*time.Second, "the emptied config refused", func(l logLine) bool {
		return strings.HasPrefix(l.Msg(), "config reload refused") && l["targets"] == 1.0
	})
	if code, body := p.Get("/v1/targets/first"); code != http.StatusOK {
		t.Errorf("first after the file was emptied: %d %s, want 200", code, body)
	}
	writeFileAtomically(t, config, "targets: []\n")
	p.WaitLog(10*time.Second, `"config reloaded" with no target`, func(l logLine) bool {
		return l.Msg() == "config reloaded" && l["targets"] == 0.0
	})
	if code, body := p.Get("/v1/targets/first"); code != http.StatusNotFound {
		t.Errorf("first after targets: []: %d %s, want 404", code, body)
	}
}
