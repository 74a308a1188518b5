package ui

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// JavaScript the tests evaluate.
const (
	rowCount    = `document.querySelectorAll("#targets tbody tr").length`
	pageWidthJS = `document.documentElement.scrollWidth`
)

// longQuery makes a fetch error of about 1.5 KB with no space in it: the
// demo source names the query it does not serve.
var longQuery = "sum(rate(http_requests_total{job=\\\"" + strings.Repeat("checkout-frontend-", 80) + "\\\"}[5m]))"

// startFleet runs the demo with --auth=none and two more targets: another
// simulated workload, with a known event ahead, and one whose query the
// demo does not serve, so that its fetch error is long. It waits until the demo target has a model and
// the broken one its error.
func startFleet(t *testing.T) *server {
	s := startServer(t, "--auth=none")
	// shop-checkout has a launch in 40 minutes, whose window opens 30
	// minutes before it.
	launch := time.Now().Add(40 * time.Minute).UTC().Truncate(time.Minute).Format(time.RFC3339)
	s.create(t, `{"name":"shop-checkout","query":"demo:3","capacityPerReplica":40,"leadTime":"2m","history":"2d",
		"events":[{"name":"launch","start":"`+launch+`","duration":"1h","lead":"30m","multiplier":3}]}`)
	s.create(t, `{"name":"broken","query":"`+longQuery+`","capacityPerReplica":10,"leadTime":"1m"}`)
	waitFor(t, "the demo fitted and broken failing", 2*time.Minute, func() bool {
		var list struct{ Targets []target }
		s.get(t, "/v1/targets", &list)
		fitted, failing := false, false
		for _, tg := range list.Targets {
			fitted = fitted || tg.Spec.Name == "demo" && tg.Model.Kind != ""
			failing = failing || tg.Spec.Name == "broken" && tg.Data.FetchError != ""
		}
		return fitted && failing
	})
	return s
}

// TestFleetPage loads the fleet page: every target is listed without a
// console error, the demo is marked, sparklines are drawn from the API,
// a long error wraps instead of widening the page, and sorting and
// filtering work.
func TestFleetPage(t *testing.T) {
	s := startFleet(t)
	b := newBrowser(t, 1400, 900)
	b.do(t,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#targets tbody tr[data-name="demo"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="demo"] path.spark-load`)),
	)
	rows := eval[int](t, b, rowCount)
	demoShown := eval[bool](t, b, `!document.getElementById("demo").hidden`)
	if rows != 3 || !demoShown {
		t.Errorf("%d rows, demo banner shown %v; want 3 and true", rows, demoShown)
	}

	// The sparkline is the forecast's history: as many points as it has
	// finite values (M, then L for each next one).
	spark := eval[string](t, b, `document.querySelector('tr[data-name="demo"] path.spark-load').getAttribute("d")`)
	var fc struct {
		History []*float64 `json:"history"`
	}
	s.get(t, "/v1/targets/demo/forecast?history=6h&horizon=1h&quantiles=0.5", &fc)
	finite := 0
	for _, v := range fc.History {
		if v != nil {
			finite++
		}
	}
	if got := strings.Count(spark, "M") + strings.Count(spark, "L"); math.Abs(float64(got-finite)) > 2 {
		t.Errorf("sparkline of %d points, the API's history has %d", got, finite)
	}

	// The long error wraps: the page is no wider than the window.
	b.screenshot(t, "fleet")

	// The long error: folded to a line or two, open on a click, and wrapped
	// either way: the page is no wider than the window.
	folded := eval[float64](t, b, `document.querySelector('tr[data-name="broken"]').getBoundingClientRect().height`)
	b.do(t, chromedp.Click(chromedp.CSS(`tr[data-name="broken"] details.error summary`)))
	errText := eval[string](t, b, `document.querySelector('tr[data-name="broken"] details.error').textContent`)
	opened := eval[float64](t, b, `document.querySelector('tr[data-name="broken"]').getBoundingClientRect().height`)
	pageWidth, windowWidth := eval[int](t, b, pageWidthJS), eval[int](t, b, `window.innerWidth`)
	if len(errText) < 1000 || folded > 200 || opened <= folded || pageWidth > windowWidth {
		t.Errorf("error of %d bytes: row %.0fpx high folded, %.0fpx open; page %dpx wide in a %dpx window; want it folded, and wrapped", len(errText), folded, opened, pageWidth, windowWidth)
	}
	b.screenshot(t, "fleet-error-open")

	// Sorting by replicas, descending, then filtering.
	b.do(t, chromedp.Click(chromedp.CSS(`th[data-key="name"]`))) // name descending
	first := eval[string](t, b, `document.querySelector("#targets tbody tr:first-child td:first-child a").textContent`)
	sortState := eval[string](t, b, `document.querySelector('th[data-key="name"]').getAttribute("aria-sort")`)
	if first != "shop-checkout" || sortState != "descending" {
		t.Errorf("sorted by name, descending: first %q, aria-sort %q", first, sortState)
	}
	b.do(t, chromedp.SendKeys(chromedp.CSS(`#filter`), "shop-"))
	if rows = eval[int](t, b, rowCount); rows != 1 {
		t.Errorf("filter 'shop-': %d rows, want 1", rows)
	}
	b.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input"));
		const s = document.getElementById("state"); s.value = "error"; s.dispatchEvent(new Event("change")); })()`))
	if rows = eval[int](t, b, rowCount); rows != 1 {
		t.Errorf("status filter 'errors': %d rows, want 1 (broken)", rows)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestTargetPage follows the demo's link from the fleet page, and checks
// that the charts hold the points the API returns, then that a target
// with a long error wraps it.
func TestTargetPage(t *testing.T) {
	s := startFleet(t)
	b := newBrowser(t, 1400, 900)
	b.do(t,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="demo"] a`)),
		chromedp.Click(chromedp.CSS(`tr[data-name="demo"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#chart-load canvas`)),
	)
	if path := eval[string](t, b, `location.pathname`); path != "/targets/demo" {
		t.Fatalf("the demo's link led to %s", path)
	}
	checkCharts(t, s, b)
	b.screenshot(t, "target")

	// Zoom: a drag across the load chart narrows the x scale.
	const xRange = `prescale.target.charts.load.scales.x.max - prescale.target.charts.load.scales.x.min`
	before := eval[float64](t, b, xRange)
	box := eval[[]float64](t, b, `(() => { const r = document.querySelector("#chart-load .u-over").getBoundingClientRect(); return [r.left, r.top, r.width, r.height] })()`)
	y := box[1] + box[3]/2
	b.do(t, chromedp.DragAndDropXY(box[0]+box[2]*0.3, y, box[0]+box[2]*0.5, y, 10))
	after := eval[float64](t, b, xRange)
	if !(after < before*0.5) || !eval[bool](t, b, `prescale.target.zoomed`) {
		t.Errorf("zoom: x range %v → %v", before, after)
	}

	// A target that never fetched: its page says why, and the error wraps.
	b.do(t,
		chromedp.Navigate(s.URL+"/targets/broken"),
		chromedp.WaitVisible(chromedp.CSS(`#summary .error`)),
	)
	problem := eval[string](t, b, `document.getElementById("problem").textContent`)
	pageWidth, windowWidth := eval[int](t, b, pageWidthJS), eval[int](t, b, `window.innerWidth`)
	if !strings.Contains(problem, "No model yet: its load cannot be read") {
		t.Errorf("broken target's page says %q, want that it has no model, for want of data", problem)
	}
	if pageWidth > windowWidth {
		t.Errorf("broken target's page %dpx wide in a %dpx window: the error must wrap", pageWidth, windowWidth)
	}
	b.screenshot(t, "target-error")
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestTargetEvents checks that a target's page lists its known events
// with the effect the API says each gets, and shades their windows.
func TestTargetEvents(t *testing.T) {
	s := startFleet(t)
	var st struct {
		Events []struct {
			Name        string  `json:"name"`
			WindowStart string  `json:"windowStart"`
			WindowEnd   string  `json:"windowEnd"`
			Effect      string  `json:"effect"`
			Factor      float64 `json:"factor"`
		} `json:"events"`
	}
	waitFor(t, "shop-checkout fitted, its launch listed", time.Minute, func() bool {
		s.get(t, "/v1/targets/shop-checkout", &st)
		return len(st.Events) == 1
	})
	if e := st.Events[0]; e.Name != "launch" || e.Effect != "declared" || e.Factor != 3 {
		t.Errorf("the API lists %+v, want the launch, declared ×3", e)
	}
	b := newBrowser(t, 1400, 900)
	b.do(t,
		chromedp.Navigate(s.URL+"/targets/shop-checkout"),
		chromedp.WaitVisible(chromedp.CSS(`#chart-load canvas`)),
		chromedp.WaitVisible(chromedp.CSS(`#events li`)),
	)
	item := eval[string](t, b, `document.querySelector("#events li").textContent`)
	if !strings.Contains(item, "launch") || !strings.Contains(item, "load ×3 its usual, as declared") {
		t.Errorf("the page lists %q, want the launch and its declared ×3", item)
	}
	span := eval[[]float64](t, b, `(() => { const e = prescale.target.data.events[0]; return [e.start, e.end] })()`)
	from, _ := time.Parse(time.RFC3339, st.Events[0].WindowStart)
	to, _ := time.Parse(time.RFC3339, st.Events[0].WindowEnd)
	if len(span) != 2 || int64(span[0]) != from.Unix() || int64(span[1]) != to.Unix() {
		t.Errorf("shaded window %v, the API's %v to %v", span, from, to)
	}
	// A known unknown reads as what sized it: the target's other events,
	// or the widening (the demo's load has no past event to size one by).
	for _, tc := range []struct {
		others int
		factor float64
		want   string
	}{
		{4, 4.2, "no past occurrence of its own and nothing declared: load ×4.20 its usual at the peak, as 4 past events of this target went"},
		{0, 2, "no past occurrence and nothing declared: the forecast is widened ×2"},
	} {
		got := eval[string](t, b, fmt.Sprintf(`(() => { const d = document.createElement("div");
			d.innerHTML = prescale.target.eventList([{name: "gala", start: "2030-01-05T18:00:00Z", end: "2030-01-05T19:00:00Z",
				effect: "unknown", factor: %g, others: %d}], Date.now() / 1000);
			return d.textContent })()`, tc.factor, tc.others))
		if !strings.Contains(got, tc.want) {
			t.Errorf("an unknown event sized by %d others reads %q, want %q", tc.others, got, tc.want)
		}
	}
	b.screenshot(t, "target-events")
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// checkCharts compares the target page's charts with the API's answers,
// fetched at the same minute (it reloads when a new point or a new
// recommendation came between).
func checkCharts(t *testing.T, s *server, b *browser) {
	t.Helper()
	type forecast struct {
		HistoryStart string     `json:"historyStart"`
		History      []*float64 `json:"history"`
		Start        string     `json:"start"`
		Provision    []float64  `json:"provision"`
		Quantiles    []struct {
			Level  float64   `json:"level"`
			Values []float64 `json:"values"`
		} `json:"quantiles"`
	}
	var recs struct {
		Recommendations []struct {
			Replicas int    `json:"replicas"`
			Time     string `json:"time"`
		} `json:"recommendations"`
	}
	for attempt := 0; ; attempt++ {
		var page pageData
		page = eval[pageData](t, b, `(() => { const d = prescale.target.data; return {
			X: d.load[0], Load: d.load[1], Median: d.load[2], Provisioned: d.load[5], Recommended: d.replicas[1], Start: prescale.target.forecast.start } })()`)
		var api forecast
		s.get(t, "/v1/targets/demo/forecast?history=6h&horizon=1h&quantiles=0.1,0.5,0.9", &api)
		s.get(t, "/v1/targets/demo/recommendations", &recs)
		if api.Start != page.Start {
			if attempt == 3 {
				t.Fatalf("the forecast moved on between the page's and the test's reads, 4 times")
			}
			b.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#chart-load canvas`)))
			continue
		}
		nh := len(api.History)
		if len(page.X) != nh+len(api.Quantiles[1].Values) {
			t.Fatalf("load chart: %d times, want %d of history and %d ahead", len(page.X), nh, len(api.Quantiles[1].Values))
		}
		hs, _ := time.Parse(time.RFC3339, api.HistoryStart)
		if page.X[0] == nil || int64(*page.X[0]) != hs.Unix() {
			t.Errorf("load chart starts at %v, the history at %v", page.X[0], hs)
		}
		for i, v := range api.History {
			if (v == nil) != (page.Load[i] == nil) || v != nil && *v != *page.Load[i] {
				t.Fatalf("load chart point %d: %v, the API's %v", i, deref(page.Load[i]), deref(v))
			}
		}
		for i, v := range api.Quantiles[1].Values {
			if p := page.Median[nh+i]; p == nil || *p != v {
				t.Fatalf("median point %d ahead: %v, the API's %v", i, deref(p), v)
			}
		}
		// The dashed line is what the recommendation provisions.
		if len(api.Provision) != len(api.Quantiles[1].Values) {
			t.Fatalf("the API's provision has %d values, want one per step ahead (%d)", len(api.Provision), len(api.Quantiles[1].Values))
		}
		for i, v := range api.Provision {
			if p := page.Provisioned[nh+i]; p == nil || *p != v {
				t.Fatalf("provisioned point %d ahead: %v, the API's %v", i, deref(p), v)
			}
		}
		last := recs.Recommendations[len(recs.Recommendations)-1].Replicas
		var drawn *float64
		for i := len(page.Recommended) - 1; i >= 0 && drawn == nil; i-- {
			drawn = page.Recommended[i]
		}
		if drawn == nil || int(*drawn) != last {
			// The recommendation may change within the minute (a fit, a
			// new point): reload, and fail only when it stays different.
			if attempt < 3 {
				b.do(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#chart-load canvas`)))
				continue
			}
			t.Errorf("replicas chart: the last recommended %v, the API's %d, 4 times", deref(drawn), last)
		}
		return
	}
}

// pageData is what checkCharts reads of the target page's charts.
type pageData struct {
	X, Load, Median, Provisioned, Recommended []*float64
	Start                                     string
}

func deref(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestPagesAskForAToken checks the pages under --auth.anonymous-reads=false:
// the API refuses the page's reads, and the page asks for a bearer token
// instead of failing silently.
func TestPagesAskForAToken(t *testing.T) {
	s := startServer(t, "--auth.anonymous-reads=false")
	b := newBrowser(t, 1200, 700)
	b.do(t,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token-form`)),
	)
	if problem := eval[string](t, b, `document.getElementById("problem").textContent`); !strings.Contains(problem, "needs an identity") {
		t.Errorf("the page says %q, want the API's reason", problem)
	}
	b.screenshot(t, "fleet-token")
}
