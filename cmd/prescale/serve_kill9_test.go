package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// ackTarget is what the server acknowledged, or may have written, of one
// target: absent, or present with the capacity of the write that made it
// (each write has its own).
type ackTarget struct {
	present  bool
	capacity float64
}

// ackName is a name's history in one run of the server: the last state
// acknowledged, and the state a write in flight at the kill would leave.
type ackName struct {
	acked    ackTarget
	inFlight *ackTarget
}

// kill9Loop creates, updates and deletes targets over REST from
// concurrent clients, kills the server with SIGKILL at a random moment, restarts it on the same --data-dir and checks that every
// write it acknowledged (200) is there: each acknowledged create and
// update with its acknowledged spec, each acknowledged delete gone. A
// write in flight at the kill may or may not have happened; the test then
// takes what the restart serves as the new truth.
// It does that kills times (TestReliability runs it) and returns how many
// writes were acknowledged and how many of them were lost.
func kill9Loop(t *testing.T, kills int) (acknowledged, lost int) {
	const (
		clients = 4
		names   = 5 // per client
		step    = 10 * time.Second
	)
	load := func(t time.Time) float64 { return 100 + 5*loadNoise(t, 4) }
	series := loadHistory("kill9_load", time.Now().Truncate(step), time.Hour, step, load)
	srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{series}})
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"--prometheus.url", srv.URL, "--data-dir", dataDir, "--max-targets", "100", "--auth=none"}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 14))
	t.Logf("kill delays and writes drawn with seed %d", seed)

	state := map[string]*ackName{}
	for c := range clients {
		for j := range names {
			state[fmt.Sprintf("w%d-%d", c, j)] = &ackName{}
		}
	}
	var version float64 // capacity of the next write: each write's own
	ambiguous := 0
	start := time.Now()
	for i := range kills {
		p := startServe(t, serveProcOptions{Args: args})
		if i > 0 {
			lost += checkAcknowledged(t, p, state, i)
		}
		for _, n := range state {
			if n.inFlight != nil {
				ambiguous++
			}
			n.inFlight = nil
		}

		// Each client owns its names: its writes to them are in order.
		var wg sync.WaitGroup
		var mu sync.Mutex // guards version, acknowledged and state's entries
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		for c := range clients {
			crng := rand.New(rand.NewPCG(rng.Uint64(), uint64(c)))
			wg.Go(func() {
				for {
					name := fmt.Sprintf("w%d-%d", c, crng.IntN(names))
					mu.Lock()
					n := state[name]
					present := n.acked.present
					next := ackTarget{} // a delete
					if !present || crng.IntN(2) == 0 {
						version++
						next = ackTarget{present: true, capacity: version}
					}
					n.inFlight = &next
					mu.Unlock()
					ok := kill9Write(t, client, p.URL, name, present, next)
					if !ok {
						return // the server is gone: this write stays in flight
					}
					mu.Lock()
					n.acked, n.inFlight = next, nil
					acknowledged++
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		p.Kill()
		wg.Wait()
		client.CloseIdleConnections()
	}
	p := startServe(t, serveProcOptions{Args: args})
	lost += checkAcknowledged(t, p, state, kills)
	t.Logf("kill -9 loop: %d kills, %d acknowledged writes, %d lost (%d writes in flight at a kill), %v",
		kills, acknowledged, lost, ambiguous, time.Since(start).Round(time.Millisecond))
	if acknowledged < kills {
		t.Errorf("only %d writes acknowledged in %d runs: the loop tested little", acknowledged, kills)
	}
	return acknowledged, lost
}

// kill9Write sends the write that takes a target from present (or not)
// to next: a create, an update or a delete. It reports whether the
// server acknowledged it; an answer other than 200 fails the test, a
// connection error (the kill) does not.
func kill9Write(t *testing.T, c *http.Client, url, name string, present bool, next ackTarget) bool {
	spec := fmt.Sprintf(`"query":"kill9_load","step":"10s","history":"30m","capacityPerReplica":%g,"leadTime":"1m","model":"naive"`, next.capacity)
	var req *http.Request
	var err error
	switch {
	case !present:
		req, err = http.NewRequest(http.MethodPost, url+"/v1/targets", bytes.NewBufferString(`{"name":"`+name+`",`+spec+`}`))
	case next.present:
		req, err = http.NewRequest(http.MethodPut, url+"/v1/targets/"+name, bytes.NewBufferString(`{`+spec+`}`))
	default:
		req, err = http.NewRequest(http.MethodDelete, url+"/v1/targets/"+name, nil)
	}
	if err != nil {
		t.Error(err)
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
		return false
	}
	return true
}

// checkAcknowledged compares what the restarted server serves with what
// was acknowledged before kill number kill, reports every difference and
// returns how many writes were lost. It then makes what is served the
// state the next run starts from.
func checkAcknowledged(t *testing.T, p *serveProc, state map[string]*ackName, kill int) (lost int) {
	t.Helper()
	var list prescalev1.ListTargetsResponse
	p.GetProto("/v1/targets", &list)
	served := map[string]ackTarget{}
	for _, tg := range list.GetTargets() {
		if tg.GetOrigin() != "api" {
			t.Errorf("after kill %d: %s has origin %q, want api", kill, tg.GetSpec().GetName(), tg.GetOrigin())
		}
		served[tg.GetSpec().GetName()] = ackTarget{present: true, capacity: tg.GetSpec().GetCapacityPerReplica()}
	}
	for name, n := range state {
		got := served[name]
		delete(served, name)
		if got == n.acked || n.inFlight != nil && got == *n.inFlight {
			n.acked = got
			continue
		}
		lost++
		t.Errorf("after kill %d: %s is %+v, but %+v was acknowledged (in flight: %+v)", kill, name, got, n.acked, n.inFlight)
		n.acked = got
	}
	for name := range served {
		t.Errorf("after kill %d: %s is served but was never written", kill, name)
	}
	return lost
}
