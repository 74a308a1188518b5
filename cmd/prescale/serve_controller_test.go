package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeControllerFlags: --controller and --cluster without what they
// need are clear errors, not a panic or a controller that never syncs.
// (Both run against a real control plane in test/e2e.)
func TestServeControllerFlags(t *testing.T) {
	bin, err := raceBinary()
	if err != nil {
		t.Fatal(err)
	}
	outsideCluster(t)
	missing := filepath.Join(t.TempDir(), "absent.kubeconfig")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"demo", []string{"--controller"}, 2, "--controller needs --prometheus.url"},
		{"no kubeconfig", []string{"--controller", "--prometheus.url", "http://127.0.0.1:1"}, 2,
			"--controller outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs --controller.kubeconfig"},
		{"unreadable kubeconfig", []string{"--controller", "--controller.kubeconfig", missing, "--prometheus.url", "http://127.0.0.1:1"}, 1,
			"--controller.kubeconfig: stat " + missing},
		{"namespace without the controller", []string{"--controller.namespace", "shop", "--prometheus.url", "http://127.0.0.1:1"}, 2,
			"--controller.kubeconfig and --controller.namespace need --controller"},
		{"status interval", []string{"--controller", "--controller.status-interval", "0s", "--prometheus.url", "http://127.0.0.1:1"}, 2,
			"--controller.status-interval 0s: want a positive duration"},
		{"cluster flags without --cluster", []string{"--cluster.namespace", "shop"}, 2, "the --cluster.* flags need --cluster"},
		{"cluster lease under a second", []string{"--cluster", "--cluster.lease-duration", "500ms"}, 2, "--cluster.lease-duration 500ms: want at least 1s"},
		{"cluster without kubeconfig", []string{"--cluster"}, 2,
			"--cluster outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs --cluster.kubeconfig"},
		{"cluster replication negative", []string{"--cluster", "--cluster.replication", "-1"}, 2, "--cluster.replication -1: want 0"},
		{"cluster replication without an address", []string{"--cluster", "--cluster.replication", "2"}, 2, "--cluster.replication needs --cluster.address"},
		{"cluster address not host:port", []string{"--cluster", "--cluster.address", "10.0.0.1"}, 2, `--cluster.address "10.0.0.1": want host:port`},
		{"cluster replication over TLS without a CA", []string{"--cluster", "--cluster.replication", "2", "--tls.cert-file", "c.pem", "--tls.key-file", "k.pem"}, 2,
			"--cluster.replication with --tls.cert-file needs --cluster.ca-file"},
		{"cluster CA without TLS", []string{"--cluster", "--cluster.replication", "2", "--cluster.ca-file", "ca.pem"}, 2,
			"--cluster.ca-file and --cluster.server-name are for replicas that call each other over TLS"},
		{"cluster server name without a CA", []string{"--cluster", "--cluster.replication", "2", "--tls.cert-file", "c.pem", "--tls.key-file", "k.pem", "--cluster.server-name", "prescale"}, 2,
			"needs --cluster.ca-file"},
		{"cluster member not a name", []string{"--cluster", "--cluster.kubeconfig", kubeconfig, "--cluster.namespace", "shop", "--cluster.member", "Prescale_0"}, 2,
			`replica name "Prescale_0" does not make a Lease name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := append([]string{"serve", "--http.addr", "127.0.0.1:0", "--grpc.addr", "127.0.0.1:0"}, tt.args...)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
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
