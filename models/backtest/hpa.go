package backtest

import (
	"fmt"
	"math"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The Kubernetes HPA's defaults (autoscaling/v2; kube-controller-manager's
// --horizontal-pod-autoscaler-sync-period and -tolerance).
const (
	DefaultSync      = 15 * time.Second
	DefaultTolerance = 0.1
)

// Policy types of an HPA scaling rule (HPAScalingPolicyType).
const (
	PodsPolicy    = "Pods"
	PercentPolicy = "Percent"
)

// Select policies of an HPA scaling rule (ScalingPolicySelect).
const (
	SelectMax      = "Max"
	SelectMin      = "Min"
	SelectDisabled = "Disabled"
)

// ScalingPolicy is one HPAScalingPolicy: at most Value pods (Pods) or
// Value percent of the replicas at the start of the period (Percent) may
// be added or removed within Period.
type ScalingPolicy struct {
	Type   string
	Value  int
	Period time.Duration
}

// ScalingRules is one direction of an HPA's behavior
// (HPAScalingRules).
type ScalingRules struct {
	// StabilizationWindow: when scaling down, the highest recommendation
	// within the window is used; when scaling up, the lowest.
	StabilizationWindow time.Duration
	// SelectPolicy picks among Policies: Max (the biggest change, the
	// default), Min (the smallest) or Disabled (no scaling this way).
	SelectPolicy string
	Policies     []ScalingPolicy
	// Tolerance, when set, replaces Behavior.Tolerance for changes in
	// this direction (HPAScalingRules.tolerance).
	Tolerance *float64
}

// Behavior is an HPA's spec.behavior together with its tolerance.
type Behavior struct {
	ScaleUp   ScalingRules
	ScaleDown ScalingRules
	// Tolerance is the ratio band around 1 within which the current
	// replica count is kept (kube-controller-manager's
	// --horizontal-pod-autoscaler-tolerance, 0.1).
	Tolerance float64
}

// DefaultBehavior is the behavior the API server fills in where an
// autoscaling/v2 HPA's spec.behavior leaves a field out, and the one the
// documentation gives as the default: scale up by at most 4 pods or 100%
// per 15 s, whichever is more, at once; scale down to the highest
// recommendation of the last 5 minutes, by up to 100% per 15 s. (An HPA
// with no spec.behavior at all takes the controller's older path, which
// limits a scale-up to max(2*current, 4) per sync and differs from this
// only below 4 replicas; the emulation follows the behavior path.)
func DefaultBehavior() Behavior {
	return Behavior{
		ScaleUp: ScalingRules{
			SelectPolicy: SelectMax,
			Policies: []ScalingPolicy{
				{Type: PodsPolicy, Value: 4, Period: 15 * time.Second},
				{Type: PercentPolicy, Value: 100, Period: 15 * time.Second},
			},
		},
		ScaleDown: ScalingRules{
			StabilizationWindow: 300 * time.Second,
			SelectPolicy:        SelectMax,
			Policies:            []ScalingPolicy{{Type: PercentPolicy, Value: 100, Period: 15 * time.Second}},
		},
		Tolerance: DefaultTolerance,
	}
}

// ShippedBehavior is the behavior of every HPA prescale ships
// (deploy/examples/hpa.yaml, hpa-forecast-load.yaml and the KEDA
// ScaledObjects): scale up at once and to the replica (tolerance 0, no
// stabilization window), scale down to the highest recommendation of the
// last 5 minutes, by at most 10% a minute, also to the replica. The
// cluster's tolerance stays the default; both directions override it.
func ShippedBehavior() Behavior {
	b := DefaultBehavior()
	upTolerance, downTolerance := 0.0, 0.0
	b.ScaleUp.StabilizationWindow = 0
	b.ScaleUp.Tolerance = &upTolerance
	b.ScaleDown.Tolerance = &downTolerance
	b.ScaleDown.Policies = []ScalingPolicy{{Type: PercentPolicy, Value: 10, Period: time.Minute}}
	return b
}

// Names of the behaviors the backtest knows without a file.
const (
	ShippedHPA        = "shipped"
	ClusterDefaultHPA = "cluster-defaults"
)

// FromHPA is the behavior of an HPA whose spec.behavior is b, with what
// b leaves out filled with the API server's defaults: a direction not
// given keeps its default rules, and a rule without a stabilization
// window, select policy or policies takes the default of its direction.
// nil is the default behavior. An invalid behavior is an error naming
// the field ("behavior.scaleUp.policies[0].value: ...").
func FromHPA(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (Behavior, error) {
	out := DefaultBehavior()
	if b != nil {
		applyRules(&out.ScaleUp, b.ScaleUp)
		applyRules(&out.ScaleDown, b.ScaleDown)
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("behavior.%w", err)
	}
	return out, nil
}

// applyRules overrides dst (holding the direction's defaults) with what r
// sets.
func applyRules(dst *ScalingRules, r *autoscalingv2.HPAScalingRules) {
	if r == nil {
		return
	}
	if r.StabilizationWindowSeconds != nil {
		dst.StabilizationWindow = time.Duration(*r.StabilizationWindowSeconds) * time.Second
	}
	if r.SelectPolicy != nil {
		dst.SelectPolicy = string(*r.SelectPolicy)
	}
	if len(r.Policies) > 0 {
		dst.Policies = nil
		for _, p := range r.Policies {
			dst.Policies = append(dst.Policies, ScalingPolicy{
				Type: string(p.Type), Value: int(p.Value), Period: time.Duration(p.PeriodSeconds) * time.Second,
			})
		}
	}
	if r.Tolerance != nil {
		t := r.Tolerance.AsApproximateFloat64()
		dst.Tolerance = &t
	}
}

// NamedBehavior is the behavior called name (ShippedHPA or
// ClusterDefaultHPA); false for any other name.
func NamedBehavior(name string) (Behavior, bool) {
	switch name {
	case ShippedHPA:
		return ShippedBehavior(), true
	case ClusterDefaultHPA:
		return DefaultBehavior(), true
	}
	return Behavior{}, false
}

// HPASettings describes an HPA's behavior in a result: its name (ShippedHPA,
// ClusterDefaultHPA or the file it was read from) and the rules each
// direction follows, with the tolerance in effect.
type HPASettings struct {
	Name      string        `json:"name"`
	ScaleUp   RulesSettings `json:"scale_up"`
	ScaleDown RulesSettings `json:"scale_down"`
}

// RulesSettings is one direction of an HPASettings.
type RulesSettings struct {
	Tolerance           float64 `json:"tolerance"`
	StabilizationWindow string  `json:"stabilization_window"`
	SelectPolicy        string  `json:"select_policy"`
	// Policies read "4 Pods per 15s", "10 Percent per 1m".
	Policies []string `json:"policies"`
}

// Settings describes b under name.
func (b *Behavior) Settings(name string) HPASettings {
	rules := func(r *ScalingRules) RulesSettings {
		out := RulesSettings{Tolerance: b.Tolerance, StabilizationWindow: fmtDuration(r.StabilizationWindow), SelectPolicy: r.SelectPolicy}
		if r.Tolerance != nil {
			out.Tolerance = *r.Tolerance
		}
		if out.SelectPolicy == "" {
			out.SelectPolicy = SelectMax
		}
		for _, p := range r.Policies {
			out.Policies = append(out.Policies, fmt.Sprintf("%d %s per %s", p.Value, p.Type, fmtDuration(p.Period)))
		}
		return out
	}
	return HPASettings{Name: name, ScaleUp: rules(&b.ScaleUp), ScaleDown: rules(&b.ScaleDown)}
}

// String is s in one line: "shipped: scale-up tolerance 0, window 0s,
// Max of 4 Pods per 15s, 100 Percent per 15s; scale-down tolerance 0, ...".
func (s HPASettings) String() string {
	rules := func(dir string, r RulesSettings) string {
		if r.SelectPolicy == SelectDisabled {
			return dir + " disabled"
		}
		pols := strings.Join(r.Policies, ", ")
		if len(r.Policies) > 1 {
			pols = r.SelectPolicy + " of " + pols
		}
		return fmt.Sprintf("%s tolerance %g, window %s, %s", dir, r.Tolerance, r.StabilizationWindow, pols)
	}
	return fmt.Sprintf("%s: %s; %s", s.Name, rules("scale-up", s.ScaleUp), rules("scale-down", s.ScaleDown))
}

// Validate reports a behavior the API server would reject.
func (b *Behavior) Validate() error {
	if !(b.Tolerance >= 0) || math.IsInf(b.Tolerance, 0) {
		return fmt.Errorf("tolerance: must not be negative, got %v", b.Tolerance)
	}
	for _, r := range []struct {
		name  string
		rules *ScalingRules
	}{{"scaleUp", &b.ScaleUp}, {"scaleDown", &b.ScaleDown}} {
		rules := r.rules
		if t := rules.Tolerance; t != nil && (!(*t >= 0) || math.IsInf(*t, 0)) {
			return fmt.Errorf("%s.tolerance: must not be negative, got %v", r.name, *t)
		}
		if rules.StabilizationWindow < 0 || rules.StabilizationWindow > time.Hour {
			return fmt.Errorf("%s.stabilizationWindowSeconds: must be between 0 and 3600 s, got %v", r.name, rules.StabilizationWindow)
		}
		switch rules.SelectPolicy {
		case "", SelectMax, SelectMin, SelectDisabled:
		default:
			return fmt.Errorf("%s.selectPolicy: must be Max, Min or Disabled, got %q", r.name, rules.SelectPolicy)
		}
		if len(rules.Policies) == 0 && rules.SelectPolicy != SelectDisabled {
			return fmt.Errorf("%s.policies: at least one policy is needed", r.name)
		}
		for i, p := range rules.Policies {
			if p.Type != PodsPolicy && p.Type != PercentPolicy {
				return fmt.Errorf("%s.policies[%d].type: must be Pods or Percent, got %q", r.name, i, p.Type)
			}
			if p.Value <= 0 {
				return fmt.Errorf("%s.policies[%d].value: must be positive, got %d", r.name, i, p.Value)
			}
			if p.Period <= 0 || p.Period > 30*time.Minute {
				return fmt.Errorf("%s.policies[%d].periodSeconds: must be between 1 and 1800 s, got %v", r.name, i, p.Period)
			}
		}
	}
	return nil
}

// Propose is the HPA's replica proposal for an External metric with an
// AverageValue target (ReplicaCalculator's GetExternalPerPodMetricReplicas)
// with the behavior's tolerances: the current count while the usage ratio
// usage/(target*current) is within tolerance of 1 (below 1 the scale-down
// tolerance, above 1 the scale-up one), otherwise ceil(usage/target).
// usage and target are in milli-units as the HPA reads quantities.
func (b *Behavior) Propose(current int, usage, target float64) int {
	down, up := b.Tolerance, b.Tolerance
	if t := b.ScaleDown.Tolerance; t != nil {
		down = *t
	}
	if t := b.ScaleUp.Tolerance; t != nil {
		up = *t
	}
	return externalAverageValue(current, usage, target, down, up)
}

func externalAverageValue(current int, usage, target, down, up float64) int {
	milliUsage := math.Ceil(usage * 1000)
	milliTarget := math.Ceil(target * 1000)
	if milliTarget <= 0 {
		return current
	}
	if current > 0 {
		ratio := milliUsage / (milliTarget * float64(current))
		// Tolerances.isWithin, written as the controller writes it: with
		// ratio-1 <= up, 1.1-1 would be 0.10000000000000009.
		if 1-down <= ratio && ratio <= 1+up {
			return current
		}
	}
	n := math.Ceil(milliUsage / milliTarget)
	if n >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

// HPA emulates one HorizontalPodAutoscaler's replica decisions as
// kube-controller-manager's horizontal.go makes them with a behavior:
// the recommendation is stabilized over the windows, then limited by the
// scaling policies over the scale events of their periods, then by the
// min and max replicas.
type HPA struct {
	Behavior    Behavior
	MinReplicas int
	MaxReplicas int

	recommendations []timedValue // unstabilized proposals, with their times
	upEvents        []timedValue // replicas added, with the time
	downEvents      []timedValue // replicas removed
}

type timedValue struct {
	at time.Time
	n  int
}

// Sync is one reconcile at now: current is the scale's replica count and
// proposal the metric's replica proposal (externalAverageValue). It
// returns the new desired count and records the decision as the
// controller does. A current count of 0 means scaling is disabled (the
// HPA leaves an idled workload alone).
func (h *HPA) Sync(now time.Time, current, proposal int) int {
	if current == 0 && h.MinReplicas != 0 {
		return 0
	}
	var desired int
	switch {
	case current > h.MaxReplicas:
		desired = h.MaxReplicas
	case current < h.MinReplicas:
		desired = h.MinReplicas
	default:
		desired = h.normalize(now, current, proposal)
	}
	if desired != current {
		h.storeEvent(now, current, desired)
	}
	return desired
}

// normalize is normalizeDesiredReplicasWithBehaviors: stabilize, then
// apply the rate limits and the bounds.
func (h *HPA) normalize(now time.Time, current, proposal int) int {
	stabilized := h.stabilize(now, current, proposal)
	return h.limit(now, current, stabilized)
}

// stabilize is stabilizeRecommendationWithBehaviors.
func (h *HPA) stabilize(now time.Time, current, proposal int) int {
	upCutoff := now.Add(-h.Behavior.ScaleUp.StabilizationWindow)
	downCutoff := now.Add(-h.Behavior.ScaleDown.StabilizationWindow)
	up, down := proposal, proposal
	old := -1
	for i, r := range h.recommendations {
		if r.at.After(upCutoff) {
			up = min(up, r.n)
		}
		if r.at.After(downCutoff) {
			down = max(down, r.n)
		}
		if r.at.Before(upCutoff) && r.at.Before(downCutoff) {
			old = i
		}
	}
	rec := current
	if rec < up {
		rec = up
	}
	if rec > down {
		rec = down
	}
	if old >= 0 {
		h.recommendations[old] = timedValue{now, proposal}
	} else {
		h.recommendations = append(h.recommendations, timedValue{now, proposal})
	}
	return rec
}

// limit is convertDesiredReplicasWithBehaviorRate.
func (h *HPA) limit(now time.Time, current, desired int) int {
	switch {
	case desired > current:
		limit := scaleUpLimit(now, current, h.upEvents, h.downEvents, &h.Behavior.ScaleUp)
		if limit < current {
			limit = current // no further scale-up until the events age out
		}
		return min(desired, h.MaxReplicas, limit)
	case desired < current:
		limit := scaleDownLimit(now, current, h.upEvents, h.downEvents, &h.Behavior.ScaleDown)
		if limit > current {
			limit = current
		}
		return max(desired, h.MinReplicas, limit)
	}
	return desired
}

// scaleUpLimit is calculateScaleUpLimitWithScalingRules.
func scaleUpLimit(now time.Time, current int, up, down []timedValue, r *ScalingRules) int {
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	pick, result := maxInt, math.MinInt32
	if r.SelectPolicy == SelectMin {
		pick, result = minInt, math.MaxInt32
	}
	for _, p := range r.Policies {
		start := current - changeIn(now, p.Period, up) + changeIn(now, p.Period, down)
		var proposed int
		if p.Type == PodsPolicy {
			proposed = start + p.Value
		} else {
			proposed = int(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimit is calculateScaleDownLimitWithBehaviors.
func scaleDownLimit(now time.Time, current int, up, down []timedValue, r *ScalingRules) int {
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	pick, result := minInt, math.MaxInt32
	if r.SelectPolicy == SelectMin {
		pick, result = maxInt, math.MinInt32
	}
	for _, p := range r.Policies {
		start := current - changeIn(now, p.Period, up) + changeIn(now, p.Period, down)
		var proposed int
		if p.Type == PodsPolicy {
			proposed = start - p.Value
		} else {
			proposed = int(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

// changeIn is getReplicasChangePerPeriod: the replicas changed by the
// events after now-period.
func changeIn(now time.Time, period time.Duration, events []timedValue) int {
	cutoff := now.Add(-period)
	n := 0
	for _, e := range events {
		if e.at.After(cutoff) {
			n += e.n
		}
	}
	return n
}

// storeEvent is storeScaleEvent: it records a rescale in its direction,
// reusing the slot of the last event older than the direction's longest policy
// period (markScaleEventsOutdated). Outdated events are kept otherwise:
// the other direction's policies may have longer periods and still count
// them.
func (h *HPA) storeEvent(now time.Time, prev, next int) {
	if next > prev {
		h.upEvents = storeEvent(h.upEvents, now, next-prev, longestPeriod(&h.Behavior.ScaleUp))
	} else {
		h.downEvents = storeEvent(h.downEvents, now, prev-next, longestPeriod(&h.Behavior.ScaleDown))
	}
}

func storeEvent(events []timedValue, now time.Time, n int, longest time.Duration) []timedValue {
	cutoff := now.Add(-longest)
	old := -1
	for i, e := range events {
		if e.at.Before(cutoff) {
			old = i // the last outdated one, as the controller picks
		}
	}
	if old >= 0 {
		events[old] = timedValue{now, n}
		return events
	}
	return append(events, timedValue{now, n})
}

func longestPeriod(r *ScalingRules) time.Duration {
	var d time.Duration
	for _, p := range r.Policies {
		d = max(d, p.Period)
	}
	return d
}

func minInt(a, b int) int { return min(a, b) }
func maxInt(a, b int) int { return max(a, b) }
