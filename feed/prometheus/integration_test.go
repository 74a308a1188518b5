package prometheus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/prometheus"
	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// Integration tests: a real Prometheus (Debian's 2.42, started by
// promtest) loaded by promtool backfill. Faults that the server will not
// produce on demand (503, a truncated body, slowness) come from a small
// proxy in front of it.

var (
	histStart = time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	fortnight = 14 * 24 * 60 // points of 14 days at 1 minute
)

// loadValue is the backfilled gauge: a daily wave with a weekly swell and
// a little noise, all exactly representable in OpenMetrics text.
func loadValue(i int) float64 {
	day := 2 * math.Pi * float64(i) / 1440
	week := 2 * math.Pi * float64(i) / (7 * 1440)
	return math.Round((200+80*math.Sin(day)+30*math.Sin(week)+float64(i*7919%13))*1000) / 1000
}

// history returns the backfilled series: "load", 14 days of minutes;
// "gappy", with a missing hour every six hours; "requests_total", a counter
// counting one request per second that restarts at minute 500.
func history() []promtest.Series {
	load := make([]float64, fortnight)
	gappy := make([]float64, fortnight)
	counter := make([]float64, 1000)
	for i := range load {
		load[i] = loadValue(i)
		gappy[i] = loadValue(i)
		if i%360 >= 300 {
			gappy[i] = math.NaN() // no sample
		}
	}
	for i := range counter {
		counter[i] = float64(60 * i)
		if i >= 500 {
			// The process restarted just after minute 499 and has counted
			// 60 requests by minute 500.
			counter[i] = float64(60 * (i - 499))
		}
	}
	return []promtest.Series{
		{Name: "load", Labels: map[string]string{"job": "web"}, Start: histStart, Step: time.Minute, Values: load},
		{Name: "gappy", Start: histStart, Step: time.Minute, Values: gappy},
		{Name: "requests_total", Start: histStart, Step: time.Minute, Values: counter},
	}
}

// startServer runs Prometheus with history. The lookback delta is shorter
// than the step so that a missing minute reads as a gap, not as the
// minute before.
func startServer(tb testing.TB) *promtest.Server {
	tb.Helper()
	return promtest.Start(tb, &promtest.Options{Series: history(), LookbackDelta: 30 * time.Second})
}

func newClient(tb testing.TB, url string, opts *prometheus.Options) *prometheus.Client {
	tb.Helper()
	c, err := prometheus.New(url, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

var lastMinute = histStart.Add(time.Duration(fortnight-1) * time.Minute)

func TestIntegration(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()

	t.Run("14 days read back point for point", func(t *testing.T) {
		for _, tt := range []struct {
			name         string
			per, workers int
		}{
			{"default split", 0, 0},
			{"serial", 0, 1},
			{"997 points a piece", 997, 4},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := newClient(t, srv.URL, &prometheus.Options{MaxPointsPerQuery: tt.per, Concurrency: tt.workers})
				s, err := c.Range(ctx, `load{job="web"}`, histStart, lastMinute, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if !s.Start.Equal(histStart) || s.Step != time.Minute || s.Len() != fortnight {
					t.Fatalf("got %s + %d × %v, want %s + %d × 1m", s.Start, s.Len(), s.Step, histStart, fortnight)
				}
				for i, v := range s.Values {
					if v != loadValue(i) {
						t.Fatalf("Values[%d] at %s = %v, want %v", i, s.Time(i), v, loadValue(i))
					}
				}
			})
		}
	})

	t.Run("unsplit query over the limit is refused by Prometheus", func(t *testing.T) {
		// The reason for splitting: one request for 14 days is a 400.
		c := newClient(t, srv.URL, &prometheus.Options{MaxPointsPerQuery: fortnight})
		_, err := c.Range(ctx, "load", histStart, lastMinute, time.Minute)
		if !errors.Is(err, prometheus.ErrBadQuery) || !strings.Contains(err.Error(), "exceeded maximum resolution of 11,000 points") {
			t.Fatalf("error %v", err)
		}
		t.Log(err)
	})

	t.Run("gaps", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		s, err := c.Range(ctx, "gappy", histStart, lastMinute, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range s.Values {
			want := loadValue(i)
			if i%360 >= 300 {
				want = math.NaN()
			}
			if v != want && !(math.IsNaN(v) && math.IsNaN(want)) {
				t.Fatalf("Values[%d] = %v, want %v", i, v, want)
			}
		}
		if want := fortnight / 360 * 60; s.Gaps() != want {
			t.Errorf("%d gaps, want %d", s.Gaps(), want)
		}
	})

	t.Run("range beyond the data is NaN, not zero", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		s, err := c.Range(ctx, "load", lastMinute.Add(-9*time.Minute), lastMinute.Add(10*time.Minute), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != 20 || s.Gaps() != 10 || !math.IsNaN(s.Values[10]) || s.Values[9] != loadValue(fortnight-1) {
			t.Errorf("values %v", s.Values)
		}
	})

	t.Run("no data", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		for _, q := range []string{"no_such_metric", `load{job="db"}`} {
			_, err := c.Range(ctx, q, histStart, lastMinute, time.Minute)
			if !errors.Is(err, prometheus.ErrNoData) {
				t.Fatalf("%s: error %v, want ErrNoData", q, err)
			}
		}
		// Data exists, but not in the range.
		_, err := c.Range(ctx, "load", histStart.Add(-48*time.Hour), histStart.Add(-time.Hour), time.Minute)
		if !errors.Is(err, prometheus.ErrNoData) {
			t.Fatalf("error %v, want ErrNoData", err)
		}
		t.Log(err)
	})

	t.Run("several series", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		_, err := c.Range(ctx, `{__name__=~"load|gappy"}`, histStart, lastMinute, time.Minute)
		if !errors.Is(err, prometheus.ErrMultipleSeries) ||
			!strings.Contains(err.Error(), `gappy, load{job="web"}`) {
			t.Fatalf("error %v", err)
		}
		t.Log(err)
		// Aggregated in PromQL, it is one series.
		s, err := c.Range(ctx, `sum({__name__=~"load|gappy"})`, histStart, lastMinute, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s.Values[0] != 2*loadValue(0) || s.Values[300] != loadValue(300) {
			t.Errorf("sums %v, %v", s.Values[0], s.Values[300])
		}
	})

	t.Run("counter with a reset through rate", func(t *testing.T) {
		var logs bytes.Buffer
		c := newClient(t, srv.URL, &prometheus.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), MaxPointsPerQuery: 100})
		end := histStart.Add(999 * time.Minute)
		raw, err := c.Range(ctx, "requests_total", histStart, end, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if raw.Values[499] != 29940 || raw.Values[500] != 60 {
			t.Errorf("raw counter %v, %v around the reset", raw.Values[499], raw.Values[500])
		}
		if !strings.Contains(logs.String(), "raw counter") {
			t.Errorf("no warning for the raw counter; logs:\n%s", logs.String())
		}
		logs.Reset()

		s, err := c.Range(ctx, "rate(requests_total[5m])", histStart, end, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if logs.Len() > 0 {
			t.Errorf("warnings for a rate: %s", logs.String())
		}
		// No rate before two samples; then one per second throughout,
		// across the reset.
		if !math.IsNaN(s.Values[0]) {
			t.Errorf("rate at the first sample = %v, want NaN", s.Values[0])
		}
		for i := 5; i < s.Len(); i++ {
			if math.Abs(s.Values[i]-1) > 1e-9 {
				t.Fatalf("rate at minute %d = %v, want 1", i, s.Values[i])
			}
		}
	})

	t.Run("422 from Prometheus", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		_, err := c.Range(ctx, `load * on() {__name__=~"load|gappy"}`, histStart, lastMinute, time.Minute)
		if !errors.Is(err, prometheus.ErrBadQuery) || !strings.Contains(err.Error(), "HTTP 422 Unprocessable Entity: execution: ") {
			t.Fatalf("error %v", err)
		}
		t.Log(err)
	})

	t.Run("400 from Prometheus", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		_, err := c.Range(ctx, `sum(load`, histStart, lastMinute, time.Minute)
		if !errors.Is(err, prometheus.ErrBadQuery) || !strings.Contains(err.Error(), "HTTP 400 Bad Request: bad_data: ") {
			t.Fatalf("error %v", err)
		}
		t.Log(err)
	})

	t.Run("faults through a proxy", func(t *testing.T) {
		testProxyFaults(t, srv)
	})
}

// faultProxy forwards to a real Prometheus and breaks chosen requests.
type faultProxy struct {
	target *url.URL
	proxy  *httputil.ReverseProxy
	n      atomic.Int64
	// fault, if set, handles request n (from 1) instead of forwarding
	// it, or returns false to forward it.
	fault func(w http.ResponseWriter, r *http.Request, n int64) bool
}

func newFaultProxy(tb testing.TB, target string, fault func(http.ResponseWriter, *http.Request, int64) bool) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{target: u, proxy: httputil.NewSingleHostReverseProxy(u), fault: fault}
	p.proxy.Transport = &http.Transport{DisableKeepAlives: true}
	p.proxy.ErrorLog = log.New(io.Discard, "", 0) // a client that gave up is expected
	srv := httptest.NewServer(p)
	tb.Cleanup(srv.Close)
	return srv
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: the server notices a client hanging up (and
	// cancels r.Context) only once the body has been read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	n := p.n.Add(1)
	if p.fault != nil && p.fault(w, r, n) {
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// truncating forwards to Prometheus and passes on the first half of the body.
func truncating(target string) func(http.ResponseWriter, *http.Request, int64) bool {
	return func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body[:len(body)/2])
		return true
	}
}

func testProxyFaults(t *testing.T, srv *promtest.Server) {
	ctx := context.Background()
	fast := func() *prometheus.Options {
		return &prometheus.Options{RetryBackoff: time.Millisecond, MaxRetryBackoff: 5 * time.Millisecond}
	}
	rangeLoad := func(c *prometheus.Client) (*feed.Series, error) {
		return c.Range(ctx, `load{job="web"}`, histStart, lastMinute, time.Minute)
	}

	t.Run("503 on every attempt", func(t *testing.T) {
		proxy := newFaultProxy(t, srv.URL, func(w http.ResponseWriter, _ *http.Request, _ int64) bool {
			http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			return true
		})
		s, err := rangeLoad(newClient(t, proxy.URL, fast()))
		if s != nil || !errors.Is(err, prometheus.ErrUnavailable) || !strings.Contains(err.Error(), "HTTP 503 Service Unavailable: no healthy upstream (gave up after 4 attempts)") {
			t.Fatalf("got %v, %v", s, err)
		}
		t.Log(err)
	})

	t.Run("503 once, then recovered", func(t *testing.T) {
		proxy := newFaultProxy(t, srv.URL, func(w http.ResponseWriter, _ *http.Request, n int64) bool {
			if n == 2 {
				http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		s, err := rangeLoad(newClient(t, proxy.URL, fast()))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range s.Values {
			if v != loadValue(i) {
				t.Fatalf("Values[%d] = %v, want %v", i, v, loadValue(i))
			}
		}
	})

	t.Run("422 from the proxy", func(t *testing.T) {
		var calls atomic.Int64
		proxy := newFaultProxy(t, srv.URL, func(w http.ResponseWriter, _ *http.Request, _ int64) bool {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}`)
			return true
		})
		_, err := rangeLoad(newClient(t, proxy.URL, &prometheus.Options{Concurrency: 1}))
		if !errors.Is(err, prometheus.ErrBadQuery) || calls.Load() != 1 {
			t.Fatalf("error %v after %d calls", err, calls.Load())
		}
		t.Log(err)
	})

	t.Run("malformed JSON", func(t *testing.T) {
		proxy := newFaultProxy(t, srv.URL, truncating(srv.URL))
		s, err := rangeLoad(newClient(t, proxy.URL, fast()))
		if s != nil || !errors.Is(err, prometheus.ErrBadResponse) || !strings.Contains(err.Error(), "HTTP 200 OK: malformed JSON: unexpected end of JSON input") {
			t.Fatalf("got %v, %v", s, err)
		}
		t.Log(err)
	})

	t.Run("slow past the timeout", func(t *testing.T) {
		proxy := newFaultProxy(t, srv.URL, stall)
		o := fast()
		o.Timeout = 200 * time.Millisecond
		t0 := time.Now()
		s, err := rangeLoad(newClient(t, proxy.URL, o))
		if s != nil || !errors.Is(err, prometheus.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, %v", s, err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("gave up after %v, want about 200ms", d)
		}
		t.Log(err)
	})

	t.Run("slow past the caller's deadline", func(t *testing.T) {
		proxy := newFaultProxy(t, srv.URL, stall)
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		s, err := newClient(t, proxy.URL, fast()).Range(ctx, "load", histStart, lastMinute, time.Minute)
		if s != nil || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, prometheus.ErrTimeout) {
			t.Fatalf("got %v, %v", s, err)
		}
		t.Log(err)
	})
}

func TestIntegrationNotRunning(t *testing.T) {
	srv := promtest.Start(t, nil)
	srv.Stop()
	c := newClient(t, srv.URL, &prometheus.Options{RetryBackoff: time.Millisecond})
	s, err := c.Range(context.Background(), "load", histStart, lastMinute, time.Minute)
	if s != nil || !errors.Is(err, prometheus.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, %v", s, err)
	}
	t.Log(err)
}

func TestIntegrationKilledMidQuery(t *testing.T) {
	srv := startServer(t)
	// Many small, slowish pieces one after another, so the kill lands in
	// the middle: avg_over_time reads a day of samples for each point.
	c := newClient(t, srv.URL, &prometheus.Options{MaxPointsPerQuery: 250, Concurrency: 1, RetryBackoff: 10 * time.Millisecond})
	type result struct {
		s   *feed.Series
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := c.Range(context.Background(), "avg_over_time(load[1d])", histStart, lastMinute, time.Minute)
		done <- result{s, err}
	}()
	// Kill once Prometheus has answered two range queries, by its own count.
	waitForQueries(t, srv.URL, 2)
	srv.Kill()
	r := <-done
	if r.s != nil || !errors.Is(r.err, prometheus.ErrUnavailable) {
		t.Fatalf("got %v, %v; want no series and ErrUnavailable", r.s, r.err)
	}
	if !strings.Contains(r.err.Error(), " of 81 [") || strings.Contains(r.err.Error(), "piece 1 of") {
		t.Errorf("error %v, want a later piece of 81 to fail", r.err)
	}
	t.Log(r.err)
}

// waitForQueries polls Prometheus's own metrics until it has answered n
// range queries.
func waitForQueries(t *testing.T, base string, n int) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, `prometheus_http_requests_total{code="200",handler="/api/v1/query_range"}`) {
				var count int
				fmt.Sscan(strings.Fields(line)[1], &count)
				if count >= n {
					return
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("prometheus did not answer %d range queries in time", n)
}

// BenchmarkRange14Days fetches 14 days at 1 minute (20,160 points) from a
// real Prometheus: split with concurrency against the same pieces fetched
// one after another, and smaller pieces in parallel.
func BenchmarkRange14Days(b *testing.B) {
	srv := startServer(b)
	for _, bb := range []struct {
		name         string
		per, workers int
	}{
		{"concurrent/11000", 11000, 4},
		{"serial/11000", 11000, 1},
		{"concurrent/1440", 1440, 4},
		{"serial/1440", 1440, 1},
	} {
		b.Run(bb.name, func(b *testing.B) {
			c := newClient(b, srv.URL, &prometheus.Options{MaxPointsPerQuery: bb.per, Concurrency: bb.workers})
			b.ReportAllocs()
			for b.Loop() {
				s, err := c.Range(context.Background(), `load{job="web"}`, histStart, lastMinute, time.Minute)
				if err != nil || s.Len() != fortnight {
					b.Fatal(err)
				}
			}
		})
	}
}

// stall is a fault that holds every request for 5 s, or until the client
// gives up.
func stall(w http.ResponseWriter, r *http.Request, _ int64) bool {
	select {
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
		return true
	}
	return false
}
