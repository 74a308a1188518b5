package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/cluster"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// clusterOptions are the flags of --cluster: several replicas of serve.
type clusterOptions struct {
	enabled       bool
	kubeconfig    string
	namespace     string
	member        string
	name          string
	leaseDuration time.Duration
	replication   int
	address       string
	caFile        string
	serverName    string
}

func (c *clusterOptions) bind(fs *flag.FlagSet) {
	fs.BoolVar(&c.enabled, "cluster", false, "run as one of several replicas: they find each other through coordination Leases in --cluster.namespace; "+
		"every replica serves every target, and one, chosen by rendezvous hashing of the target's name over the live replicas, writes each PredictiveAutoscaler's HPA, status and Events. "+
		"Targets are then declared in --config, as PredictiveAutoscalers or by KEDA; the REST and gRPC API cannot create, change or delete them (each replica would hold its own)")
	fs.StringVar(&c.kubeconfig, "cluster.kubeconfig", "", "kubeconfig of the Kubernetes API holding the Leases; default: the in-cluster config")
	fs.StringVar(&c.namespace, "cluster.namespace", "", "namespace of the replicas' Leases (default: $POD_NAMESPACE, else the pod's service account namespace)")
	fs.StringVar(&c.member, "cluster.member", "", "this replica's name, unique among the replicas (default: $POD_NAME, else the host name)")
	fs.StringVar(&c.name, "cluster.name", "prescale", "the replicas' group: Leases labelled with another are not members (for several installations in one namespace)")
	fs.IntVar(&c.replication, "cluster.replication", 0, "how many replicas hold each target: fit it, stream its points and answer for it (the first of them by rendezvous hashing writes its PredictiveAutoscaler); the others forward its reads to them over gRPC. 0: every replica holds every target")
	fs.StringVar(&c.address, "cluster.address", "", "where the other replicas reach this one's gRPC API, host:port, with --cluster.replication (default: $POD_IP and the port of --grpc.addr)")
	fs.StringVar(&c.caFile, "cluster.ca-file", "", "CA bundle (PEM) that verifies the other replicas' certificates when they serve gRPC over TLS (--tls.cert-file) and hold targets for each other (--cluster.replication); read at start")
	fs.StringVar(&c.serverName, "cluster.server-name", "", "the name the other replicas' certificates are checked for, with --cluster.ca-file (default: the first DNS name of --tls.cert-file, as the replicas share one certificate)")
	durationVar(fs, &c.leaseDuration, "cluster.lease-duration", cluster.DefaultLeaseDuration, "`duration` a replica counts as live after its last renewal (renewed three times in it): the longest a killed replica's PredictiveAutoscalers wait for another to write them")
}

func (c *clusterOptions) check(grpcAddr string, tls bool) error {
	switch {
	case !c.enabled && (c.kubeconfig != "" || c.namespace != "" || c.member != "" || c.name != "prescale" ||
		c.leaseDuration != cluster.DefaultLeaseDuration || c.replication != 0 || c.address != "" || c.caFile != "" || c.serverName != ""):
		return fmt.Errorf("%w: the --cluster.* flags need --cluster", errUsage)
	case c.leaseDuration < time.Second:
		return fmt.Errorf("%w: --cluster.lease-duration %v: want at least 1s", errUsage, c.leaseDuration)
	case c.replication < 0:
		return fmt.Errorf("%w: --cluster.replication %d: want 0 (every replica holds every target) or more", errUsage, c.replication)
	case c.replication > 0 && tls && c.caFile == "":
		return fmt.Errorf("%w: --cluster.replication with --tls.cert-file needs --cluster.ca-file: the CA bundle that verifies the other replicas' certificates", errUsage)
	case (c.caFile != "" || c.serverName != "") && !(tls && c.replication > 0):
		return fmt.Errorf("%w: --cluster.ca-file and --cluster.server-name are for replicas that call each other over TLS: they need --cluster.replication and --tls.cert-file", errUsage)
	}
	if c.address != "" {
		if _, _, err := net.SplitHostPort(c.address); err != nil {
			return fmt.Errorf("%w: --cluster.address %q: want host:port: %v", errUsage, c.address, err)
		}
	}
	if c.replication > 0 && c.address == "" {
		ip := os.Getenv("POD_IP")
		_, port, err := net.SplitHostPort(grpcAddr)
		if ip == "" || err != nil {
			return fmt.Errorf("%w: --cluster.replication needs --cluster.address (or $POD_IP and a port in --grpc.addr): where the others reach this replica", errUsage)
		}
		c.address = net.JoinHostPort(ip, port)
	}
	return nil
}

// serviceAccountNamespace is where Kubernetes writes the pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// newMembership builds the membership of --cluster, or returns nil
// without it. inCluster means the in-cluster configuration is available.
func newMembership(log *slog.Logger, o *clusterOptions, inCluster bool, joinWhen func() bool) (*cluster.Membership, *rest.Config, error) {
	if !o.enabled {
		return nil, nil, nil
	}
	cfg, err := kubeConfig("--cluster.kubeconfig", o.kubeconfig, inCluster)
	if err != nil {
		return nil, nil, err
	}
	if cfg == nil {
		return nil, nil, fmt.Errorf("%w: --cluster outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs --cluster.kubeconfig", errUsage)
	}
	cfg.UserAgent = "prescale-cluster"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("--cluster: %w", err)
	}
	ns := o.namespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		raw, err := os.ReadFile(serviceAccountNamespace)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --cluster needs --cluster.namespace or $POD_NAMESPACE (no service account namespace: %v)", errUsage, err)
		}
		ns = strings.TrimSpace(string(raw))
	}
	member := o.member
	if member == "" {
		member = os.Getenv("POD_NAME")
	}
	if member == "" {
		if member, err = os.Hostname(); err != nil {
			return nil, nil, fmt.Errorf("%w: --cluster needs --cluster.member or $POD_NAME: %v", errUsage, err)
		}
	}
	m, err := cluster.New(kube, ns, member, &cluster.Options{
		Cluster: o.name, LeaseDuration: o.leaseDuration, Address: o.address, JoinWhen: joinWhen,
		Logger: log.With("component", "cluster"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --cluster: %v", errUsage, err)
	}
	return m, cfg, nil
}

// peerDialOptions are how this replica calls the others' gRPC API: over
// TLS when they serve it (certFile, --tls.cert-file), checking their
// certificates against --cluster.ca-file for --cluster.server-name (by
// default the first DNS name of certFile: the replicas share one
// certificate), else in plaintext; with the bearer token of its
// Kubernetes credentials when it has one, so that a replica whose reads
// need an identity (--auth.anonymous-reads=false) admits it.
func peerDialOptions(cfg *rest.Config, c *clusterOptions, certFile string) ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	if certFile != "" {
		tc, err := peerTLS(c.caFile, c.serverName, certFile)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if cfg != nil && (cfg.BearerToken != "" || cfg.BearerTokenFile != "") {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken{cfg.BearerToken, cfg.BearerTokenFile}))
	}
	return opts, nil
}

// peerTLS is the TLS configuration that checks the other replicas'
// certificates: against the CA bundle in caFile, for serverName or else
// the first DNS name of the certificate in certFile.
func peerTLS(caFile, serverName, certFile string) (*tls.Config, error) {
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--cluster.ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("--cluster.ca-file %s: no PEM certificate in it", caFile)
	}
	if serverName == "" {
		raw, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("--tls.cert-file: %w", err)
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, fmt.Errorf("--tls.cert-file %s: no PEM certificate in it", certFile)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--tls.cert-file %s: %w", certFile, err)
		}
		if len(cert.DNSNames) == 0 {
			return nil, fmt.Errorf("%w: --tls.cert-file %s names no DNS name for the replicas to check each other for: set --cluster.server-name", errUsage, certFile)
		}
		serverName = cert.DNSNames[0]
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// bearerToken sends a token, read again from its file at every call (a
// projected ServiceAccount token rotates).
type bearerToken struct{ token, file string }

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token := b.token
	if b.file != "" {
		raw, err := os.ReadFile(b.file)
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(raw))
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity is false: without --tls.cert-file the replicas'
// gRPC is plaintext inside the cluster network, as every client's is.
func (bearerToken) RequireTransportSecurity() bool { return false }

// warm says when a replica may join: its targets registered (the config
// file, the controller's first pass over the resources) and every target
// it holds fitted once or failed, or joinWait after it was ready.
func warm(log *slog.Logger, b *readyBackend) func() bool {
	var readySince time.Time
	return func() bool {
		if !b.Registry.Ready() || (b.controller != nil && !b.controller.Synced()) {
			return false
		}
		if readySince.IsZero() {
			readySince = time.Now()
		}
		unfitted := 0
		for _, st := range b.Registry.List() {
			if st.Held && st.ModelKind == "" && st.FitErrors == 0 {
				unfitted++
			}
		}
		if unfitted > 0 && time.Since(readySince) > joinWait {
			log.Warn("joining the cluster with targets still unfitted", "unfitted", unfitted, "waited", joinWait)
			return true
		}
		return unfitted == 0
	}
}

// apiBackend is what the APIs answer from: the registry, or with
// --cluster the registry refusing API writes, saying which replica
// answered (api.ServedByHeader) and, with --cluster.replication, asking
// the other replicas for the targets they hold (the forwarder, nil
// otherwise); the external metrics API, KEDA and the web pages too. It
// adds the membership's metrics to reg.
func apiBackend(log *slog.Logger, o *serveOptions, targets *readyBackend, kubeCfg *rest.Config, reg prometheus.Registerer) (api.Backend, *cluster.Forwarder, error) {
	m := targets.members
	if m == nil {
		return targets, nil, nil
	}
	if err := registerClusterMetrics(m, reg); err != nil {
		return nil, nil, err
	}
	// Without replication every replica holds every target: the
	// Forwarder then answers each read here, and says so.
	var dial []grpc.DialOption // the others are called with replication only
	if o.cluster.replication > 0 {
		var err error
		if dial, err = peerDialOptions(kubeCfg, &o.cluster, o.auth.certFile); err != nil {
			return nil, nil, err
		}
	}
	fw := cluster.NewForwarder(targets, m, o.cluster.replication, &cluster.ForwarderOptions{
		DialOptions: dial, Logger: log.With("component", "cluster"),
	})
	var forwarder *cluster.Forwarder
	if o.cluster.replication > 0 {
		forwarder = fw
	}
	return clusterWrites{fw, o.cluster.replication > 0}, forwarder, nil
}

// registerClusterMetrics adds the membership's metrics to reg.
func registerClusterMetrics(m *cluster.Membership, reg prometheus.Registerer) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "prescale_cluster_members",
		Help: "Live replicas of this prescale cluster as this one sees them (--cluster): 0 until its own Lease is written.",
	}, func() float64 { return float64(len(m.Members())) }))
}

// joinWait is the longest a replica waits for its first fits before it
// joins the cluster anyway: fits that keep failing (Prometheus down) must
// not keep it from writing the HPAs of new PredictiveAutoscalers. Until it
// joins it owns no PredictiveAutoscaler, so a new replica of a rollout
// does not take over statuses while it has no models to report, and it
// is not ready (the Service keeps sending requests to the others).
const joinWait = 2 * time.Minute

// clusterWrites refuses the REST and gRPC writes of targets with
// --cluster: each replica would hold its own copy of them. KEDA's
// registrations go through, as every replica gets them, unless replicated
// (--cluster.replication): a target known only to the replicas KEDA
// called could not be held by the others.
type clusterWrites struct {
	api.Backend
	replicated bool
}

// Via is the Router's, writes still refused.
func (b clusterWrites) Via(by *string) api.Backend {
	if r, ok := b.Backend.(api.Router); ok {
		return clusterWrites{r.Via(by), b.replicated}
	}
	return b
}

func errClustered(op string) error {
	return status.Errorf(codes.FailedPrecondition, "%s: prescale runs as several replicas (--cluster): declare targets in the config file or as PredictiveAutoscaler resources", op)
}

// errReplicatedKEDA refuses a KEDA definition of a target with
// --cluster.replication.
var errReplicatedKEDA = status.Error(codes.FailedPrecondition,
	"KEDA metadata defines a target, but prescale holds each target on some replicas only (--cluster.replication), "+
		"and KEDA calls one of them: declare the target in the config file or as a PredictiveAutoscaler and name it with the metadata \"target\", "+
		"or run with --cluster.replication=0")

func (b clusterWrites) Create(t models.Target, origin string) (registry.TargetStatus, error) {
	switch {
	case origin == registry.OriginAPI:
		return registry.TargetStatus{}, errClustered("create")
	case origin == registry.OriginKEDA && b.replicated:
		return registry.TargetStatus{}, errReplicatedKEDA
	}
	return b.Backend.Create(t, origin)
}

func (b clusterWrites) Update(t models.Target) (registry.TargetStatus, error) {
	if st, err := b.Get(t.Name); err == nil && st.Origin == registry.OriginKEDA {
		return b.Backend.Update(t)
	}
	return registry.TargetStatus{}, errClustered("update")
}

func (b clusterWrites) Delete(name string) error { return errClustered("delete") }
