package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	externalmetrics "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/prescale/prescale/cluster/rendezvous"
	"github.com/prescale/prescale/controller"
	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// The scenario, in wall time: a daily cycle compressed into a 30-minute
// "day" (15 s steps, 4 hours = 8 days of history) whose next ramp starts
// rampIn after Prometheus is up. prescale, three minutes of lead time
// ahead, makes the HPA scale the Deployment before the ramp; then prescale
// is restarted at the peak, then Prometheus is stopped while the real load
// goes back down, and the Deployment must stay up.
const (
	// workload is the Deployment, its PredictiveAutoscaler and the HPA
	// prescale creates for it, all named alike; targetName is the target
	// the resource declares ("<namespace>-<name>").
	workload   = "checkout"
	targetName = namespace + "-" + workload
	namespace  = "default"
	metricName = "e2e_requests_per_second"
	extMetric  = "prescale_recommended_replicas"

	step     = 15 * time.Second
	period   = 30 * time.Minute
	history  = 4 * time.Hour
	leadTime = 3 * time.Minute
	capacity = 100.0 // load one replica serves

	// The load: lowLoad needs 1 replica, peakLoad 7, with room for noise.
	lowLoad, peakLoad, noise = 60.0, 630.0, 3.0
	rampUp, high, rampDown   = 2 * time.Minute, 3 * time.Minute, time.Minute

	rampIn     = 4 * time.Minute  // from Prometheus up to the ramp
	hpaSync    = 5 * time.Second  // --horizontal-pod-autoscaler-sync-period
	staleAfter = 45 * time.Second // prescale serve --stale-after

	// followLag is how long the HPA may take to apply a new value of
	// prescale's: three sync periods and the sampler's second.
	followLag = 3*hpaSync + 2*time.Second

	// stepsTarget reads the same load with a capacity that makes the peak
	// need 21 replicas, and keeps 20 to 21: its recommendation steps from
	// 20 to 21 during the ramp. stepsTarget's HPA has prescale's scale-up
	// tolerance 0 and must follow; stepsDefault's, on the same metric, has
	// the cluster's default 10% tolerance and must not (21/20 is within
	// it): the step a tolerance swallows.
	stepsWorkload, stepsDefault = "steps", "steps-default"
	stepsTarget                 = namespace + "-" + stepsWorkload
	stepsCapacity               = peakLoad / 21
)

// binaries are the programs under test: paths from .ci/e2e.sh for the
// ones it builds, PATH for the Debian packages. promtest finds prometheus
// and promtool on PATH itself.
type binaries struct {
	Prescale, APIServer, ControllerManager string
	ChartInstall                           string // installs the Helm chart (test/helm/cmd/chartinstall)
	Etcd                                   string
}

func lookBinaries(t *testing.T) binaries {
	t.Helper()
	var b binaries
	var missing []string
	env := func(dst *string, name string) {
		if *dst = os.Getenv(name); *dst == "" {
			missing = append(missing, "$"+name+" is not set")
		} else if _, err := os.Stat(*dst); err != nil {
			missing = append(missing, "$"+name+": "+err.Error())
		}
	}
	env(&b.Prescale, "PRESCALE_E2E_PRESCALE")
	env(&b.ChartInstall, "PRESCALE_E2E_CHARTINSTALL")
	env(&b.APIServer, "PRESCALE_E2E_KUBE_APISERVER")
	env(&b.ControllerManager, "PRESCALE_E2E_KUBE_CONTROLLER_MANAGER")
	path := func(name, pkg string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%v (Debian package %s)", err, pkg))
		}
		return p
	}
	b.Etcd = path("etcd", "etcd-server")
	// Looked up here too so that one message lists everything missing.
	path("prometheus", "prometheus")
	path("promtool", "prometheus")
	if len(missing) > 0 {
		t.Fatalf("run the end-to-end test with `bash .ci/e2e.sh` (make e2e): it installs the packages and builds the binaries:\n  %s",
			strings.Join(missing, "\n  "))
	}
	return b
}

// sample is what the sampler saw at one moment.
type sample struct {
	At       time.Time
	Load     float64 // the load written for the current step (the real load, also while Prometheus is down)
	Rec      int     // prescale's REST recommendation, -1 when it did not answer
	Forecast float64 // its forecast maximum over the lead time
	Won      string
	Stale    bool
	Desired  int32 // the HPA's status.desiredReplicas
	Replicas int32 // the Deployment's spec.replicas, -1 when unknown
}

// timeline collects samples and events from the sampler goroutine.
type timeline struct {
	mu      sync.Mutex
	samples []sample
	events  []event
}

type event struct {
	At   time.Time
	What string
}

func (tl *timeline) add(s sample) {
	tl.mu.Lock()
	tl.samples = append(tl.samples, s)
	tl.mu.Unlock()
}

func (tl *timeline) event(what string) {
	tl.mu.Lock()
	tl.events = append(tl.events, event{time.Now(), what})
	tl.mu.Unlock()
}

func (tl *timeline) snapshot() ([]sample, []event) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]sample(nil), tl.samples...), append([]event(nil), tl.events...)
}

func need(load float64) int { return int(math.Ceil(load / capacity)) }

func TestHPAFollowsPrescale(t *testing.T) {
	testStart := time.Now()
	bins := lookBinaries(t)
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		c        = &cluster{Dir: filepath.Join(root, "cluster")}
		prom     *promtest.Server
		current  atomic.Pointer[prescale]
		workers  sync.WaitGroup // the load writer and the sampler
		tl       timeline
		shape    loadShape
		printed  bool
		printAll = func() {}
	)
	// Stop everything in order even when the test fails: the goroutines
	// that call the components, then prescale, the controllers,
	// kube-apiserver (it hangs in its graceful shutdown if etcd goes
	// first), etcd; then no child process may be left. Prometheus is
	// stopped before them, by promtest's own cleanup (see below).
	t.Cleanup(func() {
		cancel()
		workers.Wait()
		if !printed {
			printAll()
		}
		stop := func(p *proc, grace time.Duration) {
			if p == nil {
				return
			}
			select {
			case <-p.Exited(): // stopped by the test, or dead
				if err := p.Unexpected(); err != nil {
					t.Error(err)
				}
				return
			default:
			}
			took, killed := p.Stop(grace)
			if killed {
				t.Errorf("%s did not stop within %v of SIGTERM and was killed\n%s", p.Name, grace, p.LogTail(4<<10))
			} else {
				t.Logf("stopped %s (pid %d) in %v", p.Name, p.Pid(), took.Round(time.Millisecond))
			}
		}
		stop(current.Load().process(), 20*time.Second)
		stop(c.ControllerManager, 10*time.Second)
		stop(c.APIServer, 30*time.Second)
		stop(c.Etcd, 10*time.Second)
		if t.Failed() {
			for _, p := range []*proc{c.Etcd, c.APIServer, c.ControllerManager, current.Load().process()} {
				if p != nil {
					t.Logf("the end of %s's log:\n%s", p.Name, p.LogTail(6<<10))
				}
			}
			if prom != nil {
				t.Logf("the end of prometheus's log:\n%s", tailFile(prom.LogFile, 6<<10))
			}
		}
		left, err := promtest.Children()
		if err != nil {
			t.Errorf("list child processes: %v", err)
		}
		if len(left) > 0 {
			t.Errorf("child processes left running: %q", left)
		}
		t.Logf("whole test: %v", time.Since(testStart).Round(time.Second))
	})

	// The control plane.
	for _, d := range []string{c.Dir, filepath.Join(root, "prescale")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if c.PKI, err = newPKI(c.Dir); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	var etcdURL string
	if c.Etcd, etcdURL, err = startEtcd(c.Dir, bins.Etcd); err != nil {
		t.Fatal(err)
	}
	if err := startAPIServer(ctx, c, bins.APIServer, etcdURL); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver ready on %s in %v", c.Server, time.Since(t0).Round(time.Millisecond))
	if err := startControllerManager(c, bins.ControllerManager, clusterOptions{
		HPASyncPeriod: hpaSync,
		// Scale-down stabilization is the HPA's job in production (default
		// 5m); here it is off so that any wrong scale-down shows at once.
		HPADownscaleStabilization: 0,
	}); err != nil {
		t.Fatal(err)
	}

	// Prometheus, with eight "days" of history and the live load written
	// every step from now on.
	now := time.Now()
	shape = loadShape{
		Origin: now.Add(rampIn).Truncate(step), Period: period, Step: step,
		RampUp: rampUp, High: high, RampDown: rampDown,
		Low: lowLoad, Peak: peakLoad, Noise: noise,
	}
	lastWritten := shape.Grid(now)
	backfill := shape.Series(metricName, lastWritten.Add(-history), lastWritten.Add(step))
	prom = promtest.Start(t, &promtest.Options{Series: []promtest.Series{backfill}})
	// promtest stops prometheus in a cleanup of its own, which runs before
	// the one above: stop the goroutines that write to it first.
	t.Cleanup(func() {
		cancel()
		workers.Wait()
	})
	t.Logf("prometheus ready on %s with %d backfilled points; the ramp starts at %s (in %v)",
		prom.URL, len(backfill.Values), shape.Origin.Format(time.TimeOnly), time.Until(shape.Origin).Round(time.Second))
	writerCtx, stopWriter := context.WithCancel(ctx)
	var writeErrs atomic.Int64
	workers.Go(func() {
		for t := lastWritten.Add(step); ; t = t.Add(step) {
			select {
			case <-writerCtx.Done():
				return
			case <-time.After(time.Until(t)):
			}
			if err := prom.RemoteWrite(writerCtx, shape.Series(metricName, t, t.Add(step))); err != nil && writerCtx.Err() == nil {
				writeErrs.Add(1)
				tl.event("remote write failed: " + err.Error())
			}
		}
	})

	// prescale, serving the external metrics API on a port the APIService
	// names, so a restart must take the same one.
	psDir := filepath.Join(root, "prescale")
	securePort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// The Helm chart, installed with Helm's Go SDK. Where KEDA holds
	// external.metrics.k8s.io, the install is refused naming KEDA's
	// server, and so is deploy/base's APIService applied server-side as
	// deploy/README.md says; then, KEDA gone, the chart installs.
	t0 = time.Now()
	applyMsg, helmMsg, err := checkAPIServiceTakeover(ctx, c, func() (string, error) {
		out, err := installChart(ctx, bins.ChartInstall, c.AdminConfig, psDir, securePort, prom.URL, "")
		if err == nil {
			return "", fmt.Errorf("the chart installed over KEDA's APIService:\n%s", out)
		}
		if !strings.Contains(out, "served by keda/keda-operator-metrics-apiserver") {
			return "", fmt.Errorf("the chart's install over KEDA's APIService failed, but without naming KEDA's server: %v", err)
		}
		return strings.TrimSpace(out), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("where KEDA owns the APIService, server-side apply of deploy/base's is refused (%s)", applyMsg)
	t.Logf("and so is the Helm chart's install: %s", helmMsg)
	// Three replicas, each target held by two of them.
	out, err := installChart(ctx, bins.ChartInstall, c.AdminConfig, psDir, securePort, prom.URL, `extraArgs: ["--cluster.replication=2"]`)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitCRD(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("helm install of deploy/helm/prescale in %v: %s", time.Since(t0).Round(time.Millisecond), objectsOf(out))
	// prescale runs as the chart's ServiceAccount, with the chart's
	// arguments and RBAC.
	saConfig := filepath.Join(psDir, "serviceaccount.kubeconfig")
	if err := serviceAccountKubeconfig(ctx, c, saConfig); err != nil {
		t.Fatal(err)
	}
	// The chart's replicas as processes here, each on its own ports, with
	// a balancer on the APIService's port in front of their external
	// metrics APIs (the Service). ps, the first, is the one the test asks
	// over REST and restarts; the owner of the workload's target is
	// another, which the test kills.
	names := replicaNames(targetName)
	replicas := make([]*replicaProc, len(names))
	var backends []string
	for i, name := range names {
		r := &replicaProc{name: name, dir: psDir}
		if i > 0 {
			r.dir = filepath.Join(psDir, name)
			if err := os.MkdirAll(r.dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ports := [2]int{}
		for k := range ports {
			if ports[k], err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		var chartArgs []string
		r.args, chartArgs, err = chartPrescaleArgs(ctx, c, r.dir, saConfig, ports[0], name)
		if err != nil {
			t.Fatal(err)
		}
		grpcAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
		r.args = append(r.args, "--stale-after="+staleAfter.String(), "--grpc.addr="+grpcAddr, "--cluster.address="+grpcAddr)
		if i == 0 {
			t.Logf("the chart's Deployment runs %s; here, replica %s: prescale serve %s", strings.Join(chartArgs, " "), name, strings.Join(r.args, " "))
			if !slices.Contains(chartArgs, "--cluster") || !slices.Contains(chartArgs, "--cluster.replication=2") {
				t.Fatalf("the chart's arguments %q lack --cluster and --cluster.replication=2", chartArgs)
			}
		}
		backends = append(backends, fmt.Sprintf("127.0.0.1:%d", ports[0]))
		replicas[i] = r
	}
	lb, err := startBalancer(securePort, backends)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	psArgs := replicas[0].args
	psLog := filepath.Join(psDir, "prescale.log")
	t0 = time.Now()
	ps, err := startPrescale(ctx, psDir, psLog, bins.Prescale, psArgs...)
	if ps != nil {
		current.Store(ps)
	}
	if err != nil {
		t.Fatal(err)
	}
	replicas[0].ps = ps
	for _, r := range replicas[1:] {
		r.ps, err = startPrescale(ctx, r.dir, filepath.Join(r.dir, "prescale.log"), bins.Prescale, r.args...)
		if r.ps != nil {
			t.Cleanup(func() { r.ps.Proc.Stop(20 * time.Second) })
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("3 prescale replicas ready in %v (REST of %s on %s; external metrics behind 127.0.0.1:%d)", time.Since(t0).Round(time.Millisecond), names[0], ps.URL, securePort)
	for _, name := range names {
		// Ready means it joined: its Lease, written with the chart's RBAC.
		l, err := c.Admin.CoordinationV1().Leases(chartNamespace).Get(ctx, "prescale-member-"+name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("--cluster: the Lease of %s: %v", name, err)
		}
		t.Logf("cluster: Lease %s held by %s at %s, renewed %s, for %ds", l.Name, *l.Spec.HolderIdentity, l.Annotations["prescale.io/address"],
			l.Spec.RenewTime.Format(time.RFC3339Nano), *l.Spec.LeaseDurationSeconds)
	}

	// The workloads, each with a PredictiveAutoscaler: prescale registers
	// the targets, fits them and creates their HPAs.
	if err := createWorkloads(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{workload, stepsWorkload} {
		h, err := ownedHPA(ctx, c, w, namespace+"-"+w, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("prescale created HPA %s for the PredictiveAutoscaler %s in %v: owner %s %s, %s{target=%s} at AverageValue 1, replicas %d..%d, scale-up tolerance %s",
			h.Name, w, time.Since(t0).Round(time.Millisecond), metav1.GetControllerOf(h).Kind, metav1.GetControllerOf(h).Name,
			extMetric, namespace+"-"+w, *h.Spec.MinReplicas, h.Spec.MaxReplicas, h.Spec.Behavior.ScaleUp.Tolerance)
	}
	if err := ps.WaitModels(ctx, 60*time.Second, targetName, stepsTarget); err != nil {
		t.Fatal(err)
	}
	t.Logf("prescale has its models after %v", time.Since(t0).Round(time.Millisecond))

	// The chart's APIService reaches prescale.
	t0 = time.Now()
	if err := waitAPIService(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Logf("APIService v1beta1.external.metrics.k8s.io available in %v", time.Since(t0).Round(time.Millisecond))
	if err := createScaled(ctx, c, stepsDefault, stepsTarget, 20, 30); err != nil {
		t.Fatal(err)
	}

	// The sampler: every second, the load, prescale's answer, the HPA and
	// the Deployment.
	workers.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			s := sample{At: time.Now(), Rec: -1, Replicas: -1}
			s.Load = shape.At(shape.Grid(s.At))
			if r, err := current.Load().Recommendation(ctx, targetName); err == nil {
				s.Rec, s.Forecast, s.Won, s.Stale = r.Replicas, r.Forecast.Max, r.Won, r.Stale
			}
			if d, err := c.Admin.AppsV1().Deployments(namespace).Get(ctx, workload, metav1.GetOptions{}); err == nil && d.Spec.Replicas != nil {
				s.Replicas = *d.Spec.Replicas
			}
			if h, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, workload, metav1.GetOptions{}); err == nil {
				s.Desired = h.Status.DesiredReplicas
			}
			if ctx.Err() != nil {
				return
			}
			tl.add(s)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	printAll = func() {
		samples, events := tl.snapshot()
		printTimeline(t, shape.Origin, samples, events)
	}

	// 1. Before the ramp: the external metric is prescale's answer, and
	// the HPA applies it.
	t.Run("external metric is the recommendation", func(t *testing.T) {
		before, err := ps.Recommendation(ctx, targetName)
		if err != nil {
			t.Fatal(err)
		}
		list, err := externalMetric(ctx, c, namespace, extMetric, "target="+targetName)
		if err != nil {
			t.Fatal(err)
		}
		after, err := ps.Recommendation(ctx, targetName)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 {
			t.Fatalf("external metric: %d items, want 1: %+v", len(list.Items), list.Items)
		}
		it := list.Items[0]
		got := it.Value.Value()
		t.Logf("GET external metric: %s %v = %s at %s; REST recommendation %d (%s) before, %d after",
			it.MetricName, it.MetricLabels, it.Value.String(), it.Timestamp.Format(time.TimeOnly), before.Replicas, before.Won, after.Replicas)
		if got != int64(before.Replicas) && got != int64(after.Replicas) {
			t.Errorf("external metric %d, want prescale's REST recommendation %d", got, before.Replicas)
		}
		if it.MetricName != extMetric || it.MetricLabels["target"] != targetName || it.MetricLabels["namespace"] != namespace {
			t.Errorf("external metric item %s %v, want %s with labels target=%s, namespace=%s", it.MetricName, it.MetricLabels, extMetric, targetName, namespace)
		}
		if _, err := externalMetric(ctx, c, namespace, extMetric, "target=nope"); !apierrors.IsNotFound(err) {
			t.Errorf("external metric of an unknown target: %v, want NotFound", err)
		}
		// The target belongs to its namespace: an HPA elsewhere cannot read it.
		if _, err := externalMetric(ctx, c, "kube-system", extMetric, "target="+targetName); !apierrors.IsNotFound(err) {
			t.Errorf("external metric of %s from namespace kube-system: %v, want NotFound", targetName, err)
		}
	})
	t.Run("HPA applies the recommendation", func(t *testing.T) {
		deadline := time.Now().Add(followLag + 30*time.Second) // the HPA's first sync comes first
		for {
			samples, _ := tl.snapshot()
			if n := len(samples); n > 0 {
				s := samples[n-1]
				if s.Rec > 0 && s.Desired == int32(s.Rec) && s.Replicas == int32(s.Rec) {
					t.Logf("HPA desired %d, Deployment %d = prescale %d after %v", s.Desired, s.Replicas, s.Rec, time.Since(t0).Round(time.Second))
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %v: HPA desired %d, Deployment %d, prescale %d\n%s", time.Since(t0).Round(time.Second),
						s.Desired, s.Replicas, s.Rec, hpaConditions(ctx, c))
				}
			}
			time.Sleep(time.Second)
		}
	})

	// The owner of the workload's target is killed (SIGKILL) while prescale
	// scales the workload up ahead of the ramp: the aggregator must get
	// the metric again from the other replicas at once, and the HPA must
	// never lose a replica and keep scaling up.
	t.Run("failover: the owner of the target killed", func(t *testing.T) {
		owner := rendezvous.Owner(targetName, names)
		holders := rendezvous.Holders(targetName, names, 2)
		var victim, follower, other *replicaProc
		for _, r := range replicas {
			switch r.name {
			case owner:
				victim = r
			case holders[1]:
				follower = r
			default:
				other = r
			}
		}
		// The replica that does not hold the target forwards its reads to
		// the owner, and says so.
		if r, err := other.ps.Recommendation(ctx, targetName); err != nil || r.ServedBy != owner {
			t.Errorf("%s, which does not hold %s: recommendation %+v, %v; want one served by its owner %s", other.name, targetName, r, err, owner)
		} else {
			t.Logf("%s, which does not hold %s, answered with Prescale-Served-By: %s", other.name, targetName, r.ServedBy)
		}
		genBefore, err := follower.ps.generation(ctx, targetName)
		if err != nil {
			t.Fatal(err)
		}
		sleepUntil(ctx, shape.Origin.Add(-150*time.Second))
		before, err := deploymentReplicas(ctx, c, workload)
		if err != nil {
			t.Fatal(err)
		}
		tl.event("prescale: SIGKILL " + owner)
		t0 := time.Now()
		victim.ps.Proc.Kill()
		failures := 0
		var gap time.Duration
		for {
			if _, err := externalMetric(ctx, c, namespace, extMetric, "target="+targetName); err == nil {
				gap = time.Since(t0)
				break
			} else if time.Since(t0) > time.Minute {
				t.Fatalf("the external metric did not answer within a minute of the owner's death: %v", err)
			}
			failures++
			time.Sleep(50 * time.Millisecond)
		}
		tl.event(fmt.Sprintf("external metric answers again after %v", gap.Round(time.Millisecond)))
		if r, err := other.ps.Recommendation(ctx, targetName); err != nil || r.ServedBy == owner {
			t.Errorf("%s after the owner's death: recommendation %+v, %v; want one served by a live holder", other.name, r, err)
		} else {
			t.Logf("after the owner's death %s answered with Prescale-Served-By: %s", other.name, r.ServedBy)
		}
		least, most := before, before
		for time.Now().Before(shape.Origin.Add(rampUp)) && ctx.Err() == nil {
			n, err := deploymentReplicas(ctx, c, workload)
			if err == nil {
				least, most = min(least, n), max(most, n)
			}
			time.Sleep(time.Second)
		}
		genAfter, err := follower.ps.generation(ctx, targetName)
		if err != nil {
			t.Error(err)
		}
		t.Logf("killed %s, the owner of %s (held by %v), with the Deployment at %d replicas; %d requests failed before the metric answered again",
			owner, targetName, holders, before, failures)
		t.Logf("the follower %s, now its owner: model generation %d before the kill, %d after (a later generation is a scheduled refit or a level shift's, not the failover's)",
			follower.name, genBefore, genAfter)
		if least < before {
			t.Errorf("failover: owner killed, the Deployment fell from %d to %d replicas", before, least)
		} else {
			t.Logf("failover: owner killed, external metric answered again after %v, replicas never decreased", gap.Round(time.Millisecond))
		}
		if most <= before {
			t.Errorf("after the owner's death the HPA did not scale up: %d replicas until the ramp's end", before)
		} else {
			t.Logf("and the HPA kept scaling up: %d to %d replicas by the end of the ramp", before, most)
		}
		// The new owner writes the HPA, and exports its replicas.
		for _, r := range []*replicaProc{follower, other} {
			line, err := r.ps.metricLine(ctx, "prescale_hpa_current_replicas", targetName)
			switch {
			case err != nil:
				t.Errorf("%s's /metrics: %v", r.name, err)
			case (r == follower) != (line != ""):
				t.Errorf("%s (the owner now: %v) exports %q, want the HPA's replicas from the owner only", r.name, r == follower, line)
			case line != "":
				t.Logf("%s exports %s", r.name, line)
			}
		}
	})

	// 2. The ramp: wait until the load has been at its peak for a while,
	// then restart prescale.
	sleepUntil(ctx, shape.Origin.Add(rampUp+30*time.Second))
	t.Run("a step of one replica lands at 20 replicas", func(t *testing.T) {
		deadline := time.Now().Add(followLag)
		for {
			r, err := ps.Recommendation(ctx, stepsTarget)
			if err != nil {
				t.Fatal(err)
			}
			zeroTol, err1 := c.Admin.AppsV1().Deployments(namespace).Get(ctx, stepsWorkload, metav1.GetOptions{})
			defTol, err2 := c.Admin.AppsV1().Deployments(namespace).Get(ctx, stepsDefault, metav1.GetOptions{})
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			got, def := *zeroTol.Spec.Replicas, *defTol.Spec.Replicas
			if r.Replicas == 21 && got == 21 {
				t.Logf("prescale recommends %d for %s (%s): the HPA with scale-up tolerance 0 has %d replicas, the one with the cluster's 10%% has %d",
					r.Replicas, stepsTarget, r.Won, got, def)
				if def != 20 {
					t.Errorf("the HPA with the default tolerance moved to %d replicas; a step of 21/20 is within its 10%%, so the scenario does not show what tolerance 0 is for", def)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("at the peak: prescale recommends %d for %s (%s), the HPA with tolerance 0 has %d replicas, want 21\n%s",
					r.Replicas, stepsTarget, r.Reason, got, hpaConditions(ctx, c))
			}
			time.Sleep(time.Second)
		}
	})
	t.Run("the resource's status", func(t *testing.T) {
		st, err := waitReady(ctx, c, workload, 30*time.Second, func(st controller.Status) bool {
			return st.Recommendation != nil && st.Accuracy != nil && st.Model != nil && st.CurrentReplicas != nil && st.ObservedGeneration == 1
		})
		if err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(st.Conditions, controller.ConditionReady)
		t.Logf("PredictiveAutoscaler %s: Ready %s (%s: %s); recommends %d (%s), current %d; %s model version %d; accuracy %s over %d points, coverage %s; HPA %s",
			workload, ready.Status, ready.Reason, ready.Message, st.Recommendation.Replicas, st.Recommendation.Won, *st.CurrentReplicas,
			st.Model.Kind, st.Model.Version, st.Accuracy.Summary, st.Accuracy.Points, st.Accuracy.Coverage, st.HPA)
		for _, typ := range []string{controller.ConditionFitted, controller.ConditionStale, controller.ConditionFitFailed} {
			if cond := meta.FindStatusCondition(st.Conditions, typ); cond == nil {
				t.Errorf("no %s condition: %+v", typ, st.Conditions)
			} else {
				t.Logf("  %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
		if st.Target != targetName || st.HPA != workload {
			t.Errorf("status target %q, hpa %q, want %q and %q", st.Target, st.HPA, targetName, workload)
		}
		if out, err := kubectlGet(ctx, c); err != nil {
			t.Error(err)
		} else {
			t.Logf("kubectl get predictiveautoscalers -A:\n%s", out)
		}
	})
	t.Run("the recommendations carry the workload's replicas", func(t *testing.T) {
		// The history the target's web page draws: the HPA's current
		// replicas beside each recommendation change, from its owner.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			code, body, err := ps.Do(ctx, http.MethodGet, "/v1/targets/"+targetName+"/recommendations", "", nil)
			var h struct {
				Recommendations []struct {
					Time            time.Time `json:"time"`
					Replicas        int       `json:"replicas"`
					Won             string    `json:"won"`
					CurrentReplicas *int      `json:"currentReplicas"`
				} `json:"recommendations"`
			}
			if err == nil && code == http.StatusOK && json.Unmarshal([]byte(body), &h) == nil && len(h.Recommendations) > 0 {
				last := h.Recommendations[len(h.Recommendations)-1]
				if last.CurrentReplicas != nil {
					t.Logf("%d recommendation changes in the last 6 h; the last at %s: %d (%s), the workload at %d",
						len(h.Recommendations), last.Time.Format(time.TimeOnly), last.Replicas, last.Won, *last.CurrentReplicas)
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /v1/targets/%s/recommendations: %d %v %.2000s; want the last change with the workload's replicas", targetName, code, err, body)
			}
			time.Sleep(5 * time.Second)
		}
	})
	t.Run("the resource's events reach its target", func(t *testing.T) { checkResourceEvents(ctx, t, ps, targetName) })
	restartAt := time.Now()
	var restartedAt time.Time
	var peakReplicas int32
	t.Run("restart prescale", func(t *testing.T) {
		samples, _ := tl.snapshot()
		peakReplicas = samples[len(samples)-1].Replicas
		tl.event("prescale: SIGTERM")
		took, killed := ps.Proc.Stop(20 * time.Second)
		if killed {
			t.Errorf("prescale did not stop within 20s of SIGTERM\n%s", ps.Proc.LogTail(4<<10))
		} else if err := ps.Proc.ExitErr(); err != nil {
			t.Errorf("prescale exited with %v after SIGTERM\n%s", err, ps.Proc.LogTail(4<<10))
		}
		// It left the cluster: the others need not wait for its Lease to expire.
		_, err := c.Admin.CoordinationV1().Leases(chartNamespace).Get(ctx, "prescale-member-"+names[0], metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("--cluster: the Lease after SIGTERM: %v, want it deleted", err)
		}
		t0 := time.Now()
		ps, err = startPrescale(ctx, psDir, psLog, bins.Prescale, psArgs...)
		if ps != nil {
			current.Store(ps)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.WaitModels(ctx, 60*time.Second, targetName, stepsTarget); err != nil {
			t.Fatal(err)
		}
		restartedAt = time.Now()
		tl.event("prescale: ready again")
		t.Logf("prescale stopped in %v, ready again in %v, down %v", took.Round(time.Millisecond),
			time.Since(t0).Round(time.Millisecond), restartedAt.Sub(restartAt).Round(time.Millisecond))
		r, err := ps.Recommendation(ctx, targetName)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("first recommendation after the restart: %d (%s, stale %v)", r.Replicas, r.Won, r.Stale)
		// The aggregator reaches the new process: the metric answers again.
		deadline := time.Now().Add(followLag)
		for {
			list, err := externalMetric(ctx, c, namespace, extMetric, "target="+targetName)
			if err == nil && len(list.Items) == 1 {
				v := list.Items[0].Value.Value()
				t.Logf("external metric answers %d %v after the restart", v, time.Since(restartedAt).Round(time.Millisecond))
				if v != int64(r.Replicas) {
					// Both at the peak plateau: no step changes it.
					t.Errorf("external metric %d after the restart, want prescale's REST recommendation %d", v, r.Replicas)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("external metric after the restart: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Four sync periods after it, judge the Deployment over the whole
		// window.
		sleepUntil(ctx, restartedAt.Add(4*hpaSync+time.Second))
		samples, _ = tl.snapshot()
		var off time.Time
		for _, s := range samples {
			if s.At.Before(restartAt) {
				continue
			}
			switch {
			case s.Replicas != peakReplicas && off.IsZero():
				off = s.At
			case s.Replicas == peakReplicas && !off.IsZero():
				if d := s.At.Sub(off); d > hpaSync+time.Second {
					t.Errorf("Deployment left %d replicas for %v around the restart, want at most one sync period (%v)", peakReplicas, d, hpaSync)
				}
				off = time.Time{}
			}
		}
		if !off.IsZero() {
			t.Errorf("Deployment at %d replicas since %s, not back to %d after the restart", samples[len(samples)-1].Replicas, off.Format(time.TimeOnly), peakReplicas)
		}
	})

	// 3. Prometheus goes away at the peak; the real load goes back down
	// soon after, but nothing tells prescale: the Deployment must stay up.
	sleepUntil(ctx, shape.Origin.Add(rampUp+time.Minute))
	stopWriter()
	tl.event("prometheus: SIGTERM (the real load is no longer recorded)")
	promStoppedAt := time.Now()
	killed := prom.Stop() // SIGKILL after promtest's grace of 10s
	t.Logf("prometheus stopped in %v (killed %v)", time.Since(promStoppedAt).Round(time.Millisecond), killed)
	endAt := shape.Origin.Add(rampUp + high + rampDown + 30*time.Second)
	if min := promStoppedAt.Add(staleAfter + 4*hpaSync); endAt.Before(min) {
		endAt = min
	}
	sleepUntil(ctx, endAt)
	cancel() // stop the sampler; cleanup waits for it
	workers.Wait()
	samples, events := tl.snapshot()
	printTimeline(t, shape.Origin, samples, events)
	printed = true

	t.Run("no scale-down without data", func(t *testing.T) {
		var sawStale bool
		for _, s := range samples {
			if s.At.Before(promStoppedAt) {
				continue
			}
			sawStale = sawStale || s.Stale
			if s.Replicas >= 0 && s.Replicas < peakReplicas {
				t.Errorf("%s: Deployment scaled down to %d replicas (load %.0f, prescale %d) while Prometheus was down",
					s.At.Format(time.TimeOnly), s.Replicas, s.Load, s.Rec)
				break
			}
		}
		if !sawStale {
			t.Errorf("prescale never said stale in the %v after Prometheus stopped (--stale-after %v)", endAt.Sub(promStoppedAt).Round(time.Second), staleAfter)
		}
		if last := samples[len(samples)-1]; last.Load >= capacity {
			t.Errorf("the real load is still %.0f at the end: the window does not cover the ramp down", last.Load)
		}
	})
	t.Run("HPA follows prescale", func(t *testing.T) {
		for _, e := range followErrors(samples, restartAt, restartedAt) {
			t.Error(e)
		}
	})
	t.Run("scaled up before the load", func(t *testing.T) {
		leads, err := leads(samples, shape)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leads {
			t.Logf("%-36s Deployment at %d replicas %s, load needs them %s: lead %4.0fs",
				l.What, l.Replicas, l.Scaled.Format(time.TimeOnly), l.Needed.Format(time.TimeOnly), l.Lead().Seconds())
			if l.Lead() <= 0 {
				t.Errorf("%s: Deployment reached %d replicas %v after the load needed them", l.What, l.Replicas, -l.Lead())
			}
		}
	})
	t.Run("writes need an identity and RBAC", func(t *testing.T) {
		writesNeedRBAC(t, c, current.Load(), true)
	})
	t.Run("resources: bad specs, conflicts, deletion", func(t *testing.T) {
		checkResources(t, c, current.Load())
	})
	if n := writeErrs.Load(); n > 0 {
		t.Errorf("%d remote writes failed", n)
	}
}

// writesNeedRBAC creates a target through prescale's REST API: refused
// without a token (401), refused with a ServiceAccount's token until RBAC
// allows it (403), accepted once a ClusterRole on targets.prescale.io is
// bound to the ServiceAccount. The token is checked by kube-apiserver
// (TokenReview) and so is the permission (SubjectAccessReview). With
// --cluster (clustered), the admitted write is then refused (400: targets
// are declared as resources when several replicas run).
func writesNeedRBAC(t *testing.T, c *cluster, ps *prescale, clustered bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := []byte(`{"name":"e2e-api","query":"vector(1)","capacityPerReplica":1,"leadTime":"1m","step":"15s","history":"1h"}`)
	if code, body, err := ps.Do(ctx, http.MethodPost, "/v1/targets", "", spec); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %d %s %v, want 401", code, body, err)
	}
	const sa = "e2e-writer"
	if _, err := c.Admin.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expiry := int64(600)
	tr, err := c.Admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	user := "system:serviceaccount:" + namespace + ":" + sa
	if code, body, err := ps.Do(ctx, http.MethodPost, "/v1/targets", token, spec); err != nil || code != http.StatusForbidden || !strings.Contains(body, user) {
		t.Fatalf("POST with %s's token and no RBAC: %d %s %v, want 403 naming the user", user, code, body, err)
	}
	if _, err := c.Admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "prescale-e2e-writer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"prescale.io"}, Resources: []string{"targets"}, Verbs: []string{"create", "delete"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prescale-e2e-writer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "prescale-e2e-writer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: namespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// prescale remembers a denial for 10s, as Kubernetes' delegating
	// authorizer does.
	t0 := time.Now()
	for {
		code, body, err := ps.Do(ctx, http.MethodPost, "/v1/targets", token, spec)
		if err == nil && code == http.StatusOK {
			break
		}
		if clustered && err == nil && code == http.StatusBadRequest && strings.Contains(body, "several replicas (--cluster)") {
			t.Logf("POST admitted %v after the ClusterRoleBinding, then refused as --cluster runs several replicas: %s", time.Since(t0).Round(time.Second), body)
			return
		}
		if ctx.Err() != nil || time.Since(t0) > time.Minute {
			t.Fatalf("POST with %s's token after the ClusterRoleBinding: %d %s %v, want 200 within a minute", user, code, body, err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("POST allowed %v after the ClusterRoleBinding", time.Since(t0).Round(time.Second))
	if code, body, err := ps.Do(ctx, http.MethodDelete, "/v1/targets/e2e-api", token, nil); err != nil || code != http.StatusOK {
		t.Errorf("DELETE with %s's token: %d %s %v, want 200", user, code, body, err)
	}
}

// checkAPIServiceTakeover registers external.metrics.k8s.io for KEDA (as
// KEDA's operator does), server-side applies deploy/base/apiservice.yaml
// without forcing, as deploy/README.md says to apply the base, and checks
// that the apply is refused with a conflict naming KEDA's manager and that
// KEDA's registration stays; runs also (the Helm chart's install) while
// KEDA's registration is there. It then removes KEDA's, and returns the
// conflict's message and also's.
func checkAPIServiceTakeover(ctx context.Context, c *cluster, also func() (string, error)) (string, string, error) {
	agg, err := aggregator.NewForConfig(c.AdminREST)
	if err != nil {
		return "", "", err
	}
	apis := agg.ApiregistrationV1().APIServices()
	const name = "v1beta1.external.metrics.k8s.io"
	port := int32(443)
	if _, err := apis.Create(ctx, &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: "external.metrics.k8s.io", Version: "v1beta1",
			Service:               &apiregistrationv1.ServiceReference{Namespace: "keda", Name: "keda-operator-metrics-apiserver", Port: &port},
			InsecureSkipTLSVerify: true,
			GroupPriorityMinimum:  100, VersionPriority: 100,
		},
	}, metav1.CreateOptions{FieldManager: "keda-operator"}); err != nil {
		return "", "", fmt.Errorf("KEDA's APIService: %w", err)
	}
	defer apis.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
	manifest, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "apiservice.yaml"))
	if err != nil {
		return "", "", err
	}
	body, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return "", "", fmt.Errorf("deploy/base/apiservice.yaml: %w", err)
	}
	_, conflict := apis.Patch(ctx, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "kubectl"})
	if !apierrors.IsConflict(conflict) || !strings.Contains(conflict.Error(), "keda-operator") {
		return "", "", fmt.Errorf("server-side apply of deploy/base/apiservice.yaml over KEDA's: %v; want a conflict naming keda-operator", conflict)
	}
	got, err := apis.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	if svc := got.Spec.Service; svc == nil || svc.Namespace != "keda" {
		return "", "", fmt.Errorf("after the refused apply the APIService points at %+v, want KEDA's", svc)
	}
	alsoMsg, err := also()
	if err != nil {
		return "", "", err
	}
	if got, err := apis.Get(ctx, name, metav1.GetOptions{}); err != nil || got.Spec.Service == nil || got.Spec.Service.Namespace != "keda" {
		return "", "", fmt.Errorf("after the refused install the APIService is %+v (%v), want KEDA's", got.Spec.Service, err)
	}
	if err := apis.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return "", "", err
	}
	return conflict.Error(), alsoMsg, nil
}

// waitAPIService waits until the aggregator finds external.metrics.k8s.io
// (the chart's APIService, through its ExternalName Service for
// localhost) available.
func waitAPIService(ctx context.Context, c *cluster) error {
	agg, err := aggregator.NewForConfig(c.AdminREST)
	if err != nil {
		return err
	}
	apis := agg.ApiregistrationV1().APIServices()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := apis.Get(ctx, "v1beta1.external.metrics.k8s.io", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range s.Status.Conditions {
			if cond.Type == apiregistrationv1.Available {
				if cond.Status == apiregistrationv1.ConditionTrue {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("APIService not available after 60s: %s: %s", cond.Reason, cond.Message)
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("APIService has no Available condition after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createWorkloads creates the Deployments (their Pods never run: there
// is no scheduler or kubelet; the HPAs only set spec.replicas) and a
// PredictiveAutoscaler for each: workload's from 1 to 20 replicas,
// stepsWorkload's from 20 to 21, so that its recommendation steps by one
// replica during the ramp; and the Deployment stepsDefault.
func createWorkloads(ctx context.Context, c *cluster) error {
	return errors.Join(
		createDeployment(ctx, c, workload, 1),
		createResource(ctx, c, workload, capacity, 1, 20),
		createDeployment(ctx, c, stepsWorkload, 20),
		createResource(ctx, c, stepsWorkload, stepsCapacity, 20, 21),
		createDeployment(ctx, c, stepsDefault, 20))
}

// createDeployment creates a Deployment of replicas named name.
func createDeployment(ctx context.Context, c *cluster, name string, replicas int32) error {
	labels := map[string]string{"app": name}
	_, err := c.Admin.AppsV1().Deployments(namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/" + name + ":e2e"}}},
			},
		},
	}, metav1.CreateOptions{})
	return err
}

// createScaled creates, by hand, an HPA of the Deployment name on the
// recommendation of the prescale target, with the cluster's default
// behavior (its 10% tolerance).
func createScaled(ctx context.Context, c *cluster, name, target string, minReplicas, maxReplicas int32) error {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &minReplicas,
			MaxReplicas:    maxReplicas,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ExternalMetricSourceType,
				External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{
						Name:     extMetric,
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"target": target}},
					},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(1, resource.DecimalSI)},
				},
			}},
		},
	}
	_, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Create(ctx, hpa, metav1.CreateOptions{})
	return err
}

// externalMetric GETs an external metric through kube-apiserver, as the
// HPA controller does.
func externalMetric(ctx context.Context, c *cluster, ns, metric, selector string) (*externalmetrics.ExternalMetricValueList, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := c.Admin.Discovery().RESTClient().Get().
		AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, metric).
		Param("labelSelector", selector).
		DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var list externalmetrics.ExternalMetricValueList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode %s: %w", body, err)
	}
	return &list, nil
}

// hpaConditions describes the HPA's conditions, for failure messages.
func hpaConditions(ctx context.Context, c *cluster) string {
	h, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, workload, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, cond := range h.Status.Conditions {
		fmt.Fprintf(&b, "HPA %s=%s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	return b.String()
}

// sleepUntil sleeps until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// lead is when the Deployment reached a replica count and when the load
// first needed it.
type lead struct {
	What           string
	Replicas       int32
	Scaled, Needed time.Time
}

func (l lead) Lead() time.Duration { return l.Needed.Sub(l.Scaled) }

// leads measures two leads: of the first scale-up beyond what the load
// then needed (the first proactive step), and of the peak.
func leads(samples []sample, s loadShape) ([]lead, error) {
	// needAt is the first step at or after from whose load needs n
	// replicas.
	needAt := func(n int32, from time.Time) (time.Time, bool) {
		for t := s.Grid(from); t.Before(s.Origin.Add(s.RampUp + s.Step)); t = t.Add(s.Step) {
			if int32(need(s.At(t))) >= n {
				return t, true
			}
		}
		return time.Time{}, false
	}
	peak := int32(need(s.Peak))
	var out []lead
	for _, sm := range samples {
		if sm.Replicas > int32(need(sm.Load)) {
			t, ok := needAt(sm.Replicas, sm.At)
			if !ok {
				return nil, fmt.Errorf("%s: Deployment at %d replicas, which the load never needs", sm.At.Format(time.TimeOnly), sm.Replicas)
			}
			out = append(out, lead{"first scale-up beyond the load:", sm.Replicas, sm.At, t})
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the Deployment never had more replicas than the load needed: no proactive scale-up")
	}
	for _, sm := range samples {
		if sm.Replicas >= peak {
			t, _ := needAt(peak, s.Origin)
			out = append(out, lead{fmt.Sprintf("peak (%.0f needs %d):", s.Peak, peak), peak, sm.At, t})
			return out, nil
		}
	}
	return nil, fmt.Errorf("the Deployment never reached the %d replicas the peak needs", peak)
}

// followErrors checks that the HPA follows prescale within followLag,
// both ways: every value of the HPA's desired replicas and of the
// Deployment was prescale's recommendation at some moment of the followLag
// before, and every value prescale holds for followLag is reached within
// followLag. Samples in [down, up+followLag) (prescale restarting) and
// before the HPA's first sync are left out.
func followErrors(samples []sample, down, up time.Time) []string {
	skip := func(s sample) bool {
		return s.Desired == 0 || !s.At.Before(down) && s.At.Before(up.Add(followLag))
	}
	var errs []string
	for j, s := range samples {
		if skip(s) {
			continue
		}
		desiredOK, replicasOK := false, false
		for i := j; i >= 0 && !samples[i].At.Before(s.At.Add(-followLag)); i-- {
			desiredOK = desiredOK || int32(samples[i].Rec) == s.Desired
			replicasOK = replicasOK || int32(samples[i].Rec) == s.Replicas
		}
		if !desiredOK || !replicasOK {
			errs = append(errs, fmt.Sprintf("%s: HPA desired %d, Deployment %d: not what prescale recommended in the %v before",
				s.At.Format(time.TimeOnly), s.Desired, s.Replicas, followLag))
		}
	}
	for i := 0; i < len(samples); {
		j := i
		for j < len(samples) && samples[j].Rec == samples[i].Rec {
			j++
		}
		from, v, end := samples[i].At, samples[i].Rec, samples[j-1].At
		i = j
		if v < 0 || end.Sub(from) < followLag {
			continue
		}
		reached, judged := false, false
		for _, s := range samples {
			if s.At.Before(from) || s.At.After(from.Add(followLag)) || skip(s) {
				continue
			}
			judged = true
			if s.Desired == int32(v) && s.Replicas == int32(v) {
				reached = true
				break
			}
		}
		if judged && !reached {
			errs = append(errs, fmt.Sprintf("prescale recommended %d from %s to %s, but the HPA and the Deployment did not reach it within %v",
				v, from.Format(time.TimeOnly), end.Format(time.TimeOnly), followLag))
		}
	}
	return errs
}

// printTimeline logs one line per HPA sync period, and the events.
func printTimeline(t *testing.T, origin time.Time, samples []sample, events []event) {
	var b strings.Builder
	fmt.Fprintf(&b, "timeline (t is relative to the start of the ramp, %s):\n", origin.Format(time.TimeOnly))
	fmt.Fprintf(&b, "%8s %8s %5s %4s  %-24s %4s %6s\n", "time", "t", "load", "need", "prescale (forecast max)", "HPA", "deploy")
	var next time.Time
	ev := 0
	for _, s := range samples {
		for ev < len(events) && !events[ev].At.After(s.At) {
			fmt.Fprintf(&b, "%8s %8s  --- %s\n", events[ev].At.Format(time.TimeOnly), rel(events[ev].At, origin), events[ev].What)
			ev++
		}
		if s.At.Before(next) {
			continue
		}
		next = s.At.Add(hpaSync)
		rec, forecast := "-", "-"
		if s.Rec >= 0 {
			rec, forecast = strconv.Itoa(s.Rec), strconv.FormatFloat(s.Forecast, 'f', 0, 64)
		}
		stale := ""
		if s.Stale {
			stale = "stale"
		}
		fmt.Fprintf(&b, "%8s %8s %5.0f %4d  %-2s %-8s %5s %-6s %4d %6d\n", s.At.Format(time.TimeOnly), rel(s.At, origin),
			s.Load, need(s.Load), rec, s.Won, forecast, stale, s.Desired, s.Replicas)
	}
	for ; ev < len(events); ev++ {
		fmt.Fprintf(&b, "%8s %8s  --- %s\n", events[ev].At.Format(time.TimeOnly), rel(events[ev].At, origin), events[ev].What)
	}
	t.Log(b.String())
}

func rel(t, origin time.Time) string {
	d := t.Sub(origin).Round(time.Second)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if left, err := promtest.Children(); err == nil && len(left) > 0 {
		fmt.Fprintf(os.Stderr, "child processes left running: %q\n", left)
		code = 1
	}
	os.Exit(code)
}

// replicaProc is one of the chart's replicas, run here.
type replicaProc struct {
	name, dir string
	args      []string
	ps        *prescale
}

// replicaNames names three replicas so that the first, which the test
// asks over REST and restarts, does not own target: the test kills the
// owner.
func replicaNames(target string) []string {
	for i := 0; ; i++ {
		names := []string{fmt.Sprintf("prescale-e2e-%d", i), fmt.Sprintf("prescale-e2e-%d", i+1), fmt.Sprintf("prescale-e2e-%d", i+2)}
		if rendezvous.Owner(target, names) != names[0] {
			return names
		}
	}
}

// deploymentReplicas is the Deployment's spec.replicas.
func deploymentReplicas(ctx context.Context, c *cluster, name string) (int32, error) {
	d, err := c.Admin.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	if d.Spec.Replicas == nil {
		return 0, fmt.Errorf("deployment %s has no spec.replicas", name)
	}
	return *d.Spec.Replicas, nil
}

// checkResourceEvents: the launch every resource declares, written as
// wall time in Paris, is its target's, and is listed with the effect the
// policy gives it once the target is fitted.
func checkResourceEvents(ctx context.Context, t *testing.T, ps *prescale, targetName string) {
	code, body, err := ps.Do(ctx, http.MethodGet, "/v1/targets/"+targetName, "", nil)
	var tg struct {
		Spec struct {
			Events []struct{ Name, Start, TimeZone string } `json:"events"`
		} `json:"spec"`
		Events []struct {
			Name   string    `json:"name"`
			Start  time.Time `json:"start"`
			Effect string    `json:"effect"`
			Factor float64   `json:"factor"`
		} `json:"events"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &tg) != nil {
		t.Fatalf("GET /v1/targets/%s: %d %v %.2000s", targetName, code, err, body)
	}
	if len(tg.Spec.Events) != 1 || tg.Spec.Events[0].Name != "launch" || tg.Spec.Events[0].TimeZone != "Europe/Paris" {
		t.Errorf("spec events %+v, want the resource's launch in Europe/Paris", tg.Spec.Events)
	}
	if len(tg.Events) != 1 || !tg.Events[0].Start.Equal(launchAt) || tg.Events[0].Effect != "declared" || tg.Events[0].Factor != 2 {
		t.Errorf("status events %+v, want the launch at %v (UTC), declared ×2", tg.Events, launchAt.UTC())
	}
}
