package promtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	defaultStartTimeout = 30 * time.Second
	defaultStopGrace    = 10 * time.Second
	portAttempts        = 5
	installHint         = "install Debian's prometheus package: run .ci/prometheus.sh, or make test"
)

// config scrapes nothing: all data comes from backfill and remote write.
const config = `global:
  scrape_interval: 1m
  evaluation_interval: 1m
scrape_configs: []
`

// Server is a running prometheus process owned by one test.
type Server struct {
	URL     string // base URL, e.g. http://127.0.0.1:41234 (no trailing slash)
	Addr    string // host:port it listens on
	DataDir string // --storage.tsdb.path
	LogFile string // the server's stdout and stderr

	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited and been reaped
	waitErr  error         // cmd.Wait's result, read after done is closed
	stopping atomic.Bool   // set by Stop and Kill: an exit after it is expected
	grace    time.Duration
	client   *http.Client
}

// Start runs a prometheus server for the test and stops it in tb.Cleanup.
// It backfills opts.Series first, listens on a free loopback port, keeps
// 100 years of data, accepts remote write, and returns once /-/ready
// answers 200. It must be called from the test's goroutine (it calls
// tb.Fatalf). A missing binary fails the test: see the package comment.
func Start(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	if err := opts.Validate(); err != nil {
		tb.Fatalf("promtest: %v", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.StopGrace == 0 {
		o.StopGrace = defaultStopGrace
	}
	bin := lookPath(tb, "prometheus")
	dir := tb.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		tb.Fatalf("promtest: %v", err)
	}
	if len(o.Series) > 0 {
		Backfill(tb, dataDir, o.Series)
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		tb.Fatalf("promtest: %v", err)
	}

	t0 := time.Now()
	for attempt := 1; ; attempt++ {
		addr, err := freePort()
		if err != nil {
			tb.Fatalf("promtest: find a free port: %v", err)
		}
		args := []string{
			"--config.file=" + configFile,
			"--storage.tsdb.path=" + dataDir,
			"--web.listen-address=" + addr,
			"--web.enable-remote-write-receiver",
			"--storage.tsdb.retention.time=100y",
			"--log.level=warn",
		}
		if o.LookbackDelta > 0 {
			args = append(args, "--query.lookback-delta="+o.LookbackDelta.String())
		}
		args = append(args, o.Flags...)
		s := &Server{
			URL:     "http://" + addr,
			Addr:    addr,
			DataDir: dataDir,
			LogFile: filepath.Join(dir, "prometheus-"+strconv.Itoa(attempt)+".log"),
			grace:   o.StopGrace,
			// No keep-alive: no idle connection goroutines outlive a request.
			client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		}
		if err := s.start(bin, dir, args); err != nil {
			tb.Fatalf("promtest: %v", err)
		}
		err = s.waitReady(o.StartTimeout)
		if err == nil {
			tb.Cleanup(s.cleanup(tb))
			tb.Logf("promtest: prometheus ready on %s in %v", s.URL, time.Since(t0).Round(time.Millisecond))
			return s
		}
		s.Kill()
		log := s.logTail()
		if bytes.Contains(log, []byte("address already in use")) && attempt < portAttempts {
			continue // another process took the port between our probe and the bind
		}
		tb.Fatalf("promtest: %v\nprometheus %v\n%s", err, args, log)
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("promtest: %v (%s)", err, installHint)
	}
	return path
}

func (s *Server) start(bin, dir string, args []string) error {
	log, err := os.Create(s.LogFile)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout = log // an *os.File: no copying goroutine
	s.cmd.Stderr = log
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start prometheus: %w", err)
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	return nil
}

// waitReady polls /-/ready until it answers 200, the process exits, or
// the timeout passes.
func (s *Server) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := s.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /-/ready: %s", resp.Status)
		}
		last = err
		select {
		case <-s.done:
			return fmt.Errorf("prometheus exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready after %v: %v", timeout, last)
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM, waits up to the grace period, then SIGKILL, and
// returns once the process has been reaped; killed reports that it had to
// send SIGKILL. It is safe to call more than once and concurrently with
// Kill; tb.Cleanup calls it too.
func (s *Server) Stop() (killed bool) {
	s.stopping.Store(true)
	s.signal(syscall.SIGTERM)
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		s.signal(syscall.SIGKILL)
		<-s.done
		killed = true
	}
	s.client.CloseIdleConnections()
	return killed
}

// Kill sends SIGKILL and returns once the process has been reaped, for
// fault tests that take the server away in the middle of a query.
func (s *Server) Kill() {
	s.stopping.Store(true)
	s.signal(syscall.SIGKILL)
	<-s.done
	s.client.CloseIdleConnections()
}

// Exited is closed when the server process has exited.
func (s *Server) Exited() <-chan struct{} { return s.done }

func (s *Server) signal(sig os.Signal) {
	// After the process is reaped Signal returns os.ErrProcessDone; any
	// other error would mean it is gone too.
	_ = s.cmd.Process.Signal(sig)
}

// cleanup stops the server and reports if it had died on its own during
// the test, or needed SIGKILL to stop.
func (s *Server) cleanup(tb testing.TB) func() {
	return func() {
		select {
		case <-s.done:
			if !s.stopping.Load() {
				tb.Errorf("promtest: prometheus on %s exited during the test: %v\n%s", s.Addr, s.waitErr, s.logTail())
			}
			return
		default:
		}
		t0 := time.Now()
		s.Stop()
		if s.waitErr != nil {
			tb.Logf("promtest: prometheus on %s stopped after %v: %v", s.Addr, time.Since(t0).Round(time.Millisecond), s.waitErr)
		}
	}
}

// logTail returns the last few kilobytes of the server's log.
func (s *Server) logTail() []byte {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return []byte(err.Error())
	}
	const max = 8 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return b
}
