package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"

	"github.com/prescale/prescale/models/backtest"
)

// Write writes res as one self-contained HTML page headed title: a
// summary, the metrics, and charts drawn as inline SVG. The page loads
// nothing else.
func Write(w io.Writer, res *backtest.Result, title string) error {
	if res == nil {
		return errors.New("report: no result to write")
	}
	pg, err := buildPage(res, title)
	if err != nil {
		return fmt.Errorf("build report: %w", err)
	}
	return pageTemplate.Execute(w, pg)
}

// page is what the template shows; html/template escapes every
// string in it, and only the SVG charts we drew are trusted.
type page struct {
	Title, Summary, Headline, Frontier string
	Definitions                        string
	Columns                            []string
	Rows                               [][]string
	Accuracy                           []field
	AccuracyNote                       string
	Timing                             string
	Sections                           []section
}

type field struct{ Name, Value string }

type section struct {
	Heading string
	Notes   []string
	Figures []figure
}

type figure struct {
	Caption string
	SVG     template.HTML
}

func buildPage(res *backtest.Result, title string) (*page, error) {
	pg := &page{
		Title:       title,
		Summary:     summary(res),
		Headline:    headline(res),
		Definitions: metricsDefinitions,
		Frontier:    frontierSentence(res.EqualCost),
		Timing:      timingSentence(&res.Timing),
	}
	pg.Columns, pg.Rows = metricsTable(res)
	pg.Accuracy, pg.AccuracyNote = accuracyFields(res)
	s := newSeries(res)
	for _, build := range []func(*series) (section, error){capacitySection, bandSection, frontierSection} {
		sec, err := build(s)
		if err != nil {
			return nil, err
		}
		pg.Sections = append(pg.Sections, sec)
	}
	return pg, nil
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
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
.defs{font-size:.9em;color:#444}
@media print{body{max-width:none;margin:0}figure{break-inside:avoid}h2{break-after:avoid}}
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
<p class="defs">{{.Definitions}}</p>
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
