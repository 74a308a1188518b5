package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/prescale/prescale/controller"
)

// waitCRD waits until the PredictiveAutoscaler CRD the chart installed
// is established.
func waitCRD(ctx context.Context, c *cluster) error {
	dyn, err := dynamic.NewForConfig(c.AdminREST)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := crds.Get(ctx, controller.Resource+"."+controller.Group, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, cond := range conds {
				if m, _ := cond.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CRD %s.%s not established after 30s: %v", controller.Resource, controller.Group, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resources is the PredictiveAutoscalers of the test's namespace, as
// the admin.
func resources(c *cluster) (dynamic.ResourceInterface, error) {
	dyn, err := dynamic.NewForConfig(c.AdminREST)
	if err != nil {
		return nil, err
	}
	return dyn.Resource(controller.GVR).Namespace(namespace), nil
}

// newResource is a PredictiveAutoscaler of the Deployment name on the
// test's load, with spec fields replaced by set.
func newResource(name string, capacity float64, minReplicas, maxReplicas int, set map[string]any) *unstructured.Unstructured {
	spec := map[string]any{
		"scaleTargetRef":     map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
		"query":              metricName,
		"capacityPerReplica": capacity,
		"leadTime":           leadTime.String(),
		"step":               step.String(),
		"history":            history.String(),
		"seasons":            []any{period.String()},
		"minReplicas":        int64(minReplicas),
		"maxReplicas":        int64(maxReplicas),
		"events":             []any{launchEvent()},
	}
	for k, v := range set {
		spec[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(controller.GVK)
	u.SetName(name)
	u.SetNamespace(namespace)
	return u
}

// launchAt is when every resource's launch event starts: within the next
// week, so that the target's status lists it, and long after the test.
var launchAt = time.Now().Add(6 * 24 * time.Hour).Truncate(time.Hour)

// launchEvent is the event every resource declares, written as wall time
// in Paris.
func launchEvent() map[string]any {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return map[string]any{"name": "launch", "start": launchAt.In(paris).Format("2006-01-02T15:04:05"), "timeZone": "Europe/Paris",
		"duration": "2h", "lead": "30m", "multiplier": int64(2)}
}

// createResource creates a PredictiveAutoscaler for the Deployment name
// (which createDeployment made).
func createResource(ctx context.Context, c *cluster, name string, capacity float64, minReplicas, maxReplicas int) error {
	res, err := resources(c)
	if err != nil {
		return err
	}
	_, err = res.Create(ctx, newResource(name, capacity, minReplicas, maxReplicas, nil), metav1.CreateOptions{})
	return err
}

// ownedHPA waits until prescale has created the resource name's HPA, and
// checks what it must hold: the owner reference, the external metric of
// the resource's target at AverageValue 1, scale-up tolerance 0.
func ownedHPA(ctx context.Context, c *cluster, name, target string, timeout time.Duration) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	res, err := resources(c)
	if err != nil {
		return nil, err
	}
	owner, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		h, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			ref := metav1.GetControllerOf(h)
			switch m := h.Spec.Metrics[0].External; {
			case ref == nil || ref.UID != owner.GetUID() || ref.Kind != controller.Kind:
				return h, fmt.Errorf("HPA %s: controller %+v, want PredictiveAutoscaler %s (uid %s)", name, ref, name, owner.GetUID())
			case m == nil || m.Metric.Name != extMetric || m.Metric.Selector.MatchLabels["target"] != target || m.Target.AverageValue == nil || m.Target.AverageValue.Value() != 1:
				return h, fmt.Errorf("HPA %s: metric %+v, want %s{target=%s} at AverageValue 1", name, h.Spec.Metrics[0], extMetric, target)
			case h.Spec.Behavior == nil || h.Spec.Behavior.ScaleUp == nil || h.Spec.Behavior.ScaleUp.Tolerance == nil || !h.Spec.Behavior.ScaleUp.Tolerance.IsZero():
				return h, fmt.Errorf("HPA %s: scale-up %+v, want tolerance 0 (kept by the control plane: HPAConfigurableTolerance)", name, h.Spec.Behavior)
			}
			return h, nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("HPA %s of the PredictiveAutoscaler: %w", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// resourceStatus reads a PredictiveAutoscaler's status.
func resourceStatus(ctx context.Context, c *cluster, name string) (controller.Status, error) {
	var st controller.Status
	res, err := resources(c)
	if err != nil {
		return st, err
	}
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return st, err
	}
	raw, _ := u.Object["status"].(map[string]any)
	return st, runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st)
}

// waitReady waits until the resource's Ready condition holds and ok
// accepts its status.
func waitReady(ctx context.Context, c *cluster, name string, timeout time.Duration, ok func(controller.Status) bool) (controller.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := resourceStatus(ctx, c, name)
		ready := meta.FindStatusCondition(st.Conditions, controller.ConditionReady)
		if err == nil && ready != nil && ready.Status == metav1.ConditionTrue && ok(st) {
			return st, nil
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(st)
			return st, fmt.Errorf("PredictiveAutoscaler %s not ready after %v (%v): status %s", name, timeout, err, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// kubectlGet prints the PredictiveAutoscalers of every namespace as
// `kubectl get predictiveautoscalers -A` does: the server's Table, with
// the CRD's printer columns.
func kubectlGet(ctx context.Context, c *cluster) (string, error) {
	body, err := c.Admin.Discovery().RESTClient().Get().
		AbsPath("/apis", controller.Group, controller.Version, controller.Resource).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(ctx)
	if err != nil {
		return "", err
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		return "", err
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	head := []string{"NAMESPACE"}
	for _, col := range table.ColumnDefinitions {
		head = append(head, strings.ToUpper(col.Name))
	}
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, row := range table.Rows {
		var obj metav1.PartialObjectMetadata
		_ = json.Unmarshal(row.Object.Raw, &obj)
		cells := []string{obj.Namespace}
		for _, cell := range row.Cells {
			s := fmt.Sprint(cell)
			if cell == nil {
				s = "<none>"
			}
			cells = append(cells, s)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	w.Flush()
	return b.String(), nil
}

// badSpecs creates PredictiveAutoscalers the CRD's schema refuses and
// returns the API server's messages; each must name its field.
func badSpecs(ctx context.Context, c *cluster) ([]string, error) {
	res, err := resources(c)
	if err != nil {
		return nil, err
	}
	cases := []struct {
		set   map[string]any
		field string
	}{
		{map[string]any{"leadTime": "soon"}, "spec.leadTime"},
		{map[string]any{"quantile": 1.5}, "spec.quantile"},
		{map[string]any{"minReplicas": int64(30), "maxReplicas": int64(10)}, "spec.minReplicas"},
		{map[string]any{"model": "prophet"}, "spec.model"},
		{map[string]any{"events": []any{map[string]any{"name": "launch", "start": "2030-01-01T09:00:00"}}}, "spec.events[0].duration"},
	}
	var msgs []string
	for _, tc := range cases {
		_, err := res.Create(ctx, newResource("bad", capacity, 1, 10, tc.set), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
			return msgs, fmt.Errorf("a PredictiveAutoscaler with %v: %v; want Invalid naming %s", tc.set, err, tc.field)
		}
		msgs = append(msgs, err.Error())
	}
	return msgs, nil
}

// checkResources, at the end of the scenario: the API server refuses bad
// specs naming the field; a resource for a workload another HPA scales
// is reported, and that HPA left alone; deleting a resource deletes its
// HPA (Kubernetes' garbage collector, by the owner reference) and its
// target.
func checkResources(t *testing.T, c *cluster, ps *prescale) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := kubectlGet(ctx, c); err != nil {
		t.Error(err)
	} else {
		t.Logf("kubectl get predictiveautoscalers -A, Prometheus down:\n%s", out)
	}
	msgs, err := badSpecs(ctx, c)
	for _, m := range msgs {
		t.Logf("refused by the API server: %s", m)
	}
	if err != nil {
		t.Error(err)
	}

	// stepsDefault's HPA was made by hand: a resource for its Deployment
	// is not Ready, and the HPA stays as it is.
	res, err := resources(c)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, stepsDefault, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rival := newResource(stepsDefault, stepsCapacity, 20, 21, nil)
	rival.SetName("rival")
	if _, err := res.Create(ctx, rival, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		st, err := resourceStatus(ctx, c, "rival")
		if ready := meta.FindStatusCondition(st.Conditions, controller.ConditionReady); err == nil && ready != nil && ready.Reason == "HPAConflict" {
			t.Logf("a PredictiveAutoscaler for %s, which an HPA made by hand scales: Ready=%s %s: %s", stepsDefault, ready.Status, ready.Reason, ready.Message)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rival's status after 30s: %+v, %v; want Ready false with HPAConflict", st.Conditions, err)
		}
	}
	after, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, stepsDefault, metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion && metav1.GetControllerOf(after) != nil {
		t.Errorf("the HPA made by hand was changed: %v, controller %+v", err, metav1.GetControllerOf(after))
	}
	if _, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, "rival", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("HPA rival: %v; want none created beside the one made by hand", err)
	}

	// Deleting the steps resource deletes its HPA and its target.
	t0 := time.Now()
	if err := res.Delete(ctx, stepsWorkload, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var hpaGone, targetGone time.Duration
	for deadline := time.Now().Add(2 * time.Minute); hpaGone == 0 || targetGone == 0; time.Sleep(500 * time.Millisecond) {
		if _, err := c.Admin.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get(ctx, stepsWorkload, metav1.GetOptions{}); apierrors.IsNotFound(err) && hpaGone == 0 {
			hpaGone = time.Since(t0)
		}
		if _, err := ps.Recommendation(ctx, stepsTarget); err != nil && strings.Contains(err.Error(), "404") && targetGone == 0 {
			targetGone = time.Since(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 minutes after deleting PredictiveAutoscaler %s: HPA gone %v, target gone %v", stepsWorkload, hpaGone > 0, targetGone > 0)
		}
	}
	t.Logf("deleted PredictiveAutoscaler %s: its target was gone after %v, its HPA after %v", stepsWorkload,
		targetGone.Round(time.Millisecond), hpaGone.Round(time.Millisecond))
}
