package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// binary is prescale, built once by TestMain from this checkout.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "prescale-ui-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "prescale")
	build := exec.Command("go", "build", "-o", binary, "./cmd/prescale")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "GOWORK=off")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build prescale:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a prescale serve process in demo mode on loopback.
type server struct {
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
}

var listening = regexp.MustCompile(`msg=listening .*http=(\S+)`)

// startServer runs prescale serve in demo mode with args, on free ports,
// and waits until it listens; it is killed when the test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--http.addr", "127.0.0.1:0", "--grpc.addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, log: new(bytes.Buffer)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prescale serve's log:\n%s", s.log)
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.log.WriteString(line + "\n")
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("prescale serve did not listen within 30s:\n%s", s.log)
	}
	return s
}

// get decodes the JSON of a REST path into out.
func (s *server) get(t testing.TB, path string, out any) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// create declares a target over REST (the server runs with --auth=none).
func (s *server) create(t testing.TB, spec string) {
	t.Helper()
	resp, err := http.Post(s.URL+"/v1/targets", "application/json", strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("create %s: %d %s", spec, resp.StatusCode, body)
	}
}

// target is the part of a target's status the tests read.
type target struct {
	Spec struct {
		Name string `json:"name"`
	} `json:"spec"`
	Model struct {
		Kind string `json:"kind"`
	} `json:"model"`
	Data struct {
		FetchError string `json:"fetchError"`
	} `json:"data"`
}

// waitFor polls cond every 200ms for up to limit.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// browser is a headless Chromium tab that records the page's console
// errors and warnings, uncaught exceptions and failed loads.
type browser struct {
	ctx    context.Context
	errors chan string
}

// newBrowser starts Debian's chromium headless, with a window of w×h.
func newBrowser(t testing.TB, w, h int) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: the browser tests need Debian's chromium (bash .ci/chromium.sh installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(w, h),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, errors: make(chan string, 100)}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				select {
				case b.errors <- string(m.Type) + ": " + m.Text:
				default:
				}
			}
		}
	}()
	return b
}

// do runs actions with a minute's deadline.
func (b *browser) do(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%v; the page's console: %q", err, b.consoleErrors())
	}
}

// eval evaluates a JavaScript expression in the page into a T.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// consoleErrors returns the errors recorded so far.
func (b *browser) consoleErrors() []string {
	var out []string
	for {
		select {
		case m := <-b.errors:
			out = append(out, m)
		default:
			return out
		}
	}
}

// screenshot writes the whole page as PNG to $UI_ARTIFACTS/name.png.
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("UI_ARTIFACTS")
	if dir == "" {
		dir = "../../bin/ui"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(file)
	t.Logf("screenshot: %s (%d bytes)", abs, len(png))
}
