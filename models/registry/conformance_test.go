package registry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models/registry"
)

// syntheticQuery is the one query syntheticSource answers.
const syntheticQuery = "synthetic_load"

// syntheticSource answers syntheticQuery with a daily cycle, at zero
// during an outage of two hours that a fit keeps out of training, and
// fails every other query, so the suite's targets have no data until they
// are switched to it.
type syntheticSource struct{ outage time.Time }

func (src syntheticSource) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	if query != syntheticQuery {
		return nil, fmt.Errorf("query range %q: no such series", query)
	}
	s := &feed.Series{Start: start, Step: step, Values: make([]float64, int(end.Sub(start)/step)+1)}
	for i := range s.Values {
		t := s.Time(i)
		if !t.Before(src.outage) && t.Before(src.outage.Add(2*time.Hour)) {
			continue
		}
		day := float64(t.Unix()%86400) / 86400
		s.Values[i] = 100 + 40*math.Sin(2*math.Pi*day) + 3*math.Sin(float64(i)*1.7)
	}
	return s, nil
}

// TestRegistryConformance runs api/apitest's Backend suite on a running
// registry.
func TestRegistryConformance(t *testing.T) {
	apitest.RunConformance(t, apitest.Harness{
		New: func(t *testing.T) api.Backend {
			outage := time.Now().Add(-30 * time.Hour).Truncate(time.Hour)
			reg, err := registry.New(syntheticSource{outage}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- reg.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
			return reg
		},
		// Feed switches the target to the served query: a change of query
		// fetches and fits at once.
		Feed: func(t *testing.T, b api.Backend, name string) {
			st, err := b.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			st.Target.Query = syntheticQuery
			if _, err := b.Update(st.Target); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
				_, err := b.Forecast(name, 1, nil, 0)
				if err == nil {
					return
				}
				if !errors.Is(err, registry.ErrNotReady) || time.Now().After(deadline) {
					t.Fatalf("no forecast after the target was fed: %v", err)
				}
			}
		},
	})
}
