package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models/registry"
)

// downSource is a Prometheus that never answers.
type downSource struct{}

func (downSource) Range(context.Context, string, time.Time, time.Time, time.Duration) (*feed.Series, error) {
	return nil, errors.New("down")
}

// TestTooManyTargets: a create beyond the registry's limit is 429 over
// REST and ResourceExhausted over gRPC, naming the limit and the flag.
func TestTooManyTargets(t *testing.T) {
	reg, err := registry.New(downSource{}, &registry.Options{MaxTargets: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := newREST(t, reg)
	create := func(name string) (int, string) {
		return do(t, "POST", ts.URL+"/v1/targets", `{"name":"`+name+`","query":"sum(up)","capacityPerReplica":5,"leadTime":"2m"}`)
	}
	if code, body := create("one"); code != http.StatusOK {
		t.Fatalf("first create: %d %s", code, body)
	}
	code, body := create("two")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "at most 1 targets") || !strings.Contains(body, "--max-targets") {
		t.Errorf("create beyond the limit: %d %s, want 429 naming the limit and --max-targets", code, body)
	}

	conn, _ := newGRPC(t, reg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = prescalev1.NewPrescaleServiceClient(conn).CreateTarget(ctx, &prescalev1.CreateTargetRequest{
		Target: &prescalev1.TargetSpec{Name: "three", Query: "q", CapacityPerReplica: 1, LeadTime: "1m"},
	})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "--max-targets") {
		t.Errorf("gRPC create beyond the limit: %v, want ResourceExhausted naming --max-targets", err)
	}
}
