package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// history returns 14 days at 1 minute (20,160 points) of a deterministic
// load: daily and weekly seasons, a trend, noise, and two gaps, one shorter
// and one longer than Prometheus's default 5m lookback.
func history() Series {
	const n = 14 * 24 * 60
	r := rand.New(rand.NewPCG(4, 14))
	v := make([]float64, n)
	for i := range v {
		day := 2 * math.Pi * float64(i) / (24 * 60)
		week := 2 * math.Pi * float64(i) / (7 * 24 * 60)
		v[i] = 100 + 40*math.Sin(day) + 15*math.Sin(week) + 0.001*float64(i) + r.NormFloat64()
	}
	for i := 3000; i < 3003; i++ { // 3 minutes: filled by lookback
		v[i] = math.NaN()
	}
	for i := 12000; i < 12030; i++ { // 30 minutes
		v[i] = math.NaN()
	}
	return Series{
		Name:   "http_requests_per_second",
		Labels: map[string]string{"job": "web", "path": `/a "quoted" \ path`},
		Start:  time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC),
		Step:   time.Minute,
		Values: v,
	}
}

type point struct {
	t time.Time
	v float64
}

// queryRange asks /api/v1/query_range directly (not through the feed) and
// returns the points of the single series in the result.
func queryRange(t *testing.T, c *http.Client, base, query string, start, end time.Time, step time.Duration) []point {
	t.Helper()
	q := url.Values{
		"query": {query},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {step.String()},
	}
	resp, err := c.Get(base + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query_range %s: decode: %v", query, err)
	}
	if body.Status != "success" {
		t.Fatalf("query_range %s: %s: %s", query, resp.Status, body.Error)
	}
	if len(body.Data.Result) != 1 {
		t.Fatalf("query_range %s: %d series, want 1: %+v", query, len(body.Data.Result), body.Data.Result)
	}
	var pts []point
	for _, pair := range body.Data.Result[0].Values {
		sec, _ := pair[0].(float64)
		s, _ := pair[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query_range %s: value %q: %v", query, s, err)
		}
		pts = append(pts, point{time.UnixMilli(int64(math.Round(sec * 1000))).UTC(), v})
	}
	return pts
}

// expected is what a range query over grid points [from, to] of s returns
// with the given lookback: at each step the latest sample at most lookback
// old (inclusive, as in Prometheus 2.x), or no point at all.
func expected(s *Series, from, to int, lookback time.Duration) []point {
	var pts []point
	for i := from; i <= to; i++ {
		for j := i; j >= 0 && time.Duration(i-j)*s.Step <= lookback; j-- {
			if !math.IsNaN(s.Values[j]) {
				pts = append(pts, point{s.Time(i), s.Values[j]})
				break
			}
		}
	}
	return pts
}

func comparePoints(t *testing.T, got, want []point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d points, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !got[i].t.Equal(want[i].t) || got[i].v != want[i].v {
			t.Fatalf("point %d: got %v %v, want %v %v", i, got[i].t, got[i].v, want[i].t, want[i].v)
		}
	}
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestBackfillReadBack(t *testing.T) {
	t.Parallel()
	h := history()
	n := len(h.Values)
	// Two queries of at most 11,000 points cover the whole 14 days.
	ranges := [][2]int{{0, 10999}, {11000, n - 1}, {2990, 3010}, {11990, 12040}}
	for _, tc := range []struct {
		name     string
		lookback time.Duration
	}{
		{"default lookback", 0},
		{"lookback shorter than step", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, &Options{Series: []Series{h}, LookbackDelta: tc.lookback})
			c := newClient(t)
			lookback := tc.lookback
			if lookback == 0 {
				lookback = 5 * time.Minute
			}
			for _, r := range ranges {
				got := queryRange(t, c, s.URL, h.Selector(), h.Time(r[0]), h.Time(r[1]), h.Step)
				comparePoints(t, got, expected(&h, r[0], r[1], lookback))
			}
			// The 30-minute gap: absent past the lookback, whatever it is.
			got := queryRange(t, c, s.URL, h.Selector(), h.Time(11990), h.Time(12040), h.Step)
			for _, p := range got {
				if p.t.After(h.Time(12005)) && p.t.Before(h.Time(12030)) {
					t.Errorf("point at %v inside the gap: %v", p.t, p.v)
				}
			}
			if tc.lookback == 30*time.Second && len(got) != 51-30 {
				t.Errorf("gap query: %d points, want %d", len(got), 51-30)
			}
		})
	}
}

func TestRemoteWrite(t *testing.T) {
	t.Parallel()
	h := history()
	h.Values = h.Values[:600]
	s := Start(t, &Options{Series: []Series{h}})
	ctx := context.Background()

	// Live points continue the backfilled history.
	live := Series{Name: h.Name, Labels: h.Labels, Start: h.Time(600), Step: time.Minute,
		Values: []float64{1.5, math.NaN(), -2, math.Inf(1), 1e-300}}
	if err := s.RemoteWrite(ctx, live); err != nil {
		t.Fatal(err)
	}
	other := Series{Name: "queue_depth", Start: h.Time(600), Step: time.Second, Values: []float64{7, 8, 9}}
	if err := s.RemoteWrite(ctx, other); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	got := queryRange(t, c, s.URL, h.Selector(), h.Time(598), h.Time(604), time.Minute)
	want := []point{{h.Time(598), h.Values[598]}, {h.Time(599), h.Values[599]},
		{h.Time(600), 1.5}, {h.Time(601), 1.5}, {h.Time(602), -2}, {h.Time(603), math.Inf(1)}, {h.Time(604), 1e-300}}
	comparePoints(t, got, want)
	got = queryRange(t, c, s.URL, "queue_depth", other.Time(0), other.Time(2), time.Second)
	comparePoints(t, got, []point{{other.Time(0), 7}, {other.Time(1), 8}, {other.Time(2), 9}})

	// History is backfill's job: the receiver rejects what is older than the head.
	old := Series{Name: h.Name, Labels: h.Labels, Start: h.Time(10), Step: time.Minute, Values: []float64{1}}
	err := s.RemoteWrite(ctx, old)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("remote write of an old sample: got %v, want 400 Bad Request", err)
	}
	t.Logf("old sample: %v", err)
	// Per series, samples must come in time order.
	back := Series{Name: "queue_depth", Start: other.Time(1), Step: time.Second, Values: []float64{1}}
	err = s.RemoteWrite(ctx, back)
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("remote write of an out-of-order sample: got %v, want 400 out of order", err)
	}
	t.Logf("out-of-order sample: %v", err)
}

func TestKill(t *testing.T) {
	t.Parallel()
	s := Start(t, nil)
	c := newClient(t)
	resp, err := c.Get(s.URL + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Data struct{ Version string } `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(info.Data.Version, "2.42") {
		t.Errorf("buildinfo: version %q, %v; want 2.42", info.Data.Version, err)
	}
	s.Kill()
	select {
	case <-s.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	c.CloseIdleConnections()
	_, err = c.Get(s.URL + "/-/ready")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after Kill: got %v, want connection refused", err)
	}
	s.Stop() // no-op after Kill
	s.Kill()
}

func TestStopIsGraceful(t *testing.T) {
	t.Parallel()
	s := Start(t, nil)
	t0 := time.Now()
	s.Stop()
	if s.waitErr != nil {
		t.Errorf("prometheus exit after SIGTERM: %v", s.waitErr)
	}
	t.Logf("stopped in %v", time.Since(t0))
}

func TestParallelServers(t *testing.T) {
	t.Parallel()
	urls := make(chan string, 4)
	t.Run("group", func(t *testing.T) {
		for i := range cap(urls) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				urls <- Start(t, nil).URL
			})
		}
	})
	close(urls)
	seen := map[string]bool{}
	for u := range urls {
		if seen[u] {
			t.Errorf("two servers on %s", u)
		}
		seen[u] = true
	}
}

// fatalTB records Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingBinaryFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(tb, nil)
		t.Error("Start returned without prometheus on PATH")
	}()
	<-done
	if !strings.Contains(tb.msg, "prometheus") || !strings.Contains(tb.msg, ".ci/prometheus.sh") {
		t.Errorf("Fatalf message %q does not name the binary and the install script", tb.msg)
	}
	t.Log(tb.msg)
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(tb, &Options{Flags: []string{"--no-such-flag"}})
	}()
	<-done
	if !strings.Contains(tb.msg, "no-such-flag") || !strings.Contains(tb.msg, "exited before it was ready") {
		t.Errorf("Fatalf message lacks the server's stderr: %q", tb.msg)
	}
}

func TestWriteOpenMetrics(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	series := []Series{
		{Name: "b", Start: t0, Step: time.Minute, Values: []float64{1, math.NaN(), 0.1}},
		{Name: "a", Labels: map[string]string{"z": "1", "q": "x\"y\\z\nw"}, Start: t0, Step: time.Second, Values: []float64{math.Inf(-1)}},
		{Name: "b", Labels: map[string]string{"k": "v"}, Start: t0, Step: time.Minute, Values: []float64{2e10}},
	}
	var b strings.Builder
	if err := WriteOpenMetrics(&b, series); err != nil {
		t.Fatal(err)
	}
	want := `# TYPE a gauge
a{q="x\"y\\z\nw",z="1"} -Inf 1700000000
# TYPE b gauge
b 1 1700000000
b 0.1 1700000120
b{k="v"} 2e+10 1700000000
# EOF
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestOptionsValidate(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name string
		opts *Options
		ok   bool
	}{
		{"nil", nil, true},
		{"bad name", &Options{Series: []Series{{Name: "a-b", Start: t0}}}, false},
		{"bad label", &Options{Series: []Series{{Name: "a", Labels: map[string]string{"__name__": "x"}, Start: t0}}}, false},
		{"zero step", &Options{Series: []Series{{Name: "a", Start: t0, Values: []float64{1, 2}}}}, false},
		{"twice", &Options{Series: []Series{{Name: "a", Start: t0}, {Name: "a", Start: t0}}}, false},
		{"negative", &Options{StopGrace: -1}, false},
		{"fine", &Options{Series: []Series{{Name: "a:b_c", Labels: map[string]string{"x": "1"}, Start: t0, Step: time.Second, Values: []float64{1, 2}}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func BenchmarkBackfillStart(b *testing.B) {
	h := history()
	b.ReportAllocs()
	for b.Loop() {
		s := Start(b, &Options{Series: []Series{h}})
		s.Stop()
	}
}
