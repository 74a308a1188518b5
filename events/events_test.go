package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseExpands checks one-off and recurring events, time zones across
// a daylight-saving change, lead and lag, and the declared effects.
func TestParseExpands(t *testing.T) {
	c, err := Parse([]byte(`events:
  - name: launch
    start: "1995-07-13T09:41:00"
    duration: 2h
    lead: 1h
    multiplier: 4
  - name: match
    start: "2026-03-21T19:00:00"
    timeZone: Europe/Paris
    duration: 2h
    lag: 30m
    rrule: FREQ=WEEKLY;COUNT=3
  - name: mail
    start: "2026-03-01T08:00:00Z"
    duration: 1h
    load: 5000
`), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 3 || len(c.Occurrences) != 5 {
		t.Fatalf("%d events, %d occurrences; want 3 and 5", len(c.Events), len(c.Occurrences))
	}
	launch := c.Occurrences[0]
	if !launch.Start.Equal(time.Date(1995, 7, 13, 9, 41, 0, 0, time.UTC)) || !launch.From().Equal(launch.Start.Add(-time.Hour)) ||
		launch.Event.Multiplier != 4 || !launch.Event.Declared() || launch.Event.Line != 2 {
		t.Errorf("launch: %+v (event %+v)", launch, launch.Event)
	}
	// Paris moves to summer time on 2026-03-29: the match stays at 19:00
	// there, 18:00 UTC before and 17:00 UTC after.
	var utc []string
	for _, o := range c.Occurrences[2:] {
		utc = append(utc, o.Start.UTC().Format("01-02 15:04"))
	}
	if got, want := strings.Join(utc, ", "), "03-21 18:00, 03-28 18:00, 04-04 17:00"; got != want {
		t.Errorf("matches at %s UTC, want %s", got, want)
	}
	if m := c.Occurrences[2]; !m.To().Equal(m.Start.Add(150*time.Minute)) || m.Event.Declared() {
		t.Errorf("match window to %v, declared %v", m.To(), m.Event.Declared())
	}
	if got := c.Between(time.Date(2026, 3, 28, 19, 0, 0, 0, time.UTC), time.Date(2026, 3, 28, 20, 0, 0, 0, time.UTC)); len(got) != 1 || got[0].Event.Name != "match" {
		t.Errorf("Between the second match's end and its lag: %+v", got)
	}
}

// TestParseErrors checks that each bad calendar is refused with the file,
// the line and the reason.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"unknown time zone", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    timeZone: Mars/Olympus\n    duration: 1h\n",
			`cal.yaml:2: event "a": timeZone "Mars/Olympus": not an IANA time zone`},
		{"a rule that never ends", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1h\n    rrule: FREQ=DAILY\n",
			`cal.yaml:2: event "a": rrule "FREQ=DAILY": never ends; give COUNT or UNTIL`},
		{"overlap", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 2h\n  - name: b\n    start: 2026-01-01T01:00:00\n    duration: 1h\n",
			`cal.yaml:5: event "b" at 2026-01-01T01:00:00Z overlaps event "a" (line 2)`},
		{"too many", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1m\n    rrule: FREQ=HOURLY;COUNT=20000\n",
			`rrule "FREQ=HOURLY;COUNT=20000": more than 10000 occurrences`},
		{"unknown field", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1h\n    multiplyer: 3\n",
			`line 5: field multiplyer not found`},
		{"no duration", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n", `duration: missing`},
		{"bad start", "events:\n  - name: a\n    start: tomorrow\n    duration: 1h\n", `start "tomorrow": want a wall time`},
		{"both effects", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1h\n    multiplier: 2\n    load: 10\n",
			`multiplier and load: give one`},
		{"lead too long", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1h\n    lead: 2d\n", `lead 2d: want at most 1d`},
		{"flow style, one bad", "events: [{name: a, start: \"2026-01-01T00:00:00\", duration: 1h}, {name: b, start: x, duration: 1h}]\n",
			`cal.yaml:1: event "b": start "x"`},
		{"not a list", "events: 3\n", "cannot unmarshal"},
		{"long rrule", "events:\n  - {name: a, start: 2026-01-01T00:00:00, duration: 1h, rrule: \"FREQ=DAILY;COUNT=2" + strings.Repeat(";", 2000) + "\"}\n",
			`cal.yaml:2: event "a": rrule: at most 1024 bytes, got 2018`},
		{"long name, clipped", "events:\n  - {name: " + strings.Repeat("n", 300000) + ", start: 2026-01-01T00:00:00, duration: 1h}\n",
			`cal.yaml:2: event "` + strings.Repeat("n", 60) + `...": name: want 1 to 63 printable characters`},
		{"two bad entries, both named", "events:\n  - {name: a, start: soon, duration: 1h}\n  - {name: b, start: 2026-01-01T00:00:00, duration: 1h, timeZone: Mars/Olympus}\n",
			"cal.yaml:2: event \"a\": start \"soon\": want a wall time such as 2026-07-13T19:00:00 (in timeZone), or RFC 3339 with an offset\n" +
				"events: bad calendar: cal.yaml:3: event \"b\": timeZone \"Mars/Olympus\""},
		{"DTSTART in the rule", "events:\n  - name: a\n    start: 2026-01-01T00:00:00\n    duration: 1h\n    rrule: DTSTART=20260101T000000Z;FREQ=DAILY;COUNT=2\n",
			`DTSTART is the event's start`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "cal.yaml")
			if !errors.Is(err, ErrCalendar) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrCalendar saying %q", err, c.want)
			}
		})
	}
}

// TestBetweenMatchesScan checks Between's search against a scan of every
// occurrence, on windows around each occurrence's edges.
func TestBetweenMatchesScan(t *testing.T) {
	c, err := Parse([]byte(`events:
  - {name: a, start: "2026-01-01T00:00:00", duration: 2h, lead: 20h, lag: 3h, rrule: "FREQ=DAILY;INTERVAL=3;COUNT=10"}
  - {name: b, start: "2026-02-01T10:00:00", duration: 7d, lead: 1d, lag: 1d, rrule: "FREQ=WEEKLY;INTERVAL=3;COUNT=3"}
  - {name: c, start: "2026-01-01T12:00:00", duration: 30m, rrule: "FREQ=DAILY;INTERVAL=3;COUNT=10"}
`), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scan := func(from, to time.Time) []Occurrence {
		var out []Occurrence
		for _, o := range c.Occurrences {
			if o.From().Before(to) && o.To().After(from) {
				out = append(out, o)
			}
		}
		return out
	}
	for _, o := range c.Occurrences {
		for _, at := range []time.Time{o.From(), o.Start, o.End, o.To()} {
			for _, d := range []time.Duration{-time.Hour, -time.Minute, 0, time.Minute, time.Hour} {
				for _, span := range []time.Duration{time.Minute, 6 * time.Hour, 9 * 24 * time.Hour} {
					from, to := at.Add(d), at.Add(d+span)
					if got, want := c.Between(from, to), scan(from, to); len(got) != len(want) {
						t.Fatalf("Between(%v, %v): %d occurrences, a scan finds %d", from, to, len(got), len(want))
					}
				}
			}
		}
	}
}
