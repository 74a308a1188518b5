package main

import (
	"bytes"
	"fmt"
	"os"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/yaml"

	"github.com/prescale/prescale/models/backtest"
)

// loadBehavior reads an HPA's spec.behavior from a YAML file, either the
// behavior object itself or a whole HorizontalPodAutoscaler, and fills
// what it leaves out with the API server's defaults: a direction not given
// keeps its default rules, and a rule without a stabilization window,
// select policy or policies takes the default of its direction.
func loadBehavior(path string) (backtest.Behavior, error) {
	out := backtest.DefaultBehavior()
	raw, err := os.ReadFile(path)
	if err != nil {
		return out, err
	}
	var b autoscalingv2.HorizontalPodAutoscalerBehavior
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(raw, &probe); err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	if probe.Kind != "" {
		if probe.Kind != "HorizontalPodAutoscaler" {
			return out, fmt.Errorf("%s: kind %q: want a HorizontalPodAutoscaler or a behavior object", path, probe.Kind)
		}
		var hpa autoscalingv2.HorizontalPodAutoscaler
		if err := yaml.UnmarshalStrict(raw, &hpa); err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		if hpa.Spec.Behavior == nil {
			return out, fmt.Errorf("%s: the HorizontalPodAutoscaler has no spec.behavior", path)
		}
		b = *hpa.Spec.Behavior
	} else {
		if len(bytes.TrimSpace(raw)) == 0 {
			return out, fmt.Errorf("%s: empty file: want an HPA behavior (scaleUp, scaleDown)", path)
		}
		var wrapped struct {
			Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
		}
		if yaml.UnmarshalStrict(raw, &wrapped) == nil && wrapped.Behavior != nil {
			b = *wrapped.Behavior
		} else if err := yaml.UnmarshalStrict(raw, &b); err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
	}
	out, err = backtest.FromHPA(&b)
	if err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
