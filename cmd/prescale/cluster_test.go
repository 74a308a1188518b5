package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"

	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

type noSource struct{}

func (noSource) Range(context.Context, string, time.Time, time.Time, time.Duration) (*feed.Series, error) {
	return nil, errors.New("no data in this test")
}

// TestClusterWrites checks that with --cluster the API's writes of targets
// are refused with FailedPrecondition, saying how to declare them, while
// KEDA's registrations and updates go through.
func TestClusterWrites(t *testing.T) {
	reg, err := registry.New(noSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := clusterWrites{Backend: &readyBackend{Registry: reg}}
	tg := models.DefaultTarget()
	tg.Name, tg.Query, tg.CapacityPerReplica, tg.LeadTime = "web", "sum(rate(http_requests_total[5m]))", 20, 3*time.Minute

	refused := func(what string, err error) {
		t.Helper()
		if st, ok := status.FromError(err); !ok || st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "PredictiveAutoscaler") {
			t.Errorf("%s: %v, want FailedPrecondition saying to declare targets as PredictiveAutoscalers", what, err)
		}
	}
	_, err = b.Create(tg, registry.OriginAPI)
	refused("API create", err)
	if _, err := b.Create(tg, registry.OriginKEDA); err != nil {
		t.Fatalf("KEDA create: %v", err)
	}
	tg.MaxReplicas = 30
	if st, err := b.Update(tg); err != nil || st.Target.MaxReplicas != 30 {
		t.Errorf("KEDA update: %v, max %d", err, st.Target.MaxReplicas)
	}
	tg.Name = "absent"
	_, err = b.Update(tg)
	refused("update", err)
	refused("delete", b.Delete("web"))
	refused("delete for one request", b.Via(new(string)).Delete("web"))
	if _, err := b.Get("web"); err != nil {
		t.Errorf("web after a refused delete: %v", err)
	}

	// With replication, a target KEDA defines would be known to the
	// replicas KEDA called only: refused, saying what to do instead.
	replicated := clusterWrites{Backend: &readyBackend{Registry: reg}, replicated: true}
	tg.Name = "keda-defined"
	_, err = replicated.Via(new(string)).Create(tg, registry.OriginKEDA)
	if st, ok := status.FromError(err); !ok || st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), `metadata "target"`) {
		t.Errorf("KEDA create with replication: %v, want FailedPrecondition saying to name a declared target", err)
	}
	if _, err := replicated.Get("keda-defined"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("the refused KEDA target: %v, want it absent", err)
	}
}

// TestPeerTLS checks that replicas that serve gRPC over TLS call each
// other over TLS: the certificate checked against --cluster.ca-file for
// the first DNS name of the shared --tls.cert-file, with the bearer token
// of the replica's credentials; that a certificate of another CA is
// refused; and that a certificate with no DNS name needs
// --cluster.server-name.
func TestPeerTLS(t *testing.T) {
	ca := apitest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := apitest.WriteCert(t, dir, "serving", ca.ServingCert(t, "prescale.prescale-system.svc"))
	serving, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tokens := make(chan string, 1)
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&serving)),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			select {
			case tokens <- strings.Join(md.Get("authorization"), ","):
			default:
			}
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	call := func(dial []grpc.DialOption) error {
		conn, err := grpc.NewClient(ln.Addr().String(), dial...)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	dial, err := peerDialOptions(&rest.Config{BearerToken: "replica-token"}, &clusterOptions{caFile: ca.File}, certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(dial); err != nil {
		t.Fatalf("a replica calling another over TLS: %v", err)
	}
	if got := <-tokens; got != "Bearer replica-token" {
		t.Errorf("the call carried authorization %q, want the replica's bearer token", got)
	}

	other := apitest.NewCA(t)
	dial, err = peerDialOptions(nil, &clusterOptions{caFile: other.File}, certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(dial); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a replica whose certificate another CA signed: %v, want a certificate error", err)
	}

	ipCert, _ := apitest.WriteCert(t, dir, "ip", ca.ServingCert(t, "10.0.0.7"))
	if _, err := peerDialOptions(nil, &clusterOptions{caFile: ca.File}, ipCert); err == nil || !strings.Contains(err.Error(), "--cluster.server-name") {
		t.Errorf("a certificate with no DNS name: %v, want an error that says to set --cluster.server-name", err)
	}
	if _, err := peerDialOptions(nil, &clusterOptions{caFile: ca.File, serverName: "10.0.0.7"}, ipCert); err != nil {
		t.Errorf("a certificate with no DNS name and --cluster.server-name: %v", err)
	}
	if _, err := peerDialOptions(nil, &clusterOptions{caFile: certFile + ".missing"}, certFile); err == nil || !strings.Contains(err.Error(), "--cluster.ca-file") {
		t.Errorf("a missing CA file: %v, want an error naming --cluster.ca-file", err)
	}
}
