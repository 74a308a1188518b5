package prometheus

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeSeries is one series a fake Prometheus returns: value(ms) gives the
// sample at a timestamp, ok false for no sample.
type fakeSeries struct {
	labels string // JSON object, e.g. `{"job":"a"}`
	value  func(ms int64) (float64, bool)
}

// fakeRequest is one query_range request a fake received.
type fakeRequest struct {
	query             string
	start, end, step  int64 // milliseconds
	auth, extraHeader string
}

// fake is a stand-in for Prometheus's query_range endpoint in unit tests;
// integration_test.go runs the real server.
type fake struct {
	t      testing.TB
	series func(req fakeRequest) []fakeSeries
	// reply, if set, answers a request instead of the series (faults).
	reply    func(w http.ResponseWriter, r *http.Request, n int) bool
	warnings []string

	mu       sync.Mutex
	requests []fakeRequest
}

func (f *fake) start() *httptest.Server {
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	return srv
}

func (f *fake) received() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := fakeRequest{
		query:       r.Form.Get("query"),
		start:       parseSeconds(f.t, r.Form.Get("start")),
		end:         parseSeconds(f.t, r.Form.Get("end")),
		step:        parseSeconds(f.t, r.Form.Get("step")),
		auth:        r.Header.Get("Authorization"),
		extraHeader: r.Header.Get("X-Scope-OrgID"),
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	n := len(f.requests)
	f.mu.Unlock()
	if f.reply != nil && f.reply(w, r, n) {
		return
	}
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	var series []fakeSeries
	if f.series != nil {
		series = f.series(req)
	}
	first := true
	for _, s := range series {
		var vals strings.Builder
		for t := req.start; t <= req.end; t += req.step {
			v, ok := s.value(t)
			if !ok {
				continue
			}
			if vals.Len() > 0 {
				vals.WriteByte(',')
			}
			fmt.Fprintf(&vals, `[%s,"%s"]`, strconv.FormatFloat(float64(t)/1000, 'f', -1, 64), formatValue(v))
		}
		if vals.Len() == 0 {
			continue // Prometheus leaves out a series with no points
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, `{"metric":%s,"values":[%s]}`, s.labels, vals.String())
	}
	b.WriteString(`]}`)
	if len(f.warnings) > 0 {
		b.WriteString(`,"warnings":[`)
		for i, w := range f.warnings {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(w))
		}
		b.WriteString(`]`)
	}
	b.WriteString(`}`)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(b.String()))
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func parseSeconds(t testing.TB, s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Errorf("fake prometheus: bad time %q: %v", s, err)
		return 0
	}
	return int64(math.Round(f * 1000))
}

// oneSeries returns a single series whose value at t is value(t).
func oneSeries(labels string, value func(ms int64) (float64, bool)) func(fakeRequest) []fakeSeries {
	return func(fakeRequest) []fakeSeries { return []fakeSeries{{labels: labels, value: value}} }
}
