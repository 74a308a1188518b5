package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// faultProxy stands between prescale and a real Prometheus and, on
// command, fails the way a Prometheus does: down, slow, garbage, an
// answer without end, errors.
type faultProxy struct {
	srv  *httptest.Server
	mode atomic.Value // string
}

// The faults of faultProxy.
const (
	faultNone    = "none"
	faultDown    = "down"    // the connection is closed without an answer
	faultSlow    = "slow"    // answers after --prometheus.timeout
	faultGarbage = "garbage" // 200 with a body that is not JSON
	faultEndless = "endless" // 200 with a JSON answer that never ends
	faultErrors  = "errors"  // 503 on every request
	faultWrong   = "wrong"   // a valid answer of the wrong shape (a vector)
)

func newFaultProxy(t *testing.T, prometheus string) *faultProxy {
	t.Helper()
	u, err := url.Parse(prometheus)
	if err != nil {
		t.Fatal(err)
	}
	f := &faultProxy{}
	f.mode.Store(faultNone)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the faults' own cancellations
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f.mode.Load().(string) {
		case faultDown:
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		case faultSlow:
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				return
			}
		case faultGarbage:
			_, _ = w.Write([]byte("<html>this is not Prometheus</html>"))
			return
		case faultEndless:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[`))
			chunk := bytes.Repeat([]byte(`[1700000000,"1"],`), 4096)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		case faultErrors:
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		case faultWrong:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *faultProxy) set(mode string) { f.mode.Store(mode) }

// reliabilityCounts is what the suite prints at its end.
type reliabilityCounts struct {
	inputs, handled, faults, survived int
}

// TestReliability is the hostile and careless client, and the faults of
// the world around prescale, against the built binary with a real
// Prometheus behind a fault proxy:
//   - bad inputs over REST, gRPC and KEDA: each must be answered with a
//     client error naming the problem (4xx, or a gRPC code that is not
//     Internal or Unknown), and after them all the process must be alive,
//     answering, and within its memory;
//   - Prometheus down, slow, answering garbage, answering without end,
//     failing and answering the wrong shape: each time prescale keeps
//     answering, says stale, never recommends fewer replicas than its last
//     fresh answer, and is fresh again once Prometheus is back;
//   - 500 clients that never finish a request: the others are served, and
//     the server hangs up on them;
//   - an emptied config file, a spec that cannot be written, SIGTERM in the
//     middle of fits and SIGKILL in the middle of writes: nothing
//     acknowledged is lost.
//
// It ends with the line "reliability: N bad inputs, N handled; N faults,
// N survived with nothing lost".
func TestReliability(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts prometheus and prescale")
	}
	const step = 5 * time.Second
	load := func(t time.Time) float64 {
		return 200 + 60*math.Sin(2*math.Pi*float64(t.Unix()%3600)/3600) + 3*loadNoise(t, 7)
	}
	series := loadHistory("rel_load", time.Now().Truncate(step), 6*time.Hour, step, load)
	prom := promtest.Start(t, &promtest.Options{Series: []promtest.Series{series}})
	startFeed(t, prom, series, load)
	proxy := newFaultProxy(t, prom.URL)

	dir := t.TempDir()
	config := filepath.Join(dir, "targets.yaml")
	const configText = `targets:
  - name: rel
    query: rel_load
    step: 5s
    history: 6h
    capacityPerReplica: 10
    leadTime: 1m
    seasons: [1h]
    holdFor: 2m
`
	writeFileAtomically(t, config, configText)
	dataDir := filepath.Join(dir, "data")
	args := []string{
		"--config", config, "--config.watch-interval", "200ms", "--prometheus.url", proxy.srv.URL,
		"--prometheus.timeout", "2s", "--stale-after", "8s", "--data-dir", dataDir, "--auth=none",
	}
	p := startServe(t, serveProcOptions{Args: args, Plain: true})
	waitFresh(t, p, "rel", time.Minute)

	var n reliabilityCounts
	t.Run("bad inputs", func(t *testing.T) { badInputs(t, p, &n) })
	t.Run("prometheus faults", func(t *testing.T) {
		for _, mode := range []string{faultDown, faultSlow, faultGarbage, faultEndless, faultErrors, faultWrong} {
			n.faults++
			if prometheusFault(t, p, proxy, mode) {
				n.survived++
			}
		}
	})
	t.Run("slow clients", func(t *testing.T) {
		n.faults++
		// 500 clients that never finish their request's header.
		addr := strings.TrimPrefix(p.URL, "http://")
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range 500 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: prescale\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		if code, body := p.Get("/healthz"); code != http.StatusOK {
			t.Errorf("/healthz with 500 slow clients: %d %s", code, body)
			return
		}
		// The server hangs up on them (ReadHeaderTimeout, 10s).
		_ = conns[0].SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadAll(conns[0]); err != nil {
			t.Errorf("a client that never finished its header is still connected after 30s: %v", err)
			return
		}
		n.survived++
	})
	t.Run("emptied config", func(t *testing.T) {
		n.faults++
		writeFileAtomically(t, config, "# emptied by a failed deploy\n")
		p.WaitLog(10*time.Second, "the emptied config refused", func(l logLine) bool { return strings.HasPrefix(l.Msg(), "config reload refused") })
		writeFileAtomically(t, config, configText)
		if code, body := p.Get("/v1/targets/rel"); code != http.StatusOK {
			t.Errorf("rel after the config file was emptied: %d %s, want 200", code, body)
			return
		}
		n.survived++
	})
	t.Run("spec cannot be written", func(t *testing.T) {
		n.faults++
		// A directory where the spec file goes: the write fails as on a
		// full disk (as root, permissions would not stop it).
		blocker := filepath.Join(dataDir, "blocked.spec")
		if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		spec := []byte(`{"name":"blocked","query":"rel_load","step":"5s","history":"1h","capacityPerReplica":10,"leadTime":"1m","model":"naive"}`)
		code, body := p.Do(http.MethodPost, "/v1/targets", spec)
		if code < 500 {
			t.Errorf("POST while its spec cannot be written: %d %s, want a 5xx: nothing may be acknowledged", code, body)
			return
		}
		if code, _ := p.Get("/v1/targets/blocked"); code != http.StatusNotFound {
			t.Errorf("the refused target is served: %d", code)
			return
		}
		if err := os.RemoveAll(blocker); err != nil {
			t.Fatal(err)
		}
		if code, body := p.Do(http.MethodPost, "/v1/targets", spec); code != http.StatusOK {
			t.Errorf("POST once the disk is back: %d %s", code, body)
			return
		}
		n.survived++
	})
	t.Run("SIGTERM during fits", func(t *testing.T) {
		n.faults++
		var created []string
		for i := range 5 {
			name := fmt.Sprintf("term-%d", i)
			spec := fmt.Sprintf(`{"name":%q,"query":"rel_load","step":"5s","history":"6h","capacityPerReplica":%d,"leadTime":"1m"}`, name, 10+i)
			if code, body := p.Do(http.MethodPost, "/v1/targets", []byte(spec)); code != http.StatusOK {
				t.Fatalf("POST %s: %d %s", name, code, body)
			}
			created = append(created, name)
		}
		p.Stop() // SIGTERM, with the fits of the new targets running or queued
		p = startServe(t, serveProcOptions{Args: args, Plain: true})
		lost := 0
		for i, name := range append(created, "blocked") {
			var tg prescalev1.Target
			code, body := p.Get("/v1/targets/" + name)
			if code == http.StatusOK {
				decodeProto(t, body, &tg)
			}
			if code != http.StatusOK || name != "blocked" && tg.GetSpec().GetCapacityPerReplica() != float64(10+i) {
				lost++
				t.Errorf("%s after SIGTERM and a restart: %d %s", name, code, body)
			}
		}
		if lost == 0 {
			n.survived++
		}
	})
	t.Run("kill -9 during writes", func(t *testing.T) {
		const kills = 20
		acked, lost := kill9Loop(t, kills)
		n.faults += kills
		if lost == 0 && acked > 0 {
			n.survived += kills
		}
	})
	t.Logf("reliability: %d bad inputs, %d handled; %d faults, %d survived with nothing lost", n.inputs, n.handled, n.faults, n.survived)
	fmt.Printf("reliability: %d bad inputs, %d handled; %d faults, %d survived with nothing lost\n", n.inputs, n.handled, n.faults, n.survived)
	if n.handled != n.inputs || n.survived != n.faults {
		t.Errorf("reliability: %d of %d bad inputs handled, %d of %d faults survived", n.handled, n.inputs, n.survived, n.faults)
	}
}

// prometheusFault puts the proxy in mode for long enough that the data
// turns stale, then back: prescale must answer throughout, say stale,
// never go below its last fresh recommendation, and be fresh again after.
func prometheusFault(t *testing.T, p *serveProc, proxy *faultProxy, mode string) bool {
	t.Helper()
	last := waitFresh(t, p, "rel", time.Minute).Replicas
	proxy.set(mode)
	defer proxy.set(faultNone)
	ok, sawStale := true, false
	for end := time.Now().Add(14 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		code, body := p.Get("/v1/targets/rel/recommendation")
		if code != http.StatusOK {
			t.Errorf("Prometheus %s: the recommendation is %d %s, want the held one", mode, code, body)
			return false
		}
		var r prescalev1.Recommendation
		decodeProto(t, body, &r)
		switch {
		case !r.Stale:
			last = r.Replicas
		case r.Replicas < last:
			t.Errorf("Prometheus %s: %d replicas while stale, below the last fresh %d", mode, r.Replicas, last)
			ok = false
		default:
			sawStale = true
		}
		if code, _ := p.Get("/healthz"); code != http.StatusOK {
			t.Errorf("Prometheus %s: /healthz %d", mode, code)
			ok = false
		}
	}
	if !sawStale {
		t.Errorf("Prometheus %s for 14s: the recommendation never said stale (--stale-after 8s)", mode)
		ok = false
	}
	proxy.set(faultNone)
	waitFresh(t, p, "rel", time.Minute)
	return ok
}

// badInput is one thing a careless or hostile client sends, and whether
// the answer handled it.
type badInput struct {
	name string
	send func() (handled bool, got string)
}

// badInputs sends every bad input and counts those answered with a client
// error, then checks the process is alive, answering and within its
// memory.
func badInputs(t *testing.T, p *serveProc, n *reliabilityCounts) {
	rest := func(method, path string, body []byte, want ...int) func() (bool, string) {
		return func() (bool, string) {
			code, b := p.Do(method, path, body)
			got := fmt.Sprintf("%d %.200s", code, b)
			for _, w := range want {
				if code == w {
					return len(b) > 0, got
				}
			}
			return false, got
		}
	}
	client := prescalev1.NewPrescaleServiceClient(p.Conn())
	keda := externalscaler.NewExternalScalerClient(p.Conn())
	grpcCall := func(call func(ctx context.Context) error, want ...codes.Code) func() (bool, string) {
		return func() (bool, string) {
			err := call(rpcContext(t))
			got := fmt.Sprintf("%v", err)
			for _, w := range want {
				if status.Code(err) == w {
					return status.Convert(err).Message() != "", got
				}
			}
			return false, got
		}
	}
	kedaRef := func(md map[string]string) *externalscaler.ScaledObjectRef {
		return &externalscaler.ScaledObjectRef{Name: "web", Namespace: "shop", ScalerMetadata: md}
	}
	target := func(fields string) []byte {
		return []byte(`{"name":"bad","query":"rel_load","capacityPerReplica":10,"leadTime":"1m"` + fields + `}`)
	}
	spec := func(mod func(*prescalev1.TargetSpec)) *prescalev1.TargetSpec {
		s := &prescalev1.TargetSpec{Name: "bad", Query: "rel_load", CapacityPerReplica: 10, LeadTime: "1m"}
		mod(s)
		return s
	}
	huge := bytes.Repeat([]byte("a"), 2<<20)
	const bad, notFound, tooLarge, conflict = http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusConflict
	inputs := []badInput{
		{"REST: body not JSON", rest("POST", "/v1/targets", []byte("name: bad"), bad)},
		{"REST: body of the wrong type", rest("POST", "/v1/targets", []byte(`["bad"]`), bad)},
		{"REST: unknown field", rest("POST", "/v1/targets", target(`,"leadTimee":"1m"`), bad)},
		{"REST: leadTime 100000d", rest("POST", "/v1/targets", target(`,"leadTime":"100000d"`), bad)},
		{"REST: margin 2d", rest("POST", "/v1/targets", target(`,"margin":"2d"`), bad)},
		{"REST: quantile 1.5", rest("POST", "/v1/targets", target(`,"quantile":1.5`), bad)},
		{"REST: capacity -1", rest("POST", "/v1/targets", target(`,"capacityPerReplica":-1`), bad)},
		{"REST: capacity NaN", rest("POST", "/v1/targets", target(`,"capacityPerReplica":"NaN"`), bad)},
		{"REST: capacity Infinity", rest("POST", "/v1/targets", target(`,"capacityPerReplica":"Infinity"`), bad)},
		{"REST: name with capitals", rest("POST", "/v1/targets", []byte(`{"name":"Bad","query":"up","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: name of 300 bytes", rest("POST", "/v1/targets", []byte(`{"name":"`+strings.Repeat("a", 300)+`","query":"up","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: name ../x", rest("POST", "/v1/targets", []byte(`{"name":"../x","query":"up","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: namespace invalid", rest("POST", "/v1/targets", target(`,"namespace":"Shop_EU"`), bad)},
		{"REST: query of 17 KiB", rest("POST", "/v1/targets", []byte(`{"name":"bad","query":"`+strings.Repeat("x", 17<<10)+`","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: query Prometheus refuses", rest("POST", "/v1/targets", []byte(`{"name":"bad","query":"sum(","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: history 14d at step 1s", rest("POST", "/v1/targets", target(`,"step":"1s","history":"14d"`), bad)},
		{"REST: step 0", rest("POST", "/v1/targets", target(`,"step":"0s"`), bad)},
		{"REST: step -1m", rest("POST", "/v1/targets", target(`,"step":"-1m"`), bad)},
		{"REST: 50 seasons", rest("POST", "/v1/targets", target(`,"seasons":["1h"`+strings.Repeat(`,"1h"`, 49)+`]`), bad)},
		{"REST: maxReplicas 2^40", rest("POST", "/v1/targets", target(`,"maxReplicas":1099511627776`), bad)},
		{"REST: minReplicas above maxReplicas", rest("POST", "/v1/targets", target(`,"minReplicas":10,"maxReplicas":2`), bad)},
		{"REST: model bogus", rest("POST", "/v1/targets", target(`,"model":"bogus"`), bad)},
		{"REST: refitInterval -1h", rest("POST", "/v1/targets", target(`,"refitInterval":"-1h"`), bad)},
		{"REST: body of 2 MiB", rest("POST", "/v1/targets", huge, tooLarge)},
		{"REST: an existing name", rest("POST", "/v1/targets", []byte(`{"name":"rel","query":"rel_load","capacityPerReplica":1,"leadTime":"1m"}`), conflict)},
		{"REST: update of a config target", rest("PUT", "/v1/targets/rel", []byte(`{"query":"rel_load","capacityPerReplica":1,"leadTime":"1m"}`), bad)},
		{"REST: delete of an unknown target", rest("DELETE", "/v1/targets/nope", nil, notFound)},
		{"REST: forecast horizon 100000", rest("GET", "/v1/targets/rel/forecast?horizon=100000", nil, bad)},
		{"REST: forecast horizon -1", rest("GET", "/v1/targets/rel/forecast?horizon=-1", nil, bad)},
		{"REST: forecast of 33 quantiles", rest("GET", "/v1/targets/rel/forecast?"+strings.Repeat("quantiles=0.5&", 33), nil, bad)},
		{"REST: forecast of 1000 quantiles", rest("GET", "/v1/targets/rel/forecast?"+strings.Repeat("quantiles=0.5&", 1000), nil, bad)},
		{"REST: forecast quantile 0", rest("GET", "/v1/targets/rel/forecast?quantiles=0", nil, bad)},
		{"REST: forecast quantile abc", rest("GET", "/v1/targets/rel/forecast?quantiles=abc", nil, bad)},
		{"REST: forecast history -1h", rest("GET", "/v1/targets/rel/forecast?history=-1h", nil, bad)},
		{"REST: anomalies start after end", rest("GET", "/v1/targets/rel/anomalies?start=2026-12-04T10:00:00Z&end=2026-12-04T09:00:00Z", nil, bad)},
		{"REST: anomalies start not a time", rest("GET", "/v1/targets/rel/anomalies?start=yesterday", nil, bad)},
		{"REST: unknown target", rest("GET", "/v1/targets/nope/recommendation", nil, notFound)},
		{"gRPC: create without a spec", grpcCall(func(ctx context.Context) error {
			_, err := client.CreateTarget(ctx, &prescalev1.CreateTargetRequest{})
			return err
		}, codes.InvalidArgument)},
		{"gRPC: create with leadTime 100000d", grpcCall(func(ctx context.Context) error {
			_, err := client.CreateTarget(ctx, &prescalev1.CreateTargetRequest{Target: spec(func(s *prescalev1.TargetSpec) { s.LeadTime = "100000d" })})
			return err
		}, codes.InvalidArgument)},
		{"gRPC: create with a 2 MiB query", grpcCall(func(ctx context.Context) error {
			_, err := client.CreateTarget(ctx, &prescalev1.CreateTargetRequest{Target: spec(func(s *prescalev1.TargetSpec) { s.Query = string(huge) })})
			return err
		}, codes.ResourceExhausted)},
		{"gRPC: create with capacity NaN", grpcCall(func(ctx context.Context) error {
			_, err := client.CreateTarget(ctx, &prescalev1.CreateTargetRequest{Target: spec(func(s *prescalev1.TargetSpec) { s.CapacityPerReplica = math.NaN() })})
			return err
		}, codes.InvalidArgument)},
		{"gRPC: forecast of 400,000 quantiles", grpcCall(func(ctx context.Context) error {
			q := make([]float64, 400_000)
			for i := range q {
				q[i] = 0.5
			}
			_, err := client.GetForecast(ctx, &prescalev1.GetForecastRequest{Name: "rel", Quantiles: q})
			return err
		}, codes.ResourceExhausted, codes.InvalidArgument)},
		{"gRPC: forecast horizon 2^31-1", grpcCall(func(ctx context.Context) error {
			_, err := client.GetForecast(ctx, &prescalev1.GetForecastRequest{Name: "rel", Horizon: math.MaxInt32})
			return err
		}, codes.InvalidArgument)},
		{"gRPC: update of an unknown target", grpcCall(func(ctx context.Context) error {
			_, err := client.UpdateTarget(ctx, &prescalev1.UpdateTargetRequest{Target: spec(func(s *prescalev1.TargetSpec) { s.Name = "nope" })})
			return err
		}, codes.NotFound)},
		{"gRPC: get of an empty name", grpcCall(func(ctx context.Context) error {
			_, err := client.GetTarget(ctx, &prescalev1.GetTargetRequest{})
			return err
		}, codes.InvalidArgument)},
		{"KEDA: leadTime 100000d", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(map[string]string{"query": "rel_load", "capacityPerReplica": "10", "leadTime": "100000d"}))
			return err
		}, codes.InvalidArgument)},
		{"KEDA: maxReplicas overflowing int32", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(map[string]string{"query": "rel_load", "capacityPerReplica": "10", "leadTime": "1m", "maxReplicas": "4294967297"}))
			return err
		}, codes.InvalidArgument)},
		{"KEDA: capacity abc", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(map[string]string{"query": "rel_load", "capacityPerReplica": "abc", "leadTime": "1m"}))
			return err
		}, codes.InvalidArgument)},
		{"KEDA: no metadata", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(nil))
			return err
		}, codes.InvalidArgument)},
		{"KEDA: an unknown target", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: kedaRef(map[string]string{"target": "nope"})})
			return err
		}, codes.NotFound)},
		{"KEDA: a target name of 300 bytes", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(map[string]string{"target": strings.Repeat("a", 300)}))
			return err
		}, codes.InvalidArgument)},
		{"KEDA: a query Prometheus refuses", grpcCall(func(ctx context.Context) error {
			_, err := keda.GetMetricSpec(ctx, kedaRef(map[string]string{"query": "sum(", "capacityPerReplica": "10", "leadTime": "1m"}))
			return err
		}, codes.InvalidArgument)},
	}
	for _, in := range inputs {
		n.inputs++
		handled, got := in.send()
		if handled {
			n.handled++
		} else {
			t.Errorf("%s: answered %s, want a client error naming the problem", in.name, got)
		}
	}
	if code, body := p.Get("/healthz"); code != http.StatusOK {
		t.Errorf("after the bad inputs /healthz is %d %s", code, body)
	}
	waitFresh(t, p, "rel", 30*time.Second)
	rss := processRSS(t, p.cmd.Process.Pid)
	t.Logf("%d bad inputs, %d handled; the process holds %.0f MB (RSS)", n.inputs, n.handled, rss/1e6)
	if rss > 1<<30 {
		t.Errorf("after the bad inputs the process holds %.0f MB, more than the 1 GiB deploy/ gives it", rss/1e6)
	}
}

// processRSS is the resident memory of process pid, in bytes.
func processRSS(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("the process's memory: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
