package models_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
)

// TestTargetFieldsCoverTarget checks that every field of Target has
// exactly one entry in TargetFields, in declaration order, named as its
// yaml tag: a field left out would be ignored by every loader and by the
// reload's change detection.
func TestTargetFieldsCoverTarget(t *testing.T) {
	var tg models.Target
	v := reflect.ValueOf(&tg).Elem()
	fields := models.TargetFields()
	if len(fields) != v.NumField() {
		t.Errorf("TargetFields has %d entries, Target has %d fields", len(fields), v.NumField())
	}
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		addr := v.Field(i).Addr().Interface()
		var found []int
		for j, f := range fields {
			if f.Addr(&tg) == addr {
				found = append(found, j)
			}
		}
		if len(found) != 1 {
			t.Errorf("Target.%s is the field of %d TargetFields entries %v, want 1", sf.Name, len(found), found)
			continue
		}
		f := fields[found[0]]
		if tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ","); f.Name != tag {
			t.Errorf("Target.%s: entry named %q, yaml tag %q", sf.Name, f.Name, tag)
		}
		if found[0] != i {
			t.Errorf("Target.%s: entry %d, want %d (declaration order)", sf.Name, found[0], i)
		}
		if f.Required && f.Default != "" {
			t.Errorf("%s: required, with a default %q", f.Name, f.Default)
		}
	}
}

// changeField gives field f of tg another value of its type.
func changeField(t *testing.T, f models.TargetField, tg *models.Target) {
	t.Helper()
	switch p := f.Addr(tg).(type) {
	case *string:
		*p += "x"
	case *time.Duration:
		*p += time.Second
	case *float64:
		*p += 0.5
	case *int:
		*p++
	case *[]time.Duration:
		*p = append(slices.Clone(*p), time.Hour)
	case *[]events.Spec:
		*p = append(slices.Clone(*p), events.Spec{Name: "launch", Start: "2026-07-13T19:00:00Z", Duration: "1h"})
	default:
		t.Fatalf("%s: no change for %T", f.Name, p)
	}
}

func TestModelAndPolicyChanged(t *testing.T) {
	base := models.DefaultTarget()
	base.Name, base.Query, base.CapacityPerReplica, base.LeadTime = "web", "up", 10, 2*time.Minute
	base.Seasons = []time.Duration{24 * time.Hour}
	if models.ModelChanged(&base, &base) || models.PolicyChanged(&base, &base) {
		t.Fatal("a target differs from itself")
	}
	for _, f := range models.TargetFields() {
		other := base
		changeField(t, f, &other)
		if got := models.ModelChanged(&base, &other); got != f.Refit {
			t.Errorf("%s changed: ModelChanged = %v, want %v", f.Name, got, f.Refit)
		}
		if got := models.PolicyChanged(&base, &other); got != !f.Refit {
			t.Errorf("%s changed: PolicyChanged = %v, want %v", f.Name, got, !f.Refit)
		}
	}
	// What the README promises keeps the model on a reload.
	var refit []string
	for _, f := range models.TargetFields() {
		if f.Refit {
			refit = append(refit, f.Name)
		}
	}
	if want := []string{"query", "step", "history", "seasons", "model", "events"}; !reflect.DeepEqual(refit, want) {
		t.Errorf("fields voiding the model: %v, want %v", refit, want)
	}

	empty, none := base, base
	empty.Seasons, none.Seasons = []time.Duration{}, nil
	if models.ModelChanged(&empty, &none) {
		t.Error("no seasons and an empty list differ")
	}
	reordered := base
	reordered.Seasons = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}
	base.Seasons = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}
	if !models.ModelChanged(&base, &reordered) {
		t.Error("reordered seasons are the same model")
	}
}

func field(t *testing.T, name string) models.TargetField {
	t.Helper()
	for _, f := range models.TargetFields() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no target field %q", name)
	return models.TargetField{}
}

func TestTargetFieldParse(t *testing.T) {
	tests := []struct {
		field, text string
		want        any    // the field's value after a successful parse
		err         string // the error, when it fails
	}{
		{"query", "  sum(up) ", "sum(up)", ""},
		{"leadTime", "90s", 90 * time.Second, ""},
		{"history", "1d12h", 36 * time.Hour, ""},
		{"step", "0", time.Duration(0), ""},
		{"margin", "-30s", -30 * time.Second, ""}, // read, for validation to explain
		{"leadTime", "5 minutes", nil, `leadTime: "5 minutes" is not a duration such as 30s, 5m, 1h30m, 14d or 1w`},
		{"leadTime", "1.5m", nil, `leadTime: "1.5m" is not a duration such as 30s, 5m, 1h30m, 14d or 1w`},
		{"holdFor", "", nil, `holdFor: "" is not a duration such as 30s, 5m, 1h30m, 14d or 1w`},
		{"capacityPerReplica", " 40.5", 40.5, ""},
		{"capacityPerReplica", "abc", nil, `capacityPerReplica: "abc" is not a number`},
		{"maxReplicas", "30", 30, ""},
		{"minReplicas", "1.5", nil, `minReplicas: "1.5" is not an integer`},
		{"seasons", "1d, 1w", []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}, ""},
		{"seasons", " ", []time.Duration(nil), ""},
		{"seasons", "1d,x", nil, `seasons: "1d,x" is not a comma-separated list of durations such as 1d,1w`},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.text, func(t *testing.T) {
			f := field(t, tt.field)
			tg := models.DefaultTarget()
			before := tg
			err := f.Parse(&tg, tt.text)
			got := reflect.ValueOf(f.Addr(&tg)).Elem().Interface()
			if tt.err != "" {
				var fe *models.FieldError
				if err == nil || err.Error() != tt.err || !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("Parse = %v, want the *FieldError %s", err, tt.err)
				}
				if !reflect.DeepEqual(tg, before) {
					t.Errorf("a failed Parse changed the target to %+v", tg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %v, %#v; want %#v", err, got, tt.want)
			}
		})
	}
}

func TestTargetFieldParseList(t *testing.T) {
	f := field(t, "seasons")
	tg := models.DefaultTarget()
	if err := f.ParseList(&tg, []string{"1d", " 1w"}); err != nil || !slices.Equal(tg.Seasons, []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}) {
		t.Fatalf("ParseList = %v, seasons %v", err, tg.Seasons)
	}
	err := f.ParseList(&tg, []string{"1d", "x", ""})
	want := `seasons[1]: "x" is not a duration such as 30s, 5m, 1h30m, 14d or 1w` + "\n" +
		`seasons[2]: "" is not a duration such as 30s, 5m, 1h30m, 14d or 1w`
	if err == nil || err.Error() != want || !errors.Is(err, models.ErrConfig) {
		t.Fatalf("ParseList = %v, want\n%s", err, want)
	}
	if len(tg.Seasons) != 2 {
		t.Errorf("a failed ParseList changed the seasons to %v", tg.Seasons)
	}
}

func FuzzTargetFieldParse(f *testing.F) {
	for _, seed := range []string{"90s", "1d12h", "-1m", "0", "", "1.5", "abc", "1d, 1w", "1d,,x", "1e400", "NaN", " 7 "} {
		for i := range models.TargetFields() {
			f.Add(uint8(i), seed)
		}
	}
	fields := models.TargetFields()
	f.Fuzz(func(t *testing.T, i uint8, text string) {
		field := fields[int(i)%len(fields)]
		tg := models.DefaultTarget()
		before := tg
		err := field.Parse(&tg, text)
		if err != nil {
			var fe *models.FieldError
			if !errors.As(err, &fe) || fe.Field != field.Name || !errors.Is(err, models.ErrConfig) {
				t.Fatalf("Parse(%q) = %v, want a *FieldError naming %s", text, err, field.Name)
			}
			if !reflect.DeepEqual(tg, before) {
				t.Fatalf("a failed Parse(%q) changed the target", text)
			}
			return
		}
		_ = tg.Validate() // any value read is one validation can judge
	})
}
