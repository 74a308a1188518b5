package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// fakeTargets is a registry of targets that answers one recommendation.
type fakeTargets struct {
	mu      sync.Mutex
	targets map[string]registry.TargetStatus
	deleted []string
}

func (f *fakeTargets) SetResource(t models.Target) (registry.TargetStatus, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.targets[t.Name]
	if ok && st.Origin != registry.OriginResource {
		return st, false, &registry.ConflictError{Name: t.Name, Origin: st.Origin}
	}
	st = registry.TargetStatus{
		Target: t, Origin: registry.OriginResource, ModelKind: "holtwinters", Generation: 1,
		FittedAt: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), FitDuration: time.Second,
		Accuracy: registry.Accuracy{Points: 30, WAPE: 0.081, Bias: -0.01, Coverage: 0.83},
		Events: []registry.EventStatus{
			{Name: "mail", Start: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), Effect: "declared", Load: 5000},
			{Name: "match", Start: time.Date(2030, 1, 5, 18, 0, 0, 0, time.UTC), To: time.Date(2030, 1, 5, 20, 0, 0, 0, time.UTC), Effect: "learned", Learned: 12, Factor: 3.123},
		},
	}
	f.targets[t.Name] = st
	return st, !ok, nil
}

func (f *fakeTargets) DeleteResource(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.targets, name)
	f.deleted = append(f.deleted, name)
	return nil
}

func (f *fakeTargets) Recommendation(name string) (models.Recommendation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.targets[name]; !ok {
		return models.Recommendation{}, registry.ErrNotFound
	}
	return models.Recommendation{Target: name, Time: time.Now(), Replicas: 7, Won: models.WonForecast,
		Reason: "the forecast needs 7", Forecast: models.ForecastPart{Max: 612.44}}, nil
}

// harness runs a controller over fake Kubernetes clients.
type harness struct {
	t       *testing.T
	c       *Controller
	targets *fakeTargets
	dyn     *dynamicfake.FakeDynamicClient
	kube    *kubefake.Clientset
}

func startController(t *testing.T, targets *fakeTargets, kubeObjs []runtime.Object, objs ...runtime.Object) *harness {
	t.Helper()
	return startControllerWith(t, &Options{StatusInterval: 50 * time.Millisecond}, targets, kubeObjs, objs...)
}

func startControllerWith(t *testing.T, opts *Options, targets *fakeTargets, kubeObjs []runtime.Object, objs ...runtime.Object) *harness {
	t.Helper()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GVR: Kind + "List"}, objs...)
	kube := kubefake.NewClientset(kubeObjs...)
	c, err := New(targets, dyn, kube, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &harness{t: t, c: c, targets: targets, dyn: dyn, kube: kube}
}

// eventually polls cond for up to 10 seconds.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	h.t.Fatalf("%s: not after 10s: %s", what, last)
}

func (h *harness) status(ns, name string) (Status, error) {
	u, err := h.dyn.Resource(GVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return Status{}, err
	}
	var st Status
	raw, _ := u.Object["status"].(map[string]any)
	err = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st)
	return st, err
}

func (h *harness) ready(ns, name string) (*metav1.Condition, Status) {
	st, err := h.status(ns, name)
	if err != nil {
		return nil, st
	}
	return meta.FindStatusCondition(st.Conditions, ConditionReady), st
}

func (h *harness) events() string {
	list, err := h.kube.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range list.Items {
		fmt.Fprintf(&b, "%s %s: %s\n", e.Type, e.Reason, e.Message)
	}
	return b.String()
}

// TestControllerActsOnlyForItsTargets runs the controller of a replica
// that does not own the resource's target: it registers the target (to
// answer for it) but writes no HPA, status or Event, until it owns it.
func TestControllerActsOnlyForItsTargets(t *testing.T) {
	var owns atomic.Bool
	var asked sync.Map
	h := startControllerWith(t, &Options{StatusInterval: 50 * time.Millisecond, Owns: func(target string) bool {
		asked.Store(target, true)
		return owns.Load()
	}}, &fakeTargets{targets: map[string]registry.TargetStatus{}}, nil, paResource(nil))
	ctx := context.Background()
	h.eventually("the target is registered", func() (bool, string) {
		h.targets.mu.Lock()
		defer h.targets.mu.Unlock()
		_, ok := h.targets.targets["shop-web"]
		return ok, ""
	})
	time.Sleep(300 * time.Millisecond) // several status intervals
	if _, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{}); err == nil {
		t.Error("a replica that does not own the target created the HPA")
	}
	if st, _ := h.status("shop", "web"); len(st.Conditions) > 0 {
		t.Errorf("a replica that does not own the target wrote the status %+v", st)
	}
	if ev := h.events(); ev != "" {
		t.Errorf("a replica that does not own the target wrote Events:\n%s", ev)
	}
	if _, ok := asked.Load("shop-web"); !ok {
		t.Error("Owns was not asked about the target shop-web")
	}

	owns.Store(true)
	h.c.Requeue()
	h.eventually("the new owner creates the HPA and writes the status", func() (bool, string) {
		_, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
		c, st := h.ready("shop", "web")
		return err == nil && c != nil && c.Status == metav1.ConditionTrue, fmt.Sprintf("%v %+v", err, st)
	})
}

func TestControllerOwnsTheHPA(t *testing.T) {
	h := startController(t, &fakeTargets{targets: map[string]registry.TargetStatus{}}, nil, paResource(nil))
	ctx := context.Background()
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	h.eventually("the HPA is created", func() (bool, string) {
		var err error
		hpa, err = h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	if ref := metav1.GetControllerOf(hpa); ref == nil || ref.Kind != Kind || ref.UID != "uid-web" || ref.Name != "web" {
		t.Errorf("HPA controller reference %+v, want the PredictiveAutoscaler", ref)
	}
	m := hpa.Spec.Metrics[0].External
	if m == nil || m.Metric.Name != recommendedMetric || m.Metric.Selector.MatchLabels["target"] != "shop-web" || m.Target.AverageValue.Value() != 1 {
		t.Errorf("HPA metric %+v, want %s{target=shop-web} at AverageValue 1", m, recommendedMetric)
	}
	if up := hpa.Spec.Behavior.ScaleUp; up.Tolerance == nil || !up.Tolerance.IsZero() || *up.StabilizationWindowSeconds != 0 {
		t.Errorf("scale-up %+v, want tolerance 0 and no window", up)
	}
	if *hpa.Spec.MinReplicas != 1 || hpa.Spec.MaxReplicas != 100 || hpa.Spec.ScaleTargetRef.Name != "web" {
		t.Errorf("HPA spec %+v, want the target's 1..100 on Deployment web", hpa.Spec)
	}
	h.eventually("the status is Ready", func() (bool, string) {
		c, st := h.ready("shop", "web")
		return c != nil && c.Status == metav1.ConditionTrue && st.Recommendation != nil && st.Accuracy != nil, fmt.Sprintf("%+v", st)
	})
	st, _ := h.status("shop", "web")
	if st.Target != "shop-web" || st.HPA != "web" || st.Recommendation.Replicas != 7 || st.Recommendation.Forecast != "612.4" ||
		st.Accuracy.Summary != "WAPE 8.1%" || st.Model.Kind != "holtwinters" || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	// The mail is over; the match is next.
	if e := st.NextEvent; e == nil || e.Name != "match" || e.Summary != "match 2030-01-05T18:00Z ×3.12 learned" || e.Effect != "learned" {
		t.Errorf("next event %+v, want the match, learned ×3.12", e)
	}
	for _, typ := range []string{ConditionFitted, ConditionStale, ConditionFitFailed} {
		if meta.FindStatusCondition(st.Conditions, typ) == nil {
			t.Errorf("no %s condition in %+v", typ, st.Conditions)
		}
	}
	h.eventually("Events", func() (bool, string) {
		ev := h.events()
		return strings.Contains(ev, "Normal Registered") && strings.Contains(ev, "Normal HPACreated") && strings.Contains(ev, "Normal Fitted"), ev
	})

	// A change of the resource reaches the target and the HPA.
	u, err := h.dyn.Resource(GVR).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unstructured.SetNestedField(u.Object, int64(30), "spec", "maxReplicas")
	u.SetGeneration(2)
	if _, err := h.dyn.Resource(GVR).Namespace("shop").Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the HPA follows the resource", func() (bool, string) {
		hpa, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && hpa.Spec.MaxReplicas == 30, fmt.Sprint(hpa.Spec.MaxReplicas, err)
	})
	h.eventually("the target follows the resource", func() (bool, string) {
		h.targets.mu.Lock()
		defer h.targets.mu.Unlock()
		return h.targets.targets["shop-web"].Target.MaxReplicas == 30, ""
	})

	// Deleting the resource removes the target (the HPA goes with its
	// owner, by Kubernetes' garbage collector, which the fake has not).
	if err := h.dyn.Resource(GVR).Namespace("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the target is removed", func() (bool, string) {
		h.targets.mu.Lock()
		defer h.targets.mu.Unlock()
		_, ok := h.targets.targets["shop-web"]
		return !ok, fmt.Sprint(h.targets.deleted)
	})
}

func TestControllerReportsConflicts(t *testing.T) {
	other := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web-cpu", Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    10,
		},
	}
	declared := &fakeTargets{targets: map[string]registry.TargetStatus{"shop-api": {Origin: registry.OriginConfig}}}
	api := paResource(map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}})
	api.SetName("api")
	api.SetUID("uid-api")
	bad := paResource(map[string]any{"leadTime": "0s"})
	bad.SetName("bad")
	h := startController(t, declared, []runtime.Object{other}, paResource(nil), api, bad)

	tests := []struct{ name, reason, says string }{
		{"web", "HPAConflict", "HorizontalPodAutoscaler web-cpu (created outside prescale) already scales Deployment web"},
		{"api", "TargetConflict", "a target named shop-api is already declared in the config file"},
		{"bad", "InvalidSpec", "spec.leadTime: must be positive, got 0s"},
	}
	for _, tt := range tests {
		h.eventually(tt.name+" is not Ready", func() (bool, string) {
			c, st := h.ready("shop", tt.name)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == tt.reason && strings.Contains(c.Message, tt.says), fmt.Sprintf("%+v", st.Conditions)
		})
	}
	for _, name := range []string{"web", "api", "bad"} {
		if _, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("HPA %s: %v, want none created", name, err)
		}
	}
	if got, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(context.Background(), "web-cpu", metav1.GetOptions{}); err != nil || got.Spec.MaxReplicas != 10 {
		t.Errorf("the other HPA was touched: %+v, %v", got, err)
	}
	h.eventually("Warning Events", func() (bool, string) {
		ev := h.events()
		return strings.Contains(ev, "Warning HPAConflict") && strings.Contains(ev, "Warning TargetConflict") && strings.Contains(ev, "Warning InvalidSpec"), ev
	})
	if _, ok := declared.targets["shop-bad"]; ok {
		t.Error("an invalid resource registered a target")
	}
}
