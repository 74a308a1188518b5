package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// prescale is a running `prescale serve`.
type prescale struct {
	URL  string // http://host:port of --http.addr
	Proc *proc
}

// process is prescale's process, nil if it never started.
func (p *prescale) process() *proc {
	if p == nil {
		return nil
	}
	return p.Proc
}

// recommendation is the part of GET /v1/targets/{name}/recommendation the
// test reads.
type recommendation struct {
	// ServedBy is the Prescale-Served-By header: the replica of a cluster
	// that answered.
	ServedBy string    `json:"-"`
	Replicas int       `json:"replicas"`
	Won      string    `json:"won"`
	Reason   string    `json:"reason"`
	Stale    bool      `json:"stale"`
	Time     time.Time `json:"time"`
	Forecast struct {
		Max      float64 `json:"max"`
		Replicas int     `json:"replicas"`
	} `json:"forecast"`
	Reactive struct {
		Load     float64 `json:"load"`
		Replicas int     `json:"replicas"`
	} `json:"reactive"`
}

// startPrescale runs `prescale serve` with args after the loopback
// listen addresses and JSON logs, appending to logFile, and returns once
// it logged its addresses and /readyz answers 200.
func startPrescale(ctx context.Context, dir, logFile, bin string, args ...string) (*prescale, error) {
	var size int64
	if fi, err := os.Stat(logFile); err == nil {
		size = fi.Size() // a restart appends: read only the new lines
	}
	args = append([]string{"serve", "--http.addr=127.0.0.1:0", "--grpc.addr=127.0.0.1:0", "--log.format=json"}, args...)
	p, err := startProc("prescale", dir, logFile, bin, args...)
	if err != nil {
		return nil, err
	}
	ps := &prescale{Proc: p}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if ps.URL == "" {
			ps.URL = listeningURL(logFile, size)
		}
		if ps.URL != "" {
			resp, err := http.Get(ps.URL + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return ps, nil
				}
			}
		}
		select {
		case <-p.Exited():
			return ps, fmt.Errorf("prescale exited before it was ready: %v\n%s", p.ExitErr(), p.LogTail(8<<10))
		case <-ctx.Done():
			return ps, fmt.Errorf("prescale not ready after 60s\n%s", p.LogTail(8<<10))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listeningURL finds serve's msg="listening" line after offset and returns
// its REST address.
func listeningURL(logFile string, offset int64) string {
	f, err := os.Open(logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"listening"`) {
			continue
		}
		var l struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" && l.HTTP != "" {
			return "http://" + l.HTTP
		}
	}
	return ""
}

// Do sends a request to prescale's REST API, with a bearer token unless
// token is empty, and returns the status and the body.
func (p *prescale) Do(ctx context.Context, method, path, token string, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metricLine returns the line of prescale's /metrics for the series name of
// target, or "" when there is none.
func (p *prescale) metricLine(ctx context.Context, name, target string) (string, error) {
	code, body, err := p.Do(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil || code != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, `target="`+target+`"`) {
			return line, nil
		}
	}
	return "", nil
}

// Recommendation asks prescale's REST API for target's recommendation.
func (p *prescale) Recommendation(ctx context.Context, target string) (recommendation, error) {
	var r recommendation
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/v1/targets/"+target+"/recommendation", nil)
	if err != nil {
		return r, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	r.ServedBy = resp.Header.Get("Prescale-Served-By")
	return r, json.NewDecoder(resp.Body).Decode(&r)
}

// WaitModels polls GET /v1/targets until every target named in want is
// listed and every target listed has a fitted (or restored) model:
// /readyz answers once the targets are restored, before their first
// fits, and before the controller has registered the resources' targets.
func (p *prescale) WaitModels(ctx context.Context, timeout time.Duration, want ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var waiting []string
	for {
		waiting = waiting[:0]
		var list struct {
			Targets []struct {
				Spec  struct{ Name string } `json:"spec"`
				Model struct{ Kind string } `json:"model"`
			} `json:"targets"`
		}
		err := getJSON(ctx, p.URL+"/v1/targets", &list)
		if err == nil {
			listed := map[string]bool{}
			for _, tg := range list.Targets {
				listed[tg.Spec.Name] = true
				if tg.Model.Kind == "" {
					waiting = append(waiting, tg.Spec.Name)
				}
			}
			for _, name := range want {
				if !listed[name] {
					waiting = append(waiting, name+" (not registered)")
				}
			}
			if len(waiting) == 0 {
				return nil
			}
		}
		select {
		case <-p.Proc.Exited():
			return fmt.Errorf("prescale exited before its models were fitted: %v\n%s", p.Proc.ExitErr(), p.Proc.LogTail(8<<10))
		case <-ctx.Done():
			return fmt.Errorf("prescale has no model for %v after %v (last error: %v)\n%s", waiting, timeout, err, p.Proc.LogTail(8<<10))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// getJSON decodes the JSON answer of a GET of url into v.
func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// generation is the model generation of a target, from GET /v1/targets/{name}.
func (p *prescale) generation(ctx context.Context, target string) (uint64, error) {
	code, body, err := p.Do(ctx, http.MethodGet, "/v1/targets/"+target, "", nil)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/targets/%s: %d %s", target, code, body)
	}
	var t struct {
		Model struct {
			Generation uint64 `json:"generation"`
		} `json:"model"`
	}
	if err := json.Unmarshal([]byte(body), &t); err != nil {
		return 0, fmt.Errorf("GET /v1/targets/%s: %w", target, err)
	}
	return t.Model.Generation, nil
}
