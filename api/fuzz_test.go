package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/models/registry"
)

// maxAnswerBytes bounds what one REST call may answer over the fixture:
// its largest answer is a list of three targets.
const maxAnswerBytes = 4 << 20

// fuzzMethods are the methods FuzzRESTWrite sends, by a byte of its input.
var fuzzMethods = [...]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}

// FuzzRESTWrite sends any method, path under /v1/ and body to the REST
// handler over the fixture, through Auth: whatever it is sent, it answers
// no 5xx but 503 (the fixture has no internal error to report), an error
// in the API's JSON shape, and a bounded body. With a non-empty
// authorization the call carries it to a server that cannot check it.
func FuzzRESTWrite(f *testing.F) {
	valid := `{"name":"api1","namespace":"shop","query":"sum(up)","capacityPerReplica":5,"leadTime":"2m","seasons":["1d"],"quantile":0.95,"minReplicas":2}`
	for _, seed := range []struct {
		method        uint8
		path, body    string
		authorization string
	}{
		{method: 1, path: "targets", body: valid},
		{method: 2, path: "targets/batch", body: `{"query":"sum(up)","capacityPerReplica":8,"leadTime":"2m"}`},
		{method: 2, path: "targets/web", body: `{"name":"web","query":"q","capacityPerReplica":5,"leadTime":"2m"}`},
		{method: 2, path: "targets/nope", body: `{"query":"q","capacityPerReplica":5,"leadTime":"2m"}`},
		{method: 3, path: "targets/batch"},
		{method: 3, path: "targets/web"},
		{method: 1, path: "targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"100000d"}`},
		{method: 1, path: "targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","quantile":1.5}`},
		{method: 1, path: "targets", body: `{"name":"api1","query":"q","capacityPerReplica":5,"leadTime":"2m","margin":"1d"}`},
		{method: 1, path: "targets", body: `{"name":"api1","query":"q","capacityPerReplica":1e308,"leadTime":"2m","maxReplicas":2147483647}`},
		{method: 1, path: "targets", body: `{"name":"api1","query":"` + strings.Repeat("x", 2<<20) + `","capacityPerReplica":5,"leadTime":"2m"}`},
		{method: 1, path: "targets", body: `{"name":`},
		{method: 1, path: "targets", body: `{"name":"api1","capacity":5}`},
		{method: 1, path: "targets", body: `[1,2,3]`},
		{method: 1, path: "targets", body: "\xff\xfe"},
		{method: 1, path: "targets", body: valid, authorization: "Bearer x"},
		{method: 0, path: "targets"},
		{method: 0, path: "targets/web"},
		{method: 0, path: "targets/web/recommendation"},
		{method: 0, path: "targets/batch/recommendation"},
		{method: 0, path: "targets/web/forecast?quantiles=0.9&horizon=5&history=1h"},
		{method: 0, path: "targets/web/forecast?" + strings.Repeat("quantiles=0.5&", registry.MaxForecastQuantiles+1)},
		{method: 0, path: "targets/web/forecast?horizon=100000"},
		{method: 0, path: "targets/web/forecast?horizon=zz&quantiles=NaN&history=-1h"},
		{method: 0, path: "targets/web/forecast?quantiles=1.5&quantiles=-0&quantiles=1e-400"},
		{method: 0, path: "targets/web/anomalies?start=2026-11-26T11:00:00Z&end=2026-11-26T12:00:00Z"},
		{method: 0, path: "targets/web/anomalies?start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59Z"},
		{method: 0, path: "targets/web/anomalies?start=yesterday"},
		{method: 0, path: "targets/%ff/recommendation"},
		{method: 0, path: "targets/a%2Fb"},
		{method: 4, path: "targets/batch", body: valid},
		{method: 5, path: "targets"},
		{method: 3, path: "targets"},
		{method: 0, path: "nothing"},
		{method: 0, path: "targets/../../x"},
	} {
		f.Add(seed.method, seed.path, []byte(seed.body), seed.authorization)
	}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte, authorization string) {
		req, err := http.NewRequestWithContext(t.Context(), fuzzMethods[int(method)%len(fuzzMethods)],
			"http://prescale.test/v1/"+path, bytes.NewReader(body))
		if err != nil {
			return // no URL a client could send (the path breaks the URL's syntax): nothing reaches the server
		}
		auth := &api.AuthOptions{None: true}
		if authorization != "" {
			auth = &api.AuthOptions{AnonymousReads: true}
			req.Header.Set("Authorization", authorization)
		}
		h := newHandler(t, newFixture(t), auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		code, answer := rec.Code, rec.Body.Bytes()
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: status %d: %s", req.Method, req.URL, code, answer)
		}
		if len(answer) >= maxAnswerBytes {
			t.Fatalf("%s %s: %d bytes answered", req.Method, req.URL, len(answer))
		}
		if code < 400 {
			return
		}
		var e struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(answer, &e); err != nil || e.Code == nil || e.Message == nil {
			t.Fatalf("%s %s: status %d answered %q, want JSON with code and message", req.Method, req.URL, code, answer)
		}
	})
}

// newHandler is the REST handler over b, as newREST serves it but without
// a listener, and with Auth.
func newHandler(t *testing.T, b api.Backend, auth *api.AuthOptions) http.Handler {
	t.Helper()
	srv, err := api.NewServer(b, &api.ServerOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.NewAuth(auth)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHTTPHandler(t.Context(), srv, &api.HTTPOptions{Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkCode fails t when err's gRPC code says the server broke: an
// internal or unknown error is never the answer to a request.
func checkCode(t *testing.T, call string, err error) {
	t.Helper()
	if c := status.Code(err); c == codes.Internal || c == codes.Unknown {
		t.Fatalf("%s: %v", call, err)
	}
}

// FuzzGRPCCreate reads any bytes as a CreateTargetRequest, an
// UpdateTargetRequest and a GetForecastRequest, and calls the server with
// each one they are: no panic, and no Internal or Unknown error.
func FuzzGRPCCreate(f *testing.F) {
	spec := &prescalev1.TargetSpec{Name: "api1", Namespace: "shop", Query: "sum(up)", CapacityPerReplica: 5, LeadTime: "2m",
		Seasons: []string{"1d"}, Quantile: proto.Float64(0.95), MinReplicas: proto.Int32(2)}
	for _, m := range []proto.Message{
		&prescalev1.CreateTargetRequest{Target: spec},
		&prescalev1.CreateTargetRequest{Target: &prescalev1.TargetSpec{Name: "api1", Query: "q", CapacityPerReplica: 5, LeadTime: "100000d"}},
		&prescalev1.CreateTargetRequest{Target: &prescalev1.TargetSpec{Name: "api1", Query: "q", CapacityPerReplica: 5, LeadTime: "2m", Quantile: proto.Float64(1.5)}},
		&prescalev1.CreateTargetRequest{Target: &prescalev1.TargetSpec{Name: "Api_1", Query: "q", CapacityPerReplica: -1, LeadTime: "soon",
			MinReplicas: proto.Int32(-5), MaxReplicas: proto.Int32(-7), Seasons: []string{"x", "1d", ""}}},
		&prescalev1.CreateTargetRequest{},
		&prescalev1.UpdateTargetRequest{Target: &prescalev1.TargetSpec{Name: "batch", Query: "jobs", CapacityPerReplica: 8, LeadTime: "2m"}},
		&prescalev1.UpdateTargetRequest{Target: &prescalev1.TargetSpec{Name: "web", Query: "q", CapacityPerReplica: 5, LeadTime: "2m"}},
		&prescalev1.UpdateTargetRequest{Target: &prescalev1.TargetSpec{Name: "nope", Query: "q", CapacityPerReplica: 5, LeadTime: "2m"}},
		&prescalev1.GetForecastRequest{Name: "web", Horizon: 5, Quantiles: []float64{0.9}, History: "1h"},
		&prescalev1.GetForecastRequest{Name: "web", Horizon: 100000, Quantiles: make([]float64, registry.MaxForecastQuantiles+1), History: "garbage"},
		&prescalev1.GetForecastRequest{Name: "batch"},
		&prescalev1.GetForecastRequest{Name: "web", History: "100000d"},
		&prescalev1.GetForecastRequest{Name: "nope", Horizon: -1},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x0a\x05\x0a\x03web"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		srv, err := api.NewServer(newFixture(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if req := new(prescalev1.CreateTargetRequest); proto.Unmarshal(data, req) == nil {
			_, err := srv.CreateTarget(ctx, req)
			checkCode(t, "CreateTarget", err)
		}
		if req := new(prescalev1.UpdateTargetRequest); proto.Unmarshal(data, req) == nil {
			_, err := srv.UpdateTarget(ctx, req)
			checkCode(t, "UpdateTarget", err)
		}
		if req := new(prescalev1.GetForecastRequest); proto.Unmarshal(data, req) == nil {
			_, err := srv.GetForecast(ctx, req)
			checkCode(t, "GetForecast", err)
		}
	})
}

// parseMetadata reads the lines "key=value" of text as trigger metadata:
// a key without '=' has an empty value.
func parseMetadata(text string) map[string]string {
	md := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		k, v, _ := strings.Cut(line, "=")
		md[k] = v
	}
	return md
}

// FuzzKEDAMetadata calls GetMetricSpec and GetMetrics with any
// ScaledObject reference and metadata (lines "key=value") over the
// fixture: no panic, no Internal or Unknown error, and every target the
// metadata registers is named by a DNS-1123 label.
func FuzzKEDAMetadata(f *testing.F) {
	define := "scalerAddress=prescale:9000\nquery=sum(rate(http_requests_total[2m]))\ncapacityPerReplica=50\nleadTime=3m"
	for _, seed := range []struct{ namespace, name, metadata, metric string }{
		{"shop", "checkout", define, ""},
		{"shop", "checkout", define + "\nname=checkout-v2\nseasons=1d,1w\nminReplicas=2\nmaxReplicas=20\nquantile=0.95", "prescale-checkout-v2"},
		{"shop", "checkout", define + "\nleadTime=100000d\nquantile=1.5\nmaxReplicas=99999999999", ""},
		{"Shop_EU", "Check.Out_Ü", define, ""},
		{"", "", define, ""},
		{"shop", strings.Repeat("x", 300), define, ""},
		{"shop", "a", define + "\nname=Not_A_Label", ""},
		{"shop", "a", define + "\nname=web", ""},
		{"shop", "a", define + "\nname=batch", ""},
		{"shop", "a", "target=web", "prescale-web"},
		{"shop", "a", "target=batch", ""},
		{"shop", "a", "target=nope", ""},
		{"shop", "a", "target=", ""},
		{"shop", "a", "target=web\nquery=q", ""},
		{"shop", "a", "target=" + strings.Repeat("w", 64), ""},
		{"shop", "a", "query=\ncapacityPerReplica=NaN\nleadTime=-1m\nstep=0\nhistory=1e400", ""},
		{"shop", "a", "", ""},
	} {
		f.Add(seed.namespace, seed.name, seed.metadata, seed.metric)
	}
	f.Fuzz(func(t *testing.T, namespace, name, metadata, metric string) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		b := newFixture(t)
		b.Put(checkout())
		scaler, err := api.NewKEDAScaler(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		ref := &externalscaler.ScaledObjectRef{Namespace: namespace, Name: name, ScalerMetadata: parseMetadata(metadata)}
		_, err = scaler.GetMetricSpec(ctx, ref)
		checkCode(t, "GetMetricSpec", err)
		_, err = scaler.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: metric})
		checkCode(t, "GetMetrics", err)
		checkKEDANames(t, b)
	})
}

// checkKEDANames fails t for a target registered from metadata whose
// name is not a DNS-1123 label.
func checkKEDANames(t *testing.T, b *apitest.Backend) {
	t.Helper()
	for _, st := range b.List() {
		if st.Origin != registry.OriginKEDA {
			continue
		}
		if errs := validation.IsDNS1123Label(st.Target.Name); len(errs) > 0 {
			t.Fatalf("KEDA registered target %q: %v", st.Target.Name, errs)
		}
	}
}
