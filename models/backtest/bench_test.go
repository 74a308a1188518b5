package backtest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/feed/feedtest"
	"github.com/prescale/prescale/models/backtest"
)

// nasaConfig is the setting on the NASA-HTTP trace: 20 requests
// per minute per replica, a 3-minute start-up, a 2-minute metric lag, the
// hurricane outage (zeros) as missing data.
func nasaConfig() backtest.Config {
	return backtest.Config{
		Headroom:           backtest.DefaultHeadroom,
		CapacityPerReplica: 20,
		Startup:            backtest.Startup{Kind: backtest.StartupFixed, A: 3 * time.Minute},
		Lag:                2 * time.Minute,
		Warmup:             24 * time.Hour,
		ZeroRunsMissing:    time.Hour,
		Workers:            2,
	}
}

func nasa(b testing.TB) *feed.Series {
	s, err := feed.ReadCSVFile(filepath.Join(feedtest.DataDir(b), "nasa_http", "nasa_http_1995_requests_per_minute.csv"), &feed.CSVOptions{Column: "requests"})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkBacktestNASA replays the whole two-month trace (89,280 minutes)
// with every policy at its own setting, on 2 workers, and reports the
// fits and the headline metrics. Run with -benchtime 1x.
func BenchmarkBacktestNASA(b *testing.B) {
	s := nasa(b)
	for b.Loop() {
		res, err := backtest.Run(context.Background(), s, nasaConfig())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Timing.Fits), "fits")
		b.ReportMetric(res.Timing.ForecastWall, "forecast-s")
		b.ReportMetric(res.Timing.ReplayWall, "replay-s")
		b.ReportMetric(res.Policies[backtest.Prescale].UnderprovisionedMinutes, "prescale-under-min")
	}
}

// BenchmarkBacktestNASASweep is the full sweep: 12 reactive margins and 9
// prescale quantiles over the whole trace, with the reduction at equal
// cost. Run with -benchtime 1x.
func BenchmarkBacktestNASASweep(b *testing.B) {
	s := nasa(b)
	c := nasaConfig()
	c.Sweep = true
	for b.Loop() {
		res, err := backtest.Run(context.Background(), s, c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Timing.Replays), "replays")
		if res.ReductionAtEqualCost != nil {
			b.ReportMetric(*res.ReductionAtEqualCost, "reduction-%")
		}
	}
}
