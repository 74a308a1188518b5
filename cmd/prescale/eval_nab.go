package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prescale/prescale/anomaly"
	"github.com/prescale/prescale/anomaly/nab"
)

// nabPublished is NAB v1.1's scoreboard (results/final_results.json), used
// when the file is not beside the data: standard, low FP, low FN.
var nabPublished = []nabBoardEntry{
	{"ARTime", nabScores{74.85, 65.15, 80.36}},
	{"Numenta HTM", nabScores{70.10, 63.12, 74.32}},
	{"contextOSE", nabScores{69.90, 66.98, 73.18}},
	{"earthgeckoSkyline", nabScores{58.20, 46.20, 63.80}},
	{"randomCutForest", nabScores{51.72, 38.36, 59.75}},
	{"Twitter ADVec", nabScores{47.06, 33.61, 53.50}},
	{"windowedGaussian", nabScores{39.65, 20.87, 47.41}},
}

// nabBoardKeys maps the board's display names to final_results.json keys.
var nabBoardKeys = map[string]string{
	"ARTime":            "ARTime",
	"Numenta HTM":       "numenta",
	"contextOSE":        "contextOSE",
	"earthgeckoSkyline": "earthgeckoSkyline",
	"randomCutForest":   "randomCutForest",
	"Twitter ADVec":     "twitterADVec",
	"windowedGaussian":  "windowedGaussian",
}

type nabScores struct {
	Standard float64 `json:"standard"`
	LowFP    float64 `json:"low_fp"`
	LowFN    float64 `json:"low_fn"`
}

type nabBoardEntry struct {
	name   string
	scores nabScores
}

type nabReport struct {
	Detectors map[string]nabScores `json:"detectors"`
}

func runEvalNAB(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("eval nab", "eval nab --data DIR [--detector NAME] [--json]", e.stderr)
	dataDir := fs.String("data", defaultDataDir(), "shared data directory holding nab/, or the NAB directory itself (default $PRESCALE_DATA or ../shared/data)")
	detector := fs.String("detector", "", "comma-separated detectors to evaluate (default all: "+strings.Join(anomaly.Detectors(), ",")+")")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "files scored in parallel")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	names := anomaly.Detectors()
	if *detector != "" {
		names = strings.Split(*detector, ",")
		for _, n := range names {
			if !slices.Contains(anomaly.Detectors(), n) {
				return fmt.Errorf("%w: --detector: unknown detector %q (have %v)", errUsage, n, anomaly.Detectors())
			}
		}
	}
	if *workers < 1 {
		return fmt.Errorf("%w: --workers must be at least 1", errUsage)
	}
	dir := nabDataDir(*dataDir)
	files, err := nab.LoadCorpus(os.DirFS(dir))
	if err != nil {
		return fmt.Errorf("load NAB corpus from %s: %w", dir, err)
	}

	report := nabReport{Detectors: map[string]nabScores{}}
	elapsed := map[string]time.Duration{}
	for _, name := range names {
		start := time.Now()
		scores, err := scoreNAB(ctx, name, files, *workers)
		if err != nil {
			return err
		}
		res, err := nab.Evaluate(files, scores)
		if err != nil {
			return fmt.Errorf("detector %s: %w", name, err)
		}
		report.Detectors[name] = nabScoresOf(res)
		elapsed[name] = time.Since(start)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}

	board := readNABBoard(filepath.Join(dir, "results", "final_results.json"))
	rows := 0
	for i := range files {
		rows += files[i].Rows()
	}
	fmt.Fprintf(e.stdout, "NAB v1.1: %d files, %d rows, streaming (no look-ahead), corpus-optimal threshold per profile\n\n", len(files), rows)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "detector\tstandard\tlow FP\tlow FN\tseconds\t")
	for _, name := range names {
		s := report.Detectors[name]
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, s.Standard, s.LowFP, s.LowFN, elapsed[name].Seconds())
	}
	fmt.Fprintln(tw, "published:\t\t\t\t\t")
	for _, b := range board {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t\t\n", b.name, b.scores.Standard, b.scores.LowFP, b.scores.LowFN)
	}
	return tw.Flush()
}

// nabDataDir returns dir if it is a NAB checkout, else dir/nab.
func nabDataDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "labels", "combined_windows.json")); err == nil {
		return dir
	}
	return filepath.Join(dir, "nab")
}

func nabScoresOf(r nab.Result) nabScores {
	get := func(profile string) float64 {
		s, _ := r.Get(profile)
		return s.Normalized
	}
	return nabScores{
		Standard: get("standard"),
		LowFP:    get("reward_low_FP_rate"),
		LowFN:    get("reward_low_FN_rate"),
	}
}

// readNABBoard returns the published scoreboard, from path when it reads,
// else the built-in copy.
func readNABBoard(path string) []nabBoardEntry {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nabPublished
	}
	var doc map[string]map[string]float64
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nabPublished
	}
	out := make([]nabBoardEntry, 0, len(nabPublished))
	for _, b := range nabPublished {
		r, ok := doc[nabBoardKeys[b.name]]
		if !ok {
			return nabPublished
		}
		out = append(out, nabBoardEntry{b.name, nabScores{r["standard"], r["reward_low_FP_rate"], r["reward_low_FN_rate"]}})
	}
	return out
}

// scoreNAB runs a fresh streaming detector over each file, workers files at
// a time, and returns the scores per file.
func scoreNAB(ctx context.Context, name string, files []nab.File, workers int) ([][]float64, error) {
	scores := make([][]float64, len(files))
	err := parallel(ctx, len(files), workers, func(i int) error {
		d, err := anomaly.New(name, nil)
		if err != nil {
			return fmt.Errorf("detector %s: %s: %w", name, files[i].Name, err)
		}
		scores[i] = anomaly.Batch(nil, files[i].Values, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return scores, nil
}
