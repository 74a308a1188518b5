package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prescale/prescale/forecast"
)

// Limits on a target's history grid.
const (
	// minHistorySteps is the fewest points a history window may hold.
	minHistorySteps = 2
	// maxHistorySteps bounds the points one fit reads (80 MB of float64).
	maxHistorySteps = 10_000_000
	// MaxSeasons bounds the declared seasons; real loads have two or three.
	MaxSeasons = 8
	// MaxLeadWindow bounds LeadTime and Margin, and their sum: a day is far
	// beyond any pod start-up, and the models are calibrated over at most
	// maxFitHorizon steps anyway.
	MaxLeadWindow = 24 * time.Hour
	// MaxLeadSteps bounds the lead window in steps: a target's cached
	// forecast and its accuracy tracker hold a few values per step of it.
	MaxLeadSteps = 10_000
)

// Validate checks t against the same rules as a configuration file, for
// targets registered at run time. It does not apply defaults (start from
// DefaultTarget for that). The error joins one *FieldError per problem,
// each naming the field ("quantile: must be between 0 and 1 (exclusive),
// got 1.5") and wrapping ErrConfig.
func (t *Target) Validate() error {
	issues := t.Check(nil)
	if len(issues) == 0 {
		return nil
	}
	errs := make([]error, len(issues))
	for i := range issues {
		errs[i] = &issues[i]
	}
	return errors.Join(errs...)
}

// FieldState tells Check what a loader knows about a field.
type FieldState uint8

const (
	FieldSet     FieldState = iota // given, with a well-typed value
	FieldAbsent                    // not given: the default, or missing if required
	FieldInvalid                   // given, but already reported as unreadable
)

// Check applies the rules shared by files and the API, each field's from
// TargetFields. state reports what the loader knows about each field (by
// name); nil means every field was given. Fields already reported as
// unreadable are skipped, as are the rules that compare other fields with
// them.
// Each problem is a FieldError naming the field ("step", "seasons[2]"),
// without a file or line.
func (t *Target) Check(state func(field string) FieldState) []FieldError {
	c := &checker{t: t, state: state}
	for _, f := range TargetFields() {
		switch c.stateOf(f.Name) {
		case FieldInvalid:
			continue
		case FieldAbsent:
			if f.Required {
				c.add(f.Name, "required")
				continue
			}
		}
		if f.check != nil {
			f.check(c)
		}
	}
	return c.out
}

// checker collects the problems of one target.
type checker struct {
	t     *Target
	state func(field string) FieldState
	out   []FieldError
}

func (c *checker) stateOf(field string) FieldState {
	if c.state == nil {
		return FieldSet
	}
	return c.state(field)
}

// usable reports whether field holds a value its rules, and the rules of
// other fields, may read: given and readable, or the default.
func (c *checker) usable(field string) bool { return c.stateOf(field) != FieldInvalid }

func (c *checker) add(field, format string, args ...any) {
	c.out = append(c.out, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// stepOK reports whether the step is valid, for the rules measured in
// steps.
func (c *checker) stepOK() bool { return c.usable("step") && c.t.Step > 0 }

// historyOK reports whether the history is valid, or positive when the
// step is not, for the rules that compare with it.
func (c *checker) historyOK() bool {
	t := c.t
	switch {
	case !c.usable("history") || t.History <= 0:
		return false
	case !c.stepOK():
		return true
	}
	return t.History >= minHistorySteps*t.Step && t.History/t.Step <= maxHistorySteps
}

// dnsLabelRule is how a problem with a DNS-1123 label is explained.
const dnsLabelRule = "a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit)"

func isDNSLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

func (c *checker) checkName() {
	switch name := c.t.Name; {
	case name == "":
		c.add("name", "required")
	case !isDNSLabel(name):
		c.add("name", "must be %s, got %q", dnsLabelRule, name)
	}
}

func (c *checker) checkNamespace() {
	if ns := c.t.Namespace; ns != "" && !isDNSLabel(ns) {
		c.add("namespace", "must be empty or %s, got %q", dnsLabelRule, ns)
	}
}

func (c *checker) checkQuery() {
	if strings.TrimSpace(c.t.Query) == "" {
		c.add("query", "required")
	}
}

func (c *checker) checkStep() {
	if c.t.Step <= 0 {
		c.add("step", "must be positive, got %s", fmtDuration(c.t.Step))
	}
}

func (c *checker) checkHistory() {
	t := c.t
	switch {
	case t.History <= 0:
		c.add("history", "must be positive, got %s", fmtDuration(t.History))
	case !c.stepOK():
	case t.History < minHistorySteps*t.Step:
		c.add("history", "must cover at least %d steps (%s), got %s",
			minHistorySteps, fmtDuration(minHistorySteps*t.Step), fmtDuration(t.History))
	case t.History/t.Step > maxHistorySteps:
		c.add("history", "must cover at most %d steps of %s, got %s (%d steps)",
			maxHistorySteps, fmtDuration(t.Step), fmtDuration(t.History), t.History/t.Step)
	}
}

func (c *checker) checkCapacity() {
	switch capacity := c.t.CapacityPerReplica; {
	case !(capacity > 0):
		c.add("capacityPerReplica", "must be positive, got %s", fmtFloat(capacity))
	case math.IsInf(capacity, 1):
		c.add("capacityPerReplica", "must be finite, got %s", fmtFloat(capacity))
	}
}

func (c *checker) checkLeadTime() {
	switch t := c.t; {
	case t.LeadTime <= 0:
		c.add("leadTime", "must be positive, got %s", fmtDuration(t.LeadTime))
	case t.LeadTime > MaxLeadWindow:
		c.add("leadTime", "must be at most %s, got %s", fmtDuration(MaxLeadWindow), fmtDuration(t.LeadTime))
	}
}

// checkMargin checks the margin, and the lead window it makes with the
// lead time: at most MaxLeadWindow, and MaxLeadSteps steps.
func (c *checker) checkMargin() {
	t := c.t
	switch {
	case t.Margin < 0:
		c.add("margin", "must not be negative, got %s", fmtDuration(t.Margin))
		return
	case t.Margin > MaxLeadWindow:
		c.add("margin", "must be at most %s, got %s", fmtDuration(MaxLeadWindow), fmtDuration(t.Margin))
		return
	}
	if !c.usable("leadTime") || t.LeadTime <= 0 || t.LeadTime > MaxLeadWindow {
		return
	}
	window := t.LeadTime + t.Margin
	if window > MaxLeadWindow {
		c.add("margin", "leadTime plus margin must be at most %s, got %s", fmtDuration(MaxLeadWindow), fmtDuration(window))
		return
	}
	if c.stepOK() && window > MaxLeadSteps*t.Step {
		field, what := "margin", "leadTime plus margin"
		if t.Margin == 0 {
			field, what = "leadTime", "the lead time"
		}
		c.add(field, "%s must be at most %d steps (%s at step %s), got %s",
			what, MaxLeadSteps, fmtDuration(MaxLeadSteps*t.Step), fmtDuration(t.Step), fmtDuration(window))
	}
}

func (c *checker) checkQuantile() {
	if q := c.t.Quantile; !(q > 0 && q < 1) {
		c.add("quantile", "must be between 0 and 1 (exclusive), got %s", fmtFloat(q))
	}
}

func (c *checker) checkMinReplicas() {
	t := c.t
	switch {
	case t.MinReplicas < 0:
		c.add("minReplicas", "must not be negative, got %d", t.MinReplicas)
	case c.usable("maxReplicas") && t.MaxReplicas >= 1 && t.MinReplicas > t.MaxReplicas:
		c.add("minReplicas", "must not exceed maxReplicas (%d), got %d", t.MaxReplicas, t.MinReplicas)
	}
}

func (c *checker) checkMaxReplicas() {
	if c.t.MaxReplicas < 1 {
		c.add("maxReplicas", "must be at least 1, got %d", c.t.MaxReplicas)
	}
}

func (c *checker) checkSeasons() {
	t := c.t
	if len(t.Seasons) > MaxSeasons {
		c.add("seasons", "must list at most %d seasons, got %d", MaxSeasons, len(t.Seasons))
		return
	}
	stepOK, historyOK := c.stepOK(), c.historyOK()
	for i, s := range t.Seasons {
		field := "seasons[" + strconv.Itoa(i) + "]"
		if !c.usable(field) {
			continue
		}
		switch {
		case s <= 0:
			c.add(field, "must be positive, got %s", fmtDuration(s))
		case stepOK && s%t.Step != 0:
			c.add(field, "must be a whole multiple of step (%s), got %s", fmtDuration(t.Step), fmtDuration(s))
		case historyOK && s > t.History/2:
			c.add(field, "must be at most half of history (%s), got %s", fmtDuration(t.History/2), fmtDuration(s))
		default:
			if j := slices.Index(t.Seasons[:i], s); j >= 0 {
				c.add(field, "duplicates seasons[%d] (%s)", j, fmtDuration(s))
			}
		}
	}
}

func (c *checker) checkRefitInterval() {
	t := c.t
	switch {
	case t.RefitInterval <= 0:
		c.add("refitInterval", "must be positive, got %s", fmtDuration(t.RefitInterval))
	case c.stepOK() && t.RefitInterval < t.Step:
		c.add("refitInterval", "must be at least step (%s), got %s", fmtDuration(t.Step), fmtDuration(t.RefitInterval))
	}
}

func (c *checker) checkModel() {
	if !slices.Contains(forecast.Kinds(), c.t.Model) {
		c.add("model", "must be one of %s, got %q", strings.Join(forecast.Kinds(), ", "), c.t.Model)
	}
}

func (c *checker) checkHoldFor() {
	if c.t.HoldFor < 0 {
		c.add("holdFor", "must not be negative, got %s", fmtDuration(c.t.HoldFor))
	}
}

// fmtDuration prints d the way the file writes it ("90s" as "1m30s",
// "336h" as "2w").
func fmtDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return model.Duration(d).String()
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
