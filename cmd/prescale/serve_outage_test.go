package main

import (
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// TestServeOutageHoldsRecommendation takes Prometheus away under a running
// server: the recommendation must turn stale and hold the last one
// (never scale down because Prometheus went quiet), and REST, gRPC, KEDA,
// /metrics and the history of recommendations must all say so.
func TestServeOutageHoldsRecommendation(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prometheus and prescale")
	}
	const (
		name       = "outage"
		step       = 5 * time.Second
		staleAfter = 6 * time.Second
		watch      = 20 * time.Second
	)
	load := func(t time.Time) float64 {
		return 200 + 40*math.Sin(2*math.Pi*float64(t.Unix()%3600)/3600) + 3*loadNoise(t, 4)
	}
	series := loadHistory("outage_load", time.Now().Truncate(step), 12*time.Hour, step, load)
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{series}})
	feed := startFeed(t, srv, series, load)

	config := filepath.Join(t.TempDir(), "targets.yaml")
	writeFileAtomically(t, config, `targets:
  - name: outage
    query: outage_load
    step: 5s
    history: 12h
    capacityPerReplica: 10
    leadTime: 1m
    seasons: [1h]
    holdFor: 30s
`)
	p := startServe(t, serveProcOptions{Args: []string{
		"--config", config, "--prometheus.url", srv.URL, "--stale-after", staleAfter.String(), "--auth=none",
	}})
	p.WaitModels(60 * time.Second)
	last := waitFresh(t, p, name, 30*time.Second)
	feed.Stop()
	if err := feed.Err(); err != nil {
		t.Errorf("live feed: %v", err)
	}
	srv.Stop()
	stopped := time.Now()
	t.Logf("prometheus stopped; the last fresh recommendation: %d replicas (%s)", last.Replicas, last.Reason)

	// Answers from data still within staleAfter may move; once stale, the
	// answer must never go below the last fresh one.
	fresh := last.Replicas
	var held *prescalev1.Recommendation
	polls := 0
	for time.Since(stopped) < watch {
		time.Sleep(500 * time.Millisecond)
		polls++
		var r prescalev1.Recommendation
		p.GetProto("/v1/targets/"+name+"/recommendation", &r)
		since := time.Since(stopped).Round(100 * time.Millisecond)
		if !r.Stale {
			if held != nil {
				t.Errorf("%v after the stop: fresh again after being stale, with Prometheus down: %v", since, &r)
			}
			if since > staleAfter+feedLead+2*time.Second {
				t.Errorf("%v after the stop: still fresh with --stale-after %v: %v", since, staleAfter, &r)
			}
			fresh = r.Replicas
			continue
		}
		if held == nil {
			t.Logf("%v after the stop: stale (%s)", since, r.Reason)
		}
		held = &r
		switch {
		case r.Won != "held":
			t.Errorf("%v after the stop: stale for %v within the 30s hold, won %q, want held: %s", since, r.StaleFor.AsDuration(), r.Won, r.Reason)
		case r.Replicas < fresh:
			t.Errorf("%v after the stop: %d replicas, below the last fresh recommendation (%d): %s", since, r.Replicas, fresh, r.Reason)
		case r.Replicas != r.PreviousReplicas:
			t.Errorf("%v after the stop: held %d replicas, but the previous recommendation was %d", since, r.Replicas, r.PreviousReplicas)
		}
	}
	if held == nil {
		t.Fatalf("%d polls over %v after Prometheus stopped: never stale\n%s", polls, watch, p.LogTail())
	}

	g, err := prescalev1.NewPrescaleServiceClient(p.Conn()).GetRecommendation(rpcContext(t), &prescalev1.GetRecommendationRequest{Name: name})
	if err != nil || !g.Stale || g.Won != "held" || g.Replicas != held.Replicas {
		t.Errorf("gRPC during the outage: %v, %v; want stale, held, %d replicas as REST", g, err, held.Replicas)
	}
	ref := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "default", ScalerMetadata: map[string]string{"target": name}}
	m, err := externalscaler.NewExternalScalerClient(p.Conn()).GetMetrics(rpcContext(t), &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
	if err != nil || len(m.MetricValues) != 1 || m.MetricValues[0].MetricValueFloat != float64(held.Replicas) {
		t.Errorf("KEDA during the outage: %v, %v; want %d replicas", m, err, held.Replicas)
	}
	code, body := p.Get("/metrics")
	stale := regexp.MustCompile(`(?m)^prescale_recommendation_stale\{[^}]*target="` + name + `"[^}]*\} (\S+)`).FindSubmatch(body)
	if code != http.StatusOK || stale == nil || string(stale[1]) != "1" {
		t.Errorf("/metrics during the outage: %d, want prescale_recommendation_stale{target=%q} 1:\n%s", code, name, grepLines(body, "prescale_"))
	}
	// The history of recommendations, which the target's page draws, shades
	// the outage: its last change is the held one.
	if code, body := p.Get("/v1/targets/" + name + "/recommendations"); code != http.StatusOK ||
		!regexp.MustCompile(`"stale":true,"time":"[^"]*","won":"held"\}\]`).Match(body) {
		t.Errorf("recommendations during the outage: %d %s; want the last change held and stale", code, body)
	}
}
