package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prescale/prescale/models/backtest"
)

// The external metric every owned HPA follows, as the external metrics
// API serves it (api.MetricRecommendedReplicas).
const recommendedMetric = "prescale_recommended_replicas"

// Labels and annotations on an owned HPA.
const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "prescale"
	// specHashAnnotation holds the hash of the HPA spec prescale wrote:
	// the API server fills in defaults, so the spec read back differs
	// from the one written even when nothing changed.
	specHashAnnotation = "prescale.io/spec-hash"
)

// DefaultBehavior is the behavior of an owned HPA whose resource sets
// none, the one deploy/examples/hpa.yaml ships and the backtest replays
// (backtest.ShippedBehavior): scale up at once with tolerance 0, so
// that a step of one replica lands at any size; scale down to the
// highest recommendation of the last 5 minutes, by at most 10% a
// minute, with tolerance 0.
func DefaultBehavior() *autoscalingv2.HorizontalPodAutoscalerBehavior {
	zero := int32(0)
	window := int32(300)
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: &zero,
			Tolerance:                  resource.NewQuantity(0, resource.DecimalSI),
		},
		ScaleDown: &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: &window,
			Tolerance:                  resource.NewQuantity(0, resource.DecimalSI),
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PercentScalingPolicy, Value: 10, PeriodSeconds: 60},
			},
		},
	}
}

// behaviorOf is the behavior an owned HPA gets from the resource's b: a
// direction b leaves out is DefaultBehavior's, and a scale-up without a
// tolerance gets 0 (the cluster's 10% would swallow prescale's small
// steps; set one to keep it). It is checked as the backtest reads it.
func behaviorOf(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (*autoscalingv2.HorizontalPodAutoscalerBehavior, error) {
	out := DefaultBehavior()
	if b != nil {
		if b.ScaleUp != nil {
			up := b.ScaleUp.DeepCopy()
			if up.Tolerance == nil {
				up.Tolerance = resource.NewQuantity(0, resource.DecimalSI)
			}
			out.ScaleUp = up
		}
		if b.ScaleDown != nil {
			out.ScaleDown = b.ScaleDown.DeepCopy()
		}
	}
	if _, err := backtest.FromHPA(out); err != nil {
		return nil, err
	}
	return out, nil
}

// desiredHPA is the HPA a resource asks for: named and namespaced as
// the resource, owned by it, following the recommendation of target
// with AverageValue 1 (the desired replicas are the recommendation),
// plus the fallback metrics.
func desiredHPA(owner metav1.Object, d *Decoded) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	behavior, err := behaviorOf(d.Spec.Behavior)
	if err != nil {
		return nil, err
	}
	minReplicas := int32(max(d.Target.MinReplicas, 1)) // the HPA's floor is 1 (0 needs a feature gate)
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: d.Spec.ScaleTargetRef,
		MinReplicas:    &minReplicas,
		MaxReplicas:    int32(d.Target.MaxReplicas),
		Metrics: append([]autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ExternalMetricSourceType,
			External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{
					Name:     recommendedMetric,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"target": d.Target.Name}},
				},
				Target: autoscalingv2.MetricTarget{
					Type:         autoscalingv2.AverageValueMetricType,
					AverageValue: resource.NewQuantity(1, resource.DecimalSI),
				},
			},
		}}, d.Spec.Fallback...),
		Behavior: behavior,
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	yes := true
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:        owner.GetName(),
			Namespace:   owner.GetNamespace(),
			Labels:      map[string]string{managedByLabel: managedBy},
			Annotations: map[string]string{specHashAnnotation: hex.EncodeToString(sum[:8])},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: GVK.GroupVersion().String(), Kind: Kind,
				Name: owner.GetName(), UID: owner.GetUID(),
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: spec,
	}, nil
}

// ownedBy reports whether the resource of uid controls h.
func ownedBy(h metav1.Object, uid string) bool {
	ref := metav1.GetControllerOf(h)
	return ref != nil && string(ref.UID) == uid
}

// sameWorkload reports whether two scale target references name the
// same workload: kind, name and API group (the version may differ).
func sameWorkload(a, b autoscalingv2.CrossVersionObjectReference) bool {
	ga, erra := schema.ParseGroupVersion(a.APIVersion)
	gb, errb := schema.ParseGroupVersion(b.APIVersion)
	return a.Kind == b.Kind && a.Name == b.Name && erra == nil && errb == nil && ga.Group == gb.Group
}

// conflict describes another HPA on the workload, in conditions and
// Events.
func conflict(h *autoscalingv2.HorizontalPodAutoscaler, ref autoscalingv2.CrossVersionObjectReference) string {
	by := "created outside prescale"
	if c := metav1.GetControllerOf(h); c != nil {
		by = fmt.Sprintf("controlled by %s %s", c.Kind, c.Name)
	}
	return fmt.Sprintf("HorizontalPodAutoscaler %s (%s) already scales %s %s; prescale does not fight it: delete it, or this resource",
		h.Name, by, ref.Kind, ref.Name)
}
