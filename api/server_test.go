package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newFixture returns a fake backend with a config target "web" that has a
// recommendation, a forecast and anomalies, and an API target "batch" with
// no data yet.
func newFixture(t *testing.T) *apitest.Backend {
	t.Helper()
	b := apitest.NewBackend()
	web := models.DefaultTarget()
	web.Name, web.Query, web.CapacityPerReplica, web.LeadTime = "web", "sum(rate(x[5m]))", 50, 3*time.Minute
	b.Put(registry.TargetStatus{Target: web, Origin: registry.OriginConfig, ModelKind: "harmonic", Generation: 3, Seasons: []int{1440}})
	b.SetRecommendation("web", models.Recommendation{
		Target: "web", Time: testNow, Replicas: 7, Won: models.WonForecast, Reason: "forecast wins",
		Forecast:           models.ForecastPart{Quantile: 0.9, Steps: 3, Max: 321, Replicas: 7},
		Reactive:           models.ReactivePart{Known: true, Load: 200, Replicas: 4},
		MinReplicas:        1,
		MaxReplicas:        100,
		CapacityPerReplica: 50,
		LeadTime:           3 * time.Minute,
		ModelKind:          "harmonic",
		ModelVersion:       3,
	})
	b.SetForecast("web", &registry.ForecastView{
		Target: "web", Model: "harmonic", Generation: 3, Step: time.Minute,
		HistoryStart: testNow.Add(-2 * time.Minute), History: []float64{1, 2},
		Start: testNow, Point: []float64{3, 4},
		Quantiles: []forecast.Quantile{{Level: 0.9, Values: []float64{5, 6}}},
		Provision: []float64{5.5, 7},
	})
	b.SetAnomalies("web", []models.AnomalyEvent{{Start: testNow.Add(-time.Hour), End: testNow.Add(-50 * time.Minute), Kind: models.AnomalyLive, Score: 0.8}})
	b.SetHistory("web", registry.History{
		Changes: []registry.Change{
			{Time: testNow.Add(-8 * time.Hour), Replicas: 2, Won: models.WonMin},
			{Time: testNow.Add(-2 * time.Hour), Replicas: 5, Won: models.WonForecast, Current: 4, CurrentKnown: true},
			{Time: testNow.Add(-time.Hour), Replicas: 7, Won: models.WonHeld, Stale: true, Current: 5, CurrentKnown: true},
		},
		Accuracy: []registry.AccuracyWindow{
			{Start: testNow.Add(-2 * time.Hour), End: testNow.Add(-time.Hour), Accuracy: registry.Accuracy{Points: 60, WAPE: 0.125, Bias: -0.25, Coverage: 0.75}},
		},
	})
	batch := models.DefaultTarget()
	batch.Name, batch.Query, batch.CapacityPerReplica, batch.LeadTime = "batch", "jobs", 10, time.Minute
	if _, err := b.Create(batch, registry.OriginAPI); err != nil {
		t.Fatal(err)
	}
	return b
}

func newREST(t *testing.T, b api.Backend) *httptest.Server {
	t.Helper()
	srv, err := api.NewServer(b, &api.ServerOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHTTPHandler(t.Context(), srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func TestRESTRecommendation(t *testing.T) {
	ts := newREST(t, newFixture(t))
	code, body := do(t, "GET", ts.URL+"/v1/targets/web/recommendation", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var rec struct {
		Target    string `json:"target"`
		Replicas  int    `json:"replicas"`
		Won       string `json:"won"`
		LeadTime  string `json:"leadTime"`
		ModelKind string `json:"modelKind"`
		Stale     bool   `json:"stale"`
		Forecast  struct {
			Max      float64 `json:"max"`
			Replicas int     `json:"replicas"`
		} `json:"forecast"`
		Reactive struct {
			Known bool    `json:"known"`
			Load  float64 `json:"load"`
		} `json:"reactive"`
	}
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if rec.Target != "web" || rec.Replicas != 7 || rec.Won != "forecast" || rec.LeadTime != "3m" ||
		rec.ModelKind != "harmonic" || rec.Stale || rec.Forecast.Max != 321 || rec.Forecast.Replicas != 7 ||
		!rec.Reactive.Known || rec.Reactive.Load != 200 {
		t.Errorf("recommendation = %+v\nfrom %s", rec, body)
	}
	// Unpopulated fields are present, so a client sees stale:false.
	if !strings.Contains(body, `"stale":false`) {
		t.Errorf("stale:false missing from %s", body)
	}
}

func TestRESTErrors(t *testing.T) {
	b := newFixture(t)
	b.Put(registry.TargetStatus{Target: models.Target{Name: "broken"}, Origin: registry.OriginAPI})
	b.SetError("broken", errors.New("disk on fire at /var/lib/secret"))
	ts := newREST(t, b)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     []string
		notWant                  string
	}{
		{name: "unknown target", method: "GET", path: "/v1/targets/nope/recommendation", code: 404, want: []string{`target \"nope\" not found`}},
		{name: "unknown target get", method: "GET", path: "/v1/targets/nope", code: 404},
		{name: "not ready", method: "GET", path: "/v1/targets/batch/recommendation", code: 503, want: []string{"no data yet"}},
		{name: "internal error not leaked", method: "GET", path: "/v1/targets/broken/recommendation", code: 500, want: []string{"internal error"}, notWant: "disk on fire"},
		{name: "negative capacity", method: "POST", path: "/v1/targets", body: `{"name":"api1","query":"q","capacityPerReplica":-1,"leadTime":"2m"}`,
			code: 400, want: []string{"capacityPerReplica", "fieldViolations"}},
		{name: "bad duration", method: "POST", path: "/v1/targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"soon"}`,
			code: 400, want: []string{"leadTime", `\"soon\" is not a duration`}},
		{name: "bad season", method: "POST", path: "/v1/targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","seasons":["1d","x"]}`,
			code: 400, want: []string{"seasons[1]"}},
		{name: "event in an unknown time zone", method: "POST", path: "/v1/targets",
			body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","events":[{"name":"match","start":"2026-07-13T19:00:00","timeZone":"Mars/Olympus","duration":"2h"}]}`,
			code: 400, want: []string{`"field":"events[0]"`, `timeZone \"Mars/Olympus\": not an IANA time zone`}},
		{name: "a rule that never ends", method: "POST", path: "/v1/targets",
			body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","events":[{"name":"match","start":"2026-07-13T19:00:00","duration":"2h","rrule":"FREQ=DAILY"}]}`,
			code: 400, want: []string{`"field":"events[0]"`, "never ends; give COUNT or UNTIL"}},
		{name: "overlapping events", method: "POST", path: "/v1/targets",
			body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","events":[{"name":"a","start":"2026-07-13T19:00:00Z","duration":"2h"},{"name":"b","start":"2026-07-13T20:00:00Z","duration":"1h"}]}`,
			code: 400, want: []string{`"field":"events[1]"`, `overlaps event \"a\" (events[0])`}},
		{name: "unknown event field", method: "POST", path: "/v1/targets",
			body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","events":[{"name":"a","start":"2026-07-13T19:00:00Z","duration":"2h","multiplyer":3}]}`,
			code: 400, want: []string{"multiplyer"}},
		{name: "bad namespace", method: "POST", path: "/v1/targets", body: `{"name":"api1","namespace":"Shop_EU","query":"q","capacityPerReplica":5,"leadTime":"2m"}`,
			code: 400, want: []string{`"field":"namespace"`, "DNS-1123 label"}},
		{name: "unknown JSON field", method: "POST", path: "/v1/targets", body: `{"name":"api1","capacity":5}`, code: 400, want: []string{"capacity"}},
		{name: "malformed JSON", method: "POST", path: "/v1/targets", body: `{"name":`, code: 400},
		{name: "duplicate", method: "POST", path: "/v1/targets", body: `{"name":"batch","query":"q","capacityPerReplica":5,"leadTime":"2m"}`, code: 409, want: []string{"already exists"}},
		{name: "update config target", method: "PUT", path: "/v1/targets/web", body: `{"name":"web","query":"q","capacityPerReplica":5,"leadTime":"2m"}`,
			code: 400, want: []string{"declared in the config file"}},
		{name: "delete config target", method: "DELETE", path: "/v1/targets/web", code: 400, want: []string{"declared in the config file"}},
		{name: "bad horizon", method: "GET", path: "/v1/targets/web/forecast?horizon=-3", code: 400, want: []string{"horizon"}},
		{name: "bad quantile", method: "GET", path: "/v1/targets/web/forecast?quantiles=0.5&quantiles=1.5", code: 400, want: []string{"quantiles[1]"}},
		{name: "bad history", method: "GET", path: "/v1/targets/web/forecast?history=long", code: 400, want: []string{"history"}},
		{name: "too many quantiles", method: "GET", path: "/v1/targets/web/forecast?" + strings.Repeat("quantiles=0.5&", registry.MaxForecastQuantiles+1),
			code: 400, want: []string{`"field":"quantiles"`, "at most 32 levels, got 33"}},
		{name: "lead time beyond a day", method: "POST", path: "/v1/targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"100000d"}`,
			code: 400, want: []string{`"field":"leadTime"`, "must be at most 1d"}},
		{name: "anomaly window backwards", method: "GET", path: "/v1/targets/web/anomalies?start=2026-11-26T12:00:00Z&end=2026-11-26T11:00:00Z", code: 400, want: []string{"start", "must be before end"}},
		{name: "bad timestamp", method: "GET", path: "/v1/targets/web/anomalies?start=yesterday", code: 400},
		{name: "unknown path", method: "GET", path: "/v1/nothing", code: 404},
		{name: "method not allowed", method: "PATCH", path: "/v1/targets/batch", code: 405, want: []string{`method \"PATCH\" is not allowed on \"/v1/targets/batch\"`}},
		{name: "delete without a name", method: "DELETE", path: "/v1/targets", code: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.method, ts.URL+tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q: %s", w, body)
				}
			}
			if tc.notWant != "" && strings.Contains(body, tc.notWant) {
				t.Errorf("body leaks %q: %s", tc.notWant, body)
			}
		})
	}
}

func TestRESTTargetLifecycle(t *testing.T) {
	b := newFixture(t)
	ts := newREST(t, b)
	code, body := do(t, "POST", ts.URL+"/v1/targets", `{"name":"api1","namespace":"shop","query":"sum(up)","capacityPerReplica":5,"leadTime":"2m","seasons":["1d"],"quantile":0.95,"minReplicas":2}`)
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	st, err := b.Get("api1")
	if err != nil {
		t.Fatal(err)
	}
	want := models.DefaultTarget()
	want.Name, want.Namespace, want.Query, want.CapacityPerReplica, want.LeadTime = "api1", "shop", "sum(up)", 5, 2*time.Minute
	want.Seasons, want.Quantile, want.MinReplicas = []time.Duration{24 * time.Hour}, 0.95, 2
	if st.Origin != registry.OriginAPI || !equalTarget(st.Target, want) {
		t.Errorf("created %+v (origin %s), want %+v", st.Target, st.Origin, want)
	}
	// The answer echoes the spec in the config syntax, defaults filled.
	for _, w := range []string{`"namespace":"shop"`, `"history":"2w"`, `"step":"1m"`, `"seasons":["1d"]`, `"origin":"api"`} {
		if !strings.Contains(body, w) {
			t.Errorf("create answer lacks %s: %s", w, body)
		}
	}
	code, body = do(t, "GET", ts.URL+"/v1/targets", "")
	if code != 200 || !strings.Contains(body, `"name":"api1"`) || !strings.Contains(body, `"name":"web"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	code, body = do(t, "PUT", ts.URL+"/v1/targets/api1", `{"query":"sum(up)","capacityPerReplica":8,"leadTime":"2m"}`)
	if code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	if st, _ := b.Get("api1"); st.Target.CapacityPerReplica != 8 || st.Target.Quantile != 0.9 || st.Target.Namespace != "" {
		t.Errorf("after PUT (a full replacement): %+v", st.Target)
	}
	if code, body = do(t, "DELETE", ts.URL+"/v1/targets/api1", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ = do(t, "GET", ts.URL+"/v1/targets/api1", ""); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
}

func equalTarget(a, b models.Target) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestRESTForecastAndAnomalies(t *testing.T) {
	ts := newREST(t, newFixture(t))
	code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast?quantiles=0.9", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var f struct {
		Model     string    `json:"model"`
		Step      string    `json:"step"`
		History   []float64 `json:"history"`
		Point     []float64 `json:"point"`
		Provision []float64 `json:"provision"`
		Start     time.Time `json:"start"`
		Quantiles []struct {
			Level  float64   `json:"level"`
			Values []float64 `json:"values"`
		} `json:"quantiles"`
	}
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatal(err)
	}
	if f.Model != "harmonic" || f.Step != "1m" || len(f.History) != 2 || len(f.Point) != 2 || !f.Start.Equal(testNow) ||
		len(f.Quantiles) != 1 || f.Quantiles[0].Level != 0.9 || f.Quantiles[0].Values[1] != 6 || !slices.Equal(f.Provision, []float64{5.5, 7}) {
		t.Errorf("forecast = %+v", f)
	}
	code, body = do(t, "GET", ts.URL+"/v1/targets/web/anomalies", "")
	if code != 200 || !strings.Contains(body, `"kind":"live"`) || !strings.Contains(body, `"score":0.8`) {
		t.Errorf("anomalies in the default last day: %d %s", code, body)
	}
	code, body = do(t, "GET", ts.URL+"/v1/targets/web/anomalies?start=2026-11-26T11:30:00Z", "")
	if code != 200 || strings.Contains(body, `"kind"`) {
		t.Errorf("anomalies after the span: %d %s", code, body)
	}
}

// TestRESTRecommendations checks the history of recommendations: the
// default window (6 hours) is led by the change in effect at its start,
// the workload's replicas are absent where unknown, and the accuracy
// windows are there.
func TestRESTRecommendations(t *testing.T) {
	ts := newREST(t, newFixture(t))
	code, body := do(t, "GET", ts.URL+"/v1/targets/web/recommendations", "")
	want := `{"recommendations":[` +
		`{"time":"2026-11-26T04:00:00Z","replicas":2,"won":"min","stale":false},` +
		`{"time":"2026-11-26T10:00:00Z","replicas":5,"won":"forecast","stale":false,"currentReplicas":4},` +
		`{"time":"2026-11-26T11:00:00Z","replicas":7,"won":"held","stale":true,"currentReplicas":5}],` +
		`"accuracy":[{"start":"2026-11-26T10:00:00Z","end":"2026-11-26T11:00:00Z",` +
		`"accuracy":{"points":60,"wape":0.125,"bias":-0.25,"coverage":0.75,"intervalLow":0,"intervalHigh":0}}]}`
	var got, wantJSON any
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 {
		t.Fatalf("recommendations: %d %s (%v)", code, body, err)
	}
	if err := json.Unmarshal([]byte(want), &wantJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantJSON) {
		t.Errorf("recommendations:\n got %s\nwant %s", body, want)
	}
	code, body = do(t, "GET", ts.URL+"/v1/targets/web/recommendations?start=2026-11-26T10:30:00Z&end=2026-11-26T10:45:00Z", "")
	if code != 200 || strings.Count(body, `"time"`) != 1 || !strings.Contains(body, `"replicas":5`) {
		t.Errorf("a window inside a run: %d %s; want the one change in effect", code, body)
	}
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/v1/targets/web/recommendations?start=2026-11-26T13:00:00Z", 400, "must be before end"},
		{"/v1/targets/nope/recommendations", 404, "not found"},
		{"/v1/targets/batch/recommendations", 200, `"recommendations":[]`},
	} {
		if code, body := do(t, "GET", ts.URL+c.path, ""); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want %d with %q", c.path, code, body, c.code, c.want)
		}
	}
}

func TestHTTPEndpoints(t *testing.T) {
	b := newFixture(t)
	ts := newREST(t, b)
	code, body := do(t, "GET", ts.URL+"/openapi.json", "")
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
		Defs    map[string]struct {
			Properties map[string]struct {
				Type     string `json:"type"`
				Nullable bool   `json:"x-nullable"`
				Items    struct {
					Nullable bool `json:"x-nullable"`
				} `json:"items"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("openapi is not JSON: %v", err)
	}
	// The document says what the REST JSON writes: counters as integers,
	// gaps as null.
	f := doc.Defs["v1Forecast"].Properties
	if f["generation"].Type != "integer" || !f["history"].Items.Nullable {
		t.Errorf("openapi: Forecast.generation %+v, history %+v; want an integer and nullable numbers", f["generation"], f["history"])
	}
	for path, method := range map[string]string{
		"/v1/targets": "post", "/v1/targets/{name}": "delete", "/v1/targets/{target.name}": "put",
		"/v1/targets/{name}/recommendation": "get", "/v1/targets/{name}/forecast": "get", "/v1/targets/{name}/anomalies": "get",
		"/v1/targets/{name}/recommendations": "get",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("openapi lacks %s %s", method, path)
		}
	}
	if code, _ := do(t, "GET", ts.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := do(t, "GET", ts.URL+"/readyz", ""); code != 200 {
		t.Errorf("readyz %d while ready", code)
	}
	b.SetReady(false)
	if code, _ := do(t, "GET", ts.URL+"/readyz", ""); code != 503 {
		t.Errorf("readyz %d while not ready", code)
	}
	// The pages are static and read the REST API (test/ui drives them in a
	// browser); they load nothing from elsewhere.
	for path, want := range map[string]string{
		"/": `src="/ui/fleet.js"`, "/targets/web": `src="/ui/target.js"`,
		"/ui/common.js": "prescale.api = async function", "/ui/vendor/uPlot.iife.min.js": "uPlot",
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(string(page), want) || !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: %d, CSP %q, want 200 with %q and a CSP of 'self'", path, resp.StatusCode, csp, want)
		}
		if strings.HasPrefix(path, "/ui/") && !resp.Uncompressed {
			t.Errorf("%s: %d bytes, not gzipped", path, len(page))
		}
	}
	for _, path := range []string{"/ui/index.html", "/ui/", "/ui/nope.js", "/targets/"} {
		if code, _ := do(t, "GET", ts.URL+path, ""); code != 404 {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
}

func newGRPC(t *testing.T, b api.Backend) (*grpc.ClientConn, *health.Server) {
	t.Helper()
	srv, err := api.NewServer(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	g := api.NewGRPCServer(srv, nil, hs, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, hs
}

func TestGRPC(t *testing.T) {
	conn, hs := newGRPC(t, newFixture(t))
	c := prescalev1.NewPrescaleServiceClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rec, err := c.GetRecommendation(ctx, &prescalev1.GetRecommendationRequest{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetReplicas() != 7 || rec.GetWon() != "forecast" || rec.GetLeadTime().AsDuration() != 3*time.Minute {
		t.Errorf("recommendation = %v", rec)
	}
	_, err = c.GetRecommendation(ctx, &prescalev1.GetRecommendationRequest{Name: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown target: %v, want NotFound", err)
	}
	_, err = c.GetRecommendation(ctx, &prescalev1.GetRecommendationRequest{})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "name") {
		t.Errorf("no name: %v", err)
	}
	_, err = c.CreateTarget(ctx, &prescalev1.CreateTargetRequest{Target: &prescalev1.TargetSpec{Name: "x", Query: "q", CapacityPerReplica: 0, LeadTime: "1m"}})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("create with capacity 0: %v", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if strings.Join(fields, ",") != "capacityPerReplica" {
		t.Errorf("field violations %v, want capacityPerReplica (%v)", fields, err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", h, err)
	}
}

// TestRequestBodyBound checks that a body over MaxRequestBytes is refused
// before it is decoded: 413 over REST (with or without a declared length),
// ResourceExhausted over gRPC; one just under it is decoded as usual.
func TestRequestBodyBound(t *testing.T) {
	ts := newREST(t, newFixture(t))
	big := `{"name":"api1","query":"` + strings.Repeat("x", api.MaxRequestBytes) + `"}`
	if code, body := do(t, "POST", ts.URL+"/v1/targets", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
		t.Errorf("POST of %d bytes: %d %s, want 413", len(big), code, body)
	}
	// Chunked, with no Content-Length: the limit holds while reading.
	req, err := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/v1/targets", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST of %d bytes: %d, want 413", len(big), resp.StatusCode)
	}
	// Under the bound the body is decoded as before (an unknown field here).
	if code, _ := do(t, "POST", ts.URL+"/v1/targets", `{"name":"api1","capacity":5}`); code != 400 {
		t.Errorf("small invalid POST: %d, want 400", code)
	}

	conn, _ := newGRPC(t, newFixture(t))
	c := prescalev1.NewPrescaleServiceClient(conn)
	_, err = c.CreateTarget(t.Context(), &prescalev1.CreateTargetRequest{Target: &prescalev1.TargetSpec{
		Name: "api1", Query: strings.Repeat("x", api.MaxRequestBytes), CapacityPerReplica: 5, LeadTime: "1m"}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC create of more than %d bytes: %v, want ResourceExhausted", api.MaxRequestBytes, err)
	}
}

// TestRESTFitDueSince: a target waiting for a fit says since when.
func TestRESTFitDueSince(t *testing.T) {
	b := apitest.NewBackend()
	tg := models.DefaultTarget()
	tg.Name, tg.Query, tg.CapacityPerReplica, tg.LeadTime = "waiting", "up", 1, time.Minute
	b.Put(registry.TargetStatus{Target: tg, Origin: registry.OriginAPI, FitDueSince: testNow.Add(-time.Minute)})
	ts := newREST(t, b)
	code, body := do(t, "GET", ts.URL+"/v1/targets/waiting", "")
	if code != http.StatusOK || !strings.Contains(body, `"fitDueSince":"2026-11-26T11:59:00Z"`) {
		t.Errorf("GET a target waiting for its first fit: %d %s, want fitDueSince 11:59", code, body)
	}
}

// TestRESTQuantilesAsCommaList checks that quantiles=0.1,0.5,0.9 asks
// for the same levels as the repeated parameter, in order, and that an
// error in the list names the level's index in it.
func TestRESTQuantilesAsCommaList(t *testing.T) {
	b := newFixture(t)
	ts := newREST(t, b)
	levels := func(query string) []float64 {
		t.Helper()
		if code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast?"+query, ""); code != 200 {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		return b.ForecastQuantiles()
	}
	want := []float64{0.1, 0.5, 0.9}
	for _, query := range []string{"quantiles=0.1&quantiles=0.5&quantiles=0.9", "quantiles=0.1,0.5,0.9", "quantiles=0.1%2C0.5%2C0.9", "quantiles=0.1,0.5&quantiles=0.9&horizon=2"} {
		if got := levels(query); !slices.Equal(got, want) {
			t.Errorf("%s: levels %v, want %v", query, got, want)
		}
	}
	code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast?quantiles=0.5,1.5", "")
	if code != 400 || !strings.Contains(body, "quantiles[1]") {
		t.Errorf("quantiles=0.5,1.5: %d %s, want 400 naming quantiles[1]", code, body)
	}
}

// TestRESTHorizonAsDuration checks that horizon=1h asks for the steps of
// the target's step that cover it, rounded up, and that a value that is
// neither steps nor a duration is refused naming horizon.
func TestRESTHorizonAsDuration(t *testing.T) {
	b := newFixture(t)
	ts := newREST(t, b)
	st, err := b.Get("web")
	if err != nil {
		t.Fatal(err)
	}
	step := st.Target.Step
	for query, want := range map[string]int{
		"horizon=12":                   12,
		"horizon=1h":                   int(time.Hour / step),
		"horizon=90s":                  int((90*time.Second + step - 1) / step),
		"horizon=1h&quantiles=0.5,0.9": int(time.Hour / step),
	} {
		if code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast?"+query, ""); code != 200 {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		if got := b.ForecastHorizon(); got != want {
			t.Errorf("%s: horizon %d steps, want %d (step %v)", query, got, want, step)
		}
	}
	for _, bad := range []string{"soon", "-1h", "0s"} {
		code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast?horizon="+bad, "")
		if code != 400 || !strings.Contains(body, "google.rpc.BadRequest") || !strings.Contains(body, `"field":"horizon"`) ||
			!strings.Contains(body, "must be a number of steps or a positive duration such as 1h") {
			t.Errorf("horizon=%s: %d %s, want 400 with a BadRequest detail naming horizon", bad, code, body)
		}
	}
	if code, body := do(t, "GET", ts.URL+"/v1/targets/nope/forecast?horizon=1h", ""); code != 404 {
		t.Errorf("horizon=1h of an unknown target: %d %s, want 404", code, body)
	}
}

// TestRESTPlainJSON checks the REST API's JSON: durations as requests
// write them, gaps as null, 64-bit counters as numbers.
func TestRESTPlainJSON(t *testing.T) {
	b := newFixture(t)
	ts := newREST(t, b)
	v := &registry.ForecastView{
		Target: "web", Model: "harmonic", Generation: 3, Step: 90 * time.Second,
		HistoryStart: testNow.Add(-3 * 90 * time.Second), History: []float64{1, math.NaN(), 3},
		Start: testNow, Point: []float64{4, math.Inf(1)},
	}
	b.SetForecast("web", v)
	code, body := do(t, "GET", ts.URL+"/v1/targets/web/forecast", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{`"step":"1m30s"`, `"history":[1,null,3]`, `"point":[4,null]`, `"generation":3`} {
		if !strings.Contains(body, want) {
			t.Errorf("forecast JSON lacks %s:\n%s", want, body)
		}
	}
	code, body = do(t, "GET", ts.URL+"/v1/targets/web", "")
	if code != 200 || !strings.Contains(body, `"generation":3`) || strings.Contains(body, `"generation":"3"`) {
		t.Errorf("target JSON: %d, want generation as a number:\n%s", code, body)
	}
}
