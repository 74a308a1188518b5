package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// loadShape is a daily cycle compressed in time: low load most of the
// Period, a linear ramp up to Peak starting at Origin (and every Period
// before and after it), a plateau, a ramp back down. A little noise, a
// function of the timestamp only, makes the backfilled history and the
// live points one series.
type loadShape struct {
	Origin                 time.Time // a ramp starts here
	Period, Step           time.Duration
	RampUp, High, RampDown time.Duration
	Low, Peak, Noise       float64
}

// At is the load at t.
func (s loadShape) At(t time.Time) float64 {
	phase := t.Sub(s.Origin) % s.Period
	if phase < 0 {
		phase += s.Period
	}
	var v float64
	switch {
	case phase < s.RampUp:
		v = s.Low + (s.Peak-s.Low)*float64(phase)/float64(s.RampUp)
	case phase < s.RampUp+s.High:
		v = s.Peak
	case phase < s.RampUp+s.High+s.RampDown:
		v = s.Peak - (s.Peak-s.Low)*float64(phase-s.RampUp-s.High)/float64(s.RampDown)
	default:
		v = s.Low
	}
	r := rand.New(rand.NewPCG(uint64(t.Unix()), 6))
	return v + s.Noise*r.NormFloat64()
}

// Grid is the step-aligned time at or before t.
func (s loadShape) Grid(t time.Time) time.Time { return t.Truncate(s.Step) }

// prometheus is a prometheus server in a temporary directory, fed by
// backfill and remote write; it scrapes nothing.
type prometheus struct {
	URL  string
	Proc *proc
}

// process is the server's process, nil if it never started.
func (p *prometheus) process() *proc {
	if p == nil {
		return nil
	}
	return p.Proc
}

const prometheusConfig = `global:
  scrape_interval: 1m
scrape_configs: []
`

// backfill writes metric's values on the step grid over [from, to) as
// OpenMetrics and turns them into TSDB blocks in dataDir, the way users
// backfill: `promtool tsdb create-blocks-from openmetrics`.
func backfill(promtool, dataDir, metric string, s loadShape, from, to time.Time) (int, error) {
	file := filepath.Join(filepath.Dir(dataDir), "backfill.om")
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# TYPE %s gauge\n", metric)
	n := 0
	for t := s.Grid(from); t.Before(to); t = t.Add(s.Step) {
		fmt.Fprintf(w, "%s %s %d\n", metric, strconv.FormatFloat(s.At(t), 'g', -1, 64), t.Unix())
		n++
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	// One block instead of one per two hours (promtool's hidden flag).
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics",
		"--quiet", "--max-block-duration=8760h", file, dataDir).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	return n, nil
}

// startPrometheus runs bin on a free loopback port with its data in
// dir/data, accepting remote write, and returns once it is ready.
func startPrometheus(ctx context.Context, dir, bin string) (*prometheus, error) {
	cfg, err := writeFile(dir, "prometheus.yml", []byte(prometheusConfig))
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("prometheus", dir, filepath.Join(dir, "prometheus.log"), bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address="+addr,
		"--web.enable-remote-write-receiver",
		"--log.level=warn",
	)
	if err != nil {
		return nil, err
	}
	prom := &prometheus{URL: "http://" + addr, Proc: p}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, prom.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return prom, nil
			}
		}
		select {
		case <-p.Exited():
			return prom, fmt.Errorf("prometheus exited before it was ready: %v\n%s", p.ExitErr(), p.LogTail(4<<10))
		case <-ctx.Done():
			return prom, fmt.Errorf("prometheus not ready after 30s: %v\n%s", err, p.LogTail(4<<10))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// write sends one sample of metric (no labels) to the remote-write
// receiver: protocol 1.0, a snappy-compressed prompb.WriteRequest encoded
// by hand (TimeSeries = 1, its Label = 1 {name = 1, value = 2}, its
// Sample = 2 {value = 1 (double), timestamp = 2 (ms)}).
func (p *prometheus) write(ctx context.Context, metric string, t time.Time, v float64) error {
	var label, sample, ts []byte
	label = appendField(appendField(label, 1, []byte("__name__")), 2, []byte(metric))
	sample = binary.AppendUvarint(sample, 1<<3|1)
	sample = binary.LittleEndian.AppendUint64(sample, math.Float64bits(v))
	sample = binary.AppendUvarint(sample, 2<<3|0)
	sample = binary.AppendUvarint(sample, uint64(t.UnixMilli()))
	ts = appendField(appendField(ts, 1, label), 2, sample)
	msg := appendField(nil, 1, ts)
	// A snappy block of one literal (the message is far below 64 KiB).
	body := binary.AppendUvarint(nil, uint64(len(msg)))
	if m := len(msg) - 1; m < 60 {
		body = append(body, byte(m)<<2)
	} else {
		body = append(body, 61<<2, byte(m), byte(m>>8))
	}
	body = append(body, msg...)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/v1/write", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("remote write: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// appendField appends a length-delimited protobuf field.
func appendField(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
