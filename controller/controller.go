package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// Targets is what the controller needs of the registry.
type Targets interface {
	SetResource(t models.Target) (registry.TargetStatus, bool, error)
	DeleteResource(name string) error
	Recommendation(name string) (models.Recommendation, error)
}

var _ Targets = (*registry.Registry)(nil)

// Options configure a Controller. A nil *Options means the defaults.
type Options struct {
	// Namespace limits the controller to one namespace; empty watches
	// every namespace.
	Namespace string
	// StatusInterval is how often each resource's status is refreshed,
	// and the least time between two writes of it (default 15s).
	StatusInterval time.Duration
	// Workers reconcile resources at the same time (default 2).
	Workers int
	// Logger (default: discard).
	Logger *slog.Logger
	// Owns reports whether this replica acts for a resource's target (by
	// its name): creates and updates the HPA, writes the status and the
	// Events. Every replica registers every resource's target, so that
	// any of them answers for it; one writes. Nil: this replica acts for
	// every resource.
	Owns func(target string) bool
}

// DefaultStatusInterval is Options.StatusInterval's default.
const DefaultStatusInterval = 15 * time.Second

// Validate reports the first option out of range.
func (o *Options) Validate() error {
	switch {
	case o.StatusInterval < 0:
		return fmt.Errorf("controller: status interval %v is negative", o.StatusInterval)
	case o.Workers < 0:
		return fmt.Errorf("controller: workers %d is negative", o.Workers)
	}
	return nil
}

// Controller reconciles PredictiveAutoscalers: client-go's informers and
// work queue, as Kubernetes' own controllers are written (no framework:
// prescale already links client-go for the external metrics API, and
// one resource and the HPAs it owns are all it watches).
type Controller struct {
	targets Targets
	dyn     dynamic.Interface
	kube    kubernetes.Interface
	opts    Options
	log     *slog.Logger
	now     func() time.Time

	resources  dynamicinformer.DynamicSharedInformerFactory
	resLister  cache.GenericLister
	resSynced  cache.InformerSynced
	hpas       informers.SharedInformerFactory
	hpaLister  autoscalinglisters.HorizontalPodAutoscalerLister
	hpaSynced  cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	events     record.EventBroadcaster
	recorder   record.EventRecorder
	synced     atomic.Bool
	mu         sync.Mutex
	seen       map[string]*seen  // by resource key
	owners     map[string]string // target name -> resource key
	reconciles atomic.Int64
}

// seen is what the controller last reported about a resource, so that
// Events mark changes and status writes are spaced.
type seen struct {
	lastWrite    time.Time
	generation   int64
	modelVersion uint64
	fitErrors    uint64
	stale, held  bool
	problem      string
}

// New returns a controller of the PredictiveAutoscalers reachable with
// dyn, owning HPAs and writing Events with kube, registering targets in
// targets.
func New(targets Targets, dyn dynamic.Interface, kube kubernetes.Interface, opts *Options) (*Controller, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.StatusInterval == 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		targets: targets, dyn: dyn, kube: kube, opts: o, log: o.Logger, now: time.Now,
		seen: map[string]*seen{}, owners: map[string]string{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: Resource}),
	}
	// The resync refreshes every status each interval.
	c.resources = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, o.StatusInterval, o.Namespace, nil)
	inf := c.resources.ForResource(GVR)
	c.resLister, c.resSynced = inf.Lister(), inf.Informer().HasSynced
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	c.hpas = informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(o.Namespace))
	hpaInf := c.hpas.Autoscaling().V2().HorizontalPodAutoscalers()
	c.hpaLister, c.hpaSynced = hpaInf.Lister(), hpaInf.Informer().HasSynced
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.hpaChanged, UpdateFunc: func(_, obj any) { c.hpaChanged(obj) }, DeleteFunc: c.hpaChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// hpaChanged queues the resource that owns an HPA; an HPA of no resource
// may start or end a conflict, so it queues every resource of its
// namespace.
func (c *Controller) hpaChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(h); ref != nil && ref.Kind == Kind && ref.APIVersion == GVK.GroupVersion().String() {
		c.queue.Add(h.Namespace + "/" + ref.Name)
		return
	}
	objs, err := c.resLister.ByNamespace(h.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			c.queue.Add(m.GetNamespace() + "/" + m.GetName())
		}
	}
}

// acts reports whether this replica writes u's HPA, status and Events
// (Options.Owns).
func (c *Controller) acts(u *unstructured.Unstructured) bool {
	return c.opts.Owns == nil || c.opts.Owns(models.ObjectTargetName(u.GetNamespace(), u.GetName()))
}

// Requeue reconciles every resource again: after the replicas changed,
// this one may act for resources it did not.
func (c *Controller) Requeue() {
	objs, err := c.resLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			c.queue.Add(m.GetNamespace() + "/" + m.GetName())
		}
	}
}

// Synced reports whether the controller has listed every resource and
// HPA and reconciled each resource once: until then a target declared by
// a resource may not be served yet.
func (c *Controller) Synced() bool { return c.synced.Load() }

// Run watches and reconciles until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.events = record.NewBroadcaster(record.WithContext(ctx))
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	defer c.events.Shutdown()
	c.recorder = c.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "prescale"})

	c.resources.Start(ctx.Done())
	c.hpas.Start(ctx.Done())
	defer c.resources.Shutdown()
	defer c.hpas.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.resSynced, c.hpaSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("controller: the informers' caches did not sync")
	}
	c.log.Info("controller watching PredictiveAutoscalers", "namespace", c.opts.Namespace, "status_interval", c.opts.StatusInterval)
	var workers sync.WaitGroup
	for range c.opts.Workers {
		workers.Go(func() {
			for c.next(ctx) {
			}
		})
	}
	// Synced once every resource listed at the start was reconciled.
	initial, err := c.resLister.List(labels.Everything())
	if err == nil {
		for c.reconciles.Load() < int64(len(initial)) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		c.synced.Store(true)
	}
	<-ctx.Done()
	c.queue.ShutDown()
	workers.Wait()
	return nil
}

// next reconciles the next queued resource; false once the queue is shut
// down.
func (c *Controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	retry, err := c.reconcile(ctx, key)
	c.reconciles.Add(1)
	switch {
	case err != nil:
		c.log.Warn("reconcile failed; retrying", "resource", key, "err", err)
		c.queue.AddRateLimited(key)
	case retry > 0:
		c.queue.Forget(key)
		c.queue.AddAfter(key, retry)
	default:
		c.queue.Forget(key)
	}
	return true
}

// reconcile brings one resource's target, HPA and status in line. It
// returns when to look again, if a status write was held back.
func (c *Controller) reconcile(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	obj, err := c.resLister.ByNamespace(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return 0, fmt.Errorf("%s: unexpected object %T", key, obj)
	}
	if u.GetDeletionTimestamp() != nil {
		c.forget(key)
		return 0, nil
	}
	var old Status
	if raw, ok := u.Object["status"].(map[string]any); ok {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &old) // a status it cannot read is rewritten
	}
	st := Status{ObservedGeneration: u.GetGeneration(), Conditions: old.Conditions}
	c.mu.Lock()
	s := c.seen[key]
	if s == nil {
		s = &seen{}
		c.seen[key] = s
	}
	c.mu.Unlock()

	d, err := Decode(u)
	st.Target = d.Target.Name
	if err != nil {
		c.problem(u, s, &st, "InvalidSpec", "the spec is invalid: "+err.Error())
		return c.writeStatus(ctx, u, s, &old, &st)
	}
	ts, ok := c.register(u, s, &st, key, d.Target)
	if !ok {
		return c.writeStatus(ctx, u, s, &old, &st)
	}

	if !c.acts(u) {
		// Another replica writes the HPA and the status; this one serves
		// the target too.
		return 0, nil
	}
	hpa, reason, msg := c.ensureHPA(ctx, u, &d, s)
	if hpa != nil {
		st.HPA = hpa.Name
		if hpa.Status.CurrentReplicas > 0 || hpa.Status.DesiredReplicas > 0 {
			cur, des := hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas
			st.CurrentReplicas, st.DesiredReplicas = &cur, &des
		}
	}
	rec, recErr := c.targets.Recommendation(d.Target.Name)
	if recErr == nil {
		ts.Recommendation = &rec
	}
	c.modelStatus(u, s, &st, ts, d.Target.Name)
	switch {
	case reason != "":
		c.problem(u, s, &st, reason, msg)
	case recErr != nil:
		why := "no data yet"
		if ts.FetchError != "" {
			why = "no data yet: " + ts.FetchError
		}
		c.problem(u, s, &st, "WaitingForData", why)
	default:
		s.problem = ""
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Recommending",
			Message: fmt.Sprintf("HorizontalPodAutoscaler %s follows the recommendation of target %s", st.HPA, d.Target.Name),
		})
	}
	return c.writeStatus(ctx, u, s, &old, &st)
}

// register registers the resource's target t (its key the resource's).
// When it cannot (another resource or declaration has the name, the limit
// of targets), it records why in st and returns false.
func (c *Controller) register(u *unstructured.Unstructured, s *seen, st *Status, key string, t models.Target) (registry.TargetStatus, bool) {
	c.mu.Lock()
	owner, taken := c.owners[t.Name]
	if !taken {
		c.owners[t.Name] = key
	}
	c.mu.Unlock()
	if taken && owner != key {
		c.problem(u, s, st, "TargetConflict", fmt.Sprintf("the target name %s is already PredictiveAutoscaler %s's; rename one of them", t.Name, owner))
		return registry.TargetStatus{}, false
	}
	ts, created, err := c.targets.SetResource(t)
	var conflictErr *registry.ConflictError
	var limit *registry.LimitError
	switch {
	case errors.As(err, &conflictErr):
		c.problem(u, s, st, "TargetConflict", fmt.Sprintf("a target named %s is already %s", t.Name, registry.Where(conflictErr.Origin)))
		return ts, false
	case errors.As(err, &limit):
		c.problem(u, s, st, "TooManyTargets", fmt.Sprintf("prescale serves at most %d targets (--max-targets)", limit.Limit))
		return ts, false
	case err != nil:
		c.problem(u, s, st, "RegisterFailed", err.Error())
		return ts, false
	}
	if created {
		c.log.Info("target registered from a PredictiveAutoscaler", "resource", key, "target", t.Name)
		c.event(u, corev1.EventTypeNormal, "Registered", fmt.Sprintf("target %s registered: %s of history at %s steps, fitting", t.Name, t.History, t.Step))
	}
	return ts, true
}

// modelStatus fills the status from the target's: model, recommendation,
// accuracy, and the Fitted, FitFailed and Stale conditions, with Events
// when they change.
func (c *Controller) modelStatus(u *unstructured.Unstructured, s *seen, st *Status, ts registry.TargetStatus, target string) {
	cond := func(typ string, ok bool, yes, no, msg string) {
		status, reason := metav1.ConditionFalse, no
		if ok {
			status, reason = metav1.ConditionTrue, yes
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg})
	}
	if ts.ModelKind != "" {
		st.Model = &StatusModel{Kind: ts.ModelKind, Version: int64(ts.Generation), FittedAt: metav1.NewTime(ts.FittedAt), Reason: ts.ModelReason}
		cond(ConditionFitted, true, "Fitted", "", fmt.Sprintf("%s model version %d fitted at %s in %s",
			ts.ModelKind, ts.Generation, ts.FittedAt.UTC().Format(time.RFC3339), ts.FitDuration.Round(time.Millisecond)))
		if ts.Generation > s.modelVersion {
			if s.modelVersion > 0 || ts.Generation == 1 {
				c.event(u, corev1.EventTypeNormal, "Fitted", fmt.Sprintf("%s model version %d fitted in %s on %s to %s",
					ts.ModelKind, ts.Generation, ts.FitDuration.Round(time.Millisecond),
					ts.DataStart.UTC().Format(time.RFC3339), ts.DataEnd.UTC().Format(time.RFC3339)))
			}
			s.modelVersion = ts.Generation
		}
	} else {
		msg := "waiting for the first fit"
		if ts.FetchError != "" {
			msg += "; the last fetch failed: " + ts.FetchError
		}
		cond(ConditionFitted, false, "", "NotFitted", msg)
	}
	if ts.FitError != "" {
		cond(ConditionFitFailed, true, "FitFailed", "", ts.FitError)
		if ts.FitErrors > s.fitErrors {
			c.event(u, corev1.EventTypeWarning, "FitFailed", ts.FitError)
		}
	} else {
		cond(ConditionFitFailed, false, "", "FitSucceeded", "the last fit succeeded, or none ran yet")
	}
	s.fitErrors = ts.FitErrors

	st.NextEvent = nextEvent(ts.Events, c.now())
	rec := ts.Recommendation
	if rec == nil {
		return
	}
	st.Stale = rec.Stale
	st.Recommendation = &StatusRecommendation{
		Replicas: int32(rec.Replicas), Won: rec.Won, Reason: rec.Reason,
		Time: metav1.NewTime(rec.Time),
	}
	if rec.Forecast.Max > 0 {
		st.Recommendation.Forecast = strconv.FormatFloat(rec.Forecast.Max, 'f', 1, 64)
	}
	if rec.Stale {
		msg := fmt.Sprintf("no data for %s (since %s): %s", rec.StaleFor.Round(time.Second), rec.StaleSince.UTC().Format(time.RFC3339), rec.Reason)
		cond(ConditionStale, true, "DataStale", "", msg)
		if !s.stale {
			c.event(u, corev1.EventTypeWarning, "Stale", msg)
		}
	} else {
		cond(ConditionStale, false, "", "DataFresh", "the load's data is fresh")
		if s.stale {
			c.event(u, corev1.EventTypeNormal, "Fresh", "the load's data is fresh again")
		}
	}
	s.stale = rec.Stale
	held := rec.Won == models.WonHeld
	if held && !s.held {
		c.event(u, corev1.EventTypeWarning, "Holding", rec.Reason)
	}
	s.held = held
	if a := ts.Accuracy; a.Points > 0 {
		pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
		st.Accuracy = &StatusAccuracy{
			Points: a.Points, WAPE: pct(a.WAPE), Bias: pct(a.Bias), Coverage: pct(a.Coverage),
			Summary: "WAPE " + pct(a.WAPE),
		}
	}
}

// nextEvent is the first of a target's events whose window has not
// closed at now; nil when there is none.
func nextEvent(evs []registry.EventStatus, now time.Time) *StatusEvent {
	for _, e := range evs {
		if !e.To.After(now) {
			continue
		}
		summary := e.Name + " " + e.Start.UTC().Format("2006-01-02T15:04Z")
		switch {
		case e.Load > 0:
			summary += " load " + strconv.FormatFloat(e.Load, 'g', 4, 64)
		default:
			summary += " ×" + strconv.FormatFloat(e.Factor, 'f', 2, 64)
		}
		summary += " " + e.Effect
		return &StatusEvent{Name: e.Name, Start: metav1.NewTime(e.Start), Effect: e.Effect, Summary: summary}
	}
	return nil
}

// problem sets Ready false for reason, with an Event when the problem is
// new.
func (c *Controller) problem(u *unstructured.Unstructured, s *seen, st *Status, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg,
	})
	if p := reason + ": " + msg; p != s.problem {
		s.problem = p
		typ := corev1.EventTypeWarning
		if reason == "WaitingForData" {
			typ = corev1.EventTypeNormal
		}
		c.event(u, typ, reason, msg)
	}
}

func (c *Controller) event(u *unstructured.Unstructured, typ, reason, msg string) {
	if c.recorder != nil && c.acts(u) {
		c.recorder.Event(u, typ, reason, msg)
	}
}

// ensureHPA creates the resource's HPA, or updates it when the resource
// changed; another HPA on the workload, or one of the same name that is
// not the resource's, is a conflict (reason HPAConflict), never touched.
func (c *Controller) ensureHPA(ctx context.Context, u *unstructured.Unstructured, d *Decoded, s *seen) (*autoscalingv2.HorizontalPodAutoscaler, string, string) {
	want, err := desiredHPA(u, d)
	if err != nil {
		return nil, "InvalidSpec", "spec.behavior: " + err.Error()
	}
	uid := string(u.GetUID())
	all, err := c.hpaLister.HorizontalPodAutoscalers(u.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil, "HPAFailed", err.Error()
	}
	var mine *autoscalingv2.HorizontalPodAutoscaler
	for _, h := range all {
		switch {
		case h.Name == want.Name && !ownedBy(h, uid):
			return nil, "HPAConflict", fmt.Sprintf("HorizontalPodAutoscaler %s exists and is not this resource's; prescale does not take it over: delete or rename it", h.Name)
		case h.Name == want.Name:
			mine = h
		case sameWorkload(h.Spec.ScaleTargetRef, d.Spec.ScaleTargetRef):
			return mine, "HPAConflict", conflict(h, d.Spec.ScaleTargetRef)
		}
	}
	hpas := c.kube.AutoscalingV2().HorizontalPodAutoscalers(u.GetNamespace())
	if mine == nil {
		created, err := hpas.Create(ctx, want, metav1.CreateOptions{FieldManager: managedBy})
		if err != nil {
			return nil, "HPAFailed", "creating HorizontalPodAutoscaler " + want.Name + ": " + err.Error()
		}
		c.log.Info("HPA created", "resource", u.GetNamespace()+"/"+u.GetName(), "hpa", created.Name)
		c.event(u, corev1.EventTypeNormal, "HPACreated", fmt.Sprintf("HorizontalPodAutoscaler %s created on %s %s: external metric %s{target=%q}, scale-up tolerance %s",
			created.Name, d.Spec.ScaleTargetRef.Kind, d.Spec.ScaleTargetRef.Name, recommendedMetric, d.Target.Name, want.Spec.Behavior.ScaleUp.Tolerance))
		return created, "", ""
	}
	if mine.Annotations[specHashAnnotation] == want.Annotations[specHashAnnotation] {
		return mine, "", ""
	}
	next := mine.DeepCopy()
	next.Spec = want.Spec
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Labels[managedByLabel] = managedBy
	next.Annotations[specHashAnnotation] = want.Annotations[specHashAnnotation]
	updated, err := hpas.Update(ctx, next, metav1.UpdateOptions{FieldManager: managedBy})
	if err != nil {
		return mine, "HPAFailed", "updating HorizontalPodAutoscaler " + mine.Name + ": " + err.Error()
	}
	c.event(u, corev1.EventTypeNormal, "HPAUpdated", "HorizontalPodAutoscaler "+updated.Name+" updated to the resource's spec")
	return updated, "", ""
}

// writeStatus writes st unless it says what the resource's status says
// already; writes of one resource are at least StatusInterval apart,
// except the first for a new generation. It returns when to try again
// when a write was held back.
func (c *Controller) writeStatus(ctx context.Context, u *unstructured.Unstructured, s *seen, old, st *Status) (time.Duration, error) {
	if !c.acts(u) || sameStatus(old, st) {
		return 0, nil
	}
	now := c.now()
	if wait := s.lastWrite.Add(c.opts.StatusInterval).Sub(now); wait > 0 && s.generation == u.GetGeneration() {
		return wait, nil
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
	if err != nil {
		return 0, err
	}
	next := u.DeepCopy()
	next.Object["status"] = raw
	if _, err := c.dyn.Resource(GVR).Namespace(u.GetNamespace()).UpdateStatus(ctx, next, metav1.UpdateOptions{FieldManager: managedBy}); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("write status: %w", err)
	}
	s.lastWrite, s.generation = now, u.GetGeneration()
	return 0, nil
}

// sameStatus reports whether two statuses say the same, the time of the
// recommendation aside (it changes at every look).
func sameStatus(a, b *Status) bool {
	x, err1 := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	y, err2 := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, m := range []map[string]any{x, y} {
		if r, ok := m["recommendation"].(map[string]any); ok {
			delete(r, "time")
		}
	}
	return equality.Semantic.DeepEqual(x, y)
}

// forget removes the target of a resource that is gone; its HPA goes
// with it, by its owner reference (Kubernetes' garbage collector).
func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.seen, key)
	var target string
	for name, owner := range c.owners {
		if owner == key {
			target = name
			delete(c.owners, name)
		}
	}
	c.mu.Unlock()
	if target == "" {
		return
	}
	if err := c.targets.DeleteResource(target); err != nil {
		c.log.Warn("target of a deleted PredictiveAutoscaler not removed", "resource", key, "target", target, "err", err)
		return
	}
	c.log.Info("target removed with its PredictiveAutoscaler", "resource", key, "target", target)
}
