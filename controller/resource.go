package controller

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
)

// The custom resource.
const (
	Group    = "prescale.io"
	Version  = "v1alpha1"
	Kind     = "PredictiveAutoscaler"
	Resource = "predictiveautoscalers"
)

// GVR is the PredictiveAutoscaler resource; GVK its kind.
var (
	GVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}
	GVK = schema.GroupVersionKind{Group: Group, Version: Version, Kind: Kind}
)

// MaxFallbackMetrics bounds spec.fallback: a CPU and a memory metric, or
// a few of a workload's own, are what a fallback needs.
const MaxFallbackMetrics = 4

// Spec is a PredictiveAutoscaler's spec beyond the target's own fields,
// which are read by models.TargetFields from the same object: what the
// HPA scales and how.
type Spec struct {
	// ScaleTargetRef is the workload: any resource with a scale
	// subresource.
	ScaleTargetRef autoscalingv2.CrossVersionObjectReference `json:"scaleTargetRef"`
	// Behavior is the HPA's behavior; scale-up tolerance and window
	// default to 0, scale-down to the shipped 5-minute window at 10% a
	// minute (DefaultBehavior).
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	// Fallback metrics are added to the HPA beside prescale's, so that
	// the workload still scales up when prescale cannot answer (the HPA
	// takes the highest of its metrics, and never scales down while one
	// fails).
	Fallback []autoscalingv2.MetricSpec `json:"fallback,omitempty"`
}

// specKeys are the keys of spec that Spec reads; every other key is a
// target field.
var specKeys = []string{"scaleTargetRef", "behavior", "fallback"}

// Decoded is a PredictiveAutoscaler read: the target it declares and
// the rest of its spec.
type Decoded struct {
	Target models.Target
	Spec   Spec
}

// Decode reads a PredictiveAutoscaler: its target through
// models.TargetFields, the same fields, defaults and validation as the
// config file, the API and KEDA metadata, named after the resource
// (models.ObjectTargetName) and served in its namespace; and its HPA
// settings. Every problem is reported at once, each a *models.FieldError
// naming its field as in the resource ("spec.leadTime: must be
// positive, got 0s").
func Decode(obj *unstructured.Unstructured) (Decoded, error) {
	var d Decoded
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &models.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	spec, ok := obj.Object["spec"].(map[string]any)
	if !ok {
		return d, &models.FieldError{Field: "spec", Msg: "required"}
	}
	t := models.DefaultTarget()
	t.Namespace = obj.GetNamespace()
	if t.Name = models.ObjectTargetName(obj.GetNamespace(), obj.GetName()); t.Name == "" {
		bad("metadata.name", "required")
	}
	known := map[string]bool{}
	for _, k := range specKeys {
		known[k] = true
	}
	unreadable := map[string]bool{}
	for _, f := range models.TargetFields() {
		if f.Name == "name" || f.Name == "namespace" {
			continue // the resource's
		}
		known[f.Name] = true
		v, given := spec[f.Name]
		if !given || v == nil {
			if f.Required {
				bad("spec."+f.Name, "required")
				unreadable[f.Name] = true
			}
			continue
		}
		if err := parseField(&t, f, v); err != nil {
			unreadable[f.Name] = true
			errs = append(errs, inSpec(err)...)
		}
	}
	for k := range spec {
		if !known[k] {
			bad("spec."+k, "unknown field")
		}
	}
	if err := t.Validate(); err != nil {
		for _, e := range inSpec(err) {
			var fe *models.FieldError
			if errors.As(e, &fe) {
				field, _, _ := strings.Cut(strings.TrimPrefix(fe.Field, "spec."), "[")
				if unreadable[field] {
					continue // reported as unreadable already
				}
				if field == "name" || field == "namespace" {
					fe.Field = "metadata." + field
				}
			}
			errs = append(errs, e)
		}
	}
	hpa := map[string]any{}
	for _, k := range specKeys {
		if v, ok := spec[k]; ok {
			hpa[k] = v
		}
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(hpa, &d.Spec); err != nil {
		bad("spec", "scaleTargetRef, behavior or fallback unreadable: %v", err)
	}
	ref := d.Spec.ScaleTargetRef
	switch {
	case hpa["scaleTargetRef"] == nil:
		bad("spec.scaleTargetRef", "required")
	case ref.Kind == "" || ref.Name == "":
		bad("spec.scaleTargetRef", "must name the workload's kind and name, got kind %q, name %q", ref.Kind, ref.Name)
	}
	if n := len(d.Spec.Fallback); n > MaxFallbackMetrics {
		bad("spec.fallback", "must list at most %d metrics, got %d", MaxFallbackMetrics, n)
	}
	if _, err := behaviorOf(d.Spec.Behavior); err != nil {
		bad("spec.behavior", "%v", err)
	}
	d.Target = t
	return d, errors.Join(errs...)
}

// parseField sets field f of t from a JSON value of the resource: text
// as models.TargetField.Parse reads it ("3m", "0.9"), a number as its
// decimal text, a list item by item.
func parseField(t *models.Target, f models.TargetField, v any) error {
	switch x := v.(type) {
	case string:
		return f.Parse(t, x)
	case int64:
		return f.Parse(t, strconv.FormatInt(x, 10))
	case float64:
		return f.Parse(t, strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		return &models.FieldError{Field: f.Name, Msg: fmt.Sprintf("%t is not a value of this field", x)}
	case []any:
		if dst, ok := f.Addr(t).(*[]events.Spec); ok {
			return parseEvents(dst, f.Name, x)
		}
		if _, isList := f.Addr(t).(*[]time.Duration); !isList {
			return &models.FieldError{Field: f.Name, Msg: "is a list; want one value"}
		}
		items := make([]string, len(x))
		for i, item := range x {
			s, ok := item.(string)
			if !ok {
				return &models.FieldError{Field: fmt.Sprintf("%s[%d]", f.Name, i), Msg: fmt.Sprintf("%v is not a duration such as 1d", item)}
			}
			items[i] = s
		}
		return f.ParseList(t, items)
	}
	return &models.FieldError{Field: f.Name, Msg: fmt.Sprintf("a %T is not a value of this field", v)}
}

// parseEvents sets a list of events from the resource's objects, each
// field as events.Spec names it. An unreadable element is a
// *models.FieldError naming it ("events[1].multiplier").
func parseEvents(dst *[]events.Spec, name string, items []any) error {
	out := make([]events.Spec, len(items))
	var errs []error
	for i, item := range items {
		elem := fmt.Sprintf("%s[%d]", name, i)
		obj, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, &models.FieldError{Field: elem, Msg: fmt.Sprintf("%v is not an event (an object)", item)})
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			v := obj[k]
			switch p := out[i].Field(k).(type) {
			case *string:
				s, ok := v.(string)
				if !ok {
					errs = append(errs, &models.FieldError{Field: elem + "." + k, Msg: fmt.Sprintf("%v is not a string", v)})
				}
				*p = s
			case *float64:
				switch n := v.(type) {
				case int64:
					*p = float64(n)
				case float64:
					*p = n
				default:
					errs = append(errs, &models.FieldError{Field: elem + "." + k, Msg: fmt.Sprintf("%v is not a number", v)})
				}
			default:
				errs = append(errs, &models.FieldError{Field: elem + "." + k, Msg: "unknown field"})
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*dst = out
	return nil
}

// inSpec prefixes the fields of Validate's or Parse's errors with
// "spec.".
func inSpec(err error) []error { return models.InField("spec", err) }

// Status is a PredictiveAutoscaler's status.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
	// Target is the registry's name of the target (the external metric's
	// "target" label); HPA the HorizontalPodAutoscaler prescale owns.
	Target string `json:"target,omitempty"`
	HPA    string `json:"hpa,omitempty"`
	// CurrentReplicas and DesiredReplicas are the HPA's.
	CurrentReplicas *int32 `json:"currentReplicas,omitempty"`
	DesiredReplicas *int32 `json:"desiredReplicas,omitempty"`
	// Stale is set while the load's data is older than --stale-after.
	Stale          bool                  `json:"stale"`
	Recommendation *StatusRecommendation `json:"recommendation,omitempty"`
	Model          *StatusModel          `json:"model,omitempty"`
	Accuracy       *StatusAccuracy       `json:"accuracy,omitempty"`
	// NextEvent is the target's next known event (or the one under way),
	// within the week ahead.
	NextEvent *StatusEvent `json:"nextEvent,omitempty"`
}

// StatusEvent is an occurrence of a known event and the effect the policy
// gives it.
type StatusEvent struct {
	Name  string      `json:"name"`
	Start metav1.Time `json:"start"`
	// Effect: learned, declared or unknown (registry.EventStatus).
	Effect string `json:"effect"`
	// Summary is what kubectl get prints: "match 2027-01-09T18:00Z ×3.12
	// learned".
	Summary string `json:"summary"`
}

// StatusRecommendation is the last recommendation and why.
type StatusRecommendation struct {
	Replicas int32 `json:"replicas"`
	// Won names what decided it: forecast, reactive, min, max or held.
	Won    string `json:"won"`
	Reason string `json:"reason"`
	// Forecast is the load forecast at the provisioned quantile over the
	// lead window, as text ("612.4"), in the query's unit.
	Forecast string      `json:"forecast,omitempty"`
	Time     metav1.Time `json:"time"`
}

// StatusModel is the fitted model.
type StatusModel struct {
	Kind     string      `json:"kind"`
	Version  int64       `json:"version"`
	FittedAt metav1.Time `json:"fittedAt"`
	Reason   string      `json:"reason,omitempty"`
}

// StatusAccuracy is the live accuracy of past lead-time forecasts.
type StatusAccuracy struct {
	Points int `json:"points"`
	// WAPE, Bias and Coverage as percentages in text ("8.1%"), so that
	// kubectl prints them as they are read.
	WAPE     string `json:"wape"`
	Bias     string `json:"bias"`
	Coverage string `json:"coverage"`
	// Summary is what kubectl get prints: "WAPE 8.1%".
	Summary string `json:"summary"`
}

// Condition types of a PredictiveAutoscaler.
const (
	ConditionReady     = "Ready"
	ConditionFitted    = "Fitted"
	ConditionStale     = "Stale"
	ConditionFitFailed = "FitFailed"
)
