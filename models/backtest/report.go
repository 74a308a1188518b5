package backtest

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Report layout.
const (
	maxBuckets       = 2000 // points per line on the charts of the whole span
	zoomSpan         = 48 * time.Hour
	chartWidth       = 10 * vg.Inch
	chartHeight      = 3.6 * vg.Inch
	reportTimeLayout = "2006-01-02 15:04"
)

// WriteReport writes res as one self-contained HTML page: a summary, the
// metrics, and charts drawn as inline SVG. The page loads nothing else.
func WriteReport(w io.Writer, res *Result, title string) error {
	if res == nil {
		return errors.New("backtest: no result to report")
	}
	page, err := buildPage(res, title)
	if err != nil {
		return fmt.Errorf("build report: %w", err)
	}
	return reportTemplate.Execute(w, page)
}

// reportPage is what the template shows; html/template escapes every
// string in it, and only the SVG charts we drew are trusted.
type reportPage struct {
	Title, Summary, Headline, Frontier string
	Columns                            []string
	Rows                               [][]string
	Accuracy                           []reportField
	AccuracyNote                       string
	Timing                             string
	Sections                           []reportSection
}

type reportField struct{ Name, Value string }

type reportSection struct {
	Heading string
	Notes   []string
	Figures []reportFigure
}

type reportFigure struct {
	Caption string
	SVG     template.HTML
}

func buildPage(res *Result, title string) (*reportPage, error) {
	page := &reportPage{
		Title:    title,
		Summary:  reportSummary(res),
		Headline: reportHeadline(res),
		Frontier: frontierSentence(res.EqualCost),
		Timing:   timingSentence(&res.Timing),
	}
	page.Columns, page.Rows = metricsTable(res)
	page.Accuracy, page.AccuracyNote = accuracyFields(res)
	s := newReportSeries(res)
	for _, build := range []func(*reportSeries) (reportSection, error){capacitySection, bandSection, frontierSection} {
		sec, err := build(s)
		if err != nil {
			return nil, err
		}
		page.Sections = append(page.Sections, sec)
	}
	return page, nil
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
figure{margin:1.5em 0}
figcaption{margin-bottom:.5em}
figure svg{max-width:100%;height:auto}
.headline{font-size:1.15em;font-weight:600}
.note{color:#666;font-style:italic}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Summary}}</p>
<p class="headline">{{.Headline}}</p>
{{with .Frontier}}<p>{{.}}</p>
{{end}}<h2>Metrics</h2>
<table>
<thead><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
<h2>Forecast accuracy</h2>
{{if .Accuracy}}<table>
{{range .Accuracy}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{else}}<p class="note">{{.AccuracyNote}}</p>
{{end}}<h2>Timing</h2>
<p>{{.Timing}}</p>
{{range .Sections}}<h2>{{.Heading}}</h2>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Figures}}<figure><figcaption>{{.Caption}}</figcaption>
{{.SVG}}</figure>
{{end}}{{end}}</body>
</html>
`))

// The text.

func reportSummary(res *Result) string {
	in, st := &res.Input, &res.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "The demand runs from %s to %s UTC: %d points every %s, %d missing",
		reportTime(in.Start), reportTime(in.End), in.Points, shortDuration(in.Step.String()), in.Missing)
	if n := len(in.ZeroRuns); n > 0 {
		fmt.Fprintf(&b, " (%d runs of zeros among them, treated as missing data)", n)
	}
	fmt.Fprintf(&b, ". The metrics cover %.0f minutes with known demand from %s, after a %s warm-up. ",
		in.EvaluatedMinutes, reportTime(in.EvaluatedFrom), shortDuration(st.Warmup))
	fmt.Fprintf(&b, "Each replica serves a load of %g and starts up in %s; the HPA syncs every %s, sees the load %s late, "+
		"has a tolerance of %g and keeps %d to %d replicas. ",
		st.CapacityPerReplica, shortDuration(st.Startup), shortDuration(st.Sync), shortDuration(st.Lag), st.Tolerance, st.MinReplicas, st.MaxReplicas)
	fmt.Fprintf(&b, "Prescale provisions for quantile %g of its forecast over a lead time of %s (model %s, %s of history, refit every %s); "+
		"the margin policy adds %g%% head room to the observed load.",
		st.Quantile, shortDuration(st.Lead), st.Model, shortDuration(st.History), shortDuration(st.RefitInterval), 100*st.Margin)
	return b.String()
}

func reportHeadline(res *Result) string {
	e := res.EqualCost
	switch {
	case e == nil:
		return "No reduction at equal cost: the backtest ran without a sweep of the reactive HPA and prescale."
	case res.ReductionAtEqualCost == nil:
		return fmt.Sprintf("No reduction at equal cost: %s.", e.Note)
	}
	return fmt.Sprintf("Reduction at equal cost: %.1f%%. At %.1f replica-hours, the cost of the reactive HPA with a %g%% margin "+
		"(%.1f under-provisioned minutes), prescale is under-provisioned for %.1f minutes (at quantile %.3f, interpolated).",
		*res.ReductionAtEqualCost, e.ReplicaHours, 100*e.ReferenceMargin, e.ReactiveUnderprovisionedMinutes,
		e.PrescaleUnderprovisionedMinutes, e.PrescaleQuantile)
}

func frontierSentence(e *EqualCost) string {
	switch {
	case e == nil:
		return ""
	case e.FrontierCompared == 0:
		return "Prescale's sweep and the reactive one do not overlap in cost, so their frontiers are not compared."
	}
	return fmt.Sprintf("Prescale's frontier is below the reactive one at %d of the %d reactive settings within its range of cost.",
		e.FrontierBelowAt, e.FrontierCompared)
}

func timingSentence(t *Timing) string {
	return fmt.Sprintf("%.1f s on %d workers: forecasts %.1f s (%d fits, %.1f s of CPU), %d replays %.1f s.",
		t.TotalSeconds, t.Workers, t.ForecastWall, t.Fits, t.FitSeconds, t.Replays, t.ReplayWall)
}

func metricsTable(res *Result) ([]string, [][]string) {
	cols := []string{"policy", "setting", "under-provisioned min", "unserved %", "replica-hours", "over-provisioning %",
		"scale events", "θU %", "θO %", "τU %", "τO %", "mean replicas"}
	var rows [][]string
	for _, p := range res.Order {
		m := res.Policies[p]
		if m == nil {
			continue
		}
		el := &m.Elasticity
		rows = append(rows, []string{p, knobLabel(p, m.Knob),
			fmt.Sprintf("%.1f", m.UnderprovisionedMinutes), fmt.Sprintf("%.3f", 100*m.UnservedFraction),
			fmt.Sprintf("%.1f", m.ReplicaHours), fmt.Sprintf("%.1f", 100*m.Overprovisioning), fmt.Sprintf("%d", m.ScaleEvents),
			fmt.Sprintf("%.2f", el.UnderAccuracy), fmt.Sprintf("%.1f", el.OverAccuracy),
			fmt.Sprintf("%.1f", el.UnderTimeshare), fmt.Sprintf("%.1f", el.OverTimeshare),
			fmt.Sprintf("%.2f", m.MeanReplicas)})
	}
	return cols, rows
}

// knobLabel names a policy's setting: a margin or a quantile.
func knobLabel(policy string, knob float64) string {
	switch policy {
	case Reactive, Margin:
		return fmt.Sprintf("+%.4g%%", 100*knob)
	case Prescale:
		return fmt.Sprintf("q %.4g", knob)
	}
	return "—"
}

func accuracyFields(res *Result) ([]reportField, string) {
	a := res.Forecast
	if a == nil {
		return nil, "No forecast accuracy: the prescale policy did not run."
	}
	f := []reportField{
		{"fits", fmt.Sprintf("%d (%d failed)", a.Fits, a.FailedFits)},
		{"points scored", fmt.Sprintf("%d, each forecast %d steps ahead", a.Points, a.LeadSteps)},
	}
	if a.Points == 0 {
		return f, ""
	}
	return append(f,
		reportField{"MASE", fmt.Sprintf("%.3f (against the seasonal naive forecast, %d steps)", a.MASE, a.SeasonSteps)},
		reportField{"relative MAE", fmt.Sprintf("%.2f (against the last observed value)", a.RelativeMAE)},
		reportField{"0.1–0.9 interval coverage", fmt.Sprintf("%.1f%%", 100*a.Coverage80)},
		reportField{fmt.Sprintf("quantile %g coverage", res.Settings.Quantile), fmt.Sprintf("%.1f%%", 100*a.QuantileCoverage)},
	), ""
}

func reportTime(t time.Time) string { return t.UTC().Format(reportTimeLayout) }

// shortDuration drops the zero tails of Go durations in s: 12h, not
// 12h0m0s; 2m..4m, not 2m0s..4m0s.
func shortDuration(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.NewReplacer("h0m0s", "h", "m0s", "m").Replace(s)
}

// The data behind the charts.

// reportSeries is the result's data on its time grids: the demand per
// step, and per tick (every sync period) the ready capacity of each
// policy and the demand at that tick.
type reportSeries struct {
	res        *Result
	start, end time.Time
	step, sync time.Duration
	capacity   map[string][]float64
	load       []float64
}

func newReportSeries(res *Result) *reportSeries {
	s := &reportSeries{res: res, start: res.Input.Start, step: res.Input.Step, sync: res.Settings.SyncPeriod(),
		capacity: map[string][]float64{}}
	if s.sync <= 0 { // a result not made by Run, such as one read back from JSON
		s.sync, _ = time.ParseDuration(res.Settings.Sync)
	}
	if s.sync <= 0 {
		s.sync = s.step
	}
	s.end = res.Input.End
	if !s.end.After(s.start) && s.step > 0 {
		s.end = s.start.Add(time.Duration(len(res.Demand)) * s.step)
	}
	ticks := 0
	for p, tr := range res.Traces {
		if tr == nil || len(tr.Ready) == 0 {
			continue
		}
		c := make([]float64, len(tr.Ready))
		for k, r := range tr.Ready {
			c[k] = float64(r) * res.Settings.CapacityPerReplica
		}
		s.capacity[p] = c
		ticks = max(ticks, len(c))
	}
	s.load = make([]float64, ticks)
	for k := range s.load {
		s.load[k] = s.demandAt(s.start.Add(time.Duration(k) * s.sync))
	}
	return s
}

// timed reports whether the series has a time grid to chart on.
func (s *reportSeries) timed() bool { return s.step > 0 && s.end.After(s.start) }

func (s *reportSeries) demandAt(t time.Time) float64 {
	if s.step <= 0 || t.Before(s.start) {
		return math.NaN()
	}
	i := int(t.Sub(s.start) / s.step)
	if i >= len(s.res.Demand) {
		return math.NaN()
	}
	return s.res.Demand[i]
}

// shortfall is, per tick where policy was under-provisioned, the demand
// (hi) and the ready capacity (lo); NaN elsewhere.
func (s *reportSeries) shortfall(policy string) (lo, hi []float64) {
	c := s.capacity[policy]
	lo, hi = make([]float64, len(c)), make([]float64, len(c))
	for k, supply := range c {
		lo[k], hi[k] = math.NaN(), math.NaN()
		if load := s.load[k]; load > supply {
			lo[k], hi[k] = supply, load
		}
	}
	return lo, hi
}

// wholeSpanWidth is the bucket width that keeps the whole span within
// maxBuckets points, a whole number of steps and sync periods.
func (s *reportSeries) wholeSpanWidth() time.Duration {
	unit := max(s.step, s.sync)
	if g := gcd(s.step, s.sync); g > 0 {
		if l := s.step / g * s.sync; l > 0 && l <= 24*time.Hour {
			unit = l
		}
	}
	w := s.end.Sub(s.start) / maxBuckets
	return max(unit, (w+unit-1)/unit*unit)
}

func gcd(a, b time.Duration) time.Duration {
	for b > 0 {
		a, b = b, a%b
	}
	return a
}

// stepLine is a series held over equal buckets: vals[b] from
// from+b*width to from+(b+1)*width. NaN is a gap.
type stepLine struct {
	from  time.Time
	width time.Duration
	vals  []float64
}

// bucket reduces vals, one per step from start, over [from, to) in
// buckets of at least width (a whole number of steps; one step when width
// is 0), ignoring NaN.
func bucket(vals []float64, start time.Time, step time.Duration, from, to time.Time, width time.Duration, reduce func([]float64) float64) stepLine {
	per := max(1, int((width+step-1)/step))
	i0 := max(0, int(from.Sub(start)/step))
	i1 := min(len(vals), int((to.Sub(start)+step-1)/step))
	l := stepLine{from: start.Add(time.Duration(i0) * step), width: time.Duration(per) * step}
	var buf []float64
	for i := i0; i < i1; i += per {
		buf = buf[:0]
		for _, v := range vals[i:min(i+per, i1)] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				buf = append(buf, v)
			}
		}
		v := math.NaN()
		if len(buf) > 0 {
			v = reduce(buf)
		}
		l.vals = append(l.vals, v)
	}
	return l
}

func maxOf(v []float64) float64 { return slices.Max(v) }
func minOf(v []float64) float64 { return slices.Min(v) }
func meanOf(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

func (l stepLine) x(b int) float64 { return chartX(l.from.Add(time.Duration(b) * l.width)) }

func chartX(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// segments splits l at its gaps, with a point where the value changes and
// one where the segment ends: drawn as post-steps, they are exact.
func (l stepLine) segments() []plotter.XYs {
	var out []plotter.XYs
	finite := func(b int) bool { return !math.IsNaN(l.vals[b]) }
	runs(len(l.vals), finite, func(b0, b1 int) {
		var seg plotter.XYs
		for b := b0; b < b1; b++ {
			if b == b0 || l.vals[b] != l.vals[b-1] {
				seg = append(seg, plotter.XY{X: l.x(b), Y: l.vals[b]})
			}
		}
		out = append(out, append(seg, plotter.XY{X: l.x(b1), Y: l.vals[b1-1]}))
	})
	return out
}

// ribbon is the area between lo and hi (on the same buckets) as one ring
// per run where both are known, drawn as steps.
func ribbon(lo, hi stepLine) []plotter.XYs {
	n := min(len(lo.vals), len(hi.vals))
	known := func(b int) bool { return !math.IsNaN(lo.vals[b]) && !math.IsNaN(hi.vals[b]) }
	var rings []plotter.XYs
	runs(n, known, func(b0, b1 int) {
		ring := stepEdge(nil, hi, b0, b1, false)
		rings = append(rings, stepEdge(ring, lo, b0, b1, true))
	})
	return rings
}

// stepEdge appends the step outline of l over buckets [b0, b1), forwards
// or backwards, with corners only where the value changes.
func stepEdge(dst plotter.XYs, l stepLine, b0, b1 int, backwards bool) plotter.XYs {
	v := l.vals
	if !backwards {
		dst = append(dst, plotter.XY{X: l.x(b0), Y: v[b0]})
		for b := b0 + 1; b < b1; b++ {
			if v[b] != v[b-1] {
				dst = append(dst, plotter.XY{X: l.x(b), Y: v[b-1]}, plotter.XY{X: l.x(b), Y: v[b]})
			}
		}
		return append(dst, plotter.XY{X: l.x(b1), Y: v[b1-1]})
	}
	dst = append(dst, plotter.XY{X: l.x(b1), Y: v[b1-1]})
	for b := b1 - 1; b > b0; b-- {
		if v[b] != v[b-1] {
			dst = append(dst, plotter.XY{X: l.x(b), Y: v[b]}, plotter.XY{X: l.x(b), Y: v[b-1]})
		}
	}
	return append(dst, plotter.XY{X: l.x(b0), Y: v[b0]})
}

// runs calls fn for each maximal run [b0, b1) of 0..n-1 where ok holds.
func runs(n int, ok func(int) bool, fn func(b0, b1 int)) {
	for b := 0; b < n; {
		if !ok(b) {
			b++
			continue
		}
		e := b
		for e < n && ok(e) {
			e++
		}
		fn(b, e)
		b = e
	}
}

// The charts.

// Colors of the things drawn: each policy's, and these.
const (
	demandColor  = "demand"
	shortColor   = "short"
	bandColor    = "band"
	anomalyColor = "anomaly"
	shiftColor   = "shift"
	equalColor   = "equal"
)

func chartColor(name string) color.Color {
	switch name {
	case demandColor:
		return color.NRGBA{R: 40, G: 40, B: 40, A: 255}
	case shortColor:
		return color.NRGBA{R: 214, G: 39, B: 40, A: 90}
	case bandColor:
		return color.NRGBA{R: 31, G: 119, B: 180, A: 60}
	case anomalyColor:
		return color.NRGBA{R: 255, G: 190, B: 0, A: 70}
	case shiftColor:
		return color.NRGBA{R: 148, G: 103, B: 189, A: 110}
	case equalColor:
		return color.NRGBA{R: 120, G: 120, B: 120, A: 255}
	case Reactive:
		return color.NRGBA{R: 214, G: 39, B: 40, A: 255}
	case Margin:
		return color.NRGBA{R: 255, G: 127, B: 14, A: 255}
	case Prescale:
		return color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	case Oracle:
		return color.NRGBA{R: 44, G: 160, B: 44, A: 255}
	}
	return color.NRGBA{R: 140, G: 86, B: 75, A: 255}
}

func capacitySection(s *reportSeries) (reportSection, error) {
	sec := reportSection{Heading: "Demand and ready capacity"}
	switch {
	case len(s.capacity) == 0:
		sec.Notes = append(sec.Notes, "No capacity charts: the result holds no replica traces (the backtest did not keep them).")
		return sec, nil
	case !s.timed():
		sec.Notes = append(sec.Notes, "No capacity charts: the result has no time span.")
		return sec, nil
	}
	width := s.wholeSpanWidth()
	for _, p := range s.res.Order {
		if s.capacity[p] == nil {
			sec.Notes = append(sec.Notes, fmt.Sprintf("No capacity chart for %s: the result holds no trace of it.", p))
			continue
		}
		plt := newTimePlot(fmt.Sprintf("%s: demand and ready capacity", p), s.start, s.end)
		lo, hi := s.shortfall(p)
		err := errors.Join(
			addRibbon(plt, bucket(lo, s.start, s.sync, s.start, s.end, width, minOf),
				bucket(hi, s.start, s.sync, s.start, s.end, width, maxOf), chartColor(shortColor), "under-provisioned"),
			addStepLine(plt, bucket(s.res.Demand, s.start, s.step, s.start, s.end, width, maxOf), chartColor(demandColor), "demand (max)", nil),
			addStepLine(plt, bucket(s.capacity[p], s.start, s.sync, s.start, s.end, width, minOf), chartColor(p), "ready capacity (min)", nil),
		)
		svg, err := renderTime(plt, s.start, s.end, err)
		if err != nil {
			return sec, fmt.Errorf("capacity chart of %s: %w", p, err)
		}
		sec.Figures = append(sec.Figures, reportFigure{
			Caption: fmt.Sprintf("%s over the whole span, in buckets of %s: the demand's maximum and the ready capacity's minimum (ready replicas × %g) "+
				"in each, so short misses stay visible. Shaded: under-provisioned (demand above the ready capacity).",
				p, shortDuration(width.String()), s.res.Settings.CapacityPerReplica),
			SVG: svg,
		})
	}
	fig, err := zoomCapacityFigure(s)
	if err != nil {
		return sec, err
	}
	sec.Figures = append(sec.Figures, fig)
	return sec, nil
}

func zoomCapacityFigure(s *reportSeries) (reportFigure, error) {
	from, to, why := s.zoomWindow()
	plt := newTimePlot("demand and every policy's ready capacity", from, to)
	var errs []error
	if s.capacity[Reactive] != nil {
		lo, hi := s.shortfall(Reactive)
		errs = append(errs, addRibbon(plt, bucket(lo, s.start, s.sync, from, to, 0, minOf),
			bucket(hi, s.start, s.sync, from, to, 0, maxOf), chartColor(shortColor), "reactive under-provisioned"))
	}
	errs = append(errs, addStepLine(plt, bucket(s.res.Demand, s.start, s.step, from, to, 0, maxOf), chartColor(demandColor), "demand", nil))
	for _, p := range s.res.Order {
		if c := s.capacity[p]; c != nil {
			errs = append(errs, addStepLine(plt, bucket(c, s.start, s.sync, from, to, 0, minOf), chartColor(p), p, nil))
		}
	}
	svg, err := renderTime(plt, from, to, errors.Join(errs...))
	if err != nil {
		return reportFigure{}, fmt.Errorf("zoomed capacity chart: %w", err)
	}
	return reportFigure{
		Caption: fmt.Sprintf("From %s to %s UTC, %s, at full resolution: the demand and each policy's ready capacity.",
			reportTime(from), reportTime(to), why),
		SVG: svg,
	}, nil
}

// zoomWindow is the zoomSpan around the reactive policy's largest
// shortfall in the evaluated time, or else around the busiest day, within
// the span; why says which.
func (s *reportSeries) zoomWindow() (from, to time.Time, why string) {
	center, why := s.worstReactive()
	if why == "" {
		center, why = s.busiestDay()
	}
	from = center.Add(-zoomSpan / 2)
	if end := from.Add(zoomSpan); end.After(s.end) {
		from = s.end.Add(-zoomSpan)
	}
	if from.Before(s.start) {
		from = s.start
	}
	to = from.Add(zoomSpan)
	if to.After(s.end) {
		to = s.end
	}
	return from, to, why
}

func (s *reportSeries) worstReactive() (time.Time, string) {
	c := s.capacity[Reactive]
	first := 0
	if from := s.res.Input.EvaluatedFrom; from.After(s.start) {
		first = int((from.Sub(s.start) + s.sync - 1) / s.sync)
	}
	worst, at := 0.0, -1
	for k := first; k < len(c); k++ {
		if short := s.load[k] - c[k]; short > worst {
			worst, at = short, k
		}
	}
	if at < 0 {
		return time.Time{}, ""
	}
	t := s.start.Add(time.Duration(at) * s.sync)
	return t, fmt.Sprintf("around the reactive HPA's largest shortfall (a load of %.4g above its ready capacity at %s)", worst, reportTime(t))
}

func (s *reportSeries) busiestDay() (time.Time, string) {
	vals := s.res.Demand
	day := max(1, int(24*time.Hour/s.step))
	if len(vals) <= day {
		return s.start.Add(s.end.Sub(s.start) / 2), "the whole span"
	}
	sum, best, at := 0.0, math.Inf(-1), 0
	for i, v := range vals {
		if !math.IsNaN(v) {
			sum += v
		}
		if j := i - day; j >= 0 && !math.IsNaN(vals[j]) {
			sum -= vals[j]
		}
		if i >= day-1 && sum > best {
			best, at = sum, i-day+1
		}
	}
	from := s.start.Add(time.Duration(at) * s.step)
	return from.Add(12 * time.Hour), fmt.Sprintf("around the busiest day (the 24 hours from %s)", reportTime(from))
}

func bandSection(s *reportSeries) (reportSection, error) {
	sec := reportSection{Heading: "Forecast band"}
	b := s.res.Band
	switch {
	case b == nil:
		sec.Notes = append(sec.Notes, "No forecast band chart: the result holds no forecast band (the prescale policy did not run).")
		return sec, nil
	case !s.timed():
		sec.Notes = append(sec.Notes, "No forecast band chart: the result has no time span.")
		return sec, nil
	}
	from, to, why := s.zoomWindow()
	zoom, err := bandFigure(s, from, to, 0)
	if err != nil {
		return sec, fmt.Errorf("zoomed band chart: %w", err)
	}
	zoom.Caption = fmt.Sprintf("From %s to %s UTC, %s, at full resolution. ", reportTime(from), reportTime(to), why) + zoom.Caption
	width := s.wholeSpanWidth()
	whole, err := bandFigure(s, s.start, s.end, width)
	if err != nil {
		return sec, fmt.Errorf("band chart: %w", err)
	}
	whole.Caption = fmt.Sprintf("The whole span in buckets of %s (the band's extremes, the forecast's mean, the demand's maximum). ",
		shortDuration(width.String())) + whole.Caption
	sec.Figures = append(sec.Figures, zoom, whole)
	return sec, nil
}

func bandFigure(s *reportSeries, from, to time.Time, width time.Duration) (reportFigure, error) {
	b := s.res.Band
	lead := shortDuration(s.res.Settings.Lead)
	plt := newTimePlot(fmt.Sprintf("forecast made %s ahead against the demand", lead), from, to)
	spans := timeSpans(s.res.Anomalies, from, to)
	shifts := timesWithin(s.res.LevelShifts, from, to)
	addSpans(plt, spans, chartColor(anomalyColor), "anomaly")
	err := errors.Join(
		addRibbon(plt, bucket(b.Low, s.start, s.step, from, to, width, minOf),
			bucket(b.High, s.start, s.step, from, to, width, maxOf), chartColor(bandColor), "0.1–0.9 quantiles"),
		addStepLine(plt, bucket(s.res.Demand, s.start, s.step, from, to, width, maxOf), chartColor(demandColor), "demand", nil),
		addStepLine(plt, bucket(b.Mid, s.start, s.step, from, to, width, meanOf), chartColor(Prescale),
			fmt.Sprintf("quantile %g", s.res.Settings.Quantile), []vg.Length{vg.Points(4), vg.Points(2)}),
	)
	addVLines(plt, shifts, chartColor(shiftColor), "level shift", nil)
	svg, err := renderTime(plt, from, to, err)
	if err != nil {
		return reportFigure{}, err
	}
	return reportFigure{
		Caption: fmt.Sprintf("The band is the prescale forecast for each step made %s before it: its 0.1 to 0.9 quantiles, "+
			"and the quantile it provisions for. %d anomaly spans are shaded and %d level shifts marked in this window.",
			lead, len(spans), len(shifts)),
		SVG: svg,
	}, nil
}

func timeSpans(spans []TimeSpan, from, to time.Time) [][2]float64 {
	var out [][2]float64
	for _, sp := range spans {
		if sp.End.After(from) && sp.Start.Before(to) {
			out = append(out, [2]float64{chartX(sp.Start), chartX(sp.End)})
		}
	}
	return out
}

func timesWithin(times []time.Time, from, to time.Time) []float64 {
	var out []float64
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			out = append(out, chartX(t))
		}
	}
	return out
}

func frontierSection(s *reportSeries) (reportSection, error) {
	sec := reportSection{Heading: "Cost against risk"}
	res := s.res
	keys := frontierKeys(res.Frontier)
	if len(keys) == 0 {
		sec.Notes = append(sec.Notes, "No frontier chart: the backtest ran without a sweep.")
		return sec, nil
	}
	plt := plot.New()
	plt.Title.Text = "replica-hours against under-provisioned minutes"
	plt.X.Label.Text = "replica-hours"
	plt.Y.Label.Text = "under-provisioned minutes"
	plt.Add(plotter.NewGrid())
	var errs []error
	for _, p := range keys {
		errs = append(errs, addSweep(plt, p, res.Frontier[p]))
	}
	for _, p := range res.Order {
		if len(res.Frontier[p]) > 0 || res.Policies[p] == nil {
			continue
		}
		m := res.Policies[p]
		name := p
		if knob := knobLabel(p, m.Knob); knob != "—" {
			name += " (" + knob + ")"
		}
		errs = append(errs, addMarker(plt, m.ReplicaHours, m.UnderprovisionedMinutes, chartColor(p), draw.BoxGlyph{}, name))
	}
	caption := "Each swept policy's replica-hours and under-provisioned minutes at each setting (labelled: the reactive HPA's margin, " +
		"prescale's quantile); the other policies at their own settings as single markers."
	if e := res.EqualCost; e != nil && finite(e.ReplicaHours) && e.ReplicaHours > 0 {
		addVLines(plt, []float64{e.ReplicaHours}, chartColor(equalColor),
			fmt.Sprintf("equal cost (reactive +%.4g%%)", 100*e.ReferenceMargin), []vg.Length{vg.Points(4), vg.Points(3)})
		caption += fmt.Sprintf(" The vertical line is the cost of the reactive HPA with a %g%% margin, %.1f replica-hours.", 100*e.ReferenceMargin, e.ReplicaHours)
		if res.ReductionAtEqualCost != nil {
			errs = append(errs, addMarker(plt, e.ReplicaHours, e.PrescaleUnderprovisionedMinutes, chartColor(Prescale),
				draw.CrossGlyph{}, "prescale at equal cost"))
		}
	}
	var svg template.HTML
	err := errors.Join(errs...)
	if err == nil {
		plt.Y.Min = math.Min(plt.Y.Min, 0)
		svg, err = renderSVG(plt, 8*vg.Inch, 5*vg.Inch)
	}
	if err != nil {
		return sec, fmt.Errorf("frontier chart: %w", err)
	}
	sec.Figures = append(sec.Figures, reportFigure{Caption: caption, SVG: svg})
	return sec, nil
}

// frontierKeys lists the swept policies with points, in report order.
func frontierKeys(f map[string][]FrontierPoint) []string {
	var keys []string
	for p, pts := range f {
		if len(pts) > 0 {
			keys = append(keys, p)
		}
	}
	rank := func(p string) int {
		if i := slices.Index(Policies(), p); i >= 0 {
			return i
		}
		return len(Policies())
	}
	sort.Slice(keys, func(a, b int) bool {
		if ra, rb := rank(keys[a]), rank(keys[b]); ra != rb {
			return ra < rb
		}
		return keys[a] < keys[b]
	})
	return keys
}

func addSweep(plt *plot.Plot, policy string, pts []FrontierPoint) error {
	var xys plotter.XYs
	var labels []string
	for _, pt := range pts {
		if finite(pt.ReplicaHours) && finite(pt.UnderprovisionedMinutes) {
			xys = append(xys, plotter.XY{X: pt.ReplicaHours, Y: pt.UnderprovisionedMinutes})
			labels = append(labels, knobLabel(policy, pt.Knob))
		}
	}
	if len(xys) == 0 {
		return nil
	}
	line, marks, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color = chartColor(policy)
	marks.Color = chartColor(policy)
	marks.Shape = draw.CircleGlyph{}
	text, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	text.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
	for j := range text.TextStyle {
		text.TextStyle[j].Font.Size = vg.Points(8)
		text.TextStyle[j].Color = chartColor(policy)
	}
	plt.Add(line, marks, text)
	plt.Legend.Add(policy+" sweep", line, marks)
	return nil
}

func addMarker(plt *plot.Plot, x, y float64, c color.Color, shape draw.GlyphDrawer, name string) error {
	if !finite(x) || !finite(y) {
		return nil
	}
	sc, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return err
	}
	sc.Color, sc.Shape, sc.Radius = c, shape, vg.Points(4)
	plt.Add(sc)
	plt.Legend.Add(name, sc)
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Plot helpers.

// newTimePlot is a plot of load over [from, to] with UTC time ticks.
func newTimePlot(title string, from, to time.Time) *plot.Plot {
	plt := plot.New()
	plt.Title.Text = title
	plt.X.Label.Text = "time (UTC)"
	plt.Y.Label.Text = "load"
	format := "01-02 15:04"
	if tickInterval(to.Sub(from).Seconds()) >= 24*time.Hour.Seconds() {
		format = "2006-01-02"
	}
	plt.X.Tick.Marker = plot.TimeTicks{Ticker: timeTicker{}, Format: format}
	plt.Add(plotter.NewGrid())
	return plt
}

// timeTicker puts ticks at round times: every minute to every four weeks,
// at most about six.
type timeTicker struct{}

func (timeTicker) Ticks(lo, hi float64) []plot.Tick {
	iv := tickInterval(hi - lo)
	if iv == 0 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/iv) * iv; v <= hi; v += iv {
		ticks = append(ticks, plot.Tick{Value: v, Label: "t"}) // TimeTicks formats the label
	}
	return ticks
}

// tickInterval is the round interval (seconds) that puts at most about
// six ticks on span seconds (labels such as "07-13 06:00" need the room);
// 0 when none does.
func tickInterval(span float64) float64 {
	for _, d := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
		3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour} {
		if span/d.Seconds() <= 6 {
			return d.Seconds()
		}
	}
	return 0
}

func addStepLine(plt *plot.Plot, l stepLine, c color.Color, name string, dashes []vg.Length) error {
	for i, seg := range l.segments() {
		line, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		line.StepStyle = plotter.PostStep
		line.Color, line.Dashes = c, dashes
		plt.Add(line)
		if i == 0 {
			plt.Legend.Add(name, line)
		}
	}
	return nil
}

func addRibbon(plt *plot.Plot, lo, hi stepLine, c color.Color, name string) error {
	rings := ribbon(lo, hi)
	if len(rings) == 0 {
		return nil
	}
	xys := make([]plotter.XYer, len(rings))
	for i, r := range rings {
		xys[i] = r
	}
	poly, err := plotter.NewPolygon(xys...)
	if err != nil {
		return err
	}
	poly.Color = c
	poly.LineStyle.Width = 0
	plt.Add(poly)
	plt.Legend.Add(name, poly)
	return nil
}

func addSpans(plt *plot.Plot, spans [][2]float64, c color.Color, name string) {
	if len(spans) > 0 {
		p := &xSpans{spans: spans, color: c}
		plt.Add(p)
		plt.Legend.Add(name, p)
	}
}

func addVLines(plt *plot.Plot, xs []float64, c color.Color, name string, dashes []vg.Length) {
	if len(xs) > 0 {
		p := &xLines{xs: xs, style: draw.LineStyle{Color: c, Width: vg.Points(0.8), Dashes: dashes}}
		plt.Add(p)
		plt.Legend.Add(name, p)
	}
}

// renderTime draws a time plot over [from, to], with loads from zero,
// unless err (from building it) is set.
func renderTime(plt *plot.Plot, from, to time.Time, err error) (template.HTML, error) {
	if err != nil {
		return "", err
	}
	// The plotters widened the axes as they were added; the window is
	// set last.
	plt.X.Min, plt.X.Max = chartX(from), chartX(to)
	plt.Y.Min = math.Min(plt.Y.Min, 0)
	return renderSVG(plt, chartWidth, chartHeight)
}

func renderSVG(plt *plot.Plot, w, h vg.Length) (svg template.HTML, err error) {
	// A report comes after a long backtest: a drawing bug in the plot
	// library is reported as an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw chart: %v", r)
		}
	}()
	c := vgsvg.New(w, h)
	drawWithLegend(plt, draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	out := buf.String()
	// Drop the XML prolog, which HTML does not allow.
	if i := strings.Index(out, "<svg"); i >= 0 {
		out = out[i:]
	}
	return template.HTML(out), nil // drawn here, and vgsvg escapes its text
}

// drawWithLegend draws plt with its legend beside it, on the right, where
// it hides no data.
func drawWithLegend(plt *plot.Plot, c draw.Canvas) {
	legend := plt.Legend
	plt.Legend = plot.NewLegend()
	defer func() { plt.Legend = legend }()
	legend.TextStyle.Font.Size = vg.Points(10)
	legend.Top, legend.Left = true, true
	width := legend.Rectangle(c).Size().X
	if width > 0 {
		// Room to spare: a viewer without the embedded font's metrics
		// (Liberation) draws the labels with a wider fallback.
		width = width*1.25 + vg.Points(12)
	}
	plt.Draw(draw.Crop(c, 0, -width, 0, 0))
	legend.Draw(draw.Crop(c, c.Size().X-width+vg.Points(8), 0, 0, -vg.Points(24)))
}

// xSpans shades x ranges over the plot's full height.
type xSpans struct {
	spans [][2]float64
	color color.Color
}

func (p *xSpans) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, _ := plt.Transforms(&c)
	c.SetColor(p.color)
	for _, sp := range p.spans {
		x0 := max(trX(sp[0]), c.Min.X)
		x1 := min(trX(sp[1]), c.Max.X)
		if x1 > x0 {
			c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
		}
	}
}

func (p *xSpans) Thumbnail(c *draw.Canvas) {
	c.SetColor(p.color)
	c.Fill(c.Rectangle.Path())
}

// xLines draws vertical lines over the plot's full height.
type xLines struct {
	xs    []float64
	style draw.LineStyle
}

func (p *xLines) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, _ := plt.Transforms(&c)
	for _, x := range p.xs {
		if px := trX(x); px >= c.Min.X && px <= c.Max.X {
			c.StrokeLine2(p.style, px, c.Min.Y, px, c.Max.Y)
		}
	}
}

// DataRange widens the x axis to the lines; they have no y extent.
func (p *xLines) DataRange() (xmin, xmax, ymin, ymax float64) {
	return slices.Min(p.xs), slices.Max(p.xs), math.Inf(1), math.Inf(-1)
}

func (p *xLines) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(p.style, x, c.Min.Y, x, c.Max.Y)
}
