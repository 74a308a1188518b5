package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// feedLead is how long before its time a live point is written, so that a
// query at that time (or a fetch just after it) already finds it:
// Prometheus stores future samples and no query returns them early.
const feedLead = time.Second

// loadFunc is a synthetic load as a function of time only, so that the
// backfilled history and the live points are one series.
type loadFunc func(time.Time) float64

// loadNoise is a standard normal draw that depends only on t and seed.
func loadNoise(t time.Time, seed uint64) float64 {
	return rand.New(rand.NewPCG(uint64(t.Unix()), seed)).NormFloat64()
}

// loadHistory is the series name{} on the grid of step ending at end, covering
// span, with values from load.
func loadHistory(name string, end time.Time, span, step time.Duration, load loadFunc) promtest.Series {
	n := int(span / step)
	s := promtest.Series{Name: name, Start: end.Add(-time.Duration(n-1) * step), Step: step, Values: make([]float64, n)}
	for i := range s.Values {
		s.Values[i] = load(s.Time(i))
	}
	return s
}

// liveFeed keeps a backfilled series current: it remote-writes the point of
// every step after the history, feedLead before its time, until stopped.
type liveFeed struct {
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	written int
	errs    []error
}

// startFeed continues s on srv with points from load until the test ends
// or Stop is called. Write errors are counted, not fatal: Err reports them.
func startFeed(tb testing.TB, srv *promtest.Server, s promtest.Series, load loadFunc) *liveFeed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &liveFeed{stop: cancel, done: make(chan struct{})}
	next := s.Time(len(s.Values))
	go func() {
		defer close(f.done)
		for {
			for !next.After(time.Now().Add(feedLead)) {
				p := promtest.Series{Name: s.Name, Labels: s.Labels, Start: next, Step: s.Step, Values: []float64{load(next)}}
				err := srv.RemoteWrite(ctx, p)
				f.mu.Lock()
				if err != nil && ctx.Err() == nil {
					f.errs = append(f.errs, fmt.Errorf("point at %v: %w", next.Format(time.RFC3339), err))
				} else if err == nil {
					f.written++
				}
				f.mu.Unlock()
				next = next.Add(s.Step)
			}
			timer := time.NewTimer(time.Until(next.Add(-feedLead)))
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}()
	tb.Cleanup(f.Stop)
	return f
}

// Stop ends the feed and waits for its goroutine.
func (f *liveFeed) Stop() {
	f.once.Do(func() {
		f.stop()
		<-f.done
	})
}

// Err reports the first write error, with how many points were written.
func (f *liveFeed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d live points failed, the first: %w", len(f.errs), len(f.errs)+f.written, f.errs[0])
}

// promInstant asks Prometheus's HTTP API for the value of query at time
// at: the latest sample at or before it, within the lookback.
func promInstant(tb testing.TB, base, query string, at time.Time) float64 {
	tb.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := c.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		tb.Fatalf("prometheus query %s: %v", query, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatalf("prometheus query %s: %v", query, err)
	}
	if body.Status != "success" || len(body.Data.Result) != 1 {
		tb.Fatalf("prometheus query %s at %v: %s %s %+v", query, at, resp.Status, body.Error, body.Data.Result)
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		tb.Fatalf("prometheus query %s: value %q: %v", query, s, err)
	}
	return v
}

// writeFileAtomically replaces path with data through a rename, so that a
// watcher never reads half a file.
func writeFileAtomically(tb testing.TB, path, data string) {
	tb.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// ceilReplicas is ceil(load / capacity), allowing for a rounding error in
// the last bits (1.1/0.1 needs 11 replicas).
func ceilReplicas(load, capacity float64) int {
	x := load / capacity
	return int(math.Ceil(x - 1e-9*math.Abs(x)))
}
