package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/config"
)

var t0 = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// fastOptions retries quickly, so that retry tests take milliseconds.
func fastOptions() *Options {
	return &Options{RetryBackoff: time.Millisecond, MaxRetryBackoff: 4 * time.Millisecond}
}

func newClient(t *testing.T, url string, opts *Options) *Client {
	t.Helper()
	c, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// minuteIndex is the value the fakes give the point t: its minute since t0.
func minuteIndex(ms int64) (float64, bool) { return float64((ms - t0.UnixMilli()) / 60_000), true }

func TestRangeSplitAndStitch(t *testing.T) {
	tests := []struct {
		name         string
		points       int
		per, workers int
		wantRequests int
	}{
		{"one piece", 7, 11000, 4, 1},
		{"exactly one piece", 7, 7, 4, 1},
		{"one point over", 8, 7, 4, 2},
		{"uneven end", 25, 7, 3, 4},
		{"serial", 25, 7, 1, 4},
		{"more workers than pieces", 25, 7, 16, 4},
		{"one point per piece", 5, 1, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{t: t, series: oneSeries(`{"job":"web"}`, minuteIndex)}
			srv := f.start()
			c := newClient(t, srv.URL, &Options{MaxPointsPerQuery: tt.per, Concurrency: tt.workers})
			end := t0.Add(time.Duration(tt.points-1) * time.Minute)
			s, err := c.Range(context.Background(), "load", t0, end, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Start.Equal(t0) || s.Step != time.Minute || s.Len() != tt.points {
				t.Fatalf("series %s + %d × %v, want %s + %d × 1m", s.Start, s.Len(), s.Step, t0, tt.points)
			}
			for i, v := range s.Values {
				if v != float64(i) {
					t.Errorf("Values[%d] = %v, want %d", i, v, i)
				}
			}
			reqs := f.received()
			if len(reqs) != tt.wantRequests {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			// The pieces tile the grid: sorted by start, each begins one
			// step after the previous one ends.
			covered := make([]int, tt.points)
			for _, r := range reqs {
				if r.step != 60_000 || (r.start-t0.UnixMilli())%60_000 != 0 {
					t.Errorf("request %+v is off the grid", r)
				}
				n := int((r.end-r.start)/r.step) + 1
				if n > tt.per {
					t.Errorf("request %+v asks for %d points, more than %d", r, n, tt.per)
				}
				for i := range n {
					covered[int((r.start-t0.UnixMilli())/60_000)+i]++
				}
			}
			for i, c := range covered {
				if c != 1 {
					t.Errorf("point %d requested %d times", i, c)
				}
			}
		})
	}
}

func TestRangeGapsAndNaN(t *testing.T) {
	f := &fake{t: t, series: oneSeries(`{}`, func(ms int64) (float64, bool) {
		i, _ := minuteIndex(ms)
		switch {
		case i >= 3 && i < 6: // a gap: no samples, as after a stale marker
			return 0, false
		case i == 8:
			return math.NaN(), true // 0/0 in the query
		case i == 9:
			return 0, true // a real zero stays zero
		}
		return i, true
	})}
	c := newClient(t, f.start().URL, &Options{MaxPointsPerQuery: 4})
	s, err := c.Range(context.Background(), "load", t0, t0.Add(11*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 1, 2, math.NaN(), math.NaN(), math.NaN(), 6, 7, math.NaN(), 0, 10, 11}
	for i := range want {
		if !sameFloat(s.Values[i], want[i]) {
			t.Errorf("Values[%d] = %v, want %v", i, s.Values[i], want[i])
		}
	}
	if s.Gaps() != 4 {
		t.Errorf("%d gaps, want 4", s.Gaps())
	}
}

func TestRangeEmptyPieceIsGap(t *testing.T) {
	// The series exists only in the last piece: the earlier ones are gaps.
	f := &fake{t: t, series: oneSeries(`{"job":"web"}`, func(ms int64) (float64, bool) {
		i, _ := minuteIndex(ms)
		return i, i >= 8
	})}
	c := newClient(t, f.start().URL, &Options{MaxPointsPerQuery: 4})
	s, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Gaps() != 8 || s.Values[8] != 8 || s.Values[9] != 9 {
		t.Errorf("values %v, want 8 gaps then 8, 9", s.Values)
	}
}

func TestRangeNoData(t *testing.T) {
	tests := []struct {
		name   string
		series func(fakeRequest) []fakeSeries
		want   string
	}{
		{"no series", nil, "prometheus: no data: the query matched no series in the range"},
		{"only NaN", oneSeries(`{"job":"web"}`, func(int64) (float64, bool) { return math.NaN(), true }),
			`prometheus: no data: series {job="web"} has only NaN samples in the range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{t: t, series: tt.series}
			c := newClient(t, f.start().URL, &Options{MaxPointsPerQuery: 4})
			s, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
			if !errors.Is(err, ErrNoData) || s != nil {
				t.Fatalf("got %v, %v; want ErrNoData", s, err)
			}
			if !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to end in %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestRangeMultipleSeries(t *testing.T) {
	t.Run("in one answer", func(t *testing.T) {
		f := &fake{t: t, series: func(fakeRequest) []fakeSeries {
			return []fakeSeries{
				{`{"__name__":"load","pod":"a"}`, minuteIndex},
				{`{"__name__":"load","pod":"b"}`, minuteIndex},
			}
		}}
		c := newClient(t, f.start().URL, nil)
		_, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, ErrMultipleSeries) {
			t.Fatalf("error %v, want ErrMultipleSeries", err)
		}
		want := `prometheus: several series: the query returned 2 series, want one: load{pod="a"}, load{pod="b"}; aggregate them in PromQL (sum, max, ...) or narrow the selector`
		if !strings.HasSuffix(err.Error(), want) {
			t.Errorf("error %q, want it to end in %q", err, want)
		}
		t.Log(err)
	})
	t.Run("one per piece", func(t *testing.T) {
		// A label that changes mid-range (a restarted pod) gives one series
		// per piece; unsplit it would be two series, so it is an error too.
		f := &fake{t: t, series: func(r fakeRequest) []fakeSeries {
			pod := "a"
			if r.start > t0.UnixMilli() {
				pod = "b"
			}
			return []fakeSeries{{`{"pod":"` + pod + `"}`, minuteIndex}}
		}}
		c := newClient(t, f.start().URL, &Options{MaxPointsPerQuery: 5})
		_, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, ErrMultipleSeries) || !strings.Contains(err.Error(), `{pod="a"}, {pod="b"}`) {
			t.Fatalf("error %v, want ErrMultipleSeries naming both", err)
		}
	})
	t.Run("many", func(t *testing.T) {
		f := &fake{t: t, series: func(fakeRequest) []fakeSeries {
			var s []fakeSeries
			for i := range 8 {
				s = append(s, fakeSeries{fmt.Sprintf(`{"pod":"p%d"}`, i), minuteIndex})
			}
			return s
		}}
		c := newClient(t, f.start().URL, nil)
		_, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, ErrMultipleSeries) || !strings.Contains(err.Error(), `returned 8 series`) ||
			!strings.Contains(err.Error(), `{pod="p4"}, and 3 more`) {
			t.Fatalf("error %v", err)
		}
	})
}

// status answers every request, or the first n if n > 0, with code and body.
func status(code int, body string, n int) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, _ *http.Request, i int) bool {
		if n > 0 && i > n {
			return false
		}
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// endless answers 200 with the start of a matrix and then samples without
// end, until the client hangs up.
func endless(w http.ResponseWriter, r *http.Request, _ int) bool {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[`); err != nil {
		return true
	}
	sample := []byte(strings.Repeat(`[1714521600,"1"],`, 1000))
	for r.Context().Err() == nil {
		if _, err := w.Write(sample); err != nil {
			break
		}
	}
	return true
}

func TestRangeFaults(t *testing.T) {
	const prefix = `query range "load" [2024-05-01T00:00:00Z, 2024-05-01T00:09:00Z] step 1m0s: `
	tests := []struct {
		name         string
		reply        func(http.ResponseWriter, *http.Request, int) bool
		wantErr      error
		wantMsg      string // after prefix
		wantRequests int
	}{
		{
			name:         "503 every time",
			reply:        status(http.StatusServiceUnavailable, "upstream connect error\n", 0),
			wantErr:      ErrUnavailable,
			wantMsg:      "prometheus: unavailable: HTTP 503 Service Unavailable: upstream connect error (gave up after 4 attempts)",
			wantRequests: 4,
		},
		{
			name:         "429 every time",
			reply:        status(http.StatusTooManyRequests, "slow down", 0),
			wantErr:      ErrUnavailable,
			wantMsg:      "prometheus: unavailable: HTTP 429 Too Many Requests: slow down (gave up after 4 attempts)",
			wantRequests: 4,
		},
		{
			name:         "500 with Prometheus's query timeout",
			reply:        status(http.StatusServiceUnavailable, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`, 0),
			wantErr:      ErrUnavailable,
			wantMsg:      `prometheus: unavailable: HTTP 503 Service Unavailable: {"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"} (gave up after 4 attempts)`,
			wantRequests: 4,
		},
		{
			name:         "422 is not retried",
			reply:        status(http.StatusUnprocessableEntity, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}`, 0),
			wantErr:      ErrBadQuery,
			wantMsg:      "prometheus: bad query: HTTP 422 Unprocessable Entity: execution: query processing would load too many samples into memory in query execution",
			wantRequests: 1,
		},
		{
			name:         "400 parse error",
			reply:        status(http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"1:6: parse error: unexpected end of input"}`, 0),
			wantErr:      ErrBadQuery,
			wantMsg:      "prometheus: bad query: HTTP 400 Bad Request: bad_data: 1:6: parse error: unexpected end of input",
			wantRequests: 1,
		},
		{
			name:         "422 without JSON",
			reply:        status(http.StatusUnprocessableEntity, "nope", 0),
			wantErr:      ErrBadQuery,
			wantMsg:      "prometheus: bad query: HTTP 422 Unprocessable Entity: nope",
			wantRequests: 1,
		},
		{
			name:         "401",
			reply:        status(http.StatusUnauthorized, "Unauthorized", 0),
			wantErr:      ErrRejected,
			wantMsg:      "prometheus: request rejected: HTTP 401 Unauthorized: Unauthorized",
			wantRequests: 1,
		},
		{
			name:         "malformed JSON",
			reply:        status(http.StatusOK, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1714521600,"1"`, 0),
			wantErr:      ErrBadResponse,
			wantMsg:      "prometheus: bad response: HTTP 200 OK: malformed JSON: ",
			wantRequests: 1,
		},
		{
			name:         "HTML instead of JSON",
			reply:        status(http.StatusOK, "<html>login</html>", 0),
			wantErr:      ErrBadResponse,
			wantMsg:      "prometheus: bad response: HTTP 200 OK: malformed JSON: ",
			wantRequests: 1,
		},
		{
			name:         "an answer without end",
			reply:        endless,
			wantErr:      ErrTooLarge,
			wantMsg:      "prometheus: answer too large: the answer is longer than 1051136 bytes, the bound for the points asked; aggregate the query to one series",
			wantRequests: 1,
		},
		{
			name:         "a vector instead of a matrix",
			reply:        status(http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[]}}`, 0),
			wantErr:      ErrBadResponse,
			wantMsg:      "prometheus: bad response: result is a vector, want a matrix",
			wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: tt.reply}
			c := newClient(t, f.start().URL, fastOptions())
			s, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
			if !errors.Is(err, tt.wantErr) || s != nil {
				t.Fatalf("got %v, %v; want %v", s, err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), prefix+tt.wantMsg) {
				t.Errorf("error\n%q\nwant it to start with\n%q", err, prefix+tt.wantMsg)
			}
			if n := len(f.received()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			t.Log(err)
		})
	}
}

// TestRangeAnswerWithoutEnd reads a never-ending answer to a long range:
// it fails promptly, having read no more than the bound of a piece.
func TestRangeAnswerWithoutEnd(t *testing.T) {
	f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: endless}
	c := newClient(t, f.start().URL, fastOptions())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := c.Range(context.Background(), "load", t0, t0.Add(7*24*time.Hour), time.Minute)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	// 10,081 points in one piece: 1 MiB + 256 bytes a point.
	if limit := maxBodyBytes(10_081); limit != 3_629_312 {
		t.Errorf("the bound of 10,081 points is %d bytes, want 3629312", limit)
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	// The bound read whole, and io.ReadAll's doublings of it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d bytes reading a bounded answer", alloc)
	}
	t.Log(took, after.TotalAlloc-before.TotalAlloc, err)
}

func TestRangeRetryRecovers(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusInternalServerError, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: status(code, "busy", 2)}
			c := newClient(t, f.start().URL, fastOptions())
			s, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != 10 || s.Gaps() != 0 {
				t.Errorf("series of %d points with %d gaps", s.Len(), s.Gaps())
			}
			if n := len(f.received()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		})
	}
}

func TestRangeNoRetries(t *testing.T) {
	f := &fake{t: t, reply: status(http.StatusServiceUnavailable, "", 0)}
	o := fastOptions()
	o.Retries = -1
	c := newClient(t, f.start().URL, o)
	_, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("error %v", err)
	}
	if n := len(f.received()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRangePieceFailureFailsAll(t *testing.T) {
	// The second piece always fails: no partial series comes back.
	f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if parseSeconds(t, r.FormValue("start")) == t0.Add(5*time.Minute).UnixMilli() {
			return status(http.StatusServiceUnavailable, "down", 0)(w, r, 0)
		}
		return false
	}}
	c := newClient(t, f.start().URL, &Options{MaxPointsPerQuery: 5, Concurrency: 1, RetryBackoff: time.Millisecond})
	s, err := c.Range(context.Background(), "load", t0, t0.Add(14*time.Minute), time.Minute)
	if s != nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, %v; want ErrUnavailable", s, err)
	}
	want := `query range "load" [2024-05-01T00:00:00Z, 2024-05-01T00:14:00Z] step 1m0s: piece 2 of 3 [2024-05-01T00:05:00Z, 2024-05-01T00:09:00Z]: prometheus: unavailable: HTTP 503 Service Unavailable: down (gave up after 4 attempts)`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	// Serially, piece 3 is never asked for once piece 2 has failed.
	if n := len(f.received()); n != 5 {
		t.Errorf("%d requests, want 5 (piece 1, then piece 2 four times)", n)
	}
}

func TestRangeTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := func(w http.ResponseWriter, r *http.Request, _ int) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	}
	t.Cleanup(func() { close(release) })

	t.Run("per request", func(t *testing.T) {
		f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: slow}
		o := fastOptions()
		o.Timeout = 50 * time.Millisecond
		c := newClient(t, f.start().URL, o)
		_, err := c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want ErrTimeout", err)
		}
		if !strings.HasSuffix(err.Error(), "prometheus: timeout: no complete answer within 50ms (the per-request timeout)") {
			t.Errorf("error %q", err)
		}
		if n := len(f.received()); n != 1 {
			t.Errorf("%d requests, want 1: a timeout is not retried", n)
		}
		t.Log(err)
	})
	t.Run("caller's deadline", func(t *testing.T) {
		f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), reply: slow}
		c := newClient(t, f.start().URL, fastOptions())
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Range(ctx, "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
			t.Fatalf("error %v, want the caller's context.DeadlineExceeded", err)
		}
		if !strings.HasSuffix(err.Error(), "step 1m0s: context deadline exceeded") {
			t.Errorf("error %q", err)
		}
		t.Log(err)
	})
	t.Run("caller's deadline while retrying", func(t *testing.T) {
		f := &fake{t: t, reply: status(http.StatusServiceUnavailable, "down", 0)}
		c := newClient(t, f.start().URL, &Options{RetryBackoff: time.Hour, MaxRetryBackoff: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Range(ctx, "load", t0, t0.Add(9*time.Minute), time.Minute)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("error %v", err)
		}
		if !strings.HasSuffix(err.Error(), "step 1m0s: context deadline exceeded while waiting to retry; the last attempt: prometheus: unavailable: HTTP 503 Service Unavailable: down") {
			t.Errorf("error %q", err)
		}
		t.Log(err)
	})
}

func TestRangeConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := newClient(t, "http://"+addr, fastOptions())
	_, err = c.Range(context.Background(), "load", t0, t0.Add(9*time.Minute), time.Minute)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v, want ErrUnavailable and ECONNREFUSED", err)
	}
	want := fmt.Sprintf(`prometheus: unavailable: Post "http://%s/api/v1/query_range": dial tcp %s: connect: connection refused (gave up after 4 attempts)`, addr, addr)
	if !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error\n%s\nwant it to end in\n%s", err, want)
	}
	t.Log(err)
}

func TestRangeWarnings(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	f := &fake{t: t, series: oneSeries(`{}`, minuteIndex), warnings: []string{"PromQL info: metric might not be a counter"}}
	c := newClient(t, f.start().URL, &Options{Logger: logger, MaxPointsPerQuery: 4})
	for range 2 {
		if _, err := c.Range(context.Background(), "sum(http_requests_total)", t0, t0.Add(9*time.Minute), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	got := logs.String()
	t.Log(got)
	// The counter warning once per client, the server's once per call
	// (not once per piece).
	if n := strings.Count(got, "raw counter"); n != 1 {
		t.Errorf("%d counter warnings, want 1", n)
	}
	if !strings.Contains(got, "rate(http_requests_total[5m])") || !strings.Contains(got, "counters=[http_requests_total]") {
		t.Errorf("counter warning does not name the counter")
	}
	if n := strings.Count(got, "prometheus warning: PromQL info: metric might not be a counter"); n != 2 {
		t.Errorf("%d server warnings, want 2", n)
	}
}

func TestHTTPConfig(t *testing.T) {
	f := &fake{t: t, series: oneSeries(`{}`, minuteIndex)}
	srv := f.start()
	cfg := config.DefaultHTTPClientConfig
	cfg.BearerToken = "s3cret"
	cfg.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{"X-Scope-OrgID": {Values: []string{"tenant-1"}}}}
	c := newClient(t, srv.URL, &Options{HTTP: &cfg})
	if _, err := c.Range(context.Background(), "load", t0, t0.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	r := f.received()[0]
	if r.auth != "Bearer s3cret" || r.extraHeader != "tenant-1" {
		t.Errorf("Authorization %q, X-Scope-OrgID %q", r.auth, r.extraHeader)
	}
}

func TestNewInvalid(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts *Options
	}{
		{"no scheme", "prometheus:9090", nil},
		{"no host", "http://", nil},
		{"ftp", "ftp://prometheus", nil},
		{"negative timeout", "http://prometheus:9090", &Options{Timeout: -1}},
		{"negative concurrency", "http://prometheus:9090", &Options{Concurrency: -1}},
		{"negative points", "http://prometheus:9090", &Options{MaxPointsPerQuery: -1}},
		{"token and token file", "http://prometheus:9090", &Options{HTTP: &config.HTTPClientConfig{BearerToken: "a", BearerTokenFile: "/b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.url, tt.opts); !errors.Is(err, ErrOptions) {
				t.Errorf("error %v, want ErrOptions", err)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{opts: (&Options{RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: time.Second}).withDefaults()}
	tests := []struct {
		n          int
		retryAfter string
		want       time.Duration
	}{
		{1, "", 100 * time.Millisecond},
		{2, "", 200 * time.Millisecond},
		{3, "", 400 * time.Millisecond},
		{4, "", 800 * time.Millisecond},
		{5, "", time.Second},
		{70, "", time.Second},
		{1, "0", 100 * time.Millisecond},
		{1, "garbage", 100 * time.Millisecond},
		{1, "1", time.Second},
		{1, "120", time.Second}, // capped
	}
	for _, tt := range tests {
		if got := c.backoff(tt.n, tt.retryAfter); got != tt.want {
			t.Errorf("backoff(%d, %q) = %v, want %v", tt.n, tt.retryAfter, got, tt.want)
		}
	}
}
