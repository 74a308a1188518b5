package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/prescale/prescale/api"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// namingRouter is a Router that says every read was answered by "web" by
// prescale-1 and every other by prescale-0, as a cluster.Forwarder says
// which replica answered.
type namingRouter struct{ api.Backend }

func (r namingRouter) Via(by *string) api.Backend { return namingReads{r.Backend, by} }

type namingReads struct {
	api.Backend
	by *string
}

func (r namingReads) name(target string) {
	*r.by = "prescale-0"
	if target == "web" {
		*r.by = "prescale-1"
	}
}

func (r namingReads) Get(name string) (registry.TargetStatus, error) {
	r.name(name)
	return r.Backend.Get(name)
}

func (r namingReads) Recommendation(name string) (models.Recommendation, error) {
	r.name(name)
	return r.Backend.Recommendation(name)
}

func (r namingReads) Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*registry.ForecastView, error) {
	r.name(name)
	return r.Backend.Forecast(name, horizon, quantiles, history)
}

func (r namingReads) Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error) {
	r.name(name)
	return r.Backend.Anomalies(name, start, end)
}

// TestServedByHeader checks that the reads of one target say which replica
// answered them: the Prescale-Served-By header over REST, the
// prescale-served-by header metadata over gRPC, errors included, and that
// a backend that is not a Router (one replica) adds no header.
func TestServedByHeader(t *testing.T) {
	ts := newREST(t, namingRouter{newFixture(t)})
	for path, want := range map[string]string{
		"/v1/targets/web":                  "prescale-1",
		"/v1/targets/web/recommendation":   "prescale-1",
		"/v1/targets/web/forecast":         "prescale-1",
		"/v1/targets/web/anomalies":        "prescale-1",
		"/v1/targets/batch/recommendation": "prescale-0", // no data yet: 503, still named
		"/v1/targets/gone":                 "prescale-0",
	} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Prescale-Served-By"); got != want {
			t.Errorf("GET %s (%d): Prescale-Served-By %q, want %q", path, resp.StatusCode, got, want)
		}
	}
	plain := newREST(t, newFixture(t))
	resp, err := http.Get(plain.URL + "/v1/targets/web/recommendation")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Prescale-Served-By"); got != "" || resp.StatusCode != 200 {
		t.Errorf("one replica: status %d, Prescale-Served-By %q, want 200 and none", resp.StatusCode, got)
	}

	conn, _ := newGRPC(t, namingRouter{newFixture(t)})
	c := prescalev1.NewPrescaleServiceClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var md metadata.MD
	if _, err := c.GetRecommendation(ctx, &prescalev1.GetRecommendationRequest{Name: "web"}, grpc.Header(&md)); err != nil {
		t.Fatal(err)
	}
	if got := md.Get(api.ServedByHeader); len(got) != 1 || got[0] != "prescale-1" {
		t.Errorf("gRPC recommendation: %s %v, want [prescale-1]", api.ServedByHeader, got)
	}
	md = nil
	if _, err := c.GetForecast(ctx, &prescalev1.GetForecastRequest{Name: "batch"}, grpc.Header(&md)); err == nil {
		t.Error("forecast of a target with no data succeeded")
	}
	if got := md.Get(api.ServedByHeader); len(got) != 1 || got[0] != "prescale-0" {
		t.Errorf("gRPC forecast error: %s %v, want [prescale-0]", api.ServedByHeader, got)
	}
}
