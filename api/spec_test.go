package api_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
)

// snakeCase is a camelCase name in snake_case, as proto fields are named.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestSpecMatchesTargetFields checks that TargetSpec carries every field
// of models.TargetFields under its name, with a type the API decodes it
// from, and nothing else: a field added to one and not the other fails
// here rather than being dropped by the API.
func TestSpecMatchesTargetFields(t *testing.T) {
	fields := (&prescalev1.TargetSpec{}).ProtoReflect().Descriptor().Fields()
	var tg models.Target
	for _, f := range models.TargetFields() {
		fd := fields.ByJSONName(f.Name)
		if fd == nil {
			t.Errorf("TargetSpec has no field %s", f.Name)
			continue
		}
		if string(fd.Name()) != snakeCase(f.Name) {
			t.Errorf("%s: proto field %s, want %s", f.Name, fd.Name(), snakeCase(f.Name))
		}
		var kind protoreflect.Kind
		list := false
		switch f.Addr(&tg).(type) {
		case *string, *time.Duration:
			kind = protoreflect.StringKind
		case *float64:
			kind = protoreflect.DoubleKind
		case *int:
			kind = protoreflect.Int32Kind
		case *[]time.Duration:
			kind, list = protoreflect.StringKind, true
		case *[]events.Spec:
			kind, list = protoreflect.MessageKind, true
			if got := fd.Message().FullName(); got != "prescale.v1.Event" {
				t.Errorf("%s: a list of %s, want prescale.v1.Event", f.Name, got)
			}
		}
		if fd.Kind() != kind || fd.IsList() != list {
			t.Errorf("%s: proto kind %v (list %v), want %v (list %v)", f.Name, fd.Kind(), fd.IsList(), kind, list)
		}
	}
	if n := len(models.TargetFields()); fields.Len() != n {
		t.Errorf("TargetSpec has %d fields, models.TargetFields %d", fields.Len(), n)
	}
}

// TestSpecRoundTrip checks that a target with every field set survives
// SpecProto and CreateTarget unchanged.
func TestSpecRoundTrip(t *testing.T) {
	want := models.Target{
		Name:               "checkout",
		Namespace:          "shop",
		Query:              "sum(rate(http_requests_total[1m]))",
		Step:               30 * time.Second,
		History:            21 * 24 * time.Hour,
		CapacityPerReplica: 40.5,
		LeadTime:           3*time.Minute + 15*time.Second,
		Margin:             time.Minute,
		Quantile:           0.95,
		MinReplicas:        0,
		MaxReplicas:        30,
		Seasons:            []time.Duration{24 * time.Hour, 7 * 24 * time.Hour},
		RefitInterval:      90 * time.Minute,
		Model:              "harmonic",
		HoldFor:            15 * time.Minute,
		Events: []events.Spec{
			{Name: "match", Start: "2026-07-13T19:00:00", TimeZone: "Europe/Paris", Duration: "2h", Lead: "30m", Lag: "15m",
				RRule: "FREQ=WEEKLY;COUNT=10", Multiplier: 3},
			{Name: "mail", Start: "2026-07-01T08:00:00Z", Duration: "1h", Load: 5000},
		},
	}
	b := apitest.NewBackend()
	srv, err := api.NewServer(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := api.SpecProto(&want)
	if spec.GetLeadTime() != "3m15s" || spec.GetHistory() != "3w" || spec.MinReplicas == nil {
		t.Errorf("spec %v: want durations in the config syntax and minReplicas present", spec)
	}
	if _, err := srv.CreateTarget(t.Context(), &prescalev1.CreateTargetRequest{Target: spec}); err != nil {
		t.Fatalf("CreateTarget: %v", err)
	}
	st, err := b.Get("checkout")
	if err != nil || !reflect.DeepEqual(st.Target, want) {
		t.Fatalf("created %+v, %v;\nwant %+v", st.Target, err, want)
	}
}
