package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/prescale/prescale/api/apitest"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// TestServeAuth runs serve with TLS on REST and gRPC and client
// certificates as identities, outside a cluster: reads stay open, a write
// without an identity is 401 / Unauthenticated, one with a certificate of
// the client CA is allowed (no Kubernetes API to ask about permissions)
// and audited, and a new serving certificate is picked up without a
// restart. The 403 of an identity without RBAC is tested against a real
// kube-apiserver in test/e2e, and with a fake authorizer in api.
func TestServeAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prescale")
	}
	dir := t.TempDir()
	ca := apitest.NewCA(t)
	certFile, keyFile := apitest.WriteCert(t, dir, "serving", ca.ServingCert(t, "127.0.0.1"))
	anonymous := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	p := startServe(t, serveProcOptions{TLS: anonymous, Args: []string{
		"--tls.cert-file", certFile, "--tls.key-file", keyFile, "--tls.client-ca-file", ca.File,
	}})
	if l := p.FindLog(func(l logLine) bool { return l.Msg() == "listening" }); l["tls"] != true || l["auth"] != "kubernetes" {
		t.Errorf("listening line %v, want tls=true auth=kubernetes", l)
	}
	if p.FindLog(func(l logLine) bool {
		return strings.Contains(l.Msg(), "every client certificate of --tls.client-ca-file may do everything")
	}) == nil {
		t.Errorf("no warning that certificates are allowed everything without a Kubernetes API:\n%s", p.LogTail())
	}

	if code, body := p.Get("/v1/targets/demo"); code != http.StatusOK {
		t.Errorf("anonymous GET over HTTPS: %d %s, want 200", code, body)
	}
	spec := []byte(`{"name":"alice-target","query":"up","capacityPerReplica":10,"leadTime":"1m"}`)
	if code, body := p.Do(http.MethodPost, "/v1/targets", spec); code != http.StatusUnauthorized {
		t.Errorf("anonymous POST: %d %s, want 401", code, body)
	}
	anon := prescalev1.NewPrescaleServiceClient(p.Conn())
	if _, err := anon.DeleteTarget(rpcContext(t), &prescalev1.DeleteTargetRequest{Name: "demo"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("anonymous gRPC DeleteTarget: %v, want Unauthenticated", err)
	}

	alice := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.ClientCert(t, "alice", "platform")}, MinVersion: tls.VersionTLS12}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: alice}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(p.URL+"/v1/targets", "application/json", bytes.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("alice's POST with her client certificate: %s, want 200", resp.Status)
	}
	cc, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(alice)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := prescalev1.NewPrescaleServiceClient(cc).DeleteTarget(rpcContext(t), &prescalev1.DeleteTargetRequest{Name: "alice-target"}); err != nil {
		t.Errorf("alice's gRPC DeleteTarget: %v", err)
	}

	// KEDA's external scaler with its documented TLS options: caCert,
	// tlsClientCert and tlsClientKey are PEM texts, made into a client
	// configuration as KEDA's util.NewTLSConfig does.
	named := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "shop", ScalerMetadata: map[string]string{"target": "demo"}}
	if _, err := externalscaler.NewExternalScalerClient(p.Conn()).GetMetricSpec(rpcContext(t), named); err != nil {
		t.Errorf("KEDA's GetMetricSpec naming a target, without a client certificate (a read): %v", err)
	}
	ref := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "shop", ScalerMetadata: map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "1m"}}
	if _, err := externalscaler.NewExternalScalerClient(p.Conn()).GetMetricSpec(rpcContext(t), ref); status.Code(err) != codes.Unauthenticated {
		t.Errorf("KEDA's GetMetricSpec defining a target, without a client certificate: %v, want Unauthenticated", err)
	}
	kedaCert := ca.ClientCert(t, "keda-operator")
	kedaCertFile, kedaKeyFile := apitest.WriteCert(t, dir, "keda", kedaCert)
	caPEM, _ := os.ReadFile(ca.File)
	certPEM, _ := os.ReadFile(kedaCertFile)
	keyPEM, _ := os.ReadFile(kedaKeyFile)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	kedaConn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer kedaConn.Close()
	if _, err := externalscaler.NewExternalScalerClient(kedaConn).GetMetricSpec(rpcContext(t), ref); err != nil {
		t.Errorf("KEDA's GetMetricSpec with its client certificate: %v", err)
	}

	var audits []logLine
	for _, l := range p.LogLines() {
		if l.Msg() == "audit" {
			audits = append(audits, l)
		}
	}
	if len(audits) != 3 || audits[0]["user"] != "alice" || audits[0]["action"] != "create" || audits[0]["via"] != "rest" ||
		audits[1]["action"] != "delete" || audits[1]["via"] != "grpc" || !strings.Contains(audits[1]["before"].(string), `"alice-target"`) ||
		audits[2]["user"] != "keda-operator" || audits[2]["via"] != "keda" || audits[2]["target"] != "shop-web" {
		t.Errorf("audit lines %v, want alice's create over rest and delete over grpc, and keda-operator's registration", audits)
	}

	// A renewed certificate is served without a restart.
	renewed := ca.ServingCert(t, "127.0.0.1")
	apitest.WriteCert(t, dir, "serving", renewed)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(p.URL, "https://"), anonymous)
		if err == nil {
			served := conn.ConnectionState().PeerCertificates[0].Raw
			conn.Close()
			if bytes.Equal(served, renewed.Certificate[0]) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed serving certificate is not served 30s after it was written (last dial: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
