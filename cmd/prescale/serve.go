package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"

	"k8s.io/client-go/rest"

	"github.com/prescale/prescale/api"
	peerv1 "github.com/prescale/prescale/api/prescale/peer/v1"
	"github.com/prescale/prescale/cluster"
	"github.com/prescale/prescale/controller"
	"github.com/prescale/prescale/feed/demo"
	promfeed "github.com/prescale/prescale/feed/prometheus"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/config"
	"github.com/prescale/prescale/models/registry"
	"github.com/prescale/prescale/models/snapshot"
)

// shutdownGrace bounds the graceful stop of the listeners.
const shutdownGrace = 10 * time.Second

// readyPoll is how often serve checks whether the registry became ready.
const readyPoll = 200 * time.Millisecond

// demoTarget is the target of the built-in simulated workload: requests
// per second with a daily and a weekly cycle, served by replicas of 50
// requests per second each that take 3 minutes to help.
func demoTarget() models.Target {
	t := models.DefaultTarget()
	t.Name = "demo"
	t.Query = demo.Query
	t.CapacityPerReplica = 50
	t.LeadTime = 3 * time.Minute
	t.Margin = time.Minute
	t.MaxReplicas = 50
	t.History = 21 * 24 * time.Hour // three weeks, so the weekly season can be validated
	t.Seasons = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}
	return t
}

// serveOptions are the parsed flags of serve.
type serveOptions struct {
	config        string
	watchInterval time.Duration
	promURL       string
	promTimeout   time.Duration
	promHTTP      string
	dataDir       string
	httpAddr      string
	grpcAddr      string
	workers       int
	maxTargets    int
	staleAfter    time.Duration
	snapshotEvery time.Duration
	logLevel      string
	logFormat     string
	// externalMetrics serves external.metrics.k8s.io with the adapter's
	// settings, which its flags set.
	externalMetrics bool
	// auth is who may call REST and gRPC, and their TLS.
	auth authOptions
	// resources is the PredictiveAutoscaler controller's settings.
	resources resourceOptions
	// cluster is how this replica finds the others.
	cluster clusterOptions
}

func runServe(ctx context.Context, e *env, args []string) error {
	o, adapter, log, err := parseServeFlags(e, args)
	if err != nil {
		return err
	}

	// SIGHUP would end the process by default; catch it before anything
	// else so a reload sent during start-up is not fatal.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	src, closeSource, err := newServeSource(log, o)
	if err != nil {
		return err
	}
	defer closeSource()
	// The membership comes first: which targets this replica holds shapes
	// the registry, and it joins once the registry is warm.
	inCluster := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	backend := &readyBackend{}
	members, kubeCfg, err := newMembership(log, &o.cluster, inCluster, func() bool { return backend.Registry != nil && backend.warm() })
	if err != nil {
		return err
	}
	var owns, holds func(string) bool
	if members != nil {
		owns = members.Owns
		if r := o.cluster.replication; r > 0 {
			holds = func(name string) bool { return members.Holds(name, r) }
		}
	}
	targets, err := newServeRegistry(log, o, src, holds)
	if err != nil {
		return err
	}
	ctl, err := newResourceController(log, &o.resources, targets, inCluster, owns)
	if err != nil {
		return err
	}
	backend.Registry, backend.controller, backend.members = targets, ctl, members
	if ctl != nil {
		targets.SetWorkloads(ctl.CurrentReplicas) // beside each recommendation change
	}
	backend.warm = warm(log, backend)
	if members != nil {
		if holds != nil {
			members.OnChange(targets.Rebalance)
		}
		if ctl != nil {
			members.OnChange(ctl.Requeue)
		}
	}
	s, err := newServers(ctx, log, o, backend, kubeCfg, adapter, queryChecker(o, src))
	if err != nil {
		return err
	}
	s.resources, s.members = ctl, members
	return s.run(ctx, log, o, targets, hup)
}

// parseServeFlags parses and checks serve's flags, and builds its logger.
// The external metrics adapter holds the values of its own flags.
func parseServeFlags(e *env, args []string) (*serveOptions, *basecmd.AdapterBase, *slog.Logger, error) {
	fs := newFlagSet("serve", "serve [--config FILE --prometheus.url URL] [flags]", e.stderr)
	var o serveOptions
	fs.StringVar(&o.config, "config", "", "YAML file of targets (reloaded on SIGHUP and when it changes); without it and without --prometheus.url, serve runs the built-in demo workload")
	durationVar(fs, &o.watchInterval, "config.watch-interval", 5*time.Second, "`duration` between checks of --config for changes (0 reloads only on SIGHUP)")
	fs.StringVar(&o.promURL, "prometheus.url", "", "Prometheus server the targets' queries run on (e.g. http://prometheus:9090)")
	durationVar(fs, &o.promTimeout, "prometheus.timeout", 0, "timeout of one Prometheus request, a `duration` (default 2m)")
	fs.StringVar(&o.promHTTP, "prometheus.http-config", "", "a YAML file of Prometheus http_config settings (bearer token, basic auth, TLS, headers)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of model snapshots, so a restart serves at once, and of the targets created through the API or by KEDA, written before each change is acknowledged (default: none, a restart refits from scratch and forgets those targets)")
	fs.StringVar(&o.httpAddr, "http.addr", ":8080", "listen address of REST (/v1/), OpenAPI (/openapi.json), /metrics, /healthz, /readyz and the web pages (/, /targets/{name})")
	fs.StringVar(&o.grpcAddr, "grpc.addr", ":9000", "listen address of the gRPC API and the KEDA external scaler")
	fs.IntVar(&o.workers, "workers", 2, "models fitted at the same time")
	fs.IntVar(&o.maxTargets, "max-targets", 1000, "targets served at most: a create beyond it (REST, gRPC, KEDA) is refused with 429 / ResourceExhausted, a --config declaring more is invalid")
	durationVar(fs, &o.staleAfter, "stale-after", 0, "data older than this `duration` is stale and the last good recommendation is held (default: two steps plus 30s)")
	durationVar(fs, &o.snapshotEvery, "snapshot.interval", 5*time.Minute, "`duration` between saves of each target's state between fits, with --data-dir")
	fs.StringVar(&o.logLevel, "log.level", "info", "log level: debug|info|warn|error")
	fs.StringVar(&o.logFormat, "log.format", "text", "log format: text|json")
	o.auth.bind(fs)
	o.resources.bind(fs)
	o.cluster.bind(fs)
	fs.BoolVar(&o.externalMetrics, "external-metrics", false, "serve the Kubernetes external metrics API (external.metrics.k8s.io/v1beta1: prescale_recommended_replicas, prescale_forecast_load) over HTTPS on --secure-port, with the flags marked \"external metrics API\"")
	// The adapter's settings exist to hold its flags; its server is built
	// only with --external-metrics.
	adapter := api.NewExternalMetricsAdapter()
	adapterFlags := bindAdapterFlags(fs, adapter.FlagSet)
	fs.Usage = func() {
		printUsage(fs, "serve [--config FILE --prometheus.url URL] [flags]", []flagSection{{
			title: "Flags of the external metrics API (with --external-metrics: the HTTPS server of " +
				"custom-metrics-apiserver and k8s.io/apiserver, its authentication and authorization)",
			in: func(name string) bool { return adapterFlags[name] },
		}})
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, nil, err
	}
	log, err := newLogger(e, o.logLevel, o.logFormat)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case o.workers < 1:
		return nil, nil, nil, fmt.Errorf("%w: --workers %d: want at least 1", errUsage, o.workers)
	case o.maxTargets < 1:
		return nil, nil, nil, fmt.Errorf("%w: --max-targets %d: want at least 1", errUsage, o.maxTargets)
	case o.staleAfter < 0, o.snapshotEvery <= 0, o.watchInterval < 0:
		return nil, nil, nil, fmt.Errorf("%w: --stale-after, --snapshot.interval and --config.watch-interval must not be negative", errUsage)
	case o.config != "" && o.promURL == "":
		return nil, nil, nil, fmt.Errorf("%w: --config needs --prometheus.url: the targets' queries run on Prometheus", errUsage)
	}
	if err := o.auth.check(); err != nil {
		return nil, nil, nil, err
	}
	if err := o.cluster.check(o.grpcAddr, o.auth.certFile != ""); err != nil {
		return nil, nil, nil, err
	}
	if err := o.resources.check(o.isDemo()); err != nil {
		return nil, nil, nil, err
	}
	if err := checkExternalMetricsFlags(fs, o.externalMetrics, adapterFlags, os.Getenv("KUBERNETES_SERVICE_HOST") != ""); err != nil {
		return nil, nil, nil, err
	}
	return &o, adapter, log, nil
}

// isDemo reports that serve runs the built-in simulated workload: no
// --config and no --prometheus.url.
func (o *serveOptions) isDemo() bool { return o.config == "" && o.promURL == "" }

// newServeSource returns where the targets' loads come from, the demo or
// Prometheus, and the function that closes it.
func newServeSource(log *slog.Logger, o *serveOptions) (registry.Source, func(), error) {
	if o.isDemo() {
		d, err := demo.New(nil)
		if err != nil {
			return nil, nil, err
		}
		log.Warn("DEMO MODE: no --config and no --prometheus.url; serving the built-in simulated workload as target \"demo\" (not real data)")
		return d, func() {}, nil
	}
	client, err := newPrometheusClient(log, o.promURL, o.promTimeout, o.promHTTP)
	if err != nil {
		return nil, nil, err
	}
	return client, client.Close, nil
}

// queryCheckTimeout bounds the question to Prometheus about a new query.
const queryCheckTimeout = 10 * time.Second

// queryChecker asks Prometheus for the last two steps of a target's query
// before the API creates the target or changes its query. A query
// Prometheus refuses (a syntax error, one it cannot run: its 400 or 422)
// or one that returns several series is refused, naming "query". No data
// yet is fine (a new workload), and so is a Prometheus that cannot answer
// now: the fetches will report it. The demo checks nothing.
func queryChecker(o *serveOptions, src registry.Source) api.QueryChecker {
	if o.isDemo() {
		return nil
	}
	return func(ctx context.Context, t models.Target) error {
		ctx, cancel := context.WithTimeout(ctx, queryCheckTimeout)
		defer cancel()
		end := time.Now().Truncate(t.Step)
		_, err := src.Range(ctx, t.Query, end.Add(-t.Step), end, t.Step)
		switch {
		case errors.Is(err, promfeed.ErrBadQuery):
			return &models.FieldError{Field: "query", Msg: "Prometheus refused it: " + promfeed.Cause(err)}
		case errors.Is(err, promfeed.ErrMultipleSeries):
			return &models.FieldError{Field: "query", Msg: "must return one series: " + promfeed.Cause(err)}
		}
		return nil
	}
}

// newServeRegistry opens the model store and makes the registry of
// targets: the demo's, or those of --config.
func newServeRegistry(log *slog.Logger, o *serveOptions, src registry.Source, holds func(name string) bool) (*registry.Registry, error) {
	var declared *config.Config
	if o.config != "" {
		var err error
		if declared, err = config.Load(o.config); err != nil {
			return nil, err
		}
	}
	var store *snapshot.Store
	if o.dataDir != "" {
		var err error
		if store, err = snapshot.Open(o.dataDir); err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
	} else {
		log.Info("no --data-dir: models are not saved, a restart refits from scratch")
	}
	targets, err := registry.New(src, &registry.Options{
		Store:            store,
		Logger:           log,
		Workers:          o.workers,
		MaxTargets:       o.maxTargets,
		StaleAfter:       o.staleAfter,
		SnapshotInterval: o.snapshotEvery,
		Holds:            holds,
	})
	if err != nil {
		return nil, err
	}
	switch {
	case o.isDemo():
		if _, err := targets.Create(demoTarget(), registry.OriginDemo); err != nil {
			return nil, fmt.Errorf("demo target: %w", err)
		}
	case declared != nil:
		if err := targets.SetConfig(declared.Targets); err != nil {
			return nil, fmt.Errorf("%s: %w", o.config, err)
		}
		log.Info("config loaded", "file", o.config, "targets", len(declared.Targets))
	}
	return targets, nil
}

// servers are serve's APIs on their listeners.
type servers struct {
	http     *http.Server
	grpc     *grpc.Server
	health   *health.Server
	keda     *api.KEDAScaler
	external *api.ExternalMetricsServer // nil without --external-metrics
	// resources is the PredictiveAutoscaler controller, nil without
	// --controller.
	resources *controller.Controller
	// members is this replica's membership, nil without --cluster;
	// forwarder answers for the targets other replicas hold, nil without
	// --cluster.replication.
	members   *cluster.Membership
	forwarder *cluster.Forwarder
	// ready is what the APIs serve, ready once the registry is restored
	// and the controller has registered the resources' targets.
	ready  api.Backend
	httpLn net.Listener
	grpcLn net.Listener
	// controllers reload the certificate files until serve ends.
	controllers []func(ctx context.Context)
	// reloads records the outcome of each reload of --config.
	reloads *configReloads
}

// configReloads are the metrics of --config's reloads, named as
// Prometheus names its own: whether the last one succeeded, when one last
// did, and how many succeeded and failed. The file's first load counts as
// a success (serve does not start without it).
type configReloads struct {
	successful  prometheus.Gauge
	lastSuccess prometheus.Gauge
	total       *prometheus.CounterVec
}

func newConfigReloads(reg prometheus.Registerer) (*configReloads, error) {
	r := &configReloads{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prescale_config_last_reload_successful",
			Help: "1 when the last load or reload of the --config file succeeded (its targets are served), 0 when it failed (the previous targets stay).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prescale_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful load or reload of the --config file.",
		}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prescale_config_reloads_total",
			Help: "Reloads of the --config file (on SIGHUP or a change), by result: success or failure.",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{r.successful, r.lastSuccess, r.total} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	r.total.WithLabelValues("failure")
	r.total.WithLabelValues("success")
	return r, nil
}

// loaded records the first load of the file, which succeeded.
func (r *configReloads) loaded(now time.Time) {
	r.successful.Set(1)
	r.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
}

// reloaded records a reload's outcome.
func (r *configReloads) reloaded(ok bool, now time.Time) {
	if ok {
		r.total.WithLabelValues("success").Inc()
		r.loaded(now)
		return
	}
	r.total.WithLabelValues("failure").Inc()
	r.successful.Set(0)
}

// maxConns bounds the open connections of each of the REST and gRPC
// listeners, so that slow or idle clients cannot use up the process's file
// descriptors; more wait in the listen backlog.
const maxConns = 4096

// newServers builds the REST, gRPC, KEDA, metrics and, with
// --external-metrics, external metrics APIs over the registry, and opens their
// listeners.
func newServers(ctx context.Context, log *slog.Logger, o *serveOptions, targets *readyBackend, kubeCfg *rest.Config, adapter *basecmd.AdapterBase, check api.QueryChecker) (*servers, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), versioncollector.NewCollector("prescale"))
	if err := api.NewMetrics(targets, reg); err != nil {
		return nil, err
	}
	if targets.controller != nil { // the replicas of the HPAs it writes
		if err := reg.Register(targets.controller); err != nil {
			return nil, err
		}
	}
	backend, forwarder, err := apiBackend(log, o, targets, kubeCfg, reg)
	if err != nil {
		return nil, err
	}
	requests, err := api.NewRequestMetrics(reg)
	if err != nil {
		return nil, err
	}
	var reloads *configReloads
	if o.config != "" {
		if reloads, err = newConfigReloads(reg); err != nil {
			return nil, err
		}
		reloads.loaded(time.Now())
	}
	srv, err := api.NewServer(backend, &api.ServerOptions{Logger: log, CheckQuery: check})
	if err != nil {
		return nil, err
	}
	keda, err := api.NewKEDAScaler(backend, &api.KEDAOptions{Logger: log, CheckQuery: check})
	if err != nil {
		return nil, err
	}
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	sa, err := newServeAuth(log, &o.auth, os.Getenv("KUBERNETES_SERVICE_HOST") != "")
	if err != nil {
		return nil, err
	}
	handler, err := api.NewHTTPHandler(ctx, srv, &api.HTTPOptions{Gatherer: reg, Logger: log, Auth: sa.auth, Version: version.Version, Requests: requests})
	if err != nil {
		return nil, err
	}
	s := &servers{
		ready: targets,
		http: &http.Server{
			Handler: handler,
			// A slow or idle client cannot hold a connection for long: the
			// answers are small and quick.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      time.Minute,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		grpc:        api.NewGRPCServer(srv, keda, hs, log, grpcServerOptions(sa, requests)...),
		health:      hs,
		keda:        keda,
		controllers: sa.controllers,
		reloads:     reloads,
	}
	if forwarder != nil {
		// The others' questions, answered from this replica's registry.
		peerv1.RegisterPeerServiceServer(s.grpc, cluster.NewPeerServer(targets, targets.members.Self()))
		s.forwarder = forwarder
	}
	requests.GRPC.InitializeMetrics(s.grpc)

	if s.httpLn, err = net.Listen("tcp", o.httpAddr); err != nil {
		return nil, fmt.Errorf("--http.addr: %w", err)
	}
	if s.grpcLn, err = net.Listen("tcp", o.grpcAddr); err != nil {
		s.httpLn.Close()
		return nil, fmt.Errorf("--grpc.addr: %w", err)
	}
	s.httpLn, s.grpcLn = netutil.LimitListener(s.httpLn, maxConns), netutil.LimitListener(s.grpcLn, maxConns)
	if sa.tls != nil {
		httpTLS := sa.tls.Clone()
		httpTLS.NextProtos = []string{"http/1.1"}
		s.httpLn = tls.NewListener(s.httpLn, httpTLS)
	}
	listening := []any{"version", version.Version, "revision", version.GetRevision(), "http", s.httpLn.Addr().String(), "grpc", s.grpcLn.Addr().String(), "tls", sa.tls != nil, "auth", o.auth.mode, "demo", o.isDemo()}
	if o.externalMetrics {
		// The adapter logs through klog: send it to serve's logger.
		klog.SetSlogLogger(log.With("component", "external-metrics"))
		s.external, err = api.NewExternalMetricsServer(backend, adapter, &api.ExternalMetricsOptions{Logger: log, Requests: requests})
		if err != nil {
			s.httpLn.Close()
			s.grpcLn.Close()
			return nil, err
		}
		listening = append(listening, "external_metrics", s.external.Addr().String())
	}
	log.Info("listening", listening...)
	return s, nil
}

// grpcServerOptions are the gRPC server's authentication, TLS and limits:
// at most 1,000 concurrent calls per connection, clients pinging at most
// every 10 seconds, idle connections closed after 5 minutes, and a
// handshake within 10 seconds. Long KEDA streams are not cut.
func grpcServerOptions(sa *serveAuth, requests *api.RequestMetrics) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		// Requests are counted before authorization, so refused ones are too.
		grpc.ChainUnaryInterceptor(requests.GRPC.UnaryServerInterceptor(), sa.auth.UnaryInterceptor),
		grpc.ChainStreamInterceptor(requests.GRPC.StreamServerInterceptor(), sa.auth.StreamInterceptor),
		grpc.MaxConcurrentStreams(1000),
		grpc.ConnectionTimeout(10 * time.Second),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
	}
	if sa.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(sa.tls)))
	}
	return opts
}

// run serves until ctx is done or a server, the registry or the external
// metrics server fails, then stops the servers within shutdownGrace. It
// returns the failure, or nil when ctx was cancelled.
func (s *servers) run(ctx context.Context, log *slog.Logger, o *serveOptions, targets *registry.Registry, hup <-chan os.Signal) error {
	g, ctx := errgroup.WithContext(ctx)
	// An error after the shutdown began is part of it, not a failure.
	goFail := func(what string, run func() error) {
		g.Go(func() error {
			if err := run(); err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		})
	}
	goFail("http server", func() error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	goFail("grpc server", func() error { return s.grpc.Serve(s.grpcLn) })
	goFail("registry", func() error { return targets.Run(ctx) })
	if s.external != nil {
		goFail("external metrics server", func() error {
			err := s.external.Run(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped on its own")
			}
			return err
		})
	}
	if s.resources != nil {
		goFail("controller", func() error { return s.resources.Run(ctx) })
	}
	if s.members != nil {
		// It joins once the registry is warm, and returns once ctx is
		// done and its Lease is deleted.
		g.Go(func() error { return s.members.Run(ctx) })
	}
	if s.forwarder != nil {
		defer s.forwarder.Close()
	}
	for _, c := range s.controllers {
		g.Go(func() error { c(ctx); return nil })
	}
	g.Go(func() error { watchReady(ctx, s.ready, s.health, log); return nil })
	if o.config != "" {
		g.Go(func() error { watchConfig(ctx, o.config, o.watchInterval, hup, targets, s.reloads, log); return nil })
	}

	<-ctx.Done()
	log.Info("shutting down")
	s.shutdown(context.WithoutCancel(ctx))
	_ = g.Wait() // its error is ctx's cause
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// shutdown stops the health and KEDA streams and the servers, gracefully
// for up to shutdownGrace.
func (s *servers) shutdown(ctx context.Context) {
	s.health.Shutdown()
	s.keda.Close()
	ctx, stop := context.WithTimeout(ctx, shutdownGrace)
	defer stop()
	_ = s.http.Shutdown(ctx)
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
	}
}

// adapterFlagPrefix starts the usage of every flag of the external metrics
// API, so that they stand out among serve's own in -h.
const adapterFlagPrefix = "external metrics API"

// bindAdapterFlags defines every flag of the external metrics adapter in
// fs, sharing its value, and returns their names.
func bindAdapterFlags(fs *flag.FlagSet, adapter *pflag.FlagSet) map[string]bool {
	names := map[string]bool{}
	adapter.VisitAll(func(f *pflag.Flag) {
		typ, usage := pflag.UnquoteUsage(f)
		prefix := adapterFlagPrefix + ": "
		if typ != "" {
			prefix = adapterFlagPrefix + " (`" + typ + "`): " // -h shows the type after the name
		}
		fs.Var(adapterFlag{f.Value}, f.Name, prefix+usage)
		if zeroDefault(f.DefValue) {
			fs.Lookup(f.Name).DefValue = "" // -h shows no "(default [])"
		}
		names[f.Name] = true
	})
	return names
}

// adapterFlag is a pflag.Value as a flag.Value. Unlike some pflag values,
// its zero value prints (flag.PrintDefaults calls String on it), and a
// boolean takes no argument.
type adapterFlag struct{ v pflag.Value }

func (f adapterFlag) String() string {
	if f.v == nil {
		return ""
	}
	return f.v.String()
}

func (f adapterFlag) Set(s string) error { return f.v.Set(s) }

func (f adapterFlag) IsBoolFlag() bool { return f.v != nil && f.v.Type() == "bool" }

// zeroDefault reports a pflag default that -h should not print.
func zeroDefault(def string) bool {
	switch def {
	case "", "[]", "0", "false", "0s", "<nil>":
		return true
	}
	return false
}

// checkExternalMetricsFlags reports adapter flags given without
// --external-metrics, and, outside a cluster, the kubeconfigs the adapter
// cannot start without.
func checkExternalMetricsFlags(fs *flag.FlagSet, enabled bool, adapterFlags map[string]bool, inCluster bool) error {
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if adapterFlags[f.Name] {
			set[f.Name] = f.Value.String()
		}
	})
	if !enabled {
		if len(set) > 0 {
			return fmt.Errorf("%w: --%s is a flag of the external metrics API: add --external-metrics", errUsage, slices.Sorted(maps.Keys(set))[0])
		}
		return nil
	}
	if inCluster {
		return nil
	}
	var missing []string
	for _, name := range []string{"lister-kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig"} {
		if set[name] == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: --external-metrics outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs a kubeconfig for the lister, "+
			"and for delegated authentication and authorization: missing %s", errUsage, strings.Join(missing, ", "))
	}
	return nil
}

// watchReady turns the gRPC health status to SERVING once the registry is
// ready, and logs it.
func watchReady(ctx context.Context, targets api.Backend, hs *health.Server, log *slog.Logger) {
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		if targets.Ready() {
			hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			log.Info("ready", "targets", len(targets.List()))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyBackend is the registry, ready once it has restored its targets
// and, with --controller, the controller has registered the targets of
// the resources there were at the start: until then an HPA of one would
// be told its target does not exist.
type readyBackend struct {
	*registry.Registry
	controller *controller.Controller // nil without --controller
	members    *cluster.Membership    // nil without --cluster
	warm       func() bool            // whether it may join, with --cluster
}

// Ready adds, with --cluster, that this replica has joined (once warm):
// until then it writes no PredictiveAutoscaler.
func (b *readyBackend) Ready() bool {
	return b.Registry.Ready() && (b.controller == nil || b.controller.Synced()) && (b.members == nil || b.members.Ready())
}

// watchConfig reloads the config file on SIGHUP and, every interval, when
// its contents change. An invalid file is reported and the targets stay as
// they were.
func watchConfig(ctx context.Context, path string, interval time.Duration, hup <-chan os.Signal, targets *registry.Registry, reloads *configReloads, log *slog.Logger) {
	last, _ := os.ReadFile(path)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var why string
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-tick:
			data, err := os.ReadFile(path)
			if err != nil || bytes.Equal(data, last) {
				continue
			}
			why = "file changed"
		}
		data, err := os.ReadFile(path)
		if err != nil {
			reloads.reloaded(false, time.Now())
			log.Error("config reload failed; keeping the current targets", "file", path, "why", why, "err", err)
			continue
		}
		last = data
		cfg, err := config.Parse(data, path)
		if err != nil {
			reloads.reloaded(false, time.Now())
			log.Error("config reload failed; keeping the current targets", "file", path, "why", why, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		if n := configTargets(targets); cfg.Undeclared && n > 0 {
			reloads.reloaded(false, time.Now())
			log.Error("config reload refused; keeping the current targets: the file declares no targets at all (empty, only comments or null), "+
				"which would withdraw every config target; write \"targets: []\" to withdraw them", "file", path, "why", why, "targets", n)
			continue
		}
		if err := targets.SetConfig(cfg.Targets); err != nil {
			reloads.reloaded(false, time.Now())
			log.Error("config reload failed; keeping the current targets", "file", path, "why", why, "err", err)
			continue
		}
		reloads.reloaded(true, time.Now())
		log.Info("config reloaded", "file", path, "why", why, "targets", len(cfg.Targets))
	}
}

// configTargets counts the targets the config file declared.
func configTargets(targets *registry.Registry) int {
	n := 0
	for _, st := range targets.List() {
		if st.Origin == registry.OriginConfig {
			n++
		}
	}
	return n
}

// newLogger builds serve's logger from --log.level and --log.format.
func newLogger(e *env, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log.level %q: want debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log.format %q: want text or json", errUsage, format)
}
