package promtest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxBlockDuration is promtool's hidden --max-block-duration. Its default
// (2h) writes one block per two hours: 168 blocks and about 13 s of fsyncs
// for 14 days. promtool rounds it down to 2h·3^k (here 4374h, about 182
// days) and aligns blocks to multiples of it, so weeks of history become
// one or two blocks. Prometheus serves blocks larger than it would compact.
const maxBlockDuration = "8760h"

// Backfill writes series as OpenMetrics text and turns it into TSDB blocks
// in dataDir with `promtool tsdb create-blocks-from openmetrics`, the way
// users backfill history. dataDir must be the --storage.tsdb.path of a
// server that is not running yet (Start does this for Options.Series).
//
// Timestamps are whole seconds (OpenMetrics timestamps are seconds), so
// Start and Step must be whole seconds. Retention is counted back from the
// newest block, not from the wall clock: Start's servers keep 100 years, so
// history in the past or the future is served as written.
func Backfill(tb testing.TB, dataDir string, series []Series) {
	tb.Helper()
	if err := validateSeries(series); err != nil {
		tb.Fatalf("backfill: %v", err)
	}
	samples := 0
	for i := range series {
		s := &series[i]
		if s.Start.Truncate(time.Second) != s.Start || s.Step%time.Second != 0 {
			tb.Fatalf("backfill: series %s: start %v and step %v must be whole seconds", s.Name, s.Start, s.Step)
		}
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				samples++
			}
		}
	}
	if samples == 0 {
		return
	}
	promtool := lookPath(tb, "promtool")
	file := filepath.Join(tb.TempDir(), "backfill.om")
	if err := writeOpenMetricsFile(file, series); err != nil {
		tb.Fatalf("backfill: %v", err)
	}
	t0 := time.Now()
	cmd := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics",
		"--quiet", "--max-block-duration="+maxBlockDuration, file, dataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("backfill: %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	tb.Logf("promtest: backfilled %d samples of %d series in %v", samples, len(series), time.Since(t0).Round(time.Millisecond))
}

func writeOpenMetricsFile(name string, series []Series) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	err = WriteOpenMetrics(w, series)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// WriteOpenMetrics writes series as the OpenMetrics text that promtool
// backfills: one "# TYPE name gauge" per metric name, then
// `name{labels} value timestamp_seconds` lines, then "# EOF". NaN values
// are left out. Series sharing a name are grouped, as the format requires.
// The type is metadata only: Prometheus does not store it in blocks, and
// rate() works on any series.
func WriteOpenMetrics(w io.Writer, series []Series) error {
	order := make([]int, len(series))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(series[a].Name, series[b].Name) })
	var line []byte
	for k, i := range order {
		s := &series[i]
		if k == 0 || series[order[k-1]].Name != s.Name {
			line = append(line[:0], "# TYPE "...)
			line = append(line, s.Name...)
			line = append(line, " gauge\n"...)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		prefix := appendSelector(nil, s.Name, s.Labels)
		for j, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			line = append(line[:0], prefix...)
			line = append(line, ' ')
			line = strconv.AppendFloat(line, v, 'g', -1, 64)
			line = append(line, ' ')
			line = strconv.AppendInt(line, s.Time(j).Unix(), 10)
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	_, err := io.WriteString(w, "# EOF\n")
	return err
}

// appendSelector appends name{l1="v1",...} with labels sorted by name and
// values escaped as both OpenMetrics and PromQL expect.
func appendSelector(dst []byte, name string, labels map[string]string) []byte {
	dst = append(dst, name...)
	if len(labels) == 0 {
		return dst
	}
	names := make([]string, 0, len(labels))
	for l := range labels {
		names = append(names, l)
	}
	slices.Sort(names)
	dst = append(dst, '{')
	for i, l := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, l...)
		dst = append(dst, '=', '"')
		for _, r := range []byte(labels[l]) {
			switch r {
			case '\\':
				dst = append(dst, '\\', '\\')
			case '"':
				dst = append(dst, '\\', '"')
			case '\n':
				dst = append(dst, '\\', 'n')
			default:
				dst = append(dst, r)
			}
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// Selector returns the PromQL selector of the series, e.g. load{job="web"},
// for tests that query it back.
func (s *Series) Selector() string { return string(appendSelector(nil, s.Name, s.Labels)) }
