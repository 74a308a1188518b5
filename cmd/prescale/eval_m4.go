package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
)

// M4 Hourly constants: the forecast horizon, the seasonality MASE uses, and
// the published Naive2 aggregate accuracy that OWA is relative to
// (Makridakis et al. 2020; shared/data/m4/README).
const (
	m4Horizon      = 48
	m4Seasonality  = 24
	m4Naive2SMAPE  = 18.383
	m4Naive2MASE   = 2.395
	m4PublishedRef = "published M4 Hourly: seasonal naive 1.193 MASE, winner (Smyl) 0.893, best Hourly entry (Doornik) 0.801"
)

// m4Summary is the accuracy of one model over all series.
type m4Summary struct {
	MASE       float64 `json:"mase"`
	SMAPE      float64 `json:"smape"`
	OWA        float64 `json:"owa"`
	Coverage80 float64 `json:"coverage80"`
	Coverage95 float64 `json:"coverage95"`
	FitMS      float64 `json:"fit_ms_per_series"`
	Fallbacks  int     `json:"fallbacks"` // series whose fit gave a reason (a season dropped or a simpler model)
}

type m4Report struct {
	Series  int                   `json:"series"`
	Horizon int                   `json:"horizon"`
	Models  map[string]*m4Summary `json:"models"`
}

func runEvalM4(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval m4", "eval m4 --data DIR [--json] [--models auto,naive,...]", e.stderr)
	dataDir := fs.String("data", defaultDataDir(), "shared data directory holding m4/Hourly-{train,test}.csv (default $PRESCALE_DATA or ../shared/data)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	models := fs.String("models", strings.Join(append(forecast.Kinds()[1:], forecast.KindAuto), ","), "comma-separated model kinds to evaluate")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "series fitted in parallel (1 gives the truest fit times)")
	limit := fs.Int("limit", 0, "evaluate only the first N series, for a quick check (0 = all)")
	lead := fs.Int("lead", 0, "fit with the short-horizon dynamics scored this many steps ahead, as prescale serve does for a target's lead window (0: the seasonal models alone)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kinds := strings.Split(*models, ",")
	for _, k := range kinds {
		if !slices.Contains(forecast.Kinds(), k) {
			return fmt.Errorf("%w: --models: unknown model %q (have %v)", errUsage, k, forecast.Kinds())
		}
	}
	if *workers < 1 {
		return fmt.Errorf("%w: --workers must be at least 1", errUsage)
	}
	dir := *dataDir
	if filepath.Base(dir) != "m4" {
		dir = filepath.Join(dir, "m4")
	}
	train, err := feed.ReadM4File(filepath.Join(dir, "Hourly-train.csv"), time.Hour)
	if err != nil {
		return err
	}
	test, err := feed.ReadM4File(filepath.Join(dir, "Hourly-test.csv"), time.Hour)
	if err != nil {
		return err
	}
	if len(train) != len(test) {
		return fmt.Errorf("%s: %d training series but %d test series", dir, len(train), len(test))
	}
	if *limit < 0 {
		return fmt.Errorf("%w: --limit must not be negative", errUsage)
	}
	if *limit > 0 && *limit < len(train) {
		train, test = train[:*limit], test[:*limit]
	}
	report := m4Report{Series: len(train), Horizon: m4Horizon, Models: map[string]*m4Summary{}}
	for _, kind := range kinds {
		s, err := evalM4Model(ctx, kind, train, test, *workers, *lead)
		if err != nil {
			return err
		}
		report.Models[kind] = s
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(e.stdout, "M4 Hourly: %d series, horizon %d, MASE seasonality %d\n\n", report.Series, report.Horizon, m4Seasonality)
	fmt.Fprintln(tw, "model\tMASE\tsMAPE\tOWA\tcover 80%\tcover 95%\tfit ms/series\tfallbacks\t")
	for _, kind := range kinds {
		s := report.Models[kind]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.1f%%\t%.1f%%\t%.2f\t%d\t\n", kind, s.MASE, s.SMAPE, s.OWA, 100*s.Coverage80, 100*s.Coverage95, s.FitMS, s.Fallbacks)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\n%s; statsmodels damped additive Holt-Winters measured 2.435 MASE and 154 ms/series here.\n", m4PublishedRef)
	return nil
}

// evalM4Model fits kind to every training series, forecasts the test
// horizon and averages the accuracy over series (the M4 way).
func evalM4Model(ctx context.Context, kind string, train, test []feed.Series, workers, lead int) (*m4Summary, error) {
	lo80, hi80 := forecast.IntervalQuantiles(0.8)
	lo95, hi95 := forecast.IntervalQuantiles(0.95)
	quantiles := []float64{lo95, lo80, hi80, hi95}
	type result struct {
		acc      forecast.Accuracy
		fit      time.Duration
		fallback bool
	}
	results := make([]result, len(train))
	err := parallel(ctx, len(train), workers, func(i int) error {
		r := &results[i]
		if len(test[i].Values) < m4Horizon {
			return fmt.Errorf("model %s: series %s: test part has %d points, want %d", kind, test[i].Name, len(test[i].Values), m4Horizon)
		}
		start := time.Now()
		f, err := forecast.Fit(train[i].Values, &forecast.Options{Model: kind, Horizon: m4Horizon, Step: time.Hour, Lead: lead})
		r.fit = time.Since(start)
		if err != nil {
			return fmt.Errorf("model %s: series %s: %w", kind, train[i].Name, err)
		}
		fc, err := f.Forecast(m4Horizon, quantiles)
		if err != nil {
			return fmt.Errorf("model %s: series %s: %w", kind, train[i].Name, err)
		}
		r.fallback = f.Reason != ""
		r.acc = forecast.Score(train[i].Values, test[i].Values[:m4Horizon], m4Seasonality, fc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &m4Summary{}
	for _, r := range results {
		s.MASE += r.acc.MASE
		s.SMAPE += r.acc.SMAPE
		s.Coverage80 += r.acc.Coverage[0.8]
		s.Coverage95 += r.acc.Coverage[0.95]
		s.FitMS += float64(r.fit) / float64(time.Millisecond)
		if r.fallback {
			s.Fallbacks++
		}
	}
	n := float64(len(results))
	s.MASE /= n
	s.SMAPE /= n
	s.Coverage80 /= n
	s.Coverage95 /= n
	s.FitMS /= n
	s.OWA = (s.SMAPE/m4Naive2SMAPE + s.MASE/m4Naive2MASE) / 2
	return s, nil
}
