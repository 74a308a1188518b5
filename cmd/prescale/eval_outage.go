package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
)

// The NASA HTTP trace's August 1995 outage: the server was down (a
// hurricane) and the log reads zero requests, which is missing data, not
// demand (shared/data README).
const (
	nasaFile        = "nasa_http_1995_requests_per_minute.csv"
	nasaOutageStart = "1995-08-01 14:52:00"
	nasaOutageEnd   = "1995-08-03 04:36:00"
	nasaOrigins     = "1995-08-03 06:00:00,1995-08-04 00:00:00,1995-08-05 00:00:00,1995-08-06 00:00:00"
)

// outageDay is the next-day forecast from one origin, trained as is and
// with anomaly-aware training.
type outageDay struct {
	Origin       string  `json:"origin"`
	Weekday      string  `json:"weekday"`
	ActualMean   float64 `json:"actual_mean"`
	AsIsMAE      float64 `json:"as_is_mae"`
	CleanedMAE   float64 `json:"cleaned_mae"`
	AsIsMean     float64 `json:"as_is_mean"`
	CleanedMean  float64 `json:"cleaned_mean"`
	CleanedModel string  `json:"cleaned_model"`
	AsIsModel    string  `json:"as_is_model"`
}

// runEvalOutage shows what anomaly-aware training does after a real
// outage: it fits the NASA trace (all history up to each origin, daily and
// weekly seasons) with and without it and scores the next day.
func runEvalOutage(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval outage", "eval outage --data DIR [--origins T1,T2] [--json]", e.stderr)
	dataDir := fs.String("data", defaultDataDir(), "shared data directory holding nasa_http/"+nasaFile)
	originsFlag := fs.String("origins", nasaOrigins, "forecast origins (UTC, '2006-01-02 15:04:05'), comma-separated")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := filepath.Join(*dataDir, "nasa_http", nasaFile)
	s, err := feed.ReadCSVFile(path, &feed.CSVOptions{Column: "requests"})
	if err != nil {
		return err
	}
	const day = 24 * time.Hour
	steps := int(day / s.Step)
	var days []outageDay
	for _, o := range strings.Split(*originsFlag, ",") {
		if err := ctx.Err(); err != nil {
			return err
		}
		at, err := time.Parse(time.DateTime, strings.TrimSpace(o))
		if err != nil {
			return fmt.Errorf("%w: --origins: %v", errUsage, err)
		}
		i := int(at.Sub(s.Start) / s.Step)
		if i < 2*7*steps || i+steps > s.Len() {
			return fmt.Errorf("%w: --origins: %s leaves less than two weeks of history or a day to score in %s", errUsage, o, path)
		}
		d := outageDay{Origin: at.Format(time.DateTime), Weekday: at.Weekday().String()}
		actual := s.Values[i : i+steps]
		for _, a := range actual {
			d.ActualMean += a / float64(steps)
		}
		for _, keep := range []bool{true, false} {
			f, err := forecast.Fit(s.Values[:i], &forecast.Options{Horizon: steps, Step: s.Step, Periods: []int{steps, 7 * steps}, KeepAnomalies: keep})
			if err != nil {
				return fmt.Errorf("%s at %s: %w", path, o, err)
			}
			r, err := f.Forecast(steps, nil)
			if err != nil {
				return err
			}
			var mae, mean float64
			for k, a := range actual {
				mae += math.Abs(a-r.Point[k]) / float64(steps)
				mean += r.Point[k] / float64(steps)
			}
			if keep {
				d.AsIsMAE, d.AsIsMean, d.AsIsModel = mae, mean, f.Model
			} else {
				d.CleanedMAE, d.CleanedMean, d.CleanedModel = mae, mean, f.Model
			}
		}
		days = append(days, d)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"outage": []string{nasaOutageStart, nasaOutageEnd}, "days": days})
	}
	fmt.Fprintf(e.stdout, "NASA HTTP trace, outage %s to %s (zeros: server down). Next-day forecasts, requests/min:\n\n", nasaOutageStart, nasaOutageEnd)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "origin\tday\tactual mean\tmean as is\tmean cleaned\tMAE as is\tMAE cleaned\t")
	for _, d := range days {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t\n", d.Origin, d.Weekday[:3], d.ActualMean, d.AsIsMean, d.CleanedMean, d.AsIsMAE, d.CleanedMAE)
	}
	return tw.Flush()
}
