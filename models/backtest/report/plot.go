package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Helpers on gonum/plot: step lines and ribbons over buckets, time axes,
// markers, and drawing a plot as inline SVG.

const (
	chartWidth  = 10 * vg.Inch
	chartHeight = 3.6 * vg.Inch
)

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
