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
	// Line is where the entry starts in its file.
	Line int
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

// entry is an event as written.
type entry struct {
	Name       string  `yaml:"name"`
	Start      string  `yaml:"start"`
	TimeZone   string  `yaml:"timeZone"`
	Duration   string  `yaml:"duration"`
	Lead       string  `yaml:"lead"`
	Lag        string  `yaml:"lag"`
	RRule      string  `yaml:"rrule"`
	Multiplier float64 `yaml:"multiplier"`
	Load       float64 `yaml:"load"`
}

// Parse reads and validates a calendar; file names it in errors.
func Parse(raw []byte, file string) (*Calendar, error) {
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, at most %d", ErrCalendar, file, len(raw), MaxBytes)
	}
	var doc struct {
		Events []entry `yaml:"events"`
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
	if len(doc.Events) > MaxEvents {
		return nil, fmt.Errorf("%w: %s: %d events, at most %d", ErrCalendar, file, len(doc.Events), MaxEvents)
	}
	c := &Calendar{File: file}
	for i, e := range doc.Events {
		line := 0 // unknown: the YAML's nodes and the decoded list disagree
		if i < len(lines) {
			line = lines[i]
		}
		ev, err := e.event(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: event %q: %v", ErrCalendar, file, line, e.Name, err)
		}
		c.Events = append(c.Events, ev)
	}
	if err := c.expand(); err != nil {
		return nil, err
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

// event checks an entry and makes its Event.
func (e *entry) event(line int) (*Event, error) {
	ev := &Event{Name: e.Name, RRule: e.RRule, Multiplier: e.Multiplier, Load: e.Load, Line: line}
	if e.Name == "" || len(e.Name) > 63 || strings.ContainsFunc(e.Name, func(r rune) bool { return r < ' ' }) {
		return nil, errors.New("name: want 1 to 63 printable characters")
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
				return fmt.Errorf("%w: %s:%d: event %q: %v", ErrCalendar, c.File, ev.Line, ev.Name, err)
			}
		}
		for _, s := range starts {
			c.Occurrences = append(c.Occurrences, Occurrence{Event: ev, Start: s, End: s.Add(ev.Duration)})
			if len(c.Occurrences) > MaxOccurrences {
				return fmt.Errorf("%w: %s:%d: event %q: more than %d occurrences in the calendar", ErrCalendar, c.File, ev.Line, ev.Name, MaxOccurrences)
			}
		}
	}
	slices.SortStableFunc(c.Occurrences, func(a, b Occurrence) int { return a.Start.Compare(b.Start) })
	for i := 1; i < len(c.Occurrences); i++ {
		a, b := c.Occurrences[i-1], c.Occurrences[i]
		if b.Start.Before(a.End) {
			return fmt.Errorf("%w: %s:%d: event %q at %s overlaps event %q (line %d) at %s, which lasts until %s; an occurrence's load must be told apart from another's",
				ErrCalendar, c.File, b.Event.Line, b.Event.Name, b.Start.Format(time.RFC3339), a.Event.Name, a.Event.Line, a.Start.Format(time.RFC3339), a.End.Format(time.RFC3339))
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

// Between returns the occurrences whose windows (lead to lag) overlap
// [from, to), in order.
func (c *Calendar) Between(from, to time.Time) []Occurrence {
	if c == nil {
		return nil
	}
	var out []Occurrence
	for _, o := range c.Occurrences {
		if o.From().Before(to) && o.To().After(from) {
			out = append(out, o)
		}
	}
	return out
}
