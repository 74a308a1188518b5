package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/prometheus"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models/registry"
)

// historyFlags say where a load history comes from: a CSV file or a range
// of a Prometheus query.
type historyFlags struct {
	input, promURL, query, end, promHTTP, column *string
	span, step, promTimeout                      time.Duration
}

// addHistoryFlags defines the history flags on fs; verb says what is done
// with the range ("read", "replay").
func addHistoryFlags(fs *flag.FlagSet, verb string) *historyFlags {
	h := &historyFlags{
		input:    fs.String("input", "", "CSV load history with a header: a timestamp column and a value column"),
		promURL:  fs.String("prometheus.url", "", "read the history from this Prometheus server (e.g. http://prometheus:9090) instead of a CSV file"),
		query:    fs.String("query", "", "with --prometheus.url: the PromQL query giving the load, one series (e.g. sum(rate(http_requests_total[5m])))"),
		end:      fs.String("end", "", "with --prometheus.url: end of the history, RFC 3339 (default: now)"),
		promHTTP: fs.String("prometheus.http-config", "", "with --prometheus.url: a YAML file of Prometheus http_config settings (bearer token, basic auth, TLS, headers)"),
		column:   fs.String("column", "", "value column (default: the only non-timestamp column, or \"value\")"),
	}
	durationVar(fs, &h.span, "range", 14*24*time.Hour, "with --prometheus.url: the `duration` of history to "+verb+", ending at --end")
	durationVar(fs, &h.promTimeout, "prometheus.timeout", 0, "with --prometheus.url: timeout of one request, a `duration` (default 2m); long ranges are split and failed requests retried")
	durationVar(fs, &h.step, "step", 0, "grid step, a `duration` such as 1m (default: inferred from the timestamps; 1m from Prometheus)")
	return h
}

// read reads the history the flags name: the CSV file (with its
// statistics) or the Prometheus range.
func (h *historyFlags) read(ctx context.Context, e *env) (*feed.Series, feed.CSVStats, error) {
	if *h.promURL != "" {
		s, err := readPrometheus(ctx, e, *h.promURL, *h.query, h.span, *h.end, h.step, h.promTimeout, *h.promHTTP)
		return s, feed.CSVStats{}, err
	}
	f, err := os.Open(*h.input)
	if err != nil {
		return nil, feed.CSVStats{}, err
	}
	defer f.Close()
	return feed.ReadCSVStats(f, *h.input, &feed.CSVOptions{Column: *h.column, Step: h.step})
}

// savedModel is what --save writes and --load reads: the fitted forecaster
// and the time grid it was fitted on, so forecasts get their timestamps.
type savedModel struct {
	Series struct {
		Name   string        `json:"name"`
		Start  time.Time     `json:"start"`
		Step   time.Duration `json:"step_ns"`
		Points int           `json:"points"`
	} `json:"series"`
	Fitted *forecast.Fitted `json:"fitted"`
}

func runForecast(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("forecast", "forecast (--input FILE.csv | --prometheus.url URL --query PROMQL | --load MODEL.json) --horizon N|DURATION [flags]", e.stderr)
	f := addForecastFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	quantiles, err := f.check()
	if err != nil {
		return err
	}
	var saved *savedModel
	var stats feed.CSVStats
	if *f.load != "" {
		saved, err = loadModel(*f.load)
	} else {
		saved, stats, err = f.fit(ctx, e)
	}
	if err != nil {
		return err
	}
	horizon, err := parseHorizon(*f.horizon, saved.Series.Step)
	if err != nil {
		return fmt.Errorf("%w: --horizon: %v", errUsage, err)
	}
	res, err := saved.Fitted.Forecast(horizon, quantiles)
	if err != nil {
		return err
	}
	first := saved.Series.Start.Add(time.Duration(saved.Series.Points) * saved.Series.Step)
	times := make([]time.Time, horizon)
	for i := range times {
		times[i] = first.Add(time.Duration(i) * saved.Series.Step)
	}
	switch *f.format {
	case "json":
		var input *feed.CSVStats
		if *f.source.input != "" {
			input = &stats
		}
		return writeForecastJSON(e.stdout, saved, times, input, res)
	case "csv":
		return writeForecastCSV(e.stdout, times, res)
	}
	writeForecastSummary(e.stdout, *saved, res, stats, *f.source.input == "")
	return writeForecastTable(e.stdout, times, res)
}

// forecastFlags are the forecast command's flags.
type forecastFlags struct {
	source                             *historyFlags
	horizon, quantiles, model, seasons *string
	calibrate, format, save, load      *string
	keepAnomalies                      *bool
}

// addForecastFlags defines the forecast command's flags on fs.
func addForecastFlags(fs *flag.FlagSet) *forecastFlags {
	return &forecastFlags{
		source:        addHistoryFlags(fs, "read"),
		horizon:       fs.String("horizon", "", "how far ahead: a number of steps, or a duration such as 90m, 6h, 2d"),
		calibrate:     fs.String("calibrate", "48", "how far ahead the model is chosen and its intervals are calibrated on its past errors, in steps or as a duration; beyond, intervals widen by the square-root rule. Independent of --horizon, so that every horizon gets the same numbers from one fit"),
		quantiles:     fs.String("quantiles", "0.5,0.8,0.9,0.95", "quantile levels to forecast, each in (0,1)"),
		model:         fs.String("model", forecast.KindAuto, "model: "+strings.Join(forecast.Kinds(), "|")),
		seasons:       fs.String("seasons", "", "declared seasons as durations or step counts, e.g. 1d,1w (default: detected)"),
		format:        fs.String("format", "table", "output format: table|csv|json"),
		keepAnomalies: fs.Bool("keep-anomalies", false, "train on the history as it is (default: outages and one-off spikes are replaced before fitting)"),
		save:          fs.String("save", "", "write the fitted model to this JSON file"),
		load:          fs.String("load", "", "forecast from a model saved with --save instead of fitting one"),
	}
}

// check checks the flags that need no data and returns the quantiles.
func (f *forecastFlags) check() ([]float64, error) {
	if !slices.Contains([]string{"table", "csv", "json"}, *f.format) {
		return nil, fmt.Errorf("%w: --format %q: want table, csv or json", errUsage, *f.format)
	}
	quantiles, err := parseQuantiles(*f.quantiles)
	if err != nil {
		return nil, fmt.Errorf("%w: --quantiles: %v", errUsage, err)
	}
	sources := 0
	for _, s := range []string{*f.source.input, *f.load, *f.source.promURL} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, fmt.Errorf("%w: give exactly one of --input, --prometheus.url and --load", errUsage)
	}
	if (*f.source.promURL == "") != (*f.source.query == "") {
		return nil, fmt.Errorf("%w: --prometheus.url and --query go together", errUsage)
	}
	if *f.horizon == "" {
		return nil, fmt.Errorf("%w: --horizon is required", errUsage)
	}
	return quantiles, nil
}

// loadModel reads a model saved with --save.
func loadModel(path string) (*savedModel, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var saved savedModel
	if err := json.Unmarshal(raw, &saved); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if saved.Fitted == nil || saved.Series.Step <= 0 {
		return nil, fmt.Errorf("%s: not a saved prescale model (no fitted model or step)", path)
	}
	return &saved, nil
}

// fit reads the history, fits the model and saves it when --save asks.
func (f *forecastFlags) fit(ctx context.Context, e *env) (*savedModel, feed.CSVStats, error) {
	s, stats, err := f.source.read(ctx, e)
	if err != nil {
		return nil, stats, err
	}
	periods, err := parseSeasons(*f.seasons, s.Step)
	if err != nil {
		return nil, stats, fmt.Errorf("%w: --seasons: %v", errUsage, err)
	}
	// The horizon is checked before a fit that may take minutes; the fit
	// itself is for --calibrate, whatever the horizon.
	if _, err := parseHorizon(*f.horizon, s.Step); err != nil {
		return nil, stats, fmt.Errorf("%w: --horizon: %v", errUsage, err)
	}
	calibrate, err := parseHorizon(*f.calibrate, s.Step)
	if err != nil {
		return nil, stats, fmt.Errorf("%w: --calibrate: %v", errUsage, err)
	}
	fitted, err := forecast.Fit(s.Values, &forecast.Options{Model: *f.model, Horizon: calibrate, Periods: periods, Step: s.Step, KeepAnomalies: *f.keepAnomalies})
	if err != nil {
		return nil, stats, fmt.Errorf("%s: %w", s.Name, err)
	}
	saved := &savedModel{Fitted: fitted}
	saved.Series.Name, saved.Series.Start, saved.Series.Step, saved.Series.Points = s.Name, s.Start, s.Step, s.Len()
	if *f.save != "" {
		raw, err := json.MarshalIndent(saved, "", " ")
		if err != nil {
			return nil, stats, err
		}
		if err := os.WriteFile(*f.save, raw, 0o644); err != nil {
			return nil, stats, err
		}
	}
	return saved, stats, nil
}

// writeForecastJSON writes the forecast as JSON, with the CSV input's
// statistics when there is one.
func writeForecastJSON(w io.Writer, saved *savedModel, times []time.Time, input *feed.CSVStats, res *forecast.Result) error {
	out := struct {
		Series     string           `json:"series"`
		Step       string           `json:"step"`
		Timestamps []time.Time      `json:"timestamps"`
		Input      *feed.CSVStats   `json:"input,omitempty"`
		Forecast   *forecast.Result `json:"forecast"`
	}{saved.Series.Name, saved.Series.Step.String(), times, input, res}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeForecastTable writes the forecast as an aligned table, a row a step.
func writeForecastTable(w io.Writer, times []time.Time, res *forecast.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"step", "timestamp", "point"}
	for _, q := range res.Quantiles {
		header = append(header, "q"+formatLevel(q.Level))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for i, t := range times {
		row := []string{strconv.Itoa(i + 1), t.Format(time.RFC3339), formatLoad(res.Point[i])}
		for _, q := range res.Quantiles {
			row = append(row, formatLoad(q.Values[i]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

// maxListedAnomalies is how many anomalous spans the table lists.
const maxListedAnomalies = 5

// writeForecastSummary prints what was fitted and why, above the table;
// noCSV says there are no CSV statistics to report.
func writeForecastSummary(w io.Writer, saved savedModel, res *forecast.Result, stats feed.CSVStats, noCSV bool) {
	f := saved.Fitted
	fmt.Fprintf(w, "series:   %s, %d points every %v from %s\n", saved.Series.Name, saved.Series.Points, saved.Series.Step, saved.Series.Start.Format(time.RFC3339))
	if !noCSV && (stats.Duplicates > 0 || stats.Missing > 0 || stats.Reordered || stats.OffGrid > 0) {
		fmt.Fprintf(w, "input:    %d rows; %d duplicate rows averaged, %d off-grid rows rounded, %d missing points, reordered: %v\n",
			stats.Rows, stats.Duplicates, stats.OffGrid, stats.Missing, stats.Reordered)
	}
	var comps []string
	for _, c := range f.Components {
		comps = append(comps, fmt.Sprintf("%s (weight %.2f)", c.Name, c.Weight))
	}
	fmt.Fprintf(w, "model:    %s: %s\n", res.Model, strings.Join(comps, ", "))
	fmt.Fprintf(w, "seasons:  %s\n", describeSeasons(res.Seasons, res.Detected, saved.Series.Step))
	if len(res.Scores) > 0 {
		names := slices.Collect(maps.Keys(res.Scores))
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(cmp.Compare(res.Scores[a], res.Scores[b]), cmp.Compare(a, b))
		})
		fmt.Fprintln(w, "cross-validated MASE (lower is better):")
		for _, k := range names {
			fmt.Fprintf(w, "          %.3f  %s\n", res.Scores[k], k)
		}
	}
	if res.Reason != "" {
		fmt.Fprintf(w, "fallback: %s\n", res.Reason)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note:     %s\n", n)
	}
	// The longest spans kept out of training, in time order.
	spans := slices.Clone(res.Anomalies)
	slices.SortStableFunc(spans, func(a, b forecast.Anomaly) int { return cmp.Compare(b.End-b.Start, a.End-a.Start) })
	if len(spans) > maxListedAnomalies {
		spans = spans[:maxListedAnomalies]
	}
	slices.SortFunc(spans, func(a, b forecast.Anomaly) int { return cmp.Compare(a.Start, b.Start) })
	at := func(i int) string {
		return saved.Series.Start.Add(time.Duration(i) * saved.Series.Step).Format(time.RFC3339)
	}
	for _, a := range spans {
		fmt.Fprintf(w, "anomaly:  %s %s to %s (%d points)\n", a.Kind, at(a.Start), at(a.End-1), a.End-a.Start)
	}
	if len(res.Anomalies) > len(spans) {
		fmt.Fprintf(w, "          and %d shorter spans (--format json lists them all)\n", len(res.Anomalies)-len(spans))
	}
	fmt.Fprintln(w)
}

func describeSeasons(used []int, detected []forecast.Season, step time.Duration) string {
	if len(used) == 0 && len(detected) == 0 {
		return "none"
	}
	var parts []string
	for _, p := range used {
		parts = append(parts, fmt.Sprintf("%d steps (%v)", p, time.Duration(p)*step))
	}
	s := strings.Join(parts, ", ")
	if len(used) == 0 {
		s = "none used"
	}
	if len(detected) > 0 {
		var d []string
		for _, x := range detected {
			d = append(d, fmt.Sprintf("%d (acf %.2f)", x.Period, x.ACF))
		}
		s += "; detected: " + strings.Join(d, ", ")
	}
	return s
}

func writeForecastCSV(w io.Writer, times []time.Time, res *forecast.Result) error {
	cw := csv.NewWriter(w)
	header := []string{"timestamp", "point"}
	for _, q := range res.Quantiles {
		header = append(header, "q"+formatLevel(q.Level))
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for i, t := range times {
		row := []string{t.Format(time.RFC3339), strconv.FormatFloat(res.Point[i], 'g', -1, 64)}
		for _, q := range res.Quantiles {
			row = append(row, strconv.FormatFloat(q.Values[i], 'g', -1, 64))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatLevel(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }

func formatLoad(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// readPrometheus reads the load history from Prometheus: the query over
// the range ending at end (now by default), at the given step (1m when not
// given).
func readPrometheus(ctx context.Context, e *env, url, query string, span time.Duration, endFlag string, step, timeout time.Duration, httpConfig string) (*feed.Series, error) {
	if span <= 0 {
		return nil, fmt.Errorf("%w: --range %v: want a positive duration such as 14d", errUsage, model.Duration(span))
	}
	end := time.Now()
	if endFlag != "" {
		var err error
		if end, err = time.Parse(time.RFC3339, endFlag); err != nil {
			return nil, fmt.Errorf("%w: --end: %v", errUsage, err)
		}
	}
	if step == 0 {
		step = time.Minute
	}
	client, err := newPrometheusClient(e.logger, url, timeout, httpConfig)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	// The grid ends on a whole step, so that reruns see the same points.
	end = end.Truncate(step)
	s, err := client.Range(ctx, query, end.Add(-span), end.Add(-step), step)
	if err != nil {
		return nil, err
	}
	s.Name = url + " " + query
	return s, nil
}

// newPrometheusClient builds the client of the --prometheus.* flags.
func newPrometheusClient(logger *slog.Logger, url string, timeout time.Duration, httpConfig string) (*prometheus.Client, error) {
	opts := &prometheus.Options{Timeout: timeout, Logger: logger}
	if httpConfig != "" {
		cfg, _, err := config.LoadHTTPConfigFile(httpConfig)
		if err != nil {
			return nil, fmt.Errorf("--prometheus.http-config: %w", err)
		}
		opts.HTTP = cfg
	}
	client, err := prometheus.New(url, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: --prometheus.url: %v", errUsage, err)
	}
	return client, nil
}

// parseQuantiles reads a comma-separated list of levels in (0,1).
func parseQuantiles(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		q, err := strconv.ParseFloat(f, 64)
		if err != nil || !(q > 0 && q < 1) {
			return nil, fmt.Errorf("%q is not a level in (0,1)", f)
		}
		out = append(out, q)
	}
	return out, nil
}

// parseDuration reads a Prometheus duration ("90s", "1h30m", "14d", "1w"),
// the syntax of --range and of the targets file.
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(strings.TrimSpace(s))
	return time.Duration(d), err
}

// toSteps reads a step count or a duration that must be a whole number of
// steps.
func toSteps(s string, step time.Duration) (int, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		if n < 1 {
			return 0, fmt.Errorf("%q: want at least 1 step", s)
		}
		return n, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a step count nor a duration", s)
	}
	if d <= 0 || d%step != 0 {
		return 0, fmt.Errorf("%q is not a positive whole number of %v steps", s, step)
	}
	return int(d / step), nil
}

// parseHorizon reads --horizon or --calibrate, at most
// registry.MaxForecastHorizon steps, as the API allows: calibrating a longer
// one would take minutes (a week of minutes, 10,080 steps, more than five).
func parseHorizon(s string, step time.Duration) (int, error) {
	n, err := toSteps(s, step)
	if err == nil && n > registry.MaxForecastHorizon {
		return 0, fmt.Errorf("%q is %d steps of %v; at most %d: use a longer --step or a shorter horizon", s, n, step, registry.MaxForecastHorizon)
	}
	return n, err
}

func parseSeasons(s string, step time.Duration) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := toSteps(f, step)
		if err != nil {
			return nil, err
		}
		if n < 2 {
			return nil, fmt.Errorf("%q is shorter than two steps", f)
		}
		out = append(out, n)
	}
	return out, nil
}
