package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/prescale/prescale/api"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// The serve tests run the real binary as a subprocess, the way it is
// deployed: built once per test run (with the race detector for the tests,
// without it for the benchmark), started with flags, stopped with SIGTERM.

// serveBinDir holds the binaries built for this test run; TestMain removes it.
var serveBinDir = sync.OnceValues(func() (string, error) {
	return os.MkdirTemp("", "prescale-serve-test-")
})

// raceBinary and plainBinary build ./cmd/prescale once per test run.
var (
	raceBinary  = sync.OnceValues(func() (string, error) { return buildPrescale(true) })
	plainBinary = sync.OnceValues(func() (string, error) { return buildPrescale(false) })
)

// buildPrescale builds the package under test (the working directory of a
// test is its package's directory).
func buildPrescale(race bool) (string, error) {
	dir, err := serveBinDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "prescale")
	args := []string{"build", "-o"}
	if race {
		out += "-race"
		args = append(args, out, "-race", ".")
	} else {
		args = append(args, out, ".")
	}
	t0 := time.Now()
	cmd := exec.Command("go", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	fmt.Fprintf(os.Stderr, "serve tests: built %s in %v\n", out, time.Since(t0).Round(time.Millisecond))
	return out, nil
}

// removeServeBinaries deletes what buildPrescale wrote.
func removeServeBinaries() {
	if dir, err := serveBinDir(); err == nil {
		os.RemoveAll(dir)
	}
}

// serveProcOptions configure startServe.
type serveProcOptions struct {
	// Args are serve's flags. The listen addresses (free loopback ports)
	// and --log.format json come first, so Args may override them.
	Args []string
	// Plain runs the binary built without the race detector.
	Plain bool
	// ReadyTimeout bounds the wait for /readyz (default 60s).
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM (default 15s).
	StopGrace time.Duration
	// TLS is the clients' configuration for a server started with
	// --tls.cert-file; nil talks plain HTTP and gRPC.
	TLS *tls.Config
}

// serveProc is a running `prescale serve`, owned by one test: its cleanup
// stops it with SIGTERM and fails the test if it exited with a status it
// was not expected to, or its log shows a panic or a data race.
type serveProc struct {
	tb       testing.TB
	URL      string // http://host:port of --http.addr
	GRPCAddr string // host:port of --grpc.addr
	LogFile  string // stdout and stderr
	Started  time.Time
	HTTP     *http.Client

	cmd     *exec.Cmd
	done    chan struct{} // closed once the process is reaped
	waitErr error         // read after done
	grace   time.Duration
	killed  atomic.Bool // Kill was called: a SIGKILL exit is expected
	termed  atomic.Bool // Stop was called: exit status 0 is expected
	checked atomic.Bool // cleanup's checks ran

	tls      *tls.Config // the clients' TLS, nil for plain text
	connOnce sync.Once
	conn     *grpc.ClientConn
	connErr  error
}

// startServe starts `prescale serve` and returns once it listens and
// /readyz answers 200: its targets are restored, not necessarily fitted
// (WaitModels). It must be called from the test's goroutine.
func startServe(tb testing.TB, opts serveProcOptions) *serveProc {
	tb.Helper()
	build := raceBinary
	if opts.Plain {
		build = plainBinary
	}
	bin, err := build()
	if err != nil {
		tb.Fatalf("build prescale: %v", err)
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 15 * time.Second
	}
	logFile, err := os.CreateTemp(tb.TempDir(), "serve-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := append([]string{"serve", "--http.addr", "127.0.0.1:0", "--grpc.addr", "127.0.0.1:0", "--log.format", "json"}, opts.Args...)
	p := &serveProc{
		tb:      tb,
		LogFile: logFile.Name(),
		cmd:     exec.Command(bin, args...),
		done:    make(chan struct{}),
		grace:   opts.StopGrace,
		HTTP:    &http.Client{Transport: &http.Transport{TLSClientConfig: opts.TLS}, Timeout: 30 * time.Second},
		tls:     opts.TLS,
	}
	p.cmd.Stdout = logFile // an *os.File: no copying goroutine
	p.cmd.Stderr = logFile
	p.cmd.SysProcAttr = serveSysProcAttr()
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start prescale: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(p.cleanup)

	listening, err := p.waitLog(30*time.Second, func(l logLine) bool { return l.Msg() == "listening" })
	if err != nil {
		tb.Fatalf("prescale %s: %v\n%s", strings.Join(args, " "), err, p.LogTail())
	}
	httpAddr, _ := listening["http"].(string)
	p.GRPCAddr, _ = listening["grpc"].(string)
	if httpAddr == "" || p.GRPCAddr == "" {
		tb.Fatalf("listening line without addresses: %v", listening)
	}
	p.URL = "http://" + httpAddr
	if opts.TLS != nil {
		p.URL = "https://" + httpAddr
	}
	p.WaitReady(opts.ReadyTimeout)
	return p
}

// WaitReady polls /readyz until it answers 200, and fails the test if the
// process exits or timeout passes first.
func (p *serveProc) WaitReady(timeout time.Duration) {
	p.tb.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := p.HTTP.Get(p.URL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.tb.Logf("prescale ready on %s after %v", p.URL, time.Since(p.Started).Round(time.Millisecond))
				return
			}
			last = resp.Status + ": " + strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			p.tb.Fatalf("prescale exited before it was ready: %v\n%s", p.waitErr, p.LogTail())
		default:
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("prescale not ready after %v: %s\n%s", timeout, last, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitModels polls GET /v1/targets until every target has a fitted (or
// restored) model, and fails the test if the process exits or timeout
// passes first. /readyz answers once the targets are restored, before
// their first fits: a test that needs models waits for them here.
func (p *serveProc) WaitModels(timeout time.Duration) {
	p.tb.Helper()
	deadline := time.Now().Add(timeout)
	var waiting []string
	for {
		code, body := p.Get("/v1/targets")
		waiting = waiting[:0]
		if code == http.StatusOK {
			var list prescalev1.ListTargetsResponse
			decodeProto(p.tb, body, &list)
			for _, tg := range list.GetTargets() {
				if tg.GetModel().GetKind() == "" {
					waiting = append(waiting, tg.GetSpec().GetName())
				}
			}
			if len(waiting) == 0 {
				p.tb.Logf("prescale has every model after %v", time.Since(p.Started).Round(time.Millisecond))
				return
			}
		}
		select {
		case <-p.done:
			p.tb.Fatalf("prescale exited before its models were fitted: %v\n%s", p.waitErr, p.LogTail())
		default:
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("prescale has no model for %v after %v (GET /v1/targets: %d)\n%s", waiting, timeout, code, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Signal sends sig to the process.
func (p *serveProc) Signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.tb.Errorf("signal %v: %v", sig, err)
	}
}

// Stop sends SIGTERM, waits up to the grace period for a clean exit and
// then sends SIGKILL (which fails the test). It returns once the process
// has been reaped.
func (p *serveProc) Stop() {
	p.closeClients()
	p.termed.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(p.grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-timer.C:
	}
	p.tb.Errorf("prescale did not exit within %v of SIGTERM; sending SIGKILL\n%s", p.grace, p.LogTail())
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Kill sends SIGKILL (kill -9) and returns once the process has been
// reaped; the test expects that exit.
func (p *serveProc) Kill() {
	p.closeClients()
	p.killed.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *serveProc) closeClients() {
	p.HTTP.CloseIdleConnections()
	p.connOnce.Do(func() { p.connErr = errors.New("closed") }) // no conn after this
	if p.conn != nil {
		p.conn.Close()
	}
}

// cleanup stops the process if it runs and checks how it ended.
func (p *serveProc) cleanup() {
	select {
	case <-p.done:
		if !p.killed.Load() && !p.termed.Load() {
			p.tb.Errorf("prescale exited on its own during the test: %v\n%s", p.waitErr, p.LogTail())
		}
	default:
		p.Stop()
	}
	p.closeClients()
	p.check()
}

// check fails the test if the exit status is not the expected one or the
// log holds a panic or a data race report. It runs once.
func (p *serveProc) check() {
	if p.checked.Swap(true) {
		return
	}
	var exit *exec.ExitError
	switch {
	case p.killed.Load():
		// SIGKILL, or whatever status it had reached by then.
	case p.waitErr == nil:
	case errors.As(p.waitErr, &exit):
		p.tb.Errorf("prescale exited with %v, want status 0 after SIGTERM\n%s", p.waitErr, p.LogTail())
	default:
		p.tb.Errorf("prescale: %v", p.waitErr)
	}
	log, err := os.ReadFile(p.LogFile)
	if err != nil {
		p.tb.Errorf("read prescale's log: %v", err)
		return
	}
	for _, bad := range []string{"DATA RACE", "panic", "fatal error"} {
		if i := bytes.Index(log, []byte(bad)); i >= 0 {
			from := max(0, bytes.LastIndexByte(log[:i], '\n')+1)
			p.tb.Errorf("prescale's log has %q:\n%s", bad, log[from:min(len(log), from+16<<10)])
		}
	}
}

// LogTail is the end of the process's output, for failure messages.
func (p *serveProc) LogTail() string {
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		return err.Error()
	}
	const keep = 12 << 10
	if len(b) > keep {
		b = append([]byte("...\n"), b[len(b)-keep:]...)
	}
	return string(b)
}

// logLine is one JSON log line.
type logLine map[string]any

// Msg is the line's message.
func (l logLine) Msg() string { s, _ := l["msg"].(string); return s }

// LogLines parses the JSON lines of the log so far; other lines (a Go
// runtime report) are left out.
func (p *serveProc) LogLines() []logLine {
	b, _ := os.ReadFile(p.LogFile)
	var out []logLine
	for line := range bytes.Lines(b) {
		var l logLine
		if json.Unmarshal(line, &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// FindLog returns the first log line for which match is true, or nil.
func (p *serveProc) FindLog(match func(logLine) bool) logLine {
	for _, l := range p.LogLines() {
		if match(l) {
			return l
		}
	}
	return nil
}

// waitLog waits for a log line for which match is true.
func (p *serveProc) waitLog(timeout time.Duration, match func(logLine) bool) (logLine, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l := p.FindLog(match); l != nil {
			return l, nil
		}
		select {
		case <-p.done:
			if l := p.FindLog(match); l != nil {
				return l, nil
			}
			return nil, fmt.Errorf("exited: %v", p.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no such log line after %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitLog is waitLog failing the test on timeout.
func (p *serveProc) WaitLog(timeout time.Duration, what string, match func(logLine) bool) logLine {
	p.tb.Helper()
	l, err := p.waitLog(timeout, match)
	if err != nil {
		p.tb.Fatalf("waiting for the log to show %s: %v\n%s", what, err, p.LogTail())
	}
	return l
}

// Conn is a gRPC client connection to --grpc.addr, closed by cleanup.
func (p *serveProc) Conn() *grpc.ClientConn {
	p.tb.Helper()
	p.connOnce.Do(func() {
		creds := insecure.NewCredentials()
		if p.tls != nil {
			creds = credentials.NewTLS(p.tls)
		}
		p.conn, p.connErr = grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(creds))
	})
	if p.connErr != nil {
		p.tb.Fatalf("grpc client: %v", p.connErr)
	}
	return p.conn
}

// Do sends a request to the HTTP listener and returns the status and body.
func (p *serveProc) Do(method, path string, body []byte) (int, []byte) {
	p.tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, p.URL+path, r)
	if err != nil {
		p.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.HTTP.Do(req)
	if err != nil {
		p.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// Get is Do with GET.
func (p *serveProc) Get(path string) (int, []byte) {
	p.tb.Helper()
	return p.Do(http.MethodGet, path, nil)
}

// GetProto GETs path, wants 200 and decodes the JSON body into m with the
// API's JSON mapping (unknown fields are an error).
func (p *serveProc) GetProto(path string, m proto.Message) []byte {
	p.tb.Helper()
	code, body := p.Get(path)
	if code != http.StatusOK {
		p.tb.Fatalf("GET %s: %d %s", path, code, body)
	}
	decodeProto(p.tb, body, m)
	return body
}

// decodeProto decodes a JSON body with the API's REST mapping; unknown
// fields are an error.
func decodeProto(tb testing.TB, body []byte, m proto.Message) {
	tb.Helper()
	if err := api.UnmarshalREST(body, m); err != nil {
		tb.Fatalf("decode %T: %v\n%s", m, err, body)
	}
}

// rpcContext is a context for one call to the server.
func rpcContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
