package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// Load of BenchmarkServeLatency.
const (
	benchRate     = 2000             // requests per second
	benchDuration = 10 * time.Second // per protocol
	benchWarmup   = 200              // sequential requests before, not measured
)

// BenchmarkServeLatency measures how fast `prescale serve` answers
// GetRecommendation over REST and over gRPC under an open-loop load of
// 2,000 requests per second for 10 s. The server is the binary built
// without the race detector, in demo mode, in its own process; the load
// comes from this process over loopback. Each request is sent at its
// scheduled time on its own goroutine and its latency counts from that
// time, so queueing (in the server or in this client) is included when
// either falls behind. REST uses one keep-alive http.Transport
// (MaxIdleConnsPerHost 256), gRPC one ClientConn.
//
// One run of the load is the measurement and b.N is ignored, so run it once:
//
//	go test -run '^$' -bench ServeLatency -benchtime 1x ./cmd/prescale/
//
// It reports the p50, p99 and max latency in milliseconds, the achieved
// requests per second and the number of failed requests.
func BenchmarkServeLatency(b *testing.B) {
	p := startServe(b, serveProcOptions{Plain: true})
	p.WaitModels(60 * time.Second)
	waitFresh(b, p, "demo", 30*time.Second)

	b.Run("rest", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		url := p.URL + "/v1/targets/demo/recommendation"
		openLoop(b, func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", url, resp.Status)
			}
			return nil
		})
	})
	b.Run("grpc", func(b *testing.B) {
		client := prescalev1.NewPrescaleServiceClient(p.Conn())
		req := &prescalev1.GetRecommendationRequest{Name: "demo"}
		openLoop(b, func(ctx context.Context) error {
			_, err := client.GetRecommendation(ctx, req)
			return err
		})
	})
}

// openLoop sends benchRate calls per second for benchDuration, each at its
// scheduled time on its own goroutine, and reports the latencies measured
// from the scheduled times.
func openLoop(b *testing.B, call func(context.Context) error) {
	for range benchWarmup {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := call(ctx)
		cancel()
		if err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	n := benchRate * int(benchDuration/time.Second)
	interval := time.Second / benchRate
	latencies := make([]time.Duration, n)
	var (
		wg       sync.WaitGroup
		failed   atomic.Int64
		lastDone atomic.Int64 // UnixNano of the last completion
		firstErr sync.Once
	)
	b.ResetTimer()
	start := time.Now().Add(10 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := call(ctx)
			done := time.Now()
			latencies[i] = done.Sub(at)
			if err != nil {
				failed.Add(1)
				firstErr.Do(func() { b.Logf("first error: %v", err) })
			}
			for {
				prev := lastDone.Load()
				if done.UnixNano() <= prev || lastDone.CompareAndSwap(prev, done.UnixNano()) {
					break
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()

	elapsed := time.Unix(0, lastDone.Load()).Sub(start)
	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p50, p99, worst := latencies[n/2], latencies[(n*99+99)/100-1], latencies[n-1]
	rps := float64(n-int(failed.Load())) / elapsed.Seconds()
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(worst), "max-ms")
	b.ReportMetric(rps, "rps")
	b.ReportMetric(float64(failed.Load()), "errors")
	b.Logf("%d requests at %d/s over %v: p50 %.3f ms, p99 %.3f ms, max %.3f ms, %.0f answered/s, %d errors",
		n, benchRate, benchDuration, ms(p50), ms(p99), ms(worst), rps, failed.Load())
}
