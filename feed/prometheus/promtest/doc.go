// Package promtest runs a real Prometheus server (Debian's prometheus 2.42)
// for integration tests: on a free loopback port, with a temporary data
// directory, loaded with history the way users load it (promtool backfill
// from OpenMetrics text, and the remote-write receiver for live points).
//
// Start fails the test, never skips it, when the prometheus or promtool
// binary is missing: run .ci/prometheus.sh (or make test) to install them.
//
// A test of a Prometheus client:
//
//	func TestMain(m *testing.M) { promtest.Main(m) } // goroutine (goleak) and leftover-process check
//
//	func TestReadBack(t *testing.T) {
//		t.Parallel()
//		load := promtest.Series{Name: "load", Labels: map[string]string{"job": "web"},
//			Start: time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC), Step: time.Minute, Values: values}
//		srv := promtest.Start(t, &promtest.Options{Series: []promtest.Series{load}})
//		// query srv.URL for load.Selector(); srv.Kill() to take it away mid-query
//	}
package promtest
