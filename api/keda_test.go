package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// syncBuffer is a log destination the test can read while the server
// writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kedaServer is a KEDAScaler behind a real gRPC server on loopback, with
// KEDA's own client.
type kedaServer struct {
	client externalscaler.ExternalScalerClient
	// handlerDone receives what each stream handler returned, once it has.
	handlerDone chan error
	logs        *syncBuffer
}

func startKEDA(t *testing.T, b api.Backend, push time.Duration) *kedaServer {
	t.Helper()
	ks := &kedaServer{handlerDone: make(chan error, 16), logs: &syncBuffer{}}
	scaler, err := api.NewKEDAScaler(b, &api.KEDAOptions{
		Logger:       slog.New(slog.NewTextHandler(ks.logs, nil)),
		PushInterval: push,
	})
	if err != nil {
		t.Fatalf("NewKEDAScaler: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StreamInterceptor(
		func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			err := h(s, ss)
			ks.handlerDone <- err
			return err
		}))
	externalscaler.RegisterExternalScalerServer(srv, scaler)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ks.client = externalscaler.NewExternalScalerClient(conn)
	return ks
}

// rpcContext bounds one test's calls, so that a hang fails instead of
// stalling the run.
func rpcContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkout is a target declared in the config file.
func checkout() registry.TargetStatus {
	t := models.DefaultTarget()
	t.Name, t.Query, t.CapacityPerReplica, t.LeadTime = "checkout", "sum(rate(http_requests_total[2m]))", 50, 3*time.Minute
	return registry.TargetStatus{Target: t, Origin: registry.OriginConfig}
}

// kedaRef is a ScaledObject's reference carrying trigger metadata, with
// the scalerAddress KEDA always sends.
func kedaRef(namespace, name string, md map[string]string) *externalscaler.ScaledObjectRef {
	all := map[string]string{"scalerAddress": "prescale.prescale.svc:9090"}
	maps.Copy(all, md)
	return &externalscaler.ScaledObjectRef{Namespace: namespace, Name: name, ScalerMetadata: all}
}

func TestKEDAExistingTarget(t *testing.T) {
	b := apitest.NewBackend()
	b.Put(checkout())
	b.SetRecommendation("checkout", models.Recommendation{Target: "checkout", Replicas: 7})
	ks := startKEDA(t, b, time.Hour)
	ctx := rpcContext(t)
	ref := kedaRef("shop", "checkout-scaler", map[string]string{"target": "checkout"})

	spec, err := ks.client.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	if got := spec.GetMetricSpecs(); len(got) != 1 || got[0].GetMetricName() != "prescale-checkout" ||
		got[0].GetTargetSize() != 1 || got[0].GetTargetSizeFloat() != 1 {
		t.Fatalf("GetMetricSpec = %v, want one spec prescale-checkout with target size 1", got)
	}

	for _, asked := range []string{"prescale-checkout", ""} {
		resp, err := ks.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: asked})
		if err != nil {
			t.Fatalf("GetMetrics(%q): %v", asked, err)
		}
		if got := resp.GetMetricValues(); len(got) != 1 || got[0].GetMetricName() != "prescale-checkout" ||
			got[0].GetMetricValue() != 7 || got[0].GetMetricValueFloat() != 7 {
			t.Fatalf("GetMetrics(%q) = %v, want prescale-checkout = 7", asked, got)
		}
	}
	resp, err := ks.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "other-name"})
	if err != nil || resp.GetMetricValues()[0].GetMetricName() != "other-name" {
		t.Fatalf("GetMetrics(other-name) = %v, %v; want the asked name echoed", resp, err)
	}

	for _, tt := range []struct {
		replicas int
		active   bool
	}{{7, true}, {1, true}, {0, false}} {
		b.SetRecommendation("checkout", models.Recommendation{Target: "checkout", Replicas: tt.replicas})
		got, err := ks.client.IsActive(ctx, ref)
		if err != nil || got.GetResult() != tt.active {
			t.Fatalf("IsActive with %d replicas = %v, %v; want %v", tt.replicas, got, err, tt.active)
		}
	}
	if creates, updates := b.Calls(); creates != 0 || updates != 0 {
		t.Fatalf("%d creates and %d updates, want none for an existing target", creates, updates)
	}
}

func TestKEDALazyTarget(t *testing.T) {
	full := map[string]string{
		"query":              `sum(rate(http_requests_total{service="web"}[2m]))`,
		"capacityPerReplica": "40.5",
		"leadTime":           "3m",
		"step":               "30s",
		"history":            "21d",
		"margin":             "1m",
		"quantile":           "0.95",
		"minReplicas":        "2",
		"maxReplicas":        "30",
		"seasons":            "1d, 1w",
		"refitInterval":      "30m",
		"model":              "harmonic",
		"holdFor":            "15m",
	}
	want := models.Target{
		Name:               "shop-web",
		Namespace:          "shop",
		Query:              full["query"],
		Step:               30 * time.Second,
		History:            21 * 24 * time.Hour,
		CapacityPerReplica: 40.5,
		LeadTime:           3 * time.Minute,
		Margin:             time.Minute,
		Quantile:           0.95,
		MinReplicas:        2,
		MaxReplicas:        30,
		Seasons:            []time.Duration{24 * time.Hour, 7 * 24 * time.Hour},
		RefitInterval:      30 * time.Minute,
		Model:              "harmonic",
		HoldFor:            15 * time.Minute,
	}

	t.Run("every key", func(t *testing.T) {
		b := apitest.NewBackend()
		ks := startKEDA(t, b, time.Hour)
		ctx := rpcContext(t)
		ref := kedaRef("shop", "web", full)
		spec, err := ks.client.GetMetricSpec(ctx, ref)
		if err != nil {
			t.Fatalf("GetMetricSpec: %v", err)
		}
		if name := spec.GetMetricSpecs()[0].GetMetricName(); name != "prescale-shop-web" {
			t.Fatalf("metric %q, want prescale-shop-web", name)
		}
		st, err := b.Get("shop-web")
		if err != nil {
			t.Fatalf("the target was not created: %v", err)
		}
		if st.Origin != registry.OriginKEDA || !reflect.DeepEqual(st.Target, want) {
			t.Fatalf("created %+v with origin %q,\nwant %+v with origin keda", st.Target, st.Origin, want)
		}
		if !strings.Contains(ks.logs.String(), "registered target from KEDA trigger metadata") {
			t.Errorf("no log of the registration in:\n%s", ks.logs)
		}

		// Asking again registers nothing new.
		b.SetRecommendation("shop-web", models.Recommendation{Replicas: 5})
		if got, err := ks.client.IsActive(ctx, ref); err != nil || !got.GetResult() {
			t.Fatalf("IsActive = %v, %v; want true", got, err)
		}
		if creates, updates := b.Calls(); creates != 1 || updates != 0 {
			t.Fatalf("%d creates and %d updates, want 1 and 0", creates, updates)
		}

		// A changed definition updates the target.
		changed := maps.Clone(full)
		changed["margin"] = "2m"
		if _, err := ks.client.GetMetricSpec(ctx, kedaRef("shop", "web", changed)); err != nil {
			t.Fatalf("GetMetricSpec with a changed margin: %v", err)
		}
		st, _ = b.Get("shop-web")
		if creates, updates := b.Calls(); creates != 1 || updates != 1 || st.Target.Margin != 2*time.Minute {
			t.Fatalf("%d creates, %d updates, margin %v; want 1, 1 and 2m", creates, updates, st.Target.Margin)
		}
	})

	t.Run("required keys only", func(t *testing.T) {
		b := apitest.NewBackend()
		ks := startKEDA(t, b, time.Hour)
		md := map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "2m", "name": "my-target"}
		if _, err := ks.client.GetMetricSpec(rpcContext(t), kedaRef("shop", "web", md)); err != nil {
			t.Fatalf("GetMetricSpec: %v", err)
		}
		want := models.DefaultTarget()
		want.Name, want.Query, want.CapacityPerReplica, want.LeadTime = "my-target", "up", 10, 2*time.Minute
		want.Namespace = "shop"
		st, err := b.Get("my-target")
		if err != nil || !reflect.DeepEqual(st.Target, want) {
			t.Fatalf("created %+v, %v;\nwant %+v", st.Target, err, want)
		}
	})

	t.Run("derived names", func(t *testing.T) {
		b := apitest.NewBackend()
		ks := startKEDA(t, b, time.Hour)
		ctx := rpcContext(t)
		md := map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "2m"}
		long := strings.Repeat("a", 60)
		tests := []struct {
			namespace, name string
			want            string // "" to check only the shape
		}{
			{"shop", "web", "shop-web"},
			{"shop", "API.v2", "shop-api-v2"},
			{"", "web", "web"},
			{"team-payments", long + "-one", ""},
			{"team-payments", long + "-two", ""},
			// Other alphabets are not dropped into one name.
			{"shop", "日本", ""},
			{"shop", "中国", ""},
			{"", "日本", ""},
			{"", "中国", ""},
			{"shop", "\u212a", ""}, // the Kelvin sign lowercases to 'k'
			{"shop", "k", "shop-k"},
		}
		seen := map[string]bool{}
		for _, tt := range tests {
			spec, err := ks.client.GetMetricSpec(ctx, kedaRef(tt.namespace, tt.name, md))
			if err != nil {
				t.Fatalf("GetMetricSpec(%s/%s): %v", tt.namespace, tt.name, err)
			}
			name := strings.TrimPrefix(spec.GetMetricSpecs()[0].GetMetricName(), "prescale-")
			if tt.want != "" && name != tt.want {
				t.Errorf("%s/%s: target %q, want %q", tt.namespace, tt.name, name, tt.want)
			}
			if len(validation.IsDNS1123Label(name)) > 0 || seen[name] {
				t.Errorf("%s/%s: target %q is too long or not unique", tt.namespace, tt.name, name)
			}
			seen[name] = true
			if _, err := b.Get(name); err != nil {
				t.Errorf("%s/%s: %v", tt.namespace, tt.name, err)
			}
		}
	})

	t.Run("concurrent first use", func(t *testing.T) {
		b := apitest.NewBackend()
		ks := startKEDA(t, b, time.Hour)
		ctx := rpcContext(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := ks.client.GetMetricSpec(ctx, kedaRef("shop", "web", full))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("GetMetricSpec: %v", err)
			}
		}
		if creates, updates := b.Calls(); creates != 1 || updates != 0 {
			t.Fatalf("%d creates and %d updates, want 1 and 0", creates, updates)
		}
	})

	t.Run("name taken by another origin", func(t *testing.T) {
		b := apitest.NewBackend()
		b.Put(checkout())
		ks := startKEDA(t, b, time.Hour)
		md := maps.Clone(full)
		md["name"] = "checkout"
		_, err := ks.client.GetMetricSpec(rpcContext(t), kedaRef("shop", "web", md))
		wantStatus(t, err, codes.FailedPrecondition, `target "checkout" already exists with origin "config"`)
		if st, _ := b.Get("checkout"); st.Target.Query != checkout().Target.Query {
			t.Fatalf("the config target was changed to %+v", st.Target)
		}
	})
}

// TestKEDAEventsFrom checks that a target defined in metadata takes the
// events of the target eventsFrom names, again at every call.
func TestKEDAEventsFrom(t *testing.T) {
	b := apitest.NewBackend()
	cal := checkout()
	cal.Target.Events = []events.Spec{{Name: "match", Start: "2026-07-13T19:00:00", TimeZone: "Europe/Paris", Duration: "2h", Lead: "30m"}}
	b.Put(cal)
	ks := startKEDA(t, b, time.Hour)
	md := map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "2m", "eventsFrom": "checkout"}
	if _, err := ks.client.GetMetricSpec(rpcContext(t), kedaRef("shop", "web", md)); err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	if st, err := b.Get("shop-web"); err != nil || !reflect.DeepEqual(st.Target.Events, cal.Target.Events) {
		t.Fatalf("created with events %+v, %v; want checkout's %+v", st.Target.Events, err, cal.Target.Events)
	}
	// A change of checkout's events reaches the target at the next call.
	cal.Target.Events = append(cal.Target.Events, events.Spec{Name: "sale", Start: "2026-08-01T08:00:00Z", Duration: "1h", Multiplier: 2})
	b.Put(cal)
	if _, err := ks.client.GetMetricSpec(rpcContext(t), kedaRef("shop", "web", md)); err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	st, _ := b.Get("shop-web")
	if creates, updates := b.Calls(); creates != 1 || updates != 1 || len(st.Target.Events) != 2 {
		t.Fatalf("%d creates, %d updates, events %+v; want 1, 1 and checkout's two", creates, updates, st.Target.Events)
	}
}

// wantStatus fails the test unless err is a gRPC status of code whose
// message holds every one of contains.
func wantStatus(t *testing.T, err error, code codes.Code, contains ...string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error %v, want code %v", err, code)
	}
	for _, c := range contains {
		if !strings.Contains(st.Message(), c) {
			t.Errorf("message %q does not contain %q", st.Message(), c)
		}
	}
}

func TestKEDABadMetadata(t *testing.T) {
	valid := map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "2m"}
	with := func(kv ...string) map[string]string {
		md := maps.Clone(valid)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(md, kv[i])
			} else {
				md[kv[i]] = kv[i+1]
			}
		}
		return md
	}
	tests := []struct {
		name    string
		md      map[string]string
		want    []string
		notWant string
	}{
		{"not a number", with("capacityPerReplica", "abc"),
			[]string{`metadata.capacityPerReplica: "abc" is not a number`}, "must be positive"},
		{"not a duration", with("leadTime", "5 minutes"),
			[]string{`metadata.leadTime: "5 minutes" is not a duration such as 30s, 5m, 1h30m, 14d or 1w`}, "must be positive"},
		{"not an integer", with("minReplicas", "1.5"), []string{`metadata.minReplicas: "1.5" is not an integer`}, ""},
		{"bad season", with("seasons", "1d,x"),
			[]string{`metadata.seasons: "1d,x" is not a comma-separated list of durations`}, ""},
		{"season too long", with("seasons", "1d,3w"), []string{`metadata.seasons[1]: must be at most half of history`}, ""},
		{"quantile out of range", with("quantile", "1.5"), []string{`metadata.quantile: must be between 0 and 1`}, ""},
		{"negative margin", with("margin", "-1m"), []string{`metadata.margin: must not be negative, got -1m`}, ""},
		{"lead time beyond a day", with("leadTime", "100000d"), []string{`metadata.leadTime: must be at most 1d, got 100000d`}, ""},
		{"unknown model", with("model", "prophet"), []string{`metadata.model: must be one of`}, ""},
		{"bad name", with("name", "Bad_Name"), []string{`metadata.name: must be a DNS-1123 label`}, ""},
		{"min above max", with("minReplicas", "5", "maxReplicas", "3"), []string{`metadata.minReplicas: must not exceed maxReplicas`}, ""},
		{"max beyond int32", with("maxReplicas", "4294967297"),
			[]string{`metadata.maxReplicas: must be at most 2147483647 (a Kubernetes replica count), got 4294967297`}, ""},
		{"min beyond int32", with("minReplicas", "4294967297", "maxReplicas", "4294967298"), []string{
			`metadata.minReplicas: must be at most 2147483647 (a Kubernetes replica count), got 4294967297`,
			`metadata.maxReplicas: must be at most 2147483647`}, ""},
		{"long query", with("query", strings.Repeat("x", 300000)),
			[]string{`metadata.query: must be at most 16384 bytes, got 300000`}, ""},
		{"long bad value", with("leadTime", strings.Repeat("9", 300000)),
			[]string{`metadata.leadTime: "` + strings.Repeat("9", 100) + `"... (300000 bytes) is not a duration`}, ""},
		{"missing lead time", with("leadTime", "<absent>"), []string{`metadata.leadTime: is required`}, ""},
		{"several problems", with("capacityPerReplica", "-1", "step", "soon"),
			[]string{`metadata.capacityPerReplica: must be positive, got -1`, `metadata.step: "soon" is not a duration`}, ""},
		{"no target and no query", map[string]string{}, []string{
			`metadata.query: is required to define a target (or give "target" naming an existing one)`,
			`metadata.capacityPerReplica: is required`, `metadata.leadTime: is required`}, ""},
		{"target and a definition", with("target", "checkout"), []string{
			`metadata.query: defines a target, but "target" names an existing one`,
			`metadata.capacityPerReplica: defines a target`}, ""},
		{"empty target", map[string]string{"target": ""}, []string{`metadata.target: is empty`}, ""},
		{"events as text", with("events", "[{name: match}]"),
			[]string{`metadata.events: cannot be written as text; declare them on a target`}, ""},
		{"events from no target", with("eventsFrom", "nope"), []string{`metadata.eventsFrom: no target "nope"`}, ""},
		{"events from with target", map[string]string{"target": "checkout", "eventsFrom": "checkout"},
			[]string{`metadata.eventsFrom: is for a target the metadata defines`}, ""},
		{"long target", map[string]string{"target": strings.Repeat("a", 300000)},
			[]string{`metadata.target: must be at most 63 bytes (a target name), got 300000`}, "aaaaaaaaaaaaaaaaaaaa"},
	}
	b := apitest.NewBackend()
	b.Put(checkout())
	ks := startKEDA(t, b, time.Hour)
	ctx := rpcContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := kedaRef("shop", "web", tt.md)
			_, err := ks.client.GetMetricSpec(ctx, ref)
			wantStatus(t, err, codes.InvalidArgument, tt.want...)
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("message %q also says %q about a value already reported as unreadable", err, tt.notWant)
			}
			_, err = ks.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
			wantStatus(t, err, codes.InvalidArgument, tt.want...)
		})
	}
	t.Run("details name the key", func(t *testing.T) {
		_, err := ks.client.IsActive(ctx, kedaRef("shop", "web", with("capacityPerReplica", "abc")))
		var fields []string
		for _, d := range status.Convert(err).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		if !reflect.DeepEqual(fields, []string{"metadata.capacityPerReplica"}) {
			t.Fatalf("BadRequest fields %q, want [metadata.capacityPerReplica]", fields)
		}
	})
	t.Run("no reference", func(t *testing.T) {
		_, err := ks.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{MetricName: "prescale-x"})
		wantStatus(t, err, codes.InvalidArgument, "scaledObjectRef: is required")
	})
	t.Run("bad namespace", func(t *testing.T) {
		// Not from a real cluster, whose namespaces are labels: the
		// problem names the reference, not the metadata.
		_, err := ks.client.GetMetricSpec(ctx, kedaRef("Shop_EU", "web", valid))
		wantStatus(t, err, codes.InvalidArgument, `scaledObjectRef.namespace: must be empty or a DNS-1123 label`)
	})
	if creates, updates := b.Calls(); creates != 0 || updates != 0 {
		t.Fatalf("%d creates and %d updates, want none from bad metadata", creates, updates)
	}
}

func TestKEDABackendErrors(t *testing.T) {
	b := apitest.NewBackend()
	b.Put(checkout())
	fresh := checkout()
	fresh.Target.Name = "fresh"
	b.Put(fresh)
	broken := checkout()
	broken.Target.Name = "broken"
	b.Put(broken)
	b.SetError("broken", errors.New("snapshot /var/lib/prescale/broken.json: disk on fire"))
	ks := startKEDA(t, b, time.Hour)
	ctx := rpcContext(t)

	tests := []struct {
		target   string
		code     codes.Code
		contains string
	}{
		{"nope", codes.NotFound, `target "nope" not found`},
		{"fresh", codes.Unavailable, `target "fresh" has no data yet`},
		{"broken", codes.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			ref := kedaRef("shop", "web", map[string]string{"target": tt.target})
			_, err := ks.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
			wantStatus(t, err, tt.code, tt.contains)
			_, err = ks.client.IsActive(ctx, ref)
			wantStatus(t, err, tt.code, tt.contains)
			if strings.Contains(err.Error(), "disk") || strings.Contains(err.Error(), "/var/lib") {
				t.Errorf("error %q leaks the internal cause", err)
			}
		})
	}
	if logs := ks.logs.String(); !strings.Contains(logs, "disk on fire") {
		t.Errorf("the internal error was not logged:\n%s", logs)
	}
}

func TestKEDAStreamIsActive(t *testing.T) {
	t.Run("values every interval, ends on cancel", func(t *testing.T) {
		b := apitest.NewBackend()
		b.Put(checkout())
		ks := startKEDA(t, b, 10*time.Millisecond)
		ctx, cancel := context.WithCancel(rpcContext(t))
		defer cancel()
		stream, err := ks.client.StreamIsActive(ctx, kedaRef("shop", "web", map[string]string{"target": "checkout"}))
		if err != nil {
			t.Fatalf("StreamIsActive: %v", err)
		}
		// No data yet: the stream stays open and sends nothing until
		// there is a recommendation.
		time.Sleep(30 * time.Millisecond)
		b.SetRecommendation("checkout", models.Recommendation{Replicas: 3})
		for i := range 3 {
			got, err := stream.Recv()
			if err != nil || !got.GetResult() {
				t.Fatalf("value %d: %v, %v; want active", i, got, err)
			}
		}
		b.SetRecommendation("checkout", models.Recommendation{Replicas: 0})
		for i := 0; ; i++ {
			got, err := stream.Recv()
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if !got.GetResult() {
				break
			}
			if i > 10 {
				t.Fatal("still active 10 intervals after the recommendation dropped to 0")
			}
		}
		cancel()
		if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
			t.Fatalf("Recv after cancel: %v, want Canceled", err)
		}
		wantHandlerReturn(t, ks, nil)
	})

	t.Run("first value at once", func(t *testing.T) {
		b := apitest.NewBackend()
		b.Put(checkout())
		b.SetRecommendation("checkout", models.Recommendation{Replicas: 2})
		ks := startKEDA(t, b, time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		stream, err := ks.client.StreamIsActive(ctx, kedaRef("shop", "web", map[string]string{"target": "checkout"}))
		if err != nil {
			t.Fatalf("StreamIsActive: %v", err)
		}
		if got, err := stream.Recv(); err != nil || !got.GetResult() {
			t.Fatalf("first value %v, %v; want active at once", got, err)
		}
		cancel()
		wantHandlerReturn(t, ks, nil)
	})

	t.Run("target deleted", func(t *testing.T) {
		b := apitest.NewBackend()
		st := checkout()
		st.Origin = registry.OriginAPI
		b.Put(st)
		b.SetRecommendation("checkout", models.Recommendation{Replicas: 2})
		ks := startKEDA(t, b, 10*time.Millisecond)
		stream, err := ks.client.StreamIsActive(rpcContext(t), kedaRef("shop", "web", map[string]string{"target": "checkout"}))
		if err != nil {
			t.Fatalf("StreamIsActive: %v", err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if err := b.Delete("checkout"); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err = stream.Recv(); err != nil {
				break
			}
		}
		wantStatus(t, err, codes.NotFound, `target "checkout" not found`)
		wantHandlerReturn(t, ks, err)
	})

	t.Run("bad metadata", func(t *testing.T) {
		ks := startKEDA(t, apitest.NewBackend(), 10*time.Millisecond)
		stream, err := ks.client.StreamIsActive(rpcContext(t), kedaRef("shop", "web", map[string]string{"query": "up"}))
		if err != nil {
			t.Fatalf("StreamIsActive: %v", err)
		}
		_, err = stream.Recv()
		wantStatus(t, err, codes.InvalidArgument, "metadata.capacityPerReplica: is required")
		wantHandlerReturn(t, ks, err)
	})
}

// wantHandlerReturn waits for the stream handler to return, with want's
// status code (nil: no error), so that no goroutine is left behind.
func wantHandlerReturn(t *testing.T, ks *kedaServer, want error) {
	t.Helper()
	select {
	case err := <-ks.handlerDone:
		if status.Code(err) != status.Code(want) {
			t.Fatalf("the stream handler returned %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream handler did not return within 5s")
	}
}

func TestNewKEDAScaler(t *testing.T) {
	if _, err := api.NewKEDAScaler(nil, nil); err == nil {
		t.Error("NewKEDAScaler(nil backend) succeeded")
	}
	if _, err := api.NewKEDAScaler(apitest.NewBackend(), &api.KEDAOptions{PushInterval: -time.Second}); err == nil ||
		!strings.Contains(err.Error(), "PushInterval") {
		t.Errorf("negative PushInterval: %v, want an error naming it", err)
	}
	if _, err := api.NewKEDAScaler(apitest.NewBackend(), nil); err != nil {
		t.Errorf("default options: %v", err)
	}
}

func ExampleKEDAScaler() {
	b := apitest.NewBackend()
	scaler, err := api.NewKEDAScaler(b, nil)
	if err != nil {
		panic(err)
	}
	ref := &externalscaler.ScaledObjectRef{Namespace: "shop", Name: "web", ScalerMetadata: map[string]string{
		"scalerAddress":      "prescale.prescale.svc:9090",
		"query":              `sum(rate(http_requests_total{service="web"}[2m]))`,
		"capacityPerReplica": "50",
		"leadTime":           "3m",
	}}
	spec, err := scaler.GetMetricSpec(context.Background(), ref)
	if err != nil {
		panic(err)
	}
	st, _ := b.Get("shop-web")
	fmt.Println(spec.GetMetricSpecs()[0].GetMetricName(), st.Origin, st.Target.LeadTime)
	// Output: prescale-shop-web keda 3m0s
}
