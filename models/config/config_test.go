package config_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/config"
)

const day = 24 * time.Hour

// minimalTarget is a valid target with only the required fields, on lines
// 2 to 5; test cases append fields from line 6 on.
const minimalTarget = `targets:
  - name: web
    query: sum(rate(http_requests_total[1m]))
    capacityPerReplica: 10
    leadTime: 2m
`

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"negative capacity", strings.Replace(minimalTarget, "capacityPerReplica: 10", "capacityPerReplica: -3", 1),
			"t.yaml:4: targets[0].capacityPerReplica: must be positive, got -3"},
		{"zero capacity", strings.Replace(minimalTarget, "capacityPerReplica: 10", "capacityPerReplica: 0", 1),
			"t.yaml:4: targets[0].capacityPerReplica: must be positive, got 0"},
		{"infinite capacity", strings.Replace(minimalTarget, "capacityPerReplica: 10", "capacityPerReplica: .inf", 1),
			"t.yaml:4: targets[0].capacityPerReplica: must be finite, got +Inf"},
		{"NaN capacity", strings.Replace(minimalTarget, "capacityPerReplica: 10", "capacityPerReplica: .nan", 1),
			"t.yaml:4: targets[0].capacityPerReplica: must be positive, got NaN"},
		{"capacity as string", strings.Replace(minimalTarget, "capacityPerReplica: 10", `capacityPerReplica: "10"`, 1),
			`t.yaml:4: targets[0].capacityPerReplica: must be a number, got "10"`},
		{"missing name", strings.Replace(minimalTarget, "- name: web\n    query", "- query", 1),
			"t.yaml:2: targets[0].name: required"},
		{"empty name", strings.Replace(minimalTarget, "name: web", `name: ""`, 1),
			"t.yaml:2: targets[0].name: required"},
		{"missing query and lead time", "targets:\n  - name: web\n    capacityPerReplica: 1\n",
			"t.yaml:2: targets[0].query: required\nt.yaml:2: targets[0].leadTime: required"},
		{"blank query", strings.Replace(minimalTarget, "query: sum(rate(http_requests_total[1m]))", `query: "  "`, 1),
			"t.yaml:3: targets[0].query: required"},
		{"name not a label", strings.Replace(minimalTarget, "name: web", "name: Web.API", 1),
			`t.yaml:2: targets[0].name: must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "Web.API"`},
		{"name ends with dash", strings.Replace(minimalTarget, "name: web", "name: web-", 1),
			`t.yaml:2: targets[0].name: must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "web-"`},
		{"name is a list", strings.Replace(minimalTarget, "name: web", "name: [web]", 1),
			"t.yaml:2: targets[0].name: must be a string, got a list"},
		{"namespace not a label", minimalTarget + "    namespace: Shop_EU\n",
			`t.yaml:6: targets[0].namespace: must be empty or a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "Shop_EU"`},
		{"namespace is a list", minimalTarget + "    namespace: [shop]\n",
			"t.yaml:6: targets[0].namespace: must be a string, got a list"},
		{"namespace is nothing", minimalTarget + "    namespace:\n",
			"t.yaml:6: targets[0].namespace: must be a string, got nothing"},
		{"unknown field close to a known one", minimalTarget + "    minReplica: 2\n",
			`t.yaml:6: targets[0].minReplica: unknown field, did you mean "minReplicas"?`},
		{"unknown field in snake case", minimalTarget + "    refit_interval: 2h\n",
			`t.yaml:6: targets[0].refit_interval: unknown field, did you mean "refitInterval"?`},
		{"unknown field far from all", minimalTarget + "    replicas: 2\n",
			"t.yaml:6: targets[0].replicas: unknown field; known fields are name, namespace, query, step, history, " +
				"capacityPerReplica, leadTime, margin, quantile, minReplicas, maxReplicas, seasons, refitInterval, model, holdFor, events"},
		{"unknown top-level field", "target:\n  - name: web\n",
			`t.yaml:1: target: unknown field, did you mean "targets"?`},
		{"duplicate field", minimalTarget + "    leadTime: 3m\n",
			"t.yaml:6: targets[0].leadTime: duplicate field, first at line 5"},
		{"duplicate names", minimalTarget + strings.TrimPrefix(minimalTarget, "targets:\n"),
			`t.yaml:6: targets[1].name: duplicate target name "web", first declared at t.yaml:2 (targets[0])`},
		{"quantile one", minimalTarget + "    quantile: 1\n",
			"t.yaml:6: targets[0].quantile: must be between 0 and 1 (exclusive), got 1"},
		{"quantile zero", minimalTarget + "    quantile: 0\n",
			"t.yaml:6: targets[0].quantile: must be between 0 and 1 (exclusive), got 0"},
		{"negative min replicas", minimalTarget + "    minReplicas: -1\n",
			"t.yaml:6: targets[0].minReplicas: must not be negative, got -1"},
		{"min above max", minimalTarget + "    minReplicas: 8\n    maxReplicas: 4\n",
			"t.yaml:6: targets[0].minReplicas: must not exceed maxReplicas (4), got 8"},
		{"min above default max", minimalTarget + "    minReplicas: 101\n",
			"t.yaml:6: targets[0].minReplicas: must not exceed maxReplicas (100), got 101"},
		{"zero max replicas", minimalTarget + "    maxReplicas: 0\n",
			"t.yaml:6: targets[0].maxReplicas: must be at least 1, got 0"},
		{"fractional replicas", minimalTarget + "    maxReplicas: 2.5\n",
			"t.yaml:6: targets[0].maxReplicas: must be an integer, got 2.5"},
		{"zero step", minimalTarget + "    step: 0\n",
			"t.yaml:6: targets[0].step: must be positive, got 0s"},
		{"negative step", minimalTarget + "    step: -1m\n",
			"t.yaml:6: targets[0].step: must be positive, got -1m"},
		{"duration without unit", minimalTarget + "    step: 60\n",
			"t.yaml:6: targets[0].step: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got 60"},
		{"Go-style duration", minimalTarget + "    step: 1.5m\n",
			`t.yaml:6: targets[0].step: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got "1.5m"`},
		{"empty duration", minimalTarget + "    holdFor:\n",
			"t.yaml:6: targets[0].holdFor: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got nothing"},
		{"history below two steps", minimalTarget + "    step: 1h\n    history: 90m\n",
			"t.yaml:7: targets[0].history: must cover at least 2 steps (2h), got 1h30m"},
		{"history of too many points", minimalTarget + "    step: 1s\n    history: 14d\n    refitInterval: 1h\n",
			"t.yaml:7: targets[0].history: 2w at step 1s is 1209600 points; at most 300000 (the memory of one fit); use a longer step or a shorter history"},
		{"default history of too many points", minimalTarget + "    step: 1s\n",
			"t.yaml:2: targets[0].history: 2w at step 1s is 1209600 points; at most 300000 (the memory of one fit); use a longer step or a shorter history (the default)"},
		{"zero lead time", strings.Replace(minimalTarget, "leadTime: 2m", "leadTime: 0s", 1),
			"t.yaml:5: targets[0].leadTime: must be positive, got 0s"},
		{"negative margin", minimalTarget + "    margin: -30s\n",
			"t.yaml:6: targets[0].margin: must not be negative, got -30s"},
		{"lead time beyond a day", strings.Replace(minimalTarget, "leadTime: 2m", "leadTime: 100000d", 1),
			"t.yaml:5: targets[0].leadTime: must be at most 1d, got 100000d"},
		{"margin beyond a day", minimalTarget + "    margin: 2d\n",
			"t.yaml:6: targets[0].margin: must be at most 1d, got 2d"},
		{"lead window beyond a day", strings.Replace(minimalTarget, "leadTime: 2m", "leadTime: 20h", 1) + "    margin: 5h\n",
			"t.yaml:6: targets[0].margin: leadTime plus margin must be at most 1d, got 1d1h"},
		{"lead window of too many steps", minimalTarget + "    step: 1s\n    history: 1d\n    refitInterval: 1h\n    margin: 3h\n",
			"t.yaml:9: targets[0].margin: leadTime plus margin must be at most 10000 steps (2h46m40s at step 1s), got 3h2m"},
		{"lead time of too many steps", strings.Replace(minimalTarget, "leadTime: 2m", "leadTime: 3h", 1) + "    step: 1s\n    history: 1d\n    refitInterval: 1h\n",
			"t.yaml:5: targets[0].leadTime: the lead time must be at most 10000 steps (2h46m40s at step 1s), got 3h"},
		{"negative hold", minimalTarget + "    holdFor: -1m\n",
			"t.yaml:6: targets[0].holdFor: must not be negative, got -1m"},
		{"season not a multiple of step", minimalTarget + "    step: 5m\n    seasons: [1d, 7m]\n",
			"t.yaml:7: targets[0].seasons[1]: must be a whole multiple of step (5m), got 7m"},
		{"season above half the history", minimalTarget + "    history: 10d\n    seasons:\n      - 1d\n      - 1w\n",
			"t.yaml:9: targets[0].seasons[1]: must be at most half of history (5d), got 1w"},
		{"zero season", minimalTarget + "    seasons: [0s]\n",
			"t.yaml:6: targets[0].seasons[0]: must be positive, got 0s"},
		{"duplicate season", minimalTarget + "    seasons: [1d, 24h]\n",
			"t.yaml:6: targets[0].seasons[1]: duplicates seasons[0] (1d)"},
		{"season of wrong type", minimalTarget + "    seasons: [1d, daily]\n",
			`t.yaml:6: targets[0].seasons[1]: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got "daily"`},
		{"too many seasons", minimalTarget + "    seasons: [1h, 2h, 3h, 4h, 5h, 6h, 7h, 8h, 9h]\n",
			"t.yaml:6: targets[0].seasons: must list at most 8 seasons, got 9"},
		{"seasons not a list", minimalTarget + "    seasons: 1d\n",
			`t.yaml:6: targets[0].seasons: must be a list of durations, got "1d"`},
		{"event in an unknown time zone", minimalTarget + "    events:\n      - name: match\n        start: 2026-07-13T19:00:00\n        timeZone: Mars/Olympus\n        duration: 2h\n",
			`t.yaml:7: targets[0].events[0]: event "match": timeZone "Mars/Olympus": not an IANA time zone (such as Europe/Paris or UTC)`},
		{"event rule that never ends", minimalTarget + "    events:\n      - {name: match, start: 2026-07-13T19:00:00, duration: 2h}\n      - {name: sale, start: 2026-07-01T08:00:00, duration: 1h, rrule: FREQ=DAILY}\n",
			`t.yaml:8: targets[0].events[1]: event "sale": rrule "FREQ=DAILY": never ends; give COUNT or UNTIL (at most 10000 occurrences in a calendar)`},
		{"overlapping events", minimalTarget + "    events:\n      - {name: a, start: 2026-07-13T19:00:00, duration: 2h}\n      - {name: b, start: 2026-07-13T20:00:00, duration: 1h}\n",
			`t.yaml:8: targets[0].events[1]: event "b" at 2026-07-13T20:00:00Z overlaps event "a" (events[0]) at 2026-07-13T19:00:00Z, which lasts until 2026-07-13T21:00:00Z; an occurrence's load must be told apart from another's`},
		{"unknown event field", minimalTarget + "    events:\n      - name: a\n        start: 2026-07-13T19:00:00\n        duration: 2h\n        multiplyer: 3\n",
			`t.yaml:10: targets[0].events[0].multiplyer: unknown field, did you mean "multiplier"?`},
		{"event of wrong type", minimalTarget + "    events:\n      - {name: a, start: 2026-07-13T19:00:00, duration: 2h, multiplier: lots}\n",
			`t.yaml:7: targets[0].events[0].multiplier: must be a number, got "lots"`},
		{"two bad events", minimalTarget + "    events:\n      - {name: a, start: soon, duration: 2h}\n      - {name: b, start: 2026-07-13T19:00:00, timeZone: Mars/Olympus, duration: 1h}\n",
			"t.yaml:7: targets[0].events[0]: event \"a\": start \"soon\": want a wall time such as 2026-07-13T19:00:00 (in timeZone), or RFC 3339 with an offset\n" +
				"t.yaml:8: targets[0].events[1]: event \"b\": timeZone \"Mars/Olympus\": not an IANA time zone (such as Europe/Paris or UTC)"},
		{"events not a list", minimalTarget + "    events: launch\n",
			`t.yaml:6: targets[0].events: must be a list of events, got "launch"`},
		{"unknown model", minimalTarget + "    model: arima\n",
			`t.yaml:6: targets[0].model: must be one of auto, naive, holtwinters, harmonic, got "arima"`},
		{"refit faster than step", minimalTarget + "    step: 5m\n    refitInterval: 1m\n",
			"t.yaml:7: targets[0].refitInterval: must be at least step (5m), got 1m"},
		{"default refit faster than step", minimalTarget + "    step: 2h\n",
			"t.yaml:2: targets[0].refitInterval: must be at least step (2h), got 1h (the default)"},
		{"invalid step skips the rules that use it", minimalTarget + "    step: soon\n    seasons: [7m]\n    refitInterval: 1s\n",
			`t.yaml:6: targets[0].step: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got "soon"`},
		{"targets not a list", "targets: {name: web}\n",
			"t.yaml:1: targets: must be a list of targets, got a mapping"},
		{"target not a mapping", "targets:\n  - web\n",
			`t.yaml:2: targets[0]: must be a mapping of target fields, got "web"`},
		{"file not a mapping", "- name: web\n",
			`t.yaml:1: must be a mapping with a "targets" list, got a list`},
		{"two documents", minimalTarget + "---\n" + minimalTarget,
			"t.yaml:6: only one YAML document is allowed"},
		{"syntax error on the first line", "targets: [\n",
			"t.yaml:1: invalid YAML: did not find expected node content"},
		{"syntax error further down", minimalTarget + "   bad: indent\n",
			"t.yaml:6: invalid YAML: did not find expected '-' indicator"},
		{"tab indentation", minimalTarget + "\tstep: 1m\n",
			"t.yaml:6: invalid YAML: found a tab character that violates indentation"},
		{"unclosed bracket", strings.Replace(minimalTarget, "query: sum(rate(http_requests_total[1m]))", "query: [sum", 1),
			"t.yaml:3: invalid YAML: did not find expected ',' or ']'"},
		{"invalid UTF-8", strings.Replace(minimalTarget, "leadTime: 2m", "leadTime: 2\xffm", 1),
			"t.yaml:5: invalid YAML: invalid leading UTF-8 octet"},
		{"problem in an anchor used twice", "targets:\n  - &a {name: a, query: up, capacityPerReplica: 1, leadTime: 1m, quantil: 1}\n" +
			"  - {<<: *a, name: b}\n  - {<<: *a, name: c}\n",
			`t.yaml:2: targets[0].quantil: unknown field, did you mean "quantile"?`},
		{"syntax error after a multi-line flow list", "targets:\n  - name: a\n    seasons: [1d,\n      1w]\n    query: up\n   bad: x\n",
			"t.yaml:6: invalid YAML: did not find expected '-' indicator"},
		{"merge key from a list", minimalTarget + "  - <<: [web]\n    name: api\n",
			`t.yaml:6: targets[1]: a merge key (<<) must name a mapping, got "web"` +
				"\nt.yaml:6: targets[1].query: required\nt.yaml:6: targets[1].capacityPerReplica: required" +
				"\nt.yaml:6: targets[1].leadTime: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml), "t.yaml")
			if err == nil {
				t.Fatalf("ParseConfig = %+v, want error\n%s", cfg, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
			if !errors.Is(err, models.ErrConfig) {
				t.Errorf("errors.Is(err, ErrConfig) = false for %v", err)
			}
			if cfg != nil {
				t.Errorf("config = %+v alongside an error, want nil", cfg)
			}
		})
	}
}

func TestLoadConfigValid(t *testing.T) {
	cfg, err := config.Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defaults := models.DefaultTarget()
	want := []models.Target{
		{
			Name:               "checkout",
			Namespace:          "shop",
			Query:              `sum(rate(http_requests_total{job="checkout"}[1m]))`,
			Step:               30 * time.Second,
			History:            14 * day,
			CapacityPerReplica: 250,
			LeadTime:           3 * time.Minute,
			Margin:             time.Minute,
			Quantile:           0.95,
			MinReplicas:        2,
			MaxReplicas:        40,
			Seasons:            []time.Duration{day, 7 * day},
			RefitInterval:      6 * time.Hour,
			Model:              "harmonic",
			HoldFor:            15 * time.Minute,
			Events: []events.Spec{
				{Name: "match", Start: "2026-07-13T19:00:00", TimeZone: "Europe/Paris", Duration: "2h", Lead: "30m", Lag: "15m",
					RRule: "FREQ=WEEKLY;BYDAY=SA;COUNT=10", Multiplier: 3},
				{Name: "mail", Start: "2026-07-01T08:00:00Z", Duration: "1h", Load: 5000},
			},
		},
		{
			Name:               "search",
			Query:              "sum(rate(search_queries_total[5m]))",
			Step:               time.Minute,
			History:            14 * day,
			CapacityPerReplica: 12.5,
			LeadTime:           90 * time.Second,
			Quantile:           0.9,
			MinReplicas:        1,
			MaxReplicas:        100,
			RefitInterval:      time.Hour,
			Model:              "auto",
			HoldFor:            10 * time.Minute,
		},
	}
	if !reflect.DeepEqual(cfg.Targets, want) {
		t.Errorf("targets:\n%+v\nwant:\n%+v", cfg.Targets, want)
	}
	// The second target spells out nothing optional: it is the defaults.
	d := want[1]
	d.Name, d.Query, d.CapacityPerReplica, d.LeadTime = "", "", 0, 0
	if !reflect.DeepEqual(d, defaults) {
		t.Errorf("DefaultTarget() = %+v, want %+v", defaults, d)
	}
	for _, tg := range cfg.Targets {
		if err := tg.Validate(); err != nil {
			t.Errorf("loaded target %s does not validate: %v", tg.Name, err)
		}
	}
}

// TestLoadConfigInvalid checks that every problem of a file is reported,
// in line order.
func TestLoadConfigInvalid(t *testing.T) {
	path := filepath.Join("testdata", "invalid.yaml")
	_, err := config.Load(path)
	if err == nil {
		t.Fatal("LoadConfig succeeded, want errors")
	}
	want := strings.ReplaceAll(`FILE:5: targets[0].capacityPerReplica: must be positive, got -3
FILE:7: targets[0].quantile: must be between 0 and 1 (exclusive), got 1.5
FILE:8: targets[0].minReplicas: must not exceed maxReplicas (5), got 10
FILE:10: targets[0].seasons[1]: must be a whole multiple of step (1m), got 1m30s
FILE:10: targets[0].seasons[2]: must be at most half of history (1w), got 30d
FILE:11: targets[0].refitInterval: must be at least step (1m), got 30s
FILE:12: targets[0].model: must be one of auto, naive, holtwinters, harmonic, got "arima"
FILE:13: targets[1].name: must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "Search_API"
FILE:13: targets[1].capacityPerReplica: required
FILE:14: targets[1].query: required
FILE:15: targets[1].capacityPerReplicas: unknown field, did you mean "capacityPerReplica"?
FILE:16: targets[1].leadTime: must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got 5
FILE:17: targets[1].maxReplicas: must be an integer, got "many"
FILE:18: targets[2].refitInterval: must be at least step (2h), got 1h (the default)
FILE:18: targets[2].name: duplicate target name "checkout", first declared at FILE:2 (targets[0])
FILE:22: targets[2].leadTime: must be positive, got 0s
FILE:23: targets[2].holdFor: must not be negative, got -1m
FILE:24: targets[2].namespace: must be empty or a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "-shop"`, "FILE", path)
	if got := err.Error(); got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 18 {
		t.Fatalf("error is not 18 joined errors: %#v", err)
	}
	for _, e := range joined.Unwrap() {
		var fe *models.FieldError
		if !errors.As(e, &fe) || fe.File != path || fe.Line == 0 || fe.Field == "" {
			t.Errorf("%v: not a *FieldError with file, line and field", e)
		}
		if !errors.Is(e, models.ErrConfig) {
			t.Errorf("%v: does not wrap ErrConfig", e)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, models.ErrConfig) {
		t.Errorf("err = %v, want a not-exist error that is not ErrConfig", err)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# nothing yet\n", "---\n", "~\n", "targets:\n", "targets: []\n"} {
		cfg, err := config.Parse([]byte(in), "t.yaml")
		if err != nil {
			t.Errorf("ParseConfig(%q): %v", in, err)
			continue
		}
		if len(cfg.Targets) != 0 {
			t.Errorf("ParseConfig(%q) = %d targets, want none", in, len(cfg.Targets))
		}
		if undeclared := !strings.HasPrefix(in, "targets"); cfg.Undeclared != undeclared {
			t.Errorf("ParseConfig(%q).Undeclared = %v, want %v", in, cfg.Undeclared, undeclared)
		}
	}
	cfg, err := config.Load(filepath.Join("testdata", "empty.yaml"))
	if err != nil || len(cfg.Targets) != 0 {
		t.Errorf("empty.yaml = %+v, %v; want no targets", cfg, err)
	}
}

func TestParseConfigAnchors(t *testing.T) {
	in := `targets:
  - &base
    name: web
    query: up
    capacityPerReplica: 10
    leadTime: 2m
    seasons: [1d]
  - <<: *base
    name: api
    leadTime: 5m
`
	cfg, err := config.Parse([]byte(in), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 2 {
		t.Fatalf("%d targets, want 2", len(cfg.Targets))
	}
	api := cfg.Targets[1]
	if api.Name != "api" || api.Query != "up" || api.CapacityPerReplica != 10 ||
		api.LeadTime != 5*time.Minute || !reflect.DeepEqual(api.Seasons, []time.Duration{day}) {
		t.Errorf("merged target = %+v", api)
	}
}

func TestTargetValidate(t *testing.T) {
	valid := func() models.Target {
		tg := models.DefaultTarget()
		tg.Name, tg.Query, tg.CapacityPerReplica, tg.LeadTime = "web", "up", 10, 2*time.Minute
		return tg
	}
	tests := []struct {
		name   string
		change func(*models.Target)
		want   string
	}{
		{"valid", func(*models.Target) {}, ""},
		{"zero values", func(tg *models.Target) { *tg = models.Target{} },
			"name: required\nquery: required\nstep: must be positive, got 0s\nhistory: must be positive, got 0s\n" +
				"capacityPerReplica: must be positive, got 0\nleadTime: must be positive, got 0s\n" +
				"quantile: must be between 0 and 1 (exclusive), got 0\nmaxReplicas: must be at least 1, got 0\n" +
				"refitInterval: must be positive, got 0s\nmodel: must be one of auto, naive, holtwinters, harmonic, got \"\""},
		{"capacity", func(tg *models.Target) { tg.CapacityPerReplica = math.Inf(-1) },
			"capacityPerReplica: must be positive, got -Inf"},
		{"infinite capacity", func(tg *models.Target) { tg.CapacityPerReplica = math.Inf(1) },
			"capacityPerReplica: must be finite, got +Inf"},
		{"namespace", func(tg *models.Target) { tg.Namespace = "shop-eu" }, ""},
		{"namespace not a label", func(tg *models.Target) { tg.Namespace = "shop.eu" },
			`namespace: must be empty or a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "shop.eu"`},
		{"long name", func(tg *models.Target) { tg.Name = strings.Repeat("a", 64) },
			`name: must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "` +
				strings.Repeat("a", 64) + `"`},
		{"name too long to echo", func(tg *models.Target) { tg.Name = strings.Repeat("N", 300000) },
			`name: must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), got "` +
				strings.Repeat("N", 100) + `"... (300000 bytes)`},
		{"echo cut at a character", func(tg *models.Target) { tg.Model = "a" + strings.Repeat("é", 100) },
			`model: must be one of auto, naive, holtwinters, harmonic, got "a` + strings.Repeat("é", 49) + `"... (201 bytes)`},
		{"history at the most points", func(tg *models.Target) { tg.Step, tg.History = 4*time.Second, 1_200_000*time.Second }, ""},
		{"history a step beyond", func(tg *models.Target) { tg.Step, tg.History = 4*time.Second, 1_200_004*time.Second },
			"history: 13d21h20m4s at step 4s is 300001 points; at most 300000 (the memory of one fit); use a longer step or a shorter history"},
		{"query at the bound", func(tg *models.Target) { tg.Query = strings.Repeat("x", models.MaxQueryBytes) }, ""},
		{"query too long", func(tg *models.Target) { tg.Query = strings.Repeat(" ", 300000) },
			"query: must be at most 16384 bytes, got 300000"},
		{"replicas beyond int32", func(tg *models.Target) { tg.MinReplicas, tg.MaxReplicas = 1<<31, 1<<31 },
			"minReplicas: must be at most 2147483647 (a Kubernetes replica count), got 2147483648\n" +
				"maxReplicas: must be at most 2147483647 (a Kubernetes replica count), got 2147483648"},
		{"replicas at int32", func(tg *models.Target) { tg.MinReplicas, tg.MaxReplicas = math.MaxInt32, math.MaxInt32 }, ""},
		{"sub-millisecond values", func(tg *models.Target) {
			tg.Step, tg.History, tg.Seasons = time.Second, time.Hour, []time.Duration{1500 * time.Microsecond}
		},
			"seasons[0]: must be a whole multiple of step (1s), got 1.5ms"},
		{"min replicas zero is allowed", func(tg *models.Target) { tg.MinReplicas = 0 }, ""},
		{"every season rule", func(tg *models.Target) {
			tg.History = 2 * day
			tg.Seasons = []time.Duration{-time.Hour, 90 * time.Second, 2 * day, time.Hour, time.Hour}
		}, "seasons[0]: must be positive, got -1h\nseasons[1]: must be a whole multiple of step (1m), got 1m30s\n" +
			"seasons[2]: must be at most half of history (1d), got 2d\nseasons[4]: duplicates seasons[3] (1h)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := valid()
			tt.change(&tg)
			err := tg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want\n%s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Validate():\n%s\nwant:\n%s", got, tt.want)
			}
			var fe *models.FieldError
			if !errors.Is(err, models.ErrConfig) || !errors.As(err, &fe) || fe.Field == "" || fe.Line != 0 {
				t.Errorf("Validate() = %#v, want *FieldErrors without lines wrapping ErrConfig", err)
			}
		})
	}
}

// errLine is the shape of every line of a ParseConfig error.
var errLine = regexp.MustCompile(`^f\.yaml:[1-9][0-9]*: \S`)

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"valid.yaml", "invalid.yaml", "empty.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		minimalTarget,
		minimalTarget + "    seasons: [1d, 1w]\n    step: 30s\n",
		minimalTarget + "  - <<: *x\n",
		"targets:\n  - &a {name: a, query: up, capacityPerReplica: 1, leadTime: 1m}\n  - <<: [*a, *a]\n    name: b\n",
		"targets: [",
		"targets: !!binary aGVsbG8=\n",
		"a: &a [*a]\n",
		"\xff\xfe",
		"targets:\n  - name: \"\\u00e9\"\n    \"q\\nuery\": up\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, "f.yaml")
		if err != nil {
			if !errors.Is(err, models.ErrConfig) {
				t.Fatalf("error does not wrap ErrConfig: %v", err)
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !errLine.MatchString(line) {
					t.Fatalf("error line %q does not start with f.yaml:LINE:", line)
				}
			}
			return
		}
		names := map[string]bool{}
		for _, tg := range cfg.Targets {
			if err := tg.Validate(); err != nil {
				t.Fatalf("accepted target %q does not validate: %v", tg.Name, err)
			}
			if names[tg.Name] {
				t.Fatalf("accepted duplicate name %q", tg.Name)
			}
			names[tg.Name] = true
		}
	})
}

func ExampleParse() {
	data := []byte(`targets:
  - name: checkout
    query: sum(rate(http_requests_total{job="checkout"}[1m]))
    capacityPerReplica: 250
    leadTime: 3m
    seasons: [1d, 1w]
  - name: search
    query: sum(rate(search_queries_total[5m]))
    capacityPerReplica: -3
    leadtime: 90s
`)
	_, err := config.Parse(data, "targets.yaml")
	fmt.Println(err)
	fmt.Println(errors.Is(err, models.ErrConfig))

	cfg, err := config.Parse(data[:strings.Index(string(data), "  - name: search")], "targets.yaml")
	if err != nil {
		panic(err)
	}
	tg := cfg.Targets[0]
	fmt.Println(tg.Name, tg.Step, tg.History, tg.Quantile, tg.MinReplicas, tg.MaxReplicas, tg.Model, tg.Seasons)
	// Output:
	// targets.yaml:7: targets[1].leadTime: required
	// targets.yaml:9: targets[1].capacityPerReplica: must be positive, got -3
	// targets.yaml:10: targets[1].leadtime: unknown field, did you mean "leadTime"?
	// true
	// checkout 1m0s 336h0m0s 0.9 1 100 auto [24h0m0s 168h0m0s]
}
