package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/prescale/prescale/api/apitest"
)

// outsideCluster makes the environment of this test, and of the processes
// it starts, one outside a Kubernetes cluster, even when the tests run in
// a pod: the in-cluster configuration needs both variables non-empty.
func outsideCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
}

func TestServeExternalMetricsUsage(t *testing.T) {
	outsideCluster(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no kubeconfig outside a cluster", []string{"--external-metrics"},
			"--external-metrics outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs a kubeconfig for the lister, " +
				"and for delegated authentication and authorization: missing --lister-kubeconfig, --authentication-kubeconfig, --authorization-kubeconfig"},
		{"one kubeconfig missing", []string{"--external-metrics", "--lister-kubeconfig=kc", "--authorization-kubeconfig", "kc"},
			"missing --authentication-kubeconfig"},
		{"adapter flag without --external-metrics", []string{"--secure-port", "7443", "--cert-dir", "/tmp/x"},
			"--cert-dir is a flag of the external metrics API: add --external-metrics"},
		{"adapter boolean without --external-metrics", []string{"--authentication-skip-lookup"},
			"--authentication-skip-lookup is a flag of the external metrics API: add --external-metrics"},
		{"bad port", []string{"--external-metrics", "--secure-port", "https"}, `invalid value "https" for flag -secure-port`},
		{"bad address", []string{"--external-metrics", "--bind-address", "localhost"}, `invalid value "localhost" for flag -bind-address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"serve"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "panic") {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestServeHelpListsExternalMetrics(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", "-h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"\n  -external-metrics\n",
		"\n  -secure-port int\n", "(default 6443)",
		"\n  -bind-address ip\n", "\n  -cert-dir string\n", "\n  -tls-cert-file string\n", "\n  -tls-private-key-file string\n",
		"\n  -lister-kubeconfig string\n", "\n  -authentication-kubeconfig string\n", "\n  -authorization-kubeconfig string\n",
		"\n  -authentication-skip-lookup\n", "\n  -client-ca-file string\n",
		"\n  -requestheader-client-ca-file string\n", "\n  -requestheader-allowed-names strings\n",
		"external metrics API (int): The port on which to serve the external metrics API over HTTPS",
		"\n  -http.addr string\n", // serve's own flags are still there
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	// prescale's own flags first, the adapter's in their own section.
	section := strings.Index(stderr, "\nFlags of the external metrics API")
	if own, theirs := strings.Index(stderr, "\n  -http.addr string\n"), strings.Index(stderr, "\n  -secure-port int\n"); section < 0 || own > section || theirs < section {
		t.Errorf("serve -h: -http.addr at %d, the external metrics API's section at %d, -secure-port at %d; want them in that order", own, section, theirs)
	}
	for _, bad := range []string{"panic", "(default [])", "(default false)"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("serve -h shows %q:\n%s", bad, stderr)
		}
	}
}

// TestServeExternalMetricsFails runs the binary with the external metrics
// API unable to start: it exits with a clear error, not a panic.
func TestServeExternalMetricsFails(t *testing.T) {
	bin, err := raceBinary()
	if err != nil {
		t.Fatal(err)
	}
	outsideCluster(t)
	missing := filepath.Join(t.TempDir(), "absent.kubeconfig")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no kubeconfig", nil, 2, "--external-metrics outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs a kubeconfig"},
		{"unreadable kubeconfig", []string{"--lister-kubeconfig", missing, "--authentication-kubeconfig", missing, "--authorization-kubeconfig", missing},
			1, "prescale serve: external metrics: unable to construct lister client config to initialize provider: stat " + missing},
		{"port in use", []string{"--lister-kubeconfig", apitest.UnreachableKubeconfig(t), "--authentication-kubeconfig", apitest.UnreachableKubeconfig(t),
			"--authorization-kubeconfig", apitest.UnreachableKubeconfig(t), "--authentication-skip-lookup", "--client-ca-file", apitest.NewCA(t).File,
			"--secure-port", "PORT"}, 1, "prescale serve: external metrics: failed to create listener"},
	}
	// A port that is taken.
	busy, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := []string{"serve", "--http.addr", "127.0.0.1:0", "--grpc.addr", "127.0.0.1:0", "--external-metrics",
				"--bind-address", "127.0.0.1", "--cert-dir", filepath.Join(t.TempDir(), "certs")}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "PORT", busyPort))
			}
			cmd := exec.CommandContext(ctx, bin, args...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Fatalf("prescale %s: %v, want exit status %d\n%s", strings.Join(args, " "), err, tt.code, out)
			}
			if !strings.Contains(string(out), tt.want) || strings.Contains(string(out), "panic") {
				t.Errorf("output lacks %q (or has a panic):\n%s", tt.want, out)
			}
		})
	}
}

// TestServeExternalMetrics serves the built-in demo over the external
// metrics API from the built binary, without a cluster: clients
// authenticated by certificate (--client-ca-file), system:masters
// allowed without a SubjectAccessReview, kubeconfigs never dialled.
func TestServeExternalMetrics(t *testing.T) {
	outsideCluster(t)
	ca := apitest.NewCA(t)
	kubeconfig := apitest.UnreachableKubeconfig(t)
	certDir := filepath.Join(t.TempDir(), "certs")
	p := startServe(t, serveProcOptions{Args: []string{
		"--external-metrics",
		"--secure-port=0",
		"--bind-address=127.0.0.1",
		"--cert-dir", certDir,
		"--client-ca-file", ca.File,
		"--authentication-skip-lookup",
		"--lister-kubeconfig", kubeconfig,
		"--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig,
	}})
	p.WaitModels(60 * time.Second)

	listening := p.FindLog(func(l logLine) bool { return l.Msg() == "listening" })
	addr, _ := listening["external_metrics"].(string)
	if addr == "" {
		t.Fatalf("the listening line has no external_metrics address: %v", listening)
	}
	// The adapter logs through serve's logger.
	p.WaitLog(10*time.Second, "the adapter serving", func(l logLine) bool {
		return l["component"] == "external-metrics" && strings.HasPrefix(l.Msg(), "Serving securely on "+addr)
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      apitest.ServingRoots(t, filepath.Join(certDir, "apiserver.crt")),
		ServerName:   "localhost",
		Certificates: []tls.Certificate{ca.ClientCert(t, "hpa", "system:masters")},
	}}}
	defer client.CloseIdleConnections()
	base := "https://" + addr + "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"
	type item struct {
		MetricName   string            `json:"metricName"`
		MetricLabels map[string]string `json:"metricLabels"`
		Value        resource.Quantity `json:"value"`
	}
	get := func(metric, selector string) (int, []item, string) {
		t.Helper()
		resp, err := client.Get(base + metric + "?labelSelector=" + selector)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Items []item `json:"items"`
		}
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatalf("%s: %v", metric, err)
		}
		_ = json.Unmarshal(raw, &list)
		return resp.StatusCode, list.Items, string(raw)
	}

	// The demo target has a capacity of 50 per replica and at most 50
	// replicas: the replicas are the load's, unless the minute turned
	// between the two requests.
	demo := demoTarget()
	var checked bool
	for attempt := 0; attempt < 3 && !checked; attempt++ {
		code, reps, body := get("prescale_recommended_replicas", "target%3Ddemo")
		if code != http.StatusOK || len(reps) != 1 || reps[0].MetricLabels["target"] != "demo" || len(reps[0].MetricLabels) != 1 {
			t.Fatalf("replicas: %d %s", code, body)
		}
		code, loads, body := get("prescale_forecast_load", "target%3Ddemo")
		if code != http.StatusOK || len(loads) != 1 {
			t.Fatalf("load: %d %s", code, body)
		}
		replicas, load := reps[0].Value.Value(), loads[0].Value.AsApproximateFloat64()
		want := min(max(int64(math.Ceil(load/demo.CapacityPerReplica-1e-9)), int64(demo.MinReplicas)), int64(demo.MaxReplicas))
		t.Logf("demo: %d replicas for a load of %v", replicas, load)
		checked = replicas == want && replicas >= 1
	}
	if !checked {
		t.Errorf("the replicas never matched the load over 50 per replica")
	}
	if code, _, body := get("prescale_recommended_replicas", "target%3Dnope"); code != http.StatusNotFound {
		t.Errorf("unknown target: %d %s, want 404", code, body)
	}
	// Each request is counted by metric and code, and timed.
	_, metrics := p.Get("/metrics")
	for _, want := range []string{
		`prescale_external_metrics_requests_total{code="200",metric="prescale_recommended_replicas"}`,
		`prescale_external_metrics_requests_total{code="200",metric="prescale_forecast_load"}`,
		`prescale_external_metrics_requests_total{code="404",metric="prescale_recommended_replicas"} 1`,
		`prescale_external_metrics_request_duration_seconds_count{metric="prescale_recommended_replicas"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "prescale_external_metrics"))
		}
	}
	p.Stop()
	if l := p.FindLog(func(l logLine) bool { return l.Msg() == "stopped" }); l == nil {
		t.Errorf("no clean stop:\n%s", p.LogTail())
	}
}
