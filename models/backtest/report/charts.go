package report

import (
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/prescale/prescale/models/backtest"
)

// The charts of each section of the page, from the series.

// Colors of the things drawn: each policy's, and these.
const (
	demandColor  = "demand"
	shortColor   = "short"
	bandColor    = "band"
	anomalyColor = "anomaly"
	shiftColor   = "shift"
	equalColor   = "equal"
	eventColor   = "event"
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
	case eventColor:
		return color.NRGBA{R: 44, G: 160, B: 44, A: 55}
	case backtest.Reactive:
		return color.NRGBA{R: 214, G: 39, B: 40, A: 255}
	case backtest.Margin:
		return color.NRGBA{R: 255, G: 127, B: 14, A: 255}
	case backtest.Prescale:
		return color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	case backtest.Oracle:
		return color.NRGBA{R: 44, G: 160, B: 44, A: 255}
	}
	return color.NRGBA{R: 140, G: 86, B: 75, A: 255}
}

func capacitySection(s *series) (section, error) {
	sec := section{Heading: "Demand and ready capacity"}
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
		addEvents(plt, s, s.start, s.end)
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
		sec.Figures = append(sec.Figures, figure{
			Caption: fmt.Sprintf("%s over the whole span, in buckets of %s: the demand's maximum and the ready capacity's minimum (ready replicas × %g) "+
				"in each, so short misses stay visible. Shaded: under-provisioned (demand above the ready capacity).",
				p, shortDuration(width.String()), s.res.Settings.CapacityPerReplica) + eventsNote(s),
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

func zoomCapacityFigure(s *series) (figure, error) {
	from, to, why := s.zoomWindow()
	plt := newTimePlot("demand and every policy's ready capacity", from, to)
	addEvents(plt, s, from, to)
	var errs []error
	if s.capacity[backtest.Reactive] != nil {
		lo, hi := s.shortfall(backtest.Reactive)
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
		return figure{}, fmt.Errorf("zoomed capacity chart: %w", err)
	}
	return figure{
		Caption: fmt.Sprintf("From %s to %s UTC, %s, at full resolution: the demand and each policy's ready capacity.",
			formatTime(from), formatTime(to), why) + eventsNote(s),
		SVG: svg,
	}, nil
}

func bandSection(s *series) (section, error) {
	sec := section{Heading: "Forecast band"}
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
	zoom.Caption = fmt.Sprintf("From %s to %s UTC, %s, at full resolution. ", formatTime(from), formatTime(to), why) + zoom.Caption
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

func bandFigure(s *series, from, to time.Time, width time.Duration) (figure, error) {
	b := s.res.Band
	lead := shortDuration(s.res.Settings.Lead)
	plt := newTimePlot(fmt.Sprintf("forecast made %s ahead against the demand", lead), from, to)
	spans := timeSpans(s.res.Anomalies, from, to)
	shifts := timesWithin(s.res.LevelShifts, from, to)
	marked := sparse(shifts, chartX(from), chartX(to), maxShiftMarkers)
	addSpans(plt, spans, chartColor(anomalyColor), "anomaly")
	addEvents(plt, s, from, to)
	err := errors.Join(
		addRibbon(plt, bucket(b.Low, s.start, s.step, from, to, width, minOf),
			bucket(b.High, s.start, s.step, from, to, width, maxOf), chartColor(bandColor), "0.1–0.9 quantiles"),
		addStepLine(plt, bucket(s.res.Demand, s.start, s.step, from, to, width, maxOf), chartColor(demandColor), "demand", nil),
		addStepLine(plt, bucket(b.Provision, s.start, s.step, from, to, width, meanOf), chartColor(backtest.Prescale),
			fmt.Sprintf("provisioned (q %g)", s.res.Settings.Quantile), []vg.Length{vg.Points(4), vg.Points(2)}),
	)
	addVLines(plt, marked, chartColor(shiftColor), "level shift", nil)
	svg, err := renderTime(plt, from, to, err)
	if err != nil {
		return figure{}, err
	}
	shiftNote := fmt.Sprintf(" and %d level shifts marked in this window.", len(shifts))
	if len(marked) < len(shifts) {
		shiftNote = fmt.Sprintf("; of the %d level shifts in this window, the first in each 1/%d of it is marked.", len(shifts), maxShiftMarkers)
	}
	return figure{
		Caption: fmt.Sprintf("The band is the prescale forecast for each step made %s before it: its 0.1 to 0.9 quantiles, "+
			"and the load it provisions at its quantile. %d anomaly spans are shaded", lead, len(spans)) + shiftNote + eventsNote(s),
		SVG: svg,
	}, nil
}

// addEvents shades the windows of the known events (--events or
// --measure-events) within [from, to).
func addEvents(plt *plot.Plot, s *series, from, to time.Time) {
	ev := s.res.Settings.Events
	if ev == nil {
		return
	}
	var spans []backtest.TimeSpan
	for _, o := range ev.Occurrences {
		spans = append(spans, backtest.TimeSpan{Start: o.From, End: o.To})
	}
	if sp := timeSpans(spans, from, to); len(sp) > 0 {
		addSpans(plt, sp, chartColor(eventColor), "known event")
	}
}

// eventsNote says what the green shading is, when there is any.
func eventsNote(s *series) string {
	ev := s.res.Settings.Events
	if ev == nil {
		return ""
	}
	told := "prescale was told of them"
	if !ev.Told {
		told = "measured only: prescale was not told of them"
	}
	return fmt.Sprintf(" Green: the windows (lead, event, lag) of the %d known events of %s (%s).", len(ev.Occurrences), ev.File, told)
}

func frontierSection(s *series) (section, error) {
	sec := section{Heading: "Cost against risk"}
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
	caption := "Each swept policy's replica-hours and under-provisioned minutes at each setting (labelled: the reactive HPA's headroom, " +
		"prescale's quantile); the other policies at their own settings as single markers."
	if e := res.EqualCost; e != nil && finite(e.ReplicaHours) && e.ReplicaHours > 0 {
		addVLines(plt, []float64{e.ReplicaHours}, chartColor(equalColor),
			fmt.Sprintf("equal cost (reactive +%.4g%%)", 100*e.ReferenceHeadroom), []vg.Length{vg.Points(4), vg.Points(3)})
		caption += fmt.Sprintf(" The vertical line is the cost of the reactive HPA with a %g%% headroom, %.1f replica-hours.", 100*e.ReferenceHeadroom, e.ReplicaHours)
		if res.ReductionAtEqualCost != nil {
			errs = append(errs, addMarker(plt, e.ReplicaHours, e.PrescaleUnderprovisionedMinutes, chartColor(backtest.Prescale),
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
	sec.Figures = append(sec.Figures, figure{Caption: caption, SVG: svg})
	return sec, nil
}

// addSweep draws a swept policy's frontier, each point labelled with its
// setting.
func addSweep(plt *plot.Plot, policy string, pts []backtest.FrontierPoint) error {
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
