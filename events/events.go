// Package events reads calendars of known events (a launch, a match, a
// sale: spikes announced in advance) and expands them into occurrences.
//
// A calendar is YAML:
//
//	events:
//	  - name: match                  # occurrences of one name share a learned effect
//	    start: "2026-07-13T19:00:00" # wall time in timeZone (or RFC 3339 with an offset)
//	    timeZone: Europe/Paris       # IANA name; default UTC
//	    duration: 2h                 # how long the event's load lasts
//	    lead: 30m                    # optional: be ready this long before start
//	    lag: 15m                     # optional: stay ready this long after the end
//	    rrule: FREQ=WEEKLY;BYDAY=SA;COUNT=10   # optional: RFC 5545, with COUNT or UNTIL
//	    multiplier: 3                # optional: the expected load, × the usual
//	    load: 5000                   # optional, instead: the expected load itself
//
// Recurrences expand in the event's time zone, so a weekly 19:00 in
// Europe/Paris stays at 19:00 across daylight-saving changes. Bad calendars
// are errors that name the file, the line and the event: an unknown time
// zone, a rule that never ends, occurrences that overlap, and bounds
// exceeded.
package events

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/teambition/rrule-go"
	"gopkg.in/yaml.v3"
)

// Bounds of a calendar, checked when it is read.
const (
	MaxEvents      = 1000               // entries in a calendar
	MaxOccurrences = 10_000             // occurrences of all its entries
	MaxDuration    = 7 * 24 * time.Hour // of one occurrence
	MaxLeadLag     = 24 * time.Hour     // lead and lag, each
	MaxBytes       = 1 << 20            // of a calendar file
	// MaxText bounds an entry's start, timeZone, duration, lead and lag,
	// MaxRRule its rrule, in bytes: no value is held or echoed at any size.
	MaxText  = 64
	MaxRRule = 1024
)

// ErrCalendar is wrapped by every error about a calendar's content.
var ErrCalendar = errors.New("events: bad calendar")

// Event is one entry of a calendar: a one-off event, or a recurring one.
type Event struct {
	Name     string
	Start    time.Time // in Location
	Location *time.Location
	Duration time.Duration
	Lead     time.Duration
	Lag      time.Duration
	// RRule is the recurrence rule as written; empty for a one-off.
	RRule string
	// Multiplier or Load is the declared effect; 0 when not declared.
	Multiplier float64
	Load       float64
	// Index is the entry's place in its list; Line where it starts in
	// its file (0 when it has none).
	Index, Line int
}

// Declared reports whether the event says what load to expect.
func (e *Event) Declared() bool { return e.Multiplier > 0 || e.Load > 0 }

// Occurrence is one time an event happens.
type Occurrence struct {
	Event *Event
	Start time.Time // in the event's Location
	End   time.Time // Start + Duration
}

// From is when the occurrence's window opens: Lead before Start.
func (o Occurrence) From() time.Time { return o.Start.Add(-o.Event.Lead) }

// To is when its window closes: Lag after End.
func (o Occurrence) To() time.Time { return o.End.Add(o.Event.Lag) }

// Calendar is a validated calendar with its occurrences, sorted by start.
type Calendar struct {
	// File names the calendar in errors and explanations.
	File        string
	Events      []*Event
	Occurrences []Occurrence
}

// Load reads and validates the calendar file at path.
func Load(path string) (*Calendar, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, at most %d", ErrCalendar, path, st.Size(), MaxBytes)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(raw, path)
}

// Spec is an event as written: in a calendar file, in a target's events
// (the config file, the API, a PredictiveAutoscaler) and in the API's
// answers. Durations are written the Prometheus way ("2h", "90m").
type Spec struct {
	Name       string  `yaml:"name" json:"name"`
	Start      string  `yaml:"start" json:"start"`
	TimeZone   string  `yaml:"timeZone,omitempty" json:"timeZone,omitempty"`
	Duration   string  `yaml:"duration" json:"duration"`
	Lead       string  `yaml:"lead,omitempty" json:"lead,omitempty"`
	Lag        string  `yaml:"lag,omitempty" json:"lag,omitempty"`
	RRule      string  `yaml:"rrule,omitempty" json:"rrule,omitempty"`
	Multiplier float64 `yaml:"multiplier,omitempty" json:"multiplier,omitempty"`
	Load       float64 `yaml:"load,omitempty" json:"load,omitempty"`
}

// SpecFields are the names of a Spec's fields, as written.
func SpecFields() []string {
	return []string{"name", "start", "timeZone", "duration", "lead", "lag", "rrule", "multiplier", "load"}
}

// Field is the field of s named as written: a *string or a *float64; nil
// for a name that is not one of SpecFields.
func (s *Spec) Field(name string) any {
	switch name {
	case "name":
		return &s.Name
	case "start":
		return &s.Start
	case "timeZone":
		return &s.TimeZone
	case "duration":
		return &s.Duration
	case "lead":
		return &s.Lead
	case "lag":
		return &s.Lag
	case "rrule":
		return &s.RRule
	case "multiplier":
		return &s.Multiplier
	case "load":
		return &s.Load
	}
	return nil
}

// SpecError is a problem with one Spec of a list: Index is its place in
// the list. When it overlaps another, Other is that one's place (else -1),
// At its occurrence's start and OtherEvent, OtherStart and OtherEnd the
// other's name and occurrence.
type SpecError struct {
	Index int
	Event string
	Msg   string
	Other int
	// Overlap: the occurrence's start, the other's name, start and end.
	At, OtherStart, OtherEnd time.Time
	OtherEvent               string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("events[%d]: event %q%s", e.Index, e.Event, e.text(func(i int) string { return fmt.Sprintf("events[%d]", i) }))
}

// text is the problem after the event's name; where names another event
// of the list by its place.
func (e *SpecError) text(where func(int) string) string {
	if e.Other < 0 {
		return ": " + e.Msg
	}
	return fmt.Sprintf(" at %s overlaps event %q (%s) at %s, which lasts until %s; an occurrence's load must be told apart from another's",
		e.At.Format(time.RFC3339), e.OtherEvent, where(e.Other), e.OtherStart.Format(time.RFC3339), e.OtherEnd.Format(time.RFC3339))
}

// Unwrap makes every SpecError an ErrCalendar.
func (e *SpecError) Unwrap() error { return ErrCalendar }

// Compile checks specs and expands them into a calendar named file. The
// problems of the specs are *SpecErrors, each spec's first, joined (the
// occurrences are expanded and checked once every spec is valid); every
// other problem is an ErrCalendar. No specs is an empty calendar.
func Compile(specs []Spec, file string) (*Calendar, error) {
	if len(specs) > MaxEvents {
		return nil, fmt.Errorf("%w: %s: %d events, at most %d", ErrCalendar, file, len(specs), MaxEvents)
	}
	c := &Calendar{File: file}
	var errs []error
	for i := range specs {
		ev, err := specs[i].event()
		if err != nil {
			errs = append(errs, &SpecError{Index: i, Other: -1, Event: clip(specs[i].Name), Msg: err.Error()})
			continue
		}
		ev.Index = i
		c.Events = append(c.Events, ev)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := c.expand(); err != nil {
		return nil, err
	}
	return c, nil
}

// clip is a name as an error repeats it: at most 63 bytes.
func clip(name string) string {
	if len(name) > 63 {
		return name[:60] + "..."
	}
	return name
}

// SpecErrors returns the *SpecErrors of an error of Compile: one, or
// several joined.
func SpecErrors(err error) []*SpecError {
	if se, ok := err.(*SpecError); ok {
		return []*SpecError{se}
	}
	var out []*SpecError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if se, ok := e.(*SpecError); ok {
				out = append(out, se)
			}
		}
	}
	return out
}

// Parse reads and validates a calendar; file names it in errors, which
// give the line of the event they are about.
func Parse(raw []byte, file string) (*Calendar, error) {
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, at most %d", ErrCalendar, file, len(raw), MaxBytes)
	}
	var doc struct {
		Events []Spec `yaml:"events"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCalendar, file, err)
	}
	lines, err := entryLines(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCalendar, file, err)
	}
	line := func(i int) int {
		if i >= 0 && i < len(lines) {
			return lines[i]
		}
		return 0 // unknown: the YAML's nodes and the decoded list disagree
	}
	c, err := Compile(doc.Events, file)
	if ses := SpecErrors(err); len(ses) > 0 {
		errs := make([]error, len(ses))
		for i, se := range ses {
			errs[i] = fmt.Errorf("%w: %s:%d: event %q%s", ErrCalendar, file, line(se.Index), se.Event,
				se.text(func(i int) string { return fmt.Sprintf("line %d", line(i)) }))
		}
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	for i, ev := range c.Events {
		ev.Line = line(i)
	}
	return c, nil
}

// entryLines returns the line of each entry of the events list.
func entryLines(raw []byte) ([]int, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "events" {
			var lines []int
			for _, n := range top.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines, nil
		}
	}
	return nil, nil
}

// event checks a spec and makes its Event.
func (e *Spec) event() (*Event, error) {
	ev := &Event{Name: e.Name, RRule: e.RRule, Multiplier: e.Multiplier, Load: e.Load}
	if e.Name == "" || len(e.Name) > 63 || strings.ContainsFunc(e.Name, func(r rune) bool { return r < ' ' }) {
		return nil, errors.New("name: want 1 to 63 printable characters")
	}
	for _, f := range []struct {
		name, text string
		limit      int
	}{
		{"start", e.Start, MaxText}, {"timeZone", e.TimeZone, MaxText}, {"duration", e.Duration, MaxText},
		{"lead", e.Lead, MaxText}, {"lag", e.Lag, MaxText}, {"rrule", e.RRule, MaxRRule},
	} {
		if len(f.text) > f.limit {
			return nil, fmt.Errorf("%s: at most %d bytes, got %d", f.name, f.limit, len(f.text))
		}
	}
	loc := time.UTC
	if e.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(e.TimeZone); err != nil || e.TimeZone == "Local" {
			return nil, fmt.Errorf("timeZone %q: not an IANA time zone (such as Europe/Paris or UTC)", e.TimeZone)
		}
	}
	ev.Location = loc
	start, err := parseStart(e.Start, loc)
	if err != nil {
		return nil, err
	}
	ev.Start = start
	for _, d := range []struct {
		name  string
		text  string
		dst   *time.Duration
		limit time.Duration
		need  bool
	}{
		{"duration", e.Duration, &ev.Duration, MaxDuration, true},
		{"lead", e.Lead, &ev.Lead, MaxLeadLag, false},
		{"lag", e.Lag, &ev.Lag, MaxLeadLag, false},
	} {
		if d.text == "" {
			if d.need {
				return nil, fmt.Errorf("%s: missing (how long the event's load lasts, such as 2h)", d.name)
			}
			continue
		}
		v, err := model.ParseDuration(d.text)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %v", d.name, d.text, err)
		}
		if *d.dst = time.Duration(v); *d.dst > d.limit || d.need && *d.dst <= 0 {
			return nil, fmt.Errorf("%s %s: want at most %s", d.name, d.text, model.Duration(d.limit))
		}
	}
	switch {
	case e.Multiplier < 0 || math.IsInf(e.Multiplier, 0) || math.IsNaN(e.Multiplier) || e.Multiplier > 1000:
		return nil, fmt.Errorf("multiplier %v: want a number in (0, 1000]", e.Multiplier)
	case e.Load < 0 || math.IsInf(e.Load, 0) || math.IsNaN(e.Load):
		return nil, fmt.Errorf("load %v: want a positive number", e.Load)
	case e.Multiplier > 0 && e.Load > 0:
		return nil, errors.New("multiplier and load: give one expected effect, not both")
	}
	return ev, nil
}

// parseStart reads a start: wall time in loc, or RFC 3339 with an offset.
func parseStart(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("start: missing (such as 2026-07-13T19:00:00)")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("start %q: want a wall time such as 2026-07-13T19:00:00 (in timeZone), or RFC 3339 with an offset", s)
}

// expand makes the occurrences of every event, and checks that there are
// not too many and that no two overlap.
func (c *Calendar) expand() error {
	for _, ev := range c.Events {
		starts := []time.Time{ev.Start}
		if ev.RRule != "" {
			var err error
			if starts, err = recurrences(ev); err != nil {
				return &SpecError{Index: ev.Index, Other: -1, Event: ev.Name, Msg: err.Error()}
			}
		}
		for _, s := range starts {
			c.Occurrences = append(c.Occurrences, Occurrence{Event: ev, Start: s, End: s.Add(ev.Duration)})
			if len(c.Occurrences) > MaxOccurrences {
				return &SpecError{Index: ev.Index, Other: -1, Event: ev.Name, Msg: fmt.Sprintf("more than %d occurrences in the calendar", MaxOccurrences)}
			}
		}
	}
	slices.SortStableFunc(c.Occurrences, func(a, b Occurrence) int { return a.Start.Compare(b.Start) })
	for i := 1; i < len(c.Occurrences); i++ {
		a, b := c.Occurrences[i-1], c.Occurrences[i]
		if b.Start.Before(a.End) {
			return &SpecError{Index: b.Event.Index, Event: b.Event.Name, Other: a.Event.Index, OtherEvent: a.Event.Name,
				At: b.Start, OtherStart: a.Start, OtherEnd: a.End}
		}
	}
	return nil
}

// recurrences expands an event's rule from its start, in its time zone.
func recurrences(ev *Event) ([]time.Time, error) {
	opt, err := rrule.StrToROptionInLocation(ev.RRule, ev.Location)
	if err != nil {
		return nil, fmt.Errorf("rrule %q: %v", ev.RRule, err)
	}
	if opt.Count == 0 && opt.Until.IsZero() {
		return nil, fmt.Errorf("rrule %q: never ends; give COUNT or UNTIL (at most %d occurrences in a calendar)", ev.RRule, MaxOccurrences)
	}
	if !opt.Dtstart.IsZero() {
		return nil, fmt.Errorf("rrule %q: DTSTART is the event's start; leave it out of the rule", ev.RRule)
	}
	opt.Dtstart = ev.Start
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("rrule %q: %v", ev.RRule, err)
	}
	it := r.Iterator()
	var out []time.Time
	for {
		t, ok := it()
		if !ok {
			return out, nil
		}
		if len(out) == MaxOccurrences {
			return nil, fmt.Errorf("rrule %q: more than %d occurrences", ev.RRule, MaxOccurrences)
		}
		out = append(out, t)
	}
}

// Within reports whether t is within an occurrence's window (lead to
// lag); false for a nil calendar.
func (c *Calendar) Within(t time.Time) bool {
	if c == nil {
		return false
	}
	_, ok := c.at(t)
	return ok
}

// Between returns the occurrences whose windows (lead to lag) overlap
// [from, to), in order.
func (c *Calendar) Between(from, to time.Time) []Occurrence {
	if c == nil {
		return nil
	}
	// Occurrences are sorted by start, and a window closes at most
	// MaxDuration + MaxLeadLag after it.
	i := sort.Search(len(c.Occurrences), func(i int) bool {
		return !c.Occurrences[i].Start.Before(from.Add(-MaxDuration - MaxLeadLag))
	})
	var out []Occurrence
	for _, o := range c.Occurrences[i:] {
		if !o.From().Before(to) {
			if o.Start.After(to.Add(MaxLeadLag)) {
				break // no later window opens before to
			}
			continue
		}
		if o.To().After(from) {
			out = append(out, o)
		}
	}
	return out
}
