package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

type noSource struct{}

func (noSource) Range(context.Context, string, time.Time, time.Time, time.Duration) (*feed.Series, error) {
	return nil, errors.New("no data in this test")
}

// TestClusterWrites checks that with --cluster the API's writes of targets
// are refused with FailedPrecondition, saying how to declare them, while
// KEDA's registrations and updates go through.
func TestClusterWrites(t *testing.T) {
	reg, err := registry.New(noSource{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := clusterWrites{&readyBackend{Registry: reg}}
	tg := models.DefaultTarget()
	tg.Name, tg.Query, tg.CapacityPerReplica, tg.LeadTime = "web", "sum(rate(http_requests_total[5m]))", 20, 3*time.Minute

	refused := func(what string, err error) {
		t.Helper()
		if st, ok := status.FromError(err); !ok || st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "PredictiveAutoscaler") {
			t.Errorf("%s: %v, want FailedPrecondition saying to declare targets as PredictiveAutoscalers", what, err)
		}
	}
	_, err = b.Create(tg, registry.OriginAPI)
	refused("API create", err)
	if _, err := b.Create(tg, registry.OriginKEDA); err != nil {
		t.Fatalf("KEDA create: %v", err)
	}
	tg.MaxReplicas = 30
	if st, err := b.Update(tg); err != nil || st.Target.MaxReplicas != 30 {
		t.Errorf("KEDA update: %v, max %d", err, st.Target.MaxReplicas)
	}
	tg.Name = "absent"
	_, err = b.Update(tg)
	refused("update", err)
	refused("delete", b.Delete("web"))
	refused("delete for one request", b.Via(new(string)).Delete("web"))
	if _, err := b.Get("web"); err != nil {
		t.Errorf("web after a refused delete: %v", err)
	}
}
