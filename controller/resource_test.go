package controller

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/backtest"
)

// readObject reads a YAML manifest of the repository as an unstructured
// object.
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &unstructured.Unstructured{Object: m}
}

// paResource is a valid PredictiveAutoscaler with spec fields replaced by
// set (nil deletes one).
func paResource(set map[string]any) *unstructured.Unstructured {
	spec := map[string]any{
		"scaleTargetRef":     map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
		"query":              "sum(rate(requests_total[1m]))",
		"capacityPerReplica": int64(100),
		"leadTime":           "3m",
	}
	for k, v := range set {
		if v == nil {
			delete(spec, k)
		} else {
			spec[k] = v
		}
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(GVK)
	u.SetNamespace("shop")
	u.SetName("web")
	u.SetUID("uid-web")
	u.SetGeneration(1)
	return u
}

func TestDecodeExample(t *testing.T) {
	u := readObject(t, "deploy/examples/predictiveautoscaler.yaml")
	d, err := Decode(u)
	if err != nil {
		t.Fatal(err)
	}
	want := models.DefaultTarget()
	want.Name, want.Namespace = "shop-checkout", "shop"
	want.Query = `sum(rate(http_requests_total{namespace="shop", job="checkout"}[2m]))`
	want.CapacityPerReplica, want.LeadTime, want.MinReplicas, want.MaxReplicas = 250, 3*time.Minute, 2, 40
	want.Events = []events.Spec{{Name: "match", Start: "2027-01-09T19:00:00", TimeZone: "Europe/Paris", Duration: "2h", Lead: "20m",
		RRule: "FREQ=WEEKLY;BYDAY=SA;COUNT=20", Multiplier: 3}}
	if models.ModelChanged(&d.Target, &want) || models.PolicyChanged(&d.Target, &want) || d.Target.Name != want.Name {
		t.Errorf("target\n got %+v\nwant %+v", d.Target, want)
	}
	if ref := d.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != "checkout" || ref.APIVersion != "apps/v1" {
		t.Errorf("scaleTargetRef %+v", ref)
	}
	if len(d.Spec.Fallback) != 1 || d.Spec.Fallback[0].Resource == nil || d.Spec.Fallback[0].Resource.Name != "cpu" {
		t.Errorf("fallback %+v, want the CPU metric", d.Spec.Fallback)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		want []string
	}{
		{"missing required", map[string]any{"query": nil, "leadTime": nil, "scaleTargetRef": nil},
			[]string{"spec.query: required", "spec.leadTime: required", "spec.scaleTargetRef: required"}},
		{"unreadable", map[string]any{"leadTime": "soon", "quantile": "most", "seasons": []any{"1d", "daily"}},
			[]string{`spec.leadTime: "soon" is not a duration`, `spec.quantile: "most" is not a number`, `spec.seasons[1]: "daily" is not a duration`}},
		{"out of range", map[string]any{"quantile": 1.5, "minReplicas": int64(50), "maxReplicas": int64(10), "capacityPerReplica": int64(0)},
			[]string{"spec.quantile: must be between 0 and 1 (exclusive), got 1.5", "spec.minReplicas: must not exceed maxReplicas (10), got 50", "spec.capacityPerReplica: must be positive, got 0"}},
		{"unknown field", map[string]any{"leadtime": "3m"}, []string{"spec.leadtime: unknown field"}},
		{"wrong type", map[string]any{"step": true, "query": []any{"a"}}, []string{"spec.step: true is not", "spec.query: is a list"}},
		{"workload without a name", map[string]any{"scaleTargetRef": map[string]any{"kind": "Deployment"}},
			[]string{`spec.scaleTargetRef: must name the workload's kind and name, got kind "Deployment", name ""`}},
		{"bad behavior", map[string]any{"behavior": map[string]any{"scaleUp": map[string]any{"selectPolicy": "Sometimes"}}},
			[]string{"spec.behavior: behavior.scaleUp.selectPolicy"}},
		{"unreadable events", map[string]any{"events": []any{
			map[string]any{"name": "a", "start": "2026-07-13T19:00:00", "duration": "2h", "multiplier": "lots", "when": "x"}, "launch"}},
			[]string{"spec.events[0].multiplier: lots is not a number", "spec.events[0].when: unknown field", "spec.events[1]: launch is not an event"}},
		{"bad calendar", map[string]any{"events": []any{
			map[string]any{"name": "a", "start": "2026-07-13T19:00:00", "timeZone": "Mars/Olympus", "duration": "2h"}}},
			[]string{`spec.events[0]: event "a": timeZone "Mars/Olympus": not an IANA time zone`}},
		{"too many fallbacks", map[string]any{"fallback": []any{map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}}},
			[]string{"spec.fallback: must list at most 4 metrics, got 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(paResource(tt.set))
			if err == nil {
				t.Fatal("no error")
			}
			var fe *models.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%v is not a *models.FieldError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}

// TestCRDMatchesTargetFields keeps deploy/base/crd.yaml's schema and the
// service's target fields the same: every field, and no other, with its
// type, required as the service requires it, the same bounds, and
// durations the service reads.
func TestCRDMatchesTargetFields(t *testing.T) {
	crd := readObject(t, "deploy/base/crd.yaml")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("%d versions, want 1", len(versions))
	}
	v := versions[0].(map[string]any)
	if v["name"] != Version {
		t.Errorf("version %v, want %s", v["name"], Version)
	}
	if g, _, _ := unstructured.NestedString(crd.Object, "spec", "group"); g != Group {
		t.Errorf("group %s, want %s", g, Group)
	}
	if p, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural"); p != Resource {
		t.Errorf("plural %s, want %s", p, Resource)
	}
	spec, _, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema", "properties", "spec")
	props := spec["properties"].(map[string]any)
	required, _, _ := unstructured.NestedStringSlice(spec, "required")

	wantRequired := []string{"scaleTargetRef"}
	names := slices.Clone(specKeys)
	tgt := models.Target{}
	for _, f := range models.TargetFields() {
		if f.Name == "name" || f.Name == "namespace" {
			continue
		}
		names = append(names, f.Name)
		if f.Required {
			wantRequired = append(wantRequired, f.Name)
		}
		p, ok := props[f.Name].(map[string]any)
		if !ok {
			t.Errorf("spec.%s: not in the CRD", f.Name)
			continue
		}
		want := map[string]string{"*string": "string", "*time.Duration": "string", "*float64": "number", "*int": "integer", "*[]time.Duration": "array", "*[]events.Spec": "array"}[typeName(f.Addr(&tgt))]
		if p["type"] != want {
			t.Errorf("spec.%s: type %v, want %s", f.Name, p["type"], want)
		}
		if want == "array" {
			p = p["items"].(map[string]any)
		}
		if pattern, ok := p["pattern"].(string); ok {
			re := regexp.MustCompile(pattern)
			if f.Default != "" && !re.MatchString(f.Default) {
				t.Errorf("spec.%s: the default %q does not match the CRD's pattern", f.Name, f.Default)
			}
			for _, good := range []string{"90s", "1h30m", "14d", "1w", "0", "500ms"} {
				if !re.MatchString(good) {
					t.Errorf("spec.%s: %q, a duration the service reads, does not match the pattern", f.Name, good)
				}
				if err := f.Parse(&models.Target{}, good); err != nil && want == "string" {
					t.Errorf("spec.%s: %q: %v", f.Name, good, err)
				}
			}
			if re.MatchString("soon") || re.MatchString("-1m") {
				t.Errorf("spec.%s: the pattern accepts what the service refuses", f.Name)
			}
		} else if typeName(f.Addr(&tgt)) == "*time.Duration" || typeName(f.Addr(&tgt)) == "*[]time.Duration" {
			t.Errorf("spec.%s: a duration without the duration pattern", f.Name)
		}
	}
	for name := range props {
		if !slices.Contains(names, name) {
			t.Errorf("spec.%s is in the CRD but not a field prescale reads", name)
		}
	}
	slices.Sort(required)
	slices.Sort(wantRequired)
	if !slices.Equal(required, wantRequired) {
		t.Errorf("required %v, want %v", required, wantRequired)
	}
	check := func(field, key string, want any) {
		t.Helper()
		if got := props[field].(map[string]any)[key]; got != want {
			t.Errorf("spec.%s.%s: %v (%T), want %v", field, key, got, got, want)
		}
	}
	check("query", "maxLength", float64(models.MaxQueryBytes))
	check("seasons", "maxItems", float64(models.MaxSeasons))
	check("fallback", "maxItems", float64(MaxFallbackMetrics))
	check("events", "maxItems", float64(models.MaxTargetEvents))
	item, _, _ := unstructured.NestedMap(props, "events", "items", "properties")
	if got := slices.Sorted(maps.Keys(item)); !slices.Equal(got, slices.Sorted(slices.Values(events.SpecFields()))) {
		t.Errorf("spec.events[] fields %v, want %v", got, events.SpecFields())
	}
	check("maxReplicas", "maximum", float64(models.MaxReplicas))
	check("minReplicas", "maximum", float64(models.MaxReplicas))
	enum, _, _ := unstructured.NestedStringSlice(props, "model", "enum")
	if !slices.Equal(enum, forecast.Kinds()) {
		t.Errorf("spec.model enum %v, want %v", enum, forecast.Kinds())
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *string:
		return "*string"
	case *time.Duration:
		return "*time.Duration"
	case *float64:
		return "*float64"
	case *int:
		return "*int"
	case *[]time.Duration:
		return "*[]time.Duration"
	case *[]events.Spec:
		return "*[]events.Spec"
	}
	return "?"
}

// TestDefaultBehaviorIsShipped: an owned HPA without a behavior behaves
// as deploy/'s HPAs and as the backtest replays them.
func TestDefaultBehaviorIsShipped(t *testing.T) {
	got, err := backtest.FromHPA(DefaultBehavior())
	if err != nil {
		t.Fatal(err)
	}
	if want := backtest.ShippedBehavior(); got.Settings("x").String() != want.Settings("x").String() {
		t.Errorf("DefaultBehavior is\n%s\nthe shipped one\n%s", got.Settings("x"), want.Settings("x"))
	}
}
