package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// runEval dispatches the benchmark evaluations.
func runEval(ctx context.Context, e *env, args []string) error {
	benchmarks := map[string]func(context.Context, *env, []string) error{
		"events": runEvalEvents,
		"m4":     runEvalM4,
		"nab":    runEvalNAB,
		"outage": runEvalOutage,
		"panel":  runEvalPanel,
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stderr, `Usage: prescale eval BENCHMARK --data DIR [flags]   (prescale eval BENCHMARK -h for its flags)

Measures prescale on the public data in DIR (../shared/data: see its README) and prints the figures,
with --json for machines:

  events  what a calendar of known events buys: the backtest without and with it (--events), at
          equal cost, on a seeded synthetic trace of named events and on NASA-HTTP with STS-70
  m4      forecast accuracy on the 414 M4 Hourly series (horizon 48): MASE, sMAPE, OWA, interval
          coverage and fit time per model and for auto, beside the published M4 results
  nab     anomaly detection on the 58 series of the Numenta Anomaly Benchmark, streamed without
          look-ahead: the standard, low-FP and low-FN scores beside the published scoreboard
  outage  what anomaly-aware training does after NASA-HTTP's August 1995 outage: each next day's
          error and level, fitted with and without it
  panel   the backtest, with --sweep, on every trace of the panel (NASA-HTTP, the Twitter stream,
          seeded synthetic flash crowds): reduction of under-provisioned minutes at equal cost
          against a reactive HPA, where the frontiers cross, and the forecast's coverage
`)
		if len(args) == 0 {
			return fmt.Errorf("%w: name a benchmark: events, m4, nab, outage or panel", errUsage)
		}
		return nil
	}
	run, ok := benchmarks[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown benchmark %q (have: events, m4, nab, outage, panel)", errUsage, args[0])
	}
	return run(ctx, e, args[1:])
}

// parallel calls fn(i) for i in [0, n) on at most workers goroutines and
// returns the first error by index, or ctx's error if it was cancelled. An
// error does not stop the other calls.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	var g errgroup.Group
	g.SetLimit(max(1, workers))
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			errs[i] = fn(i)
			return nil
		})
	}
	_ = g.Wait() // the errors are in errs, to report the first by index
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// defaultDataDir is $PRESCALE_DATA, else ../shared/data as laid out beside
// a checkout.
func defaultDataDir() string {
	if d := os.Getenv("PRESCALE_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "data")
}
