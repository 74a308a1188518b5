package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkPages1000 loads the fleet page and a target's page with 1,000
// targets (the demo and 999 more simulated workloads, each with a day of
// history), each time in a fresh browser context (an empty cache), and
// reports the time to first render (the page's mark once its table or
// charts are drawn, from the start of navigation), the first contentful
// paint, and the bytes transferred: at first render, and once the
// sparklines of the rows in view have loaded.
//
//	cd test/ui && GOWORK=off go test -run '^$' -bench Pages1000 -benchtime 3x
func BenchmarkPages1000(b *testing.B) {
	s := startServer(b, "--auth=none", "--max-targets", "1000")
	for i := 1; i < 1000; i++ {
		s.create(b, fmt.Sprintf(`{"name":"shop-%04d","query":"demo:%d","capacityPerReplica":50,"leadTime":"3m","history":"1d"}`, i, i))
	}
	waitFor(b, "1,000 targets fitted", 10*time.Minute, func() bool {
		var list struct{ Targets []target }
		s.get(b, "/v1/targets", &list)
		for _, tg := range list.Targets {
			if tg.Model.Kind == "" {
				return false
			}
		}
		return len(list.Targets) == 1000
	})
	br := newBrowser(b, 1400, 900)
	type figures struct{ render, fcp, bytesAtRender, bytesSettled, requests float64 }
	measure := func(url, mark string) figures {
		ctx, cancel := chromedp.NewContext(br.ctx, chromedp.WithNewBrowserContext())
		defer cancel()
		ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
		defer cancelT()
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`performance.getEntriesByName("`+mark+`").length > 0`)); err != nil {
			b.Fatal(err)
		}
		at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
			const m = performance.getEntriesByName("`+mark+`")[0].startTime;
			const nav = performance.getEntriesByType("navigation")[0];
			const fcp = performance.getEntriesByName("first-contentful-paint")[0];
			const res = performance.getEntriesByType("resource").filter((r) => r.responseEnd <= m);
			return [m, fcp ? fcp.startTime : -1, nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0)];
		})()`))
		if err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(3*time.Second)); err != nil {
			b.Fatal(err)
		}
		settled, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
			const nav = performance.getEntriesByType("navigation")[0];
			const res = performance.getEntriesByType("resource");
			return [nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), res.length + 1];
		})()`))
		if err != nil {
			b.Fatal(err)
		}
		return figures{at[0], at[1], at[2], settled[0], settled[1]}
	}
	var fleet, tgt figures
	b.ResetTimer()
	for range b.N {
		f := measure(s.URL+"/", "prescale-fleet-rendered")
		g := measure(s.URL+"/targets/shop-0500", "prescale-target-rendered")
		fleet.render += f.render / float64(b.N)
		fleet.fcp += f.fcp / float64(b.N)
		fleet.bytesAtRender, fleet.bytesSettled, fleet.requests = f.bytesAtRender, f.bytesSettled, f.requests
		tgt.render += g.render / float64(b.N)
		tgt.fcp += g.fcp / float64(b.N)
		tgt.bytesAtRender, tgt.bytesSettled, tgt.requests = g.bytesAtRender, g.bytesSettled, g.requests
	}
	b.ReportMetric(fleet.render, "fleet-render-ms")
	b.ReportMetric(fleet.bytesAtRender/1024, "fleet-KiB-at-render")
	b.ReportMetric(tgt.render, "target-render-ms")
	b.ReportMetric(tgt.bytesAtRender/1024, "target-KiB-at-render")
	fmt.Printf("fleet page, 1000 targets: first render %.0f ms (first contentful paint %.0f ms), %.0f KiB at first render, %.0f KiB in %.0f requests once the sparklines in view loaded\n",
		fleet.render, fleet.fcp, fleet.bytesAtRender/1024, fleet.bytesSettled/1024, fleet.requests)
	fmt.Printf("target page: first render %.0f ms (first contentful paint %.0f ms), %.0f KiB at first render, %.0f KiB in %.0f requests\n",
		tgt.render, tgt.fcp, tgt.bytesAtRender/1024, tgt.bytesSettled/1024, tgt.requests)
}
