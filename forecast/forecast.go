package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	ErrTooShort     = errors.New("forecast: series too short")
	ErrInvalidValue = errors.New("forecast: invalid value")
	ErrBadOptions   = errors.New("forecast: invalid options")
	ErrBadState     = errors.New("forecast: invalid model state")
)

// Model is a fitted forecasting model. Its parameters are fixed at fit time;
// Observe advances its state by one new observation (a NaN is a gap: the
// model's own one-step prediction stands in for it), and Predict writes the
// point forecasts for the next len(dst) steps without changing the state.
type Model interface {
	Observe(y float64)
	Predict(dst []float64)
}

// Model kinds, as accepted by Options.Model and reported by Fitted.Model
// (which may also be KindCombination when auto averages several models).
const (
	KindCombination = "combination"
	KindAuto        = "auto"
	KindNaive       = "naive"
	KindHoltWinters = "holtwinters"
	KindHarmonic    = "harmonic"
)

// Kinds lists the model kinds that Fit accepts, auto first.
func Kinds() []string { return []string{KindAuto, KindNaive, KindHoltWinters, KindHarmonic} }

// Options control Fit. A nil *Options means the defaults.
type Options struct {
	// Model is the kind to fit: auto (default), naive, holtwinters or harmonic.
	Model string
	// Horizon is how many steps ahead the forecasts and their calibrated
	// intervals are meant for. It sets the length of the cross-validation
	// windows. Default 48.
	Horizon int
	// Periods declares the seasonal periods in steps (for example 1440 and
	// 10080 for daily and weekly seasons of one-minute data). When empty,
	// seasons are detected from the data.
	Periods []int
	// Step is the time between points, when known. Detected seasons within
	// 5% of a day or a week snap to it exactly.
	Step time.Duration
	// MaxPeriod bounds season detection; 0 means half the series length.
	MaxPeriod int
	// Folds sets how much recent history validates the candidates and
	// calibrates the intervals: Folds-1 half-horizons of forecast origins
	// (every step one), or the longest season if that is longer, counted in
	// observed points. Default 8.
	Folds int
	// KeepAnomalies trains on the history as it is. By default points that
	// anomaly.Clean flags (outages reading as zero, one-off spikes and
	// dips) are treated as gaps, so they do not teach the model a false
	// season.
	KeepAnomalies bool
	// FourierOrder caps the number of sine/cosine pairs per season in the
	// harmonic model; 0 picks it from the period.
	FourierOrder int
	// Observed, when set, is values as they were observed before the
	// caller kept some out of training (NaN in values; known events'
	// windows): the short-horizon Dynamics are tuned on the load as they
	// will follow it, those points included. Its length must be that of
	// values.
	Observed []float64
	// Lead, when positive, is the step ahead that matters most to the
	// caller (an autoscaler's lead window) and turns on the short-horizon
	// Dynamics, scored there. At most Horizon and MaxLead. 0 leaves the
	// forecast to the seasonal models alone.
	Lead int
}

// Validate reports whether the options are usable.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.Model != "" && !slices.Contains(Kinds(), o.Model) {
		return fmt.Errorf("%w: model %q is not one of %v", ErrBadOptions, o.Model, Kinds())
	}
	if o.Horizon < 0 {
		return fmt.Errorf("%w: horizon %d is negative", ErrBadOptions, o.Horizon)
	}
	for _, p := range o.Periods {
		if p < 2 {
			return fmt.Errorf("%w: period %d is shorter than 2 steps", ErrBadOptions, p)
		}
	}
	if o.Step < 0 {
		return fmt.Errorf("%w: step %v is negative", ErrBadOptions, o.Step)
	}
	if o.MaxPeriod < 0 || o.Folds < 0 || o.FourierOrder < 0 {
		return fmt.Errorf("%w: max period, folds and Fourier order must not be negative", ErrBadOptions)
	}
	if h := o.withDefaults().Horizon; o.Lead < 0 || o.Lead > min(h, MaxLead) {
		return fmt.Errorf("%w: lead %d is not within [0, %d] (at most the horizon, %d, and %d)", ErrBadOptions, o.Lead, min(h, MaxLead), h, MaxLead)
	}
	return nil
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
		d.Periods = slices.Clone(o.Periods)
	}
	if d.Model == "" {
		d.Model = KindAuto
	}
	if d.Horizon == 0 {
		d.Horizon = 48
	}
	if d.Folds == 0 {
		d.Folds = 8
	}
	return d
}

// Fitted is a fitted forecaster: the chosen model's state, the seasons it
// uses, and the out-of-sample error quantiles that calibrate its intervals.
// It is plain data with JSON tags: save it, load it, and Forecast gives the
// same numbers without refitting. A Fitted is not safe for concurrent use.
type Fitted struct {
	// Model is the kind that was fitted: naive, holtwinters, harmonic, or
	// combination (never auto).
	Model string `json:"model"`
	// Seasons are the seasonal periods in steps the model uses.
	Seasons []int `json:"seasons"`
	// Detected are the periods found by season detection (empty when
	// declared).
	Detected []Season `json:"detected,omitempty"`
	// Reason explains any fallback to a simpler model, or is empty.
	Reason string `json:"reason,omitempty"`
	// Notes lists what was done to the input (gaps filled, values clamped).
	Notes []string `json:"notes,omitempty"`
	// Scores is the cross-validated mean absolute scaled error of each
	// candidate that auto compared (empty for a single declared model).
	Scores map[string]float64 `json:"cv_scores,omitempty"`
	// Anomalies are the spans of the input that were kept out of training
	// (replaced like gaps), unless Options.KeepAnomalies.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Observations is how many points the model has seen.
	Observations int `json:"observations"`

	// Components are the fitted models; the forecast is their weighted
	// sum. Auto may combine several when the combination validates better
	// than any one of them.
	Components []Component `json:"components"`

	Calibration Calibration `json:"calibration"`

	// Dynamics, with Options.Lead, combines a local trend and a residual
	// trend with the components and scales the intervals by the recent
	// error; nil
	// without (and in models saved before it existed).
	Dynamics *Dynamics `json:"dynamics,omitempty"`
	scratch  []float64
}

// Anomaly kinds.
const (
	AnomalyOutage = "outage" // a run at or near zero load: missing data, not demand
	AnomalySpike  = "spike"  // a short, isolated burst above the seasonal estimate
	AnomalyDip    = "dip"    // a short, isolated drop below it
	AnomalyDay    = "day"    // a whole day off its weekday's usual level (a holiday)
)

// Anomaly is a span of the input, values[Start:End], kept out of training.
type Anomaly struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Kind  string `json:"kind"`
}

// Component is one fitted model of a forecaster and its weight. Exactly
// one of the model fields is set.
type Component struct {
	Name        string         `json:"name"`
	Weight      float64        `json:"weight"`
	Naive       *SeasonalNaive `json:"naive,omitempty"`
	HoltWinters *HoltWinters   `json:"holt_winters,omitempty"`
	Harmonic    *Harmonic      `json:"harmonic,omitempty"`
}

// newComponent wraps a fitted model.
func newComponent(name string, weight float64, m Model) Component {
	c := Component{Name: name, Weight: weight}
	switch m := m.(type) {
	case *SeasonalNaive:
		c.Naive = m
	case *HoltWinters:
		c.HoltWinters = m
	case *Harmonic:
		c.Harmonic = m
	}
	return c
}

// kind is the model kind of the component.
func (c *Component) kind() string {
	switch {
	case c.Naive != nil:
		return KindNaive
	case c.HoltWinters != nil:
		return KindHoltWinters
	default:
		return KindHarmonic
	}
}

// model returns the component's model after checking its state.
func (c *Component) model() (Model, error) {
	var m interface {
		Model
		validate() error
	}
	n := 0
	if c.Naive != nil {
		m, n = c.Naive, n+1
	}
	if c.HoltWinters != nil {
		m, n = c.HoltWinters, n+1
	}
	if c.Harmonic != nil {
		m, n = c.Harmonic, n+1
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: component %q holds %d models, want 1", ErrBadState, c.Name, n)
	}
	if !(c.Weight >= 0) || math.IsInf(c.Weight, 0) {
		return nil, fmt.Errorf("%w: component %q has weight %v", ErrBadState, c.Name, c.Weight)
	}
	return m, m.validate()
}

// model returns the forecaster's models as one.
func (f *Fitted) model() (Model, error) {
	if len(f.Components) == 0 {
		return nil, fmt.Errorf("%w: no model", ErrBadState)
	}
	var c combination
	for i := range f.Components {
		m, err := f.Components[i].model()
		if err != nil {
			return nil, err
		}
		c.models = append(c.models, m)
		c.weights = append(c.weights, f.Components[i].Weight)
	}
	if f.Dynamics != nil {
		if err := f.Dynamics.validate(); err != nil {
			return nil, err
		}
	}
	if rs := f.Calibration.ReferenceSpread; !(rs >= 0) || math.IsInf(rs, 0) {
		return nil, fmt.Errorf("%w: calibration reference_spread %v is not a finite load of at least 0", ErrBadState, rs)
	}
	if len(c.models) == 1 {
		return c.models[0], nil
	}
	return &c, nil
}

// combination is the weighted sum of several models' forecasts.
type combination struct {
	models  []Model
	weights []float64
	scratch []float64
}

func (c *combination) Observe(y float64) {
	for _, m := range c.models {
		m.Observe(y)
	}
}

func (c *combination) Predict(dst []float64) {
	clear(dst)
	if cap(c.scratch) < len(dst) {
		c.scratch = make([]float64, len(dst))
	}
	tmp := c.scratch[:len(dst)]
	for i, m := range c.models {
		m.Predict(tmp)
		for h, v := range tmp {
			dst[h] += c.weights[i] * v
		}
	}
}

// Observe advances the fitted model by one new observation without
// refitting. As in Fit, a NaN is a gap, a negative value is clamped to 0 and
// an infinity is rejected.
func (f *Fitted) Observe(y float64) error { return f.ObserveAdjusted(y, nil) }

// ObserveAdjusted is Observe for a caller that changes the forecast before
// it provisions it (models: by the known events' effects). adjust maps the
// point forecast made for Dynamics.Lead steps after y to the one the
// caller will act on; the interval scale is then the recent error of
// that forecast, not of the model's own (nil: the model's). A forecast the
// caller corrects well for a reason the model cannot see (an announced
// event) does not widen the intervals; one it corrects badly does.
func (f *Fitted) ObserveAdjusted(y float64, adjust func(float64) float64) error {
	m, err := f.model()
	if err != nil {
		return err
	}
	if math.IsInf(y, 0) {
		return fmt.Errorf("%w: observation %d is %v", ErrInvalidValue, f.Observations, y)
	}
	if y < 0 {
		y = 0
	}
	m.Observe(y)
	f.Observations++
	if d := f.Dynamics; d != nil {
		if len(f.scratch) < d.Lead {
			f.scratch = make([]float64, d.Lead)
		}
		d.observe(y, m, f.scratch, adjust)
	}
	return nil
}

// LocalWeight is the share of the last minutes (the local and residual
// trends) in the forecast at the lead (see Dynamics), 0 without Dynamics.
func (f *Fitted) LocalWeight() float64 {
	if f.Dynamics == nil {
		return 0
	}
	return f.Dynamics.weight()
}

// IntervalScale is what the calibration's quantile offsets are multiplied
// by now: the recent error at the lead over the calibrated one (see
// Dynamics), 1 without Dynamics.
func (f *Fitted) IntervalScale() float64 {
	if f.Dynamics == nil {
		return 1
	}
	return f.Dynamics.scale()
}

// Result is a forecast: point values and, for each requested quantile, the
// calibrated quantile values, for steps 1..len(Point) after the last
// observation.
type Result struct {
	Model     string             `json:"model"`
	Seasons   []int              `json:"seasons"`
	Reason    string             `json:"reason,omitempty"`
	Point     []float64          `json:"point"`
	Quantiles []Quantile         `json:"quantiles,omitempty"`
	Notes     []string           `json:"notes,omitempty"`
	Detected  []Season           `json:"detected,omitempty"`
	Anomalies []Anomaly          `json:"anomalies,omitempty"`
	Scores    map[string]float64 `json:"cv_scores,omitempty"`
}

// Quantile is the forecast at one quantile level, one value per step.
type Quantile struct {
	Level  float64   `json:"level"`
	Values []float64 `json:"values"`
}

// Forecast predicts h steps ahead with the requested quantiles (each in
// (0,1)). Loads are never negative, so every value is clamped at 0.
// Beyond the calibrated horizon the interval of the last calibrated step is
// widened in proportion to the square root of the step (a random-walk
// rule), and a note says so.
func (f *Fitted) Forecast(h int, quantiles []float64) (*Result, error) {
	if h < 1 {
		return nil, fmt.Errorf("%w: horizon %d must be at least 1", ErrBadOptions, h)
	}
	for _, q := range quantiles {
		if !(q > 0 && q < 1) {
			return nil, fmt.Errorf("%w: quantile %v is not in (0,1)", ErrBadOptions, q)
		}
	}
	m, err := f.model()
	if err != nil {
		return nil, err
	}
	r := &Result{
		Model:     f.Model,
		Seasons:   slices.Clone(f.Seasons),
		Reason:    f.Reason,
		Point:     make([]float64, h),
		Notes:     slices.Clone(f.Notes),
		Detected:  slices.Clone(f.Detected),
		Anomalies: slices.Clone(f.Anomalies),
		Scores:    f.Scores,
	}
	m.Predict(r.Point)
	if f.Dynamics != nil {
		f.Dynamics.combine(r.Point)
	}
	for i, v := range r.Point {
		if !(v > 0) { // also catches NaN from a degenerate state
			r.Point[i] = 0
		}
	}
	if note := f.Calibration.ExtrapolationNote(h); note != "" && len(quantiles) > 0 {
		r.Notes = append(r.Notes, note)
	}
	for _, q := range quantiles {
		r.Quantiles = append(r.Quantiles, Quantile{Level: q, Values: f.Calibration.QuantileForecast(nil, r.Point, q, f.IntervalScale())})
	}
	return r, nil
}
