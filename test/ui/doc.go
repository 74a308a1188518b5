// Package ui tests prescale's web pages as a person sees them: in headless
// Chromium (Debian's chromium, installed by .ci/chromium.sh), driven with
// chromedp against the built binary in demo mode. It is its own module so
// that chromedp stays out of prescale's go.mod; `make test-ui` runs it.
//
// The tests write a screenshot of each page to $UI_ARTIFACTS (bin/ui by
// default). BenchmarkPages1000 measures the page weight and the time to
// first render with 1,000 targets.
package ui
