package models

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
)

// EventsByReference says how trigger metadata, which is flat text, gets a
// target's events.
const EventsByReference = "declare them on a target (the config file, the API or a PredictiveAutoscaler) and name it in the metadata with target: or eventsFrom:"

// TargetField is one field of Target as every loader sees it: the config
// file, the REST and gRPC API and KEDA trigger metadata decode a target
// through TargetFields, validation runs each field's rules from it, and
// ModelChanged and PolicyChanged compare targets by it. Adding a field to
// Target is one entry in TargetFields (plus its field in the API's
// TargetSpec); a test fails when a field of Target has no entry.
type TargetField struct {
	// Name is the field's name in a config file, in KEDA metadata and in
	// REST JSON ("leadTime"); the gRPC field is its snake_case form.
	Name string
	// Required fields have no default: a loader reports them missing.
	Required bool
	// Default is the value of an absent optional field, written as in a
	// config file; empty means the zero value.
	Default string
	// Refit marks the fields a fitted model depends on: changing one
	// voids the model and the target is fitted anew. The others shape only
	// the policy applied to the model's forecasts.
	Refit bool
	// addr is the field in t.
	addr func(t *Target) any
	// check reports the field's problems, if it has rules. It runs when
	// the field is given and readable, or absent and optional (then it
	// checks the default).
	check func(c *checker)
}

// TargetFields declares the fields of Target, in the order of its
// declaration, which is the order problems are reported in.
func TargetFields() []TargetField {
	return []TargetField{
		{Name: "name", Required: true,
			addr: func(t *Target) any { return &t.Name }, check: (*checker).checkName},
		{Name: "namespace", // none: served in every namespace
			addr: func(t *Target) any { return &t.Namespace }, check: (*checker).checkNamespace},
		{Name: "query", Required: true, Refit: true,
			addr: func(t *Target) any { return &t.Query }, check: (*checker).checkQuery},
		{Name: "step", Default: "1m", Refit: true,
			addr: func(t *Target) any { return &t.Step }, check: (*checker).checkStep},
		{Name: "history", Default: "14d", Refit: true,
			addr: func(t *Target) any { return &t.History }, check: (*checker).checkHistory},
		{Name: "capacityPerReplica", Required: true,
			addr: func(t *Target) any { return &t.CapacityPerReplica }, check: (*checker).checkCapacity},
		{Name: "leadTime", Required: true,
			addr: func(t *Target) any { return &t.LeadTime }, check: (*checker).checkLeadTime},
		{Name: "margin", Default: "0s",
			addr: func(t *Target) any { return &t.Margin }, check: (*checker).checkMargin},
		{Name: "quantile", Default: "0.9",
			addr: func(t *Target) any { return &t.Quantile }, check: (*checker).checkQuantile},
		{Name: "minReplicas", Default: "1",
			addr: func(t *Target) any { return &t.MinReplicas }, check: (*checker).checkMinReplicas},
		{Name: "maxReplicas", Default: "100",
			addr: func(t *Target) any { return &t.MaxReplicas }, check: (*checker).checkMaxReplicas},
		{Name: "seasons", Refit: true, // none: detected from the data
			addr: func(t *Target) any { return &t.Seasons }, check: (*checker).checkSeasons},
		{Name: "refitInterval", Default: "1h",
			addr: func(t *Target) any { return &t.RefitInterval }, check: (*checker).checkRefitInterval},
		{Name: "model", Default: forecast.KindAuto, Refit: true,
			addr: func(t *Target) any { return &t.Model }, check: (*checker).checkModel},
		{Name: "holdFor", Default: "10m",
			addr: func(t *Target) any { return &t.HoldFor }, check: (*checker).checkHoldFor},
		{Name: "events", Refit: true, // none
			addr: func(t *Target) any { return &t.Events }, check: (*checker).checkEvents},
	}
}

// Addr is the field in t: a *string, *time.Duration, *float64, *int,
// *[]time.Duration or *[]events.Spec.
func (f TargetField) Addr(t *Target) any { return f.addr(t) }

// Parse sets the field of t from text, the way KEDA metadata writes every
// field and the API its durations: durations the Prometheus way ("90s",
// "1h30m", "14d", "1w"), a list of durations comma-separated ("1d,1w"),
// numbers as Go reads them. Space around the value is ignored. An
// unreadable value leaves t unchanged and is a *FieldError naming the
// field ("leadTime: \"soon\" is not a duration such as ...").
func (f TargetField) Parse(t *Target, text string) error {
	s := strings.TrimSpace(text)
	var err error
	switch dst := f.addr(t).(type) {
	case *string:
		*dst = s
	case *time.Duration:
		err = parseInto(dst, s, ParseDuration)
	case *float64:
		err = parseInto(dst, s, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
	case *int:
		err = parseInto(dst, s, strconv.Atoi)
	case *[]time.Duration:
		err = parseInto(dst, s, parseDurationList)
	case *[]events.Spec:
		// Events are structured: no one line of text writes them. KEDA
		// metadata names a target that declares them instead.
		return &FieldError{Field: f.Name, Msg: "cannot be written as text; " + EventsByReference}
	default:
		panic(fmt.Sprintf("models: target field %s has no parser for %T", f.Name, dst))
	}
	if err != nil {
		return &FieldError{Field: f.Name, Msg: Echo(text) + " is not " + f.syntax()}
	}
	return nil
}

// ParseList sets a list field of t from its items, the way the API writes
// them, each parsed as Parse does. Every unreadable item is a *FieldError
// naming it ("seasons[1]"); the field is set only when all are read.
func (f TargetField) ParseList(t *Target, items []string) error {
	dst, ok := f.addr(t).(*[]time.Duration)
	if !ok {
		panic("models: target field " + f.Name + " is not a list")
	}
	list := make([]time.Duration, len(items))
	var errs []error
	for i, item := range items {
		d, err := ParseDuration(strings.TrimSpace(item))
		if err != nil {
			errs = append(errs, &FieldError{
				Field: f.Name + "[" + strconv.Itoa(i) + "]",
				Msg:   Echo(item) + " is not " + DurationSyntax,
			})
		}
		list[i] = d
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*dst = list
	return nil
}

// DurationSyntax describes a duration in messages.
const DurationSyntax = "a duration such as 30s, 5m, 1h30m, 14d or 1w"

// syntax describes the text Parse reads for f, in messages.
func (f TargetField) syntax() string {
	switch f.addr(&Target{}).(type) {
	case *time.Duration:
		return DurationSyntax
	case *float64:
		return "a number"
	case *int:
		return "an integer"
	case *[]time.Duration:
		return "a comma-separated list of durations such as 1d,1w"
	case *[]events.Spec:
		return "a list of events"
	}
	return "text"
}

func parseInto[T any](dst *T, s string, parse func(string) (T, error)) error {
	v, err := parse(s)
	if err == nil {
		*dst = v
	}
	return err
}

// ParseDuration reads a Prometheus duration. Negative durations are read,
// so that validation can say what is wrong with them.
func ParseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDurationAllowNegative(s)
	return time.Duration(d), err
}

// parseDurationList reads comma-separated durations; nothing is the empty
// list.
func parseDurationList(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var out []time.Duration
	for item := range strings.SplitSeq(s, ",") {
		d, err := ParseDuration(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// equal reports whether the field is the same in a and b. A list is
// compared in order; nil and empty are the same.
func (f TargetField) equal(a, b *Target) bool {
	switch x := f.addr(a).(type) {
	case *string:
		return *x == *f.addr(b).(*string)
	case *time.Duration:
		return *x == *f.addr(b).(*time.Duration)
	case *float64:
		return *x == *f.addr(b).(*float64)
	case *int:
		return *x == *f.addr(b).(*int)
	case *[]time.Duration:
		return slices.Equal(*x, *f.addr(b).(*[]time.Duration))
	case *[]events.Spec:
		return slices.Equal(*x, *f.addr(b).(*[]events.Spec))
	}
	panic(fmt.Sprintf("models: target field %s cannot be compared", f.Name))
}

// ModelChanged reports whether a model fitted for a is void for b: a
// field marked Refit differs.
func ModelChanged(a, b *Target) bool { return changed(a, b, true) }

// PolicyChanged reports whether a field that does not shape a fit, such
// as capacityPerReplica or leadTime, differs.
func PolicyChanged(a, b *Target) bool { return changed(a, b, false) }

func changed(a, b *Target, refit bool) bool {
	for _, f := range TargetFields() {
		if f.Refit == refit && !f.equal(a, b) {
			return true
		}
	}
	return false
}

// DefaultTarget returns a Target holding the Default of every optional
// field in TargetFields. Loaders start from it and overwrite the fields
// that are given, so a default only ever replaces an absent value, never
// an invalid one. Name, Query, CapacityPerReplica and LeadTime have no
// default: they are required.
func DefaultTarget() Target {
	var t Target
	for _, f := range TargetFields() {
		if f.Default == "" {
			continue
		}
		if err := f.Parse(&t, f.Default); err != nil {
			panic("models: bad default: " + err.Error())
		}
	}
	return t
}
