package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/prescale/prescale/models/registry"
)

// TestControllerExportsHPAReplicas checks that the replica that writes a
// PredictiveAutoscaler's HPA exports the HPA's current and desired
// replicas under the target's name, and that one that does not write it
// exports nothing.
func TestControllerExportsHPAReplicas(t *testing.T) {
	h := startController(t, &fakeTargets{targets: map[string]registry.TargetStatus{}}, nil, paResource(nil))
	ctx := context.Background()
	h.eventually("the HPA is created", func() (bool, string) {
		_, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	hpa, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas = 3, 5
	if _, err := h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP prescale_hpa_current_replicas The current replicas of the HPA prescale made for a PredictiveAutoscaler (its status), by the target it scales on; exported by the replica that writes it.
# TYPE prescale_hpa_current_replicas gauge
prescale_hpa_current_replicas{horizontalpodautoscaler="web",namespace="shop",target="shop-web"} 3
# HELP prescale_hpa_desired_replicas The desired replicas of the HPA prescale made for a PredictiveAutoscaler (its status), by the target it scales on; exported by the replica that writes it.
# TYPE prescale_hpa_desired_replicas gauge
prescale_hpa_desired_replicas{horizontalpodautoscaler="web",namespace="shop",target="shop-web"} 5
`
	h.eventually("the HPA's replicas are exported", func() (bool, string) {
		err := testutil.CollectAndCompare(h.c, strings.NewReader(want))
		return err == nil, fmt.Sprint(err)
	})
	// The same for the registry's history of recommendations.
	if n, ok := h.c.CurrentReplicas("shop-web"); n != 3 || !ok {
		t.Errorf("CurrentReplicas(shop-web) = %d, %v; want 3, true", n, ok)
	}
	if n, ok := h.c.CurrentReplicas("shop-other"); ok {
		t.Errorf("CurrentReplicas of a target without a resource = %d, true", n)
	}

	// Another replica sees the same HPA (its status set) and does not write it.
	hpa, err = h.kube.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := startControllerWith(t, &Options{Owns: func(string) bool { return false }},
		&fakeTargets{targets: map[string]registry.TargetStatus{}}, []runtime.Object{hpa}, paResource(nil))
	other.eventually("the other replica has synced", func() (bool, string) { return other.c.Synced(), "" })
	if n := testutil.CollectAndCount(other.c); n != 0 {
		t.Errorf("a replica that does not write the HPA exports %d series", n)
	}
	if n, ok := other.c.CurrentReplicas("shop-web"); ok {
		t.Errorf("a replica that does not write the HPA reports its replicas: %d", n)
	}
}
