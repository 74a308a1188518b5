package api_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// externalFixture is a fake backend with:
//
//	web       no namespace, fresh: forecast 812.3456 > observed 500, 4 replicas of 250
//	checkout  namespace shop, fresh: observed 900 > forecast 700, 9 replicas of 100
//	batch     namespace shop, data stale: 6 replicas held, capacity 100
//	new       no namespace, no data yet
func externalFixture(t *testing.T) *apitest.Backend {
	t.Helper()
	b := apitest.NewBackend()
	put := func(name, namespace string, rec *models.Recommendation) {
		tg := models.DefaultTarget()
		tg.Name, tg.Namespace, tg.Query, tg.CapacityPerReplica, tg.LeadTime = name, namespace, "up", 100, 3*time.Minute
		b.Put(registry.TargetStatus{Target: tg, Origin: registry.OriginConfig})
		if rec != nil {
			rec.Target, rec.Time = name, testNow
			b.SetRecommendation(name, *rec)
		}
	}
	put("web", "", &models.Recommendation{Replicas: 4, Won: models.WonForecast, CapacityPerReplica: 250,
		Forecast: models.ForecastPart{Quantile: 0.9, Steps: 4, Max: 812.3456, Replicas: 4},
		Reactive: models.ReactivePart{Known: true, Load: 500, Replicas: 2}})
	put("checkout", "shop", &models.Recommendation{Replicas: 9, Won: models.WonReactive, CapacityPerReplica: 100,
		Forecast: models.ForecastPart{Quantile: 0.9, Steps: 4, Max: 700, Replicas: 7},
		Reactive: models.ReactivePart{Known: true, Load: 900, Replicas: 9}})
	// Stale: the forecast has run out and the observed load is old, but
	// the previous 6 replicas are held.
	put("batch", "shop", &models.Recommendation{Replicas: 6, Won: models.WonHeld, CapacityPerReplica: 100, Stale: true,
		Forecast:         models.ForecastPart{Quantile: 0.9},
		Reactive:         models.ReactivePart{Known: true, Load: 120, Replicas: 2},
		PreviousReplicas: 6})
	put("new", "", nil)
	return b
}

func newExternalMetrics(t *testing.T, b api.Backend, logs io.Writer) *api.ExternalMetrics {
	t.Helper()
	p, err := api.NewExternalMetrics(b, &api.ExternalMetricsOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExternalMetricsList(t *testing.T) {
	p := newExternalMetrics(t, apitest.NewBackend(), io.Discard)
	got := p.ListAllExternalMetrics()
	want := []provider.ExternalMetricInfo{{Metric: "prescale_recommended_replicas"}, {Metric: "prescale_forecast_load"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAllExternalMetrics = %v, want %v", got, want)
	}
	if _, err := api.NewExternalMetrics(nil, nil); err == nil {
		t.Error("NewExternalMetrics(nil backend) succeeded")
	}
}

// item is one returned value as the test compares it.
type item struct {
	labels string // labels.Set.String(): "namespace=shop,target=checkout"
	value  string // Quantity.String()
}

func TestExternalMetricsGet(t *testing.T) {
	const (
		replicas = api.MetricRecommendedReplicas
		load     = api.MetricForecastLoad
	)
	tests := []struct {
		name      string
		namespace string
		metric    string
		selector  string
		want      []item
		wantErr   func(error) bool
		errHas    string
	}{
		{name: "replicas by target", namespace: "default", metric: replicas, selector: "target=web",
			want: []item{{"target=web", "4"}}},
		{name: "load is the forecast when it is above the observed load", namespace: "default", metric: load, selector: "target=web",
			want: []item{{"target=web", "812346m"}}},
		{name: "a target without namespace is served in every namespace", namespace: "shop", metric: replicas, selector: "target=web",
			want: []item{{"target=web", "4"}}},
		{name: "a target with a namespace is served in it", namespace: "shop", metric: replicas, selector: "target=checkout",
			want: []item{{"namespace=shop,target=checkout", "9"}}},
		{name: "load is the observed load when it is above the forecast", namespace: "shop", metric: load, selector: "target=checkout",
			want: []item{{"namespace=shop,target=checkout", "900"}}},
		{name: "a target with a namespace is not served elsewhere", namespace: "default", metric: replicas, selector: "target=checkout",
			wantErr: apierrors.IsNotFound, errHas: `no prescale target served in namespace "default" matches the selector "target=checkout"`},
		{name: "stale data holds the replicas", namespace: "shop", metric: replicas, selector: "target=batch",
			want: []item{{"namespace=shop,target=batch", "6"}}},
		{name: "stale data holds the load of the held replicas", namespace: "shop", metric: load, selector: "target=batch",
			want: []item{{"namespace=shop,target=batch", "600"}}},
		{name: "unknown target", namespace: "default", metric: replicas, selector: "target=nope",
			wantErr: apierrors.IsNotFound, errHas: "target=nope"},
		{name: "unknown metric", namespace: "default", metric: "prescale_replicas", selector: "target=web",
			wantErr: apierrors.IsNotFound, errHas: `metric "prescale_replicas" is not served by prescale`},
		{name: "several matches, one item each", namespace: "shop", metric: replicas, selector: "target in (web,checkout,batch)",
			want: []item{{"namespace=shop,target=batch", "6"}, {"namespace=shop,target=checkout", "9"}, {"target=web", "4"}}},
		{name: "selected by namespace label", namespace: "shop", metric: replicas, selector: "namespace=shop",
			want: []item{{"namespace=shop,target=batch", "6"}, {"namespace=shop,target=checkout", "9"}}},
		{name: "no data yet", namespace: "default", metric: replicas, selector: "target=new",
			wantErr: apierrors.IsServiceUnavailable, errHas: `prescale target "new" has no data yet`},
		{name: "no partial sum while a match has no data", namespace: "default", metric: replicas, selector: "target in (web,new)",
			wantErr: apierrors.IsServiceUnavailable},
	}
	p := newExternalMetrics(t, externalFixture(t), io.Discard)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := labels.Parse(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			list, err := p.GetExternalMetric(t.Context(), tt.namespace, sel, provider.ExternalMetricInfo{Metric: tt.metric})
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("error %v (%T), want one that %s", err, err, tt.name)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not say %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []item
			for _, it := range list.Items {
				if it.MetricName != tt.metric {
					t.Errorf("metric name %q, want %q", it.MetricName, tt.metric)
				}
				if !it.Timestamp.Time.Equal(testNow) {
					t.Errorf("timestamp %v, want the recommendation's %v", it.Timestamp, testNow)
				}
				got = append(got, item{labels.Set(it.MetricLabels).String(), it.Value.String()})
			}
			slices.SortFunc(got, func(a, b item) int { return strings.Compare(a.labels, b.labels) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("items %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExternalMetricsValues(t *testing.T) {
	b := externalFixture(t)
	p := newExternalMetrics(t, b, io.Discard)
	get := func(metric string) (int64, bool) {
		t.Helper()
		list, err := p.GetExternalMetric(t.Context(), "default", labels.SelectorFromSet(labels.Set{"target": "web"}), provider.ExternalMetricInfo{Metric: metric})
		if err != nil {
			t.Fatal(err)
		}
		v := list.Items[0].Value
		return v.MilliValue(), v.Format == "DecimalSI"
	}
	// Replicas are an integer quantity, the load a milli-quantity.
	if m, decimal := get(api.MetricRecommendedReplicas); m != 4000 || !decimal {
		t.Errorf("replicas = %dm (decimal %v), want 4000m", m, decimal)
	}
	if m, _ := get(api.MetricForecastLoad); m != 812346 {
		t.Errorf("load = %dm, want 812346m", m)
	}
	// A minReplicas of 0 recommends 0, a value the HPA can act on.
	b.SetRecommendation("web", models.Recommendation{Target: "web", Time: testNow, Replicas: 0, Reactive: models.ReactivePart{Known: true}})
	if m, _ := get(api.MetricRecommendedReplicas); m != 0 {
		t.Errorf("replicas = %dm, want 0", m)
	}
	if m, _ := get(api.MetricForecastLoad); m != 0 {
		t.Errorf("load = %dm, want 0", m)
	}
}

func TestExternalMetricsInternalError(t *testing.T) {
	b := externalFixture(t)
	b.SetError("web", errors.New("disk on fire at /var/lib/secret"))
	logs := &syncBuffer{}
	p := newExternalMetrics(t, b, logs)
	_, err := p.GetExternalMetric(t.Context(), "default", labels.SelectorFromSet(labels.Set{"target": "web"}),
		provider.ExternalMetricInfo{Metric: api.MetricRecommendedReplicas})
	if !apierrors.IsInternalError(err) || strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error %v, want an internal error that does not leak the cause", err)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the cause is not logged:\n%s", logs)
	}
}

// TestExternalMetricsServer runs the API server in process, without a
// cluster: serving certificate self-signed in --cert-dir, clients
// authenticated by --client-ca-file, and only system:masters allowed (no
// authorization kubeconfig, so no SubjectAccessReview).
func TestExternalMetricsServer(t *testing.T) {
	ca := apitest.NewCA(t)
	certDir := filepath.Join(t.TempDir(), "certs")

	adapter := api.NewExternalMetricsAdapter()
	if err := adapter.FlagSet.Parse([]string{
		"--secure-port=0", // a free port
		"--bind-address=127.0.0.1",
		"--cert-dir=" + certDir,
		"--client-ca-file=" + ca.File,
		"--lister-kubeconfig=" + apitest.UnreachableKubeconfig(t),
	}); err != nil {
		t.Fatal(err)
	}
	// Settings without a flag: out of a cluster, with no kubeconfig for
	// delegated authentication and authorization.
	adapter.Authentication.RemoteKubeConfigFileOptional = true
	adapter.Authentication.SkipInClusterLookup = true
	adapter.Authorization.RemoteKubeConfigFileOptional = true

	srv, err := api.NewExternalMetricsServer(externalFixture(t), adapter, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
	})

	// The server's certificate is the self-signed one written to --cert-dir.
	roots := apitest.ServingRoots(t, filepath.Join(certDir, "apiserver.crt"))
	newClient := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, ServerName: "localhost", Certificates: certs,
		}}}
	}
	admin := newClient(ca.ClientCert(t, "admin", "system:masters"))
	base := fmt.Sprintf("https://%s/apis/external.metrics.k8s.io/v1beta1", srv.Addr())
	get := func(c *http.Client, url string) (int, []byte) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	// Ready within a few seconds.
	deadline := time.Now().Add(10 * time.Second)
	url := base + "/namespaces/default/prescale_recommended_replicas?labelSelector=target%3Dweb"
	var code int
	var body []byte
	for {
		resp, err := admin.Get(url)
		if err == nil {
			code = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if code == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s %v", url, code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var list struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Items      []struct {
			MetricName   string            `json:"metricName"`
			MetricLabels map[string]string `json:"metricLabels"`
			Timestamp    time.Time         `json:"timestamp"`
			Value        string            `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if list.Kind != "ExternalMetricValueList" || list.APIVersion != "external.metrics.k8s.io/v1beta1" || len(list.Items) != 1 {
		t.Fatalf("answer %s", body)
	}
	if it := list.Items[0]; it.MetricName != api.MetricRecommendedReplicas || it.Value != "4" ||
		!reflect.DeepEqual(it.MetricLabels, map[string]string{"target": "web"}) || !it.Timestamp.Equal(testNow) {
		t.Errorf("item %+v, want prescale_recommended_replicas{target=web} = 4 at %v", it, testNow)
	}

	t.Run("forecast load in a namespace", func(t *testing.T) {
		code, body := get(admin, base+"/namespaces/shop/prescale_forecast_load?labelSelector=target%3Dcheckout")
		if code != http.StatusOK || !strings.Contains(string(body), `"value":"900"`) || !strings.Contains(string(body), `"namespace":"shop"`) {
			t.Errorf("%d %s", code, body)
		}
	})
	t.Run("unknown target is 404", func(t *testing.T) {
		code, body := get(admin, base+"/namespaces/default/prescale_recommended_replicas?labelSelector=target%3Dnope")
		if code != http.StatusNotFound || !strings.Contains(string(body), `"reason":"NotFound"`) {
			t.Errorf("%d %s", code, body)
		}
	})
	t.Run("discovery lists both metrics", func(t *testing.T) {
		code, body := get(admin, base)
		if code != http.StatusOK || !strings.Contains(string(body), `"name":"prescale_recommended_replicas"`) ||
			!strings.Contains(string(body), `"name":"prescale_forecast_load"`) {
			t.Errorf("%d %s", code, body)
		}
	})
	t.Run("a user outside system:masters is forbidden", func(t *testing.T) {
		for _, c := range []*http.Client{newClient(), newClient(ca.ClientCert(t, "someone", "developers"))} {
			if code, body := get(c, url); code != http.StatusForbidden {
				t.Errorf("%d %s, want 403", code, body)
			}
		}
	})
}

func TestNewExternalMetricsServerErrors(t *testing.T) {
	if _, err := api.NewExternalMetricsServer(apitest.NewBackend(), nil, nil); err == nil {
		t.Error("nil adapter accepted")
	}
	// Out of a cluster, without --lister-kubeconfig: a clear error, not
	// a panic, and the port is not left open.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	adapter := api.NewExternalMetricsAdapter()
	if err := adapter.FlagSet.Parse([]string{"--secure-port=0", "--bind-address=127.0.0.1", "--cert-dir=" + t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	_, err := api.NewExternalMetricsServer(apitest.NewBackend(), adapter, nil)
	if err == nil || !strings.Contains(err.Error(), "external metrics: ") || !strings.Contains(err.Error(), "in-cluster configuration") {
		t.Fatalf("error %v, want one about the missing in-cluster configuration", err)
	}
}

func TestExternalMetricsAdapterFlags(t *testing.T) {
	fs := api.NewExternalMetricsAdapter().FlagSet
	for _, name := range []string{
		"secure-port", "bind-address", "cert-dir", "tls-cert-file", "tls-private-key-file",
		"lister-kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig",
		"client-ca-file", "requestheader-client-ca-file", "requestheader-allowed-names",
	} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
	if f := fs.Lookup("secure-port"); f == nil || f.DefValue != "6443" {
		t.Errorf("--secure-port default %v, want 6443", f)
	}
}
