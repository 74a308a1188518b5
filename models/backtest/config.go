package backtest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// Policy names.
const (
	Reactive = "reactive" // the Kubernetes HPA on the lagged observed load
	Margin   = "margin"   // the same with a fixed head-room margin
	Prescale = "prescale" // the service's policy on forecasts made as the service would
	Oracle   = "oracle"   // knows the future demand

	// ReactiveBaseline is the reactive HPA under the baseline behavior
	// (Config.Baseline): a frontier of a sweep, not a policy of its own.
	ReactiveBaseline = "reactive-baseline"
)

// Policies lists the policy names in report order.
func Policies() []string {
	return []string{Reactive, Margin, Prescale, Oracle}
}

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("invalid backtest configuration")

// Default sweeps (Config.SweepHeadrooms, Config.SweepQuantiles).
var (
	DefaultSweepHeadrooms = []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	DefaultSweepQuantiles = []float64{0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9999}
)

// DefaultHeadroom is the naive alternative's head room: +20%.
const DefaultHeadroom = 0.2

// Config describes one backtest: the workload, the autoscaler around it
// and the policies to compare.
type Config struct {
	// CapacityPerReplica is the load one ready replica serves.
	CapacityPerReplica float64
	// Startup is how long a new pod takes to become ready.
	Startup Startup
	// Sync is the HPA's sync period (default 15 s). The replay advances
	// in these ticks.
	Sync time.Duration
	// Lag is the metric pipeline's delay (scrape interval plus rate
	// window): at time t an autoscaler sees the demand of t-Lag.
	Lag time.Duration
	// Lead is prescale's lead time: the window (now, now+Lead] whose
	// forecast it provisions for. 0 means Startup.Max() + Sync + Lag, the
	// lead time a service target declares (pod start-up plus HPA sync plus
	// metric lag). Strictly, Startup.Max() + Sync is the time until a
	// replica asked for now is ready, since the replayed forecasts are
	// indexed by the time of the demand they predict; on the NASA trace
	// the two give the same reduction within 0.2 points.
	Lead time.Duration
	// Quantile is the forecast quantile prescale provisions for
	// (default 0.9).
	Quantile float64
	// Margin is the margin policy's head room over the observed load, as a
	// fraction (DefaultHeadroom, 0.2, is +20%; 0 is none). It is also the
	// reference of the reduction at equal cost.
	Headroom float64
	// MinReplicas and MaxReplicas bound every policy (defaults 1 and 100).
	MinReplicas int
	MaxReplicas int
	// Behavior is the HPA's behavior, the same for every policy so that
	// the comparison measures the policies, not their HPAs; nil means
	// ShippedBehavior. BehaviorName names it in the result (default
	// ShippedHPA with a nil Behavior, "custom" otherwise).
	Behavior     *Behavior
	BehaviorName string
	// Baseline is the HPA of the second figure of a sweep: prescale under
	// Behavior against the reactive HPA under Baseline, which is what most
	// clusters run (nil means DefaultBehavior, named ClusterDefaultHPA).
	// Not run when BaselineName equals BehaviorName.
	Baseline     *Behavior
	BaselineName string
	// Warmup is how long the replay runs before its metrics count (every
	// policy runs through it; prescale fits its first model in it).
	Warmup time.Duration
	// ZeroRunsMissing makes runs of zero load at least this long missing
	// data (an outage of the monitored service or its metrics, not zero
	// demand); 0 keeps zeros as they are.
	ZeroRunsMissing time.Duration

	// The prescale policy's model, as a service target would declare it:
	// Model (default auto), Seasons (default detected), History (default
	// 14 days), RefitInterval (default 1 hour) and HoldFor (default 10
	// minutes). MinHistory is how much data the first fit waits for
	// (default 1 day, at most History).
	Model         string
	Seasons       []time.Duration
	History       time.Duration
	RefitInterval time.Duration
	HoldFor       time.Duration
	MinHistory    time.Duration

	// Policies to run, from Policies(); empty means all.
	Policies []string
	// Sweep also runs the reactive HPA over SweepHeadrooms and prescale over
	// SweepQuantiles, for the frontier of cost against risk.
	Sweep          bool
	SweepHeadrooms []float64
	SweepQuantiles []float64

	// Seed makes random start-up delays reproducible.
	Seed uint64
	// Workers run fits and replays in parallel (default 1).
	Workers int
	// Progress, when set, is called as work completes: stage names what
	// is being done, done of total units.
	Progress func(stage string, done, total int)
	// KeepTraces keeps each policy's replica counts over time in the
	// result (Result.Traces) for plots and exports.
	KeepTraces bool

	// Events is the calendar of known events the prescale policy is told
	// of (--events), as a target declares it: their windows are kept out
	// of its models' training and streaming, their effects are learned at
	// each fit, and the policy provisions for them (models.PolicyInput.Events).
	// Nil: no calendar.
	Events *events.Calendar
	// Measured is the calendar whose windows every policy's metrics count
	// the under-provisioned minutes in (EventUnderprovisionedMinutes):
	// Events by default; set alone, it measures a replay without telling
	// prescale, to compare with one that does.
	Measured *events.Calendar
}

// withDefaults fills the zero fields and validates the rest; step is the
// series' step.
func (c Config) withDefaults(step time.Duration) (Config, error) {
	c.fill()
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	c.checkReplay(add)
	c.checkModel(step, add)
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return c, nil
}

// fill sets the zero fields to their defaults.
func (c *Config) fill() {
	d := models.DefaultTarget()
	if c.Sync == 0 {
		c.Sync = DefaultSync
	}
	if c.Quantile == 0 {
		c.Quantile = d.Quantile
	}
	if c.MinReplicas == 0 && c.MaxReplicas == 0 {
		c.MinReplicas, c.MaxReplicas = d.MinReplicas, d.MaxReplicas
	}
	if c.Behavior == nil {
		b := ShippedBehavior()
		c.Behavior, c.BehaviorName = &b, cmp.Or(c.BehaviorName, ShippedHPA)
	}
	c.BehaviorName = cmp.Or(c.BehaviorName, "custom")
	if c.Baseline == nil {
		b := DefaultBehavior()
		c.Baseline, c.BaselineName = &b, cmp.Or(c.BaselineName, ClusterDefaultHPA)
	}
	c.BaselineName = cmp.Or(c.BaselineName, "custom baseline")
	if c.Startup.Kind == "" {
		c.Startup.Kind = StartupFixed
	}
	if c.Lead == 0 {
		c.Lead = c.Startup.Max() + c.Sync + c.Lag
	}
	if c.Model == "" {
		c.Model = d.Model
	}
	if c.History == 0 {
		c.History = d.History
	}
	if c.RefitInterval == 0 {
		c.RefitInterval = d.RefitInterval
	}
	if c.HoldFor == 0 {
		c.HoldFor = d.HoldFor
	}
	if c.MinHistory == 0 {
		c.MinHistory = min(24*time.Hour, c.History)
	}
	if len(c.Policies) == 0 {
		c.Policies = Policies()
	}
	if c.Sweep && len(c.SweepHeadrooms) == 0 {
		c.SweepHeadrooms = DefaultSweepHeadrooms
	}
	if c.Sweep && len(c.SweepQuantiles) == 0 {
		c.SweepQuantiles = DefaultSweepQuantiles
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
}

// checkReplay reports the settings of the replay and the HPA out of range.
func (c *Config) checkReplay(add func(format string, a ...any)) {
	if !(c.CapacityPerReplica > 0) || math.IsInf(c.CapacityPerReplica, 0) {
		add("capacity: must be a positive number, got %v", c.CapacityPerReplica)
	}
	if err := c.Startup.validate(); err != nil {
		add("%v", err)
	}
	if c.Sync < time.Second {
		add("sync: must be at least 1s, got %v", c.Sync)
	}
	if c.Lag < 0 {
		add("lag: must not be negative, got %v", c.Lag)
	}
	if c.Lead < 0 {
		add("lead: must not be negative, got %v", c.Lead)
	}
	if !(c.Quantile > 0 && c.Quantile < 1) {
		add("quantile: must be between 0 and 1 (exclusive), got %v", c.Quantile)
	}
	if !(c.Headroom >= 0) || c.Headroom > 100 {
		add("headroom: must be a fraction between 0 and 100, got %v", c.Headroom)
	}
	if c.MinReplicas < 0 {
		add("min: must not be negative, got %d", c.MinReplicas)
	}
	if c.MaxReplicas < max(c.MinReplicas, 1) {
		add("max: must be at least min and at least 1, got %d", c.MaxReplicas)
	}
	if err := c.Behavior.Validate(); err != nil {
		add("behavior: %v", err)
	}
	if err := c.Baseline.Validate(); err != nil {
		add("baseline behavior: %v", err)
	}
	if c.Warmup < 0 || c.ZeroRunsMissing < 0 {
		add("warmup and zero runs: must not be negative")
	}
}

// checkModel reports the settings of the prescale policy's model, and the
// policies and sweeps, out of range.
func (c *Config) checkModel(step time.Duration, add func(format string, a ...any)) {
	if !slices.Contains(forecast.Kinds(), c.Model) {
		add("model: must be one of %s, got %q", strings.Join(forecast.Kinds(), ", "), c.Model)
	}
	if c.History < 2*step {
		add("history: must be at least two steps (%v), got %v", 2*step, c.History)
	}
	if c.RefitInterval < step {
		add("refit interval: must be at least one step (%v), got %v", step, c.RefitInterval)
	}
	if c.MinHistory < 2*step || c.MinHistory > c.History {
		add("min history: must be between two steps and the history (%v), got %v", c.History, c.MinHistory)
	}
	for i, s := range c.Seasons {
		if s < 2*step || s%step != 0 {
			add("seasons[%d]: must be a multiple of the step (%v) and at least two steps, got %v", i, step, s)
		}
	}
	for _, p := range c.Policies {
		if !slices.Contains(Policies(), p) {
			add("policies: unknown policy %q (want %s)", p, strings.Join(Policies(), ", "))
		}
	}
	for i, m := range c.SweepHeadrooms {
		if !(m >= 0) || m > 100 {
			add("sweep margins[%d]: must be between 0 and 100, got %v", i, m)
		}
	}
	for i, q := range c.SweepQuantiles {
		if !(q > 0 && q < 1) {
			add("sweep quantiles[%d]: must be between 0 and 1 (exclusive), got %v", i, q)
		}
	}
}

// runsBaseline reports whether c runs the reactive HPA under its baseline
// behavior too (the second figure of a sweep).
func (c *Config) runsBaseline() bool { return c.Sweep && c.BaselineName != c.BehaviorName }

// runsPolicy reports whether c runs policy p (directly or in its sweep).
func (c *Config) runsPolicy(p string) bool {
	if slices.Contains(c.Policies, p) {
		return true
	}
	return c.Sweep && (p == Prescale || p == Reactive)
}

// target is the prescale policy's target, as a service would declare it
// for a series of step.
func (c *Config) target(step time.Duration) models.Target {
	return models.Target{
		Name:               Prescale,
		Step:               step,
		History:            c.History,
		CapacityPerReplica: c.CapacityPerReplica,
		LeadTime:           c.Lead,
		Quantile:           c.Quantile,
		MinReplicas:        c.MinReplicas,
		MaxReplicas:        c.MaxReplicas,
		Seasons:            c.Seasons,
		RefitInterval:      c.RefitInterval,
		Model:              c.Model,
		HoldFor:            c.HoldFor,
	}
}
