package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/models/backtest"
)

// reportResult is one backtest of three days of a daily cycle with a step
// up and a gap, swept and with traces, shared by the report tests.
var reportResult = sync.OnceValues(func() (*backtest.Result, error) {
	const n = 3 * 24 * 60
	s := &feed.Series{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Step: time.Minute, Values: make([]float64, n)}
	for i := range s.Values {
		v := 200 + 150*math.Sin(2*math.Pi*float64(i)/(24*60))
		if i >= 2*24*60+10*60 { // a step up on the third day
			v += 120
		}
		s.Values[i] = v + 10*math.Sin(float64(i)/7)
	}
	for i := 40 * 60; i < 40*60+45; i++ {
		s.Values[i] = math.NaN()
	}
	return backtest.Run(context.Background(), s, backtest.Config{
		Headroom:           backtest.DefaultHeadroom,
		CapacityPerReplica: 10,
		Startup:            backtest.Startup{Kind: backtest.StartupFixed, A: 2 * time.Minute},
		Lag:                time.Minute,
		Warmup:             12 * time.Hour,
		MinHistory:         6 * time.Hour,
		History:            2 * 24 * time.Hour,
		Sweep:              true,
		SweepHeadrooms:     []float64{0, 0.2, 0.5},
		SweepQuantiles:     []float64{0.5, 0.9},
		KeepTraces:         true,
		Workers:            4,
	})
})

func writeReport(t *testing.T, res *backtest.Result, title string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, res, title); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.String()
}

func TestWriteReport(t *testing.T) {
	res, err := reportResult()
	if err != nil {
		t.Fatal(err)
	}
	page := writeReport(t, res, "backtest <b>& co")

	t.Run("definitions and sparse markers", func(t *testing.T) {
		if !strings.Contains(page, htmlText("θU (under accuracy) is the mean of max(d−s, 0)/max(d, 1)")) {
			t.Error("the page does not define θU")
		}
		if n := len(res.LevelShifts); n > maxShiftMarkers && !strings.Contains(page, "the first in each 1/40 of it is marked") {
			t.Errorf("%d level shifts, and no chart says it marks only some", n)
		} else {
			t.Logf("%d level shifts in the result", n)
		}
	})
	t.Run("headline", func(t *testing.T) {
		var want string
		if res.ReductionAtEqualCost != nil {
			want = fmt.Sprintf("Reduction at equal cost: %.1f%%", *res.ReductionAtEqualCost)
		} else {
			want = "No figure at equal cost (" + htmlText(res.EqualCost.Note) + "). At their own settings: "
		}
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
		want = fmt.Sprintf("at %d of the %d reactive settings", res.EqualCost.FrontierBelowAt, res.EqualCost.FrontierCompared)
		if res.EqualCost.FrontierCompared == 0 {
			want = "do not overlap in cost"
		}
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	})
	t.Run("charts", func(t *testing.T) {
		// A whole-span chart per policy and a zoomed one; the band
		// zoomed and whole; the frontier.
		want := len(res.Order) + 1 + 2 + 1
		if got := strings.Count(page, "<svg"); got != want {
			t.Errorf("%d charts, want %d", got, want)
		}
		if strings.Contains(page, "<?xml") {
			t.Error("the page holds an XML prolog")
		}
	})
	t.Run("metrics rows", func(t *testing.T) {
		for _, p := range res.Order {
			row := regexp.MustCompile(`<tr><td>` + p + `</td>.*</tr>`).FindString(page)
			if row == "" {
				t.Errorf("no table row for %s", p)
				continue
			}
			if cell := fmt.Sprintf("<td>%.1f</td>", res.Policies[p].ReplicaHours); !strings.Contains(row, cell) {
				t.Errorf("the row of %s lacks its replica-hours %s: %s", p, cell, row)
			}
		}
	})
	t.Run("self-contained", func(t *testing.T) {
		rest := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
		for _, bad := range []string{"http://", "https://", "<script", "<link", " src="} {
			if i := strings.Index(rest, bad); i >= 0 {
				t.Errorf("the page holds %q: ...%s...", bad, rest[max(0, i-80):min(len(rest), i+80)])
			}
		}
	})
	t.Run("escaping", func(t *testing.T) {
		if strings.Contains(page, "<b>&") {
			t.Error("the title is not escaped")
		}
		if n := strings.Count(page, "backtest &lt;b&gt;&amp; co"); n != 2 {
			t.Errorf("the escaped title appears %d times, want 2 (title and heading)", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		s := newSeries(res)
		w := s.wholeSpanWidth()
		if n := s.end.Sub(s.start) / w; n > maxBuckets || w%s.step != 0 || w%s.sync != 0 {
			t.Errorf("buckets of %v: %d over the span, not whole steps (%v) and sync periods (%v)", w, n, s.step, s.sync)
		}
	})
}

// htmlText is s as html/template writes it in text.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func TestWriteReportAbsentData(t *testing.T) {
	full, err := reportResult()
	if err != nil {
		t.Fatal(err)
	}
	bare := *full
	bare.Traces, bare.Band, bare.Frontier, bare.EqualCost, bare.ReductionAtEqualCost, bare.Forecast = nil, nil, nil, nil, nil, nil
	page := writeReport(t, &bare, "bare")
	if n := strings.Count(page, "<svg"); n != 0 {
		t.Errorf("%d charts without data", n)
	}
	p := bare.Order[0]
	m := bare.Policies[p]
	if want := fmt.Sprintf("%.1f replica-hours, %.1f under-provisioned minutes", m.ReplicaHours, m.UnderprovisionedMinutes); !strings.Contains(page, want) {
		t.Errorf("the headline of a run without a sweep lacks %s's %q", p, want)
	}
	for _, want := range []string{
		"No capacity charts: the result holds no replica traces",
		"No forecast band chart: the result holds no forecast band",
		"No frontier chart: the backtest ran without a sweep.",
		"At their own settings: ",
		"(Run with --sweep to compare prescale with the reactive HPA at equal cost.)",
		"No forecast accuracy: the prescale policy did not run.",
	} {
		if !strings.Contains(page, htmlText(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestWriteReportOddInput(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	nan := math.NaN()
	tests := []struct {
		name string
		res  *backtest.Result
	}{
		{"zero result", &backtest.Result{}},
		{"empty traces", &backtest.Result{
			Input:  backtest.InputInfo{Start: start, End: start.Add(time.Hour), Step: time.Minute, Points: 60},
			Order:  []string{backtest.Reactive, backtest.Prescale},
			Traces: map[string]*backtest.Trace{backtest.Reactive: {}, backtest.Prescale: nil},
		}},
		{"all demand missing", &backtest.Result{
			Input:    backtest.InputInfo{Start: start, End: start.Add(3 * time.Minute), Step: time.Minute, Points: 3},
			Settings: backtest.Settings{CapacityPerReplica: 1, Sync: "30s"},
			Order:    []string{backtest.Reactive},
			Policies: map[string]*backtest.Metrics{backtest.Reactive: {}},
			Traces:   map[string]*backtest.Trace{backtest.Reactive: {Pods: []int32{1, 1, 2, 2, 2, 2}, Ready: []int32{1, 1, 1, 2, 2, 2}}},
			Demand:   []float64{nan, nan, nan},
			Band:     &backtest.Band{Low: []float64{nan, nan, nan}, Mid: []float64{nan, nan, nan}, High: []float64{nan}},
		}},
		{"single-point frontier", &backtest.Result{
			Input:                backtest.InputInfo{Start: start, End: start.Add(time.Minute), Step: time.Minute, Points: 1},
			Order:                []string{backtest.Reactive, backtest.Prescale, backtest.Oracle},
			Policies:             map[string]*backtest.Metrics{backtest.Reactive: {ReplicaHours: 2}, backtest.Oracle: {ReplicaHours: 1}},
			Frontier:             map[string][]backtest.FrontierPoint{backtest.Reactive: {{Knob: 0.2, ReplicaHours: 2, UnderprovisionedMinutes: 5}}, backtest.Prescale: {}},
			EqualCost:            &backtest.EqualCost{ReferenceHeadroom: 0.2, ReplicaHours: 2, ReactiveUnderprovisionedMinutes: 5, PrescaleUnderprovisionedMinutes: 1},
			ReductionAtEqualCost: new(80.0),
			Anomalies:            []backtest.TimeSpan{{Start: start, End: start.Add(time.Hour)}},
			LevelShifts:          []time.Time{start},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeReport(t, tt.res, tt.name)
		})
	}
	if page := writeReport(t, tests[3].res, "reduction"); !strings.Contains(page, "Reduction at equal cost: 80.0%. At 2.0 replica-hours") {
		t.Error("the headline lacks the reduction")
	}
	if err := Write(&bytes.Buffer{}, nil, "nil"); err == nil {
		t.Error("a nil result gave no error")
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteReportWriterError(t *testing.T) {
	res, err := reportResult()
	if err != nil {
		t.Fatal(err)
	}
	full := errors.New("disk full")
	if err := Write(failingWriter{full}, res, "x"); !errors.Is(err, full) {
		t.Errorf("Write = %v, want %v", err, full)
	}
}
