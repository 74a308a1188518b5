package models

import (
	"time"

	"github.com/prescale/prescale/events"
)

// Target is one workload prescale forecasts and scales: where its load
// comes from, how much load one replica carries, and how far ahead it must
// be provisioned. Every field has an entry in TargetFields, which the
// loaders, the validation and the reload's change detection go by.
type Target struct {
	// Name identifies the target (a DNS-1123 label, like a Kubernetes
	// object name).
	Name string `yaml:"name" json:"name"`
	// Namespace, when set, is the Kubernetes namespace the target belongs
	// to (a DNS-1123 label): the external metrics API serves it only to
	// requests for that namespace. Empty means every namespace.
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Query is the PromQL query giving the target's load as one series.
	Query string `yaml:"query" json:"query"`
	// Step is the resolution of the history and the forecasts.
	Step time.Duration `yaml:"step" json:"step"`
	// History is how much history a fit uses.
	History time.Duration `yaml:"history" json:"history"`
	// CapacityPerReplica is the load one replica serves at the target
	// utilization, in the query's unit.
	CapacityPerReplica float64 `yaml:"capacityPerReplica" json:"capacity_per_replica"`
	// LeadTime is how long a new replica takes to help: pod start-up plus
	// HPA sync plus metric lag.
	LeadTime time.Duration `yaml:"leadTime" json:"lead_time"`
	// Margin widens the lead window beyond LeadTime.
	Margin time.Duration `yaml:"margin" json:"margin"`
	// Quantile is the forecast quantile provisioned for (default 0.9).
	Quantile float64 `yaml:"quantile" json:"quantile"`
	// MinReplicas and MaxReplicas clamp the recommendation.
	MinReplicas int `yaml:"minReplicas" json:"min_replicas"`
	MaxReplicas int `yaml:"maxReplicas" json:"max_replicas"`
	// Seasons declares seasonal periods (durations); empty means detected.
	Seasons []time.Duration `yaml:"seasons" json:"seasons,omitempty"`
	// RefitInterval is how often the model is refitted on fresh history.
	RefitInterval time.Duration `yaml:"refitInterval" json:"refit_interval"`
	// Model is the forecast model kind: auto (default), naive, holtwinters
	// or harmonic.
	Model string `yaml:"model" json:"model"`
	// HoldFor is how long the last good recommendation is held when data
	// is stale or missing, before falling back to the reactive value.
	HoldFor time.Duration `yaml:"holdFor" json:"hold_for"`
	// Events are the target's known events (a launch, a match, a sale),
	// in the format of a calendar file's entries: the fits keep their
	// windows out of the baseline and learn each name's effect, and the
	// policy provisions ahead of them.
	Events []events.Spec `yaml:"events" json:"events,omitempty"`
}
