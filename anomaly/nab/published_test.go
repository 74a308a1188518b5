package nab

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prescale/prescale/feed/feedtest"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
)

// The published NAB v1.1 results these tests reproduce: the per-row outputs
// of two detectors, their thresholds (config/thresholds.json), per-file and
// total raw scores (results/<detector>/<detector>_<profile>_scores.csv) and
// normalized scores (results/final_results.json).

// nabDir returns the NAB checkout in the shared benchmark data; a missing
// directory fails the test.
func nabDir(tb testing.TB) string { return filepath.Join(feedtest.DataDir(tb), "nab") }

// detectorRun is a published detector's per-row output over the corpus.
type detectorRun struct {
	scores [][]float64            // anomaly_score, per file
	st     map[string][][]float64 // S(t)_<profile> column per profile, per file
}

// loadRun reads results/<det>/<group>/<det>_<file>.csv.gz for every file.
func loadRun(tb testing.TB, dir, det string, files []File) detectorRun {
	tb.Helper()
	run := detectorRun{st: map[string][][]float64{}}
	for _, f := range files {
		group, base := path.Split(f.Name)
		p := filepath.Join(dir, "results", det, group, det+"_"+base+".gz")
		cols, err := readGzipCSV(p)
		if err != nil {
			tb.Fatalf("read %s: %v", p, err)
		}
		s := cols["anomaly_score"]
		if len(s) != f.Rows() {
			tb.Fatalf("%s: %d rows of results, %d of data", p, len(s), f.Rows())
		}
		run.scores = append(run.scores, s)
		for _, prof := range Profiles() {
			run.st[prof.Name] = append(run.st[prof.Name], cols["S(t)_"+prof.Name])
		}
	}
	return run
}

// readGzipCSV returns the numeric columns of a gzipped results file.
func readGzipCSV(p string) (map[string][]float64, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(zr)
	header, err := cr.Read()
	if err != nil {
		return nil, err
	}
	cols := map[string][]float64{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return cols, nil
		}
		if err != nil {
			return nil, err
		}
		for j, name := range header {
			if name == "timestamp" {
				continue
			}
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				line, _ := cr.FieldPos(j)
				return nil, fmt.Errorf("line %d column %s: %w", line, name, err)
			}
			cols[name] = append(cols[name], v)
		}
	}
}

// publishedScores reads results/<det>/<det>_<profile>_scores.csv: the raw
// score of every file and, under "Totals", of the corpus.
func publishedScores(tb testing.TB, dir, det, profile string) map[string]float64 {
	tb.Helper()
	p := filepath.Join(dir, "results", det, det+"_"+profile+"_scores.csv")
	fh, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		tb.Fatalf("read %s: %v", p, err)
	}
	out := map[string]float64{}
	for _, rec := range recs[1:] { // Detector,Profile,File,Threshold,Score,...
		v, err := strconv.ParseFloat(rec[4], 64)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		if rec[0] == "Totals" {
			out["Totals"] = v
		} else {
			out[rec[2]] = v
		}
	}
	return out
}

func readJSON(tb testing.TB, p string, v any) {
	tb.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		tb.Fatalf("%s: %v", p, err)
	}
}

func round2(x float64) float64 { return math.Round(100*x) / 100 }

func TestPublishedResults(t *testing.T) {
	dir := nabDir(t)
	files, err := LoadCorpus(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	var thresholds map[string]map[string]struct{ Threshold float64 }
	readJSON(t, filepath.Join(dir, "config", "thresholds.json"), &thresholds)
	var final map[string]map[string]float64
	readJSON(t, filepath.Join(dir, "results", "final_results.json"), &final)

	// optimum is what a line-by-line Python port of NAB's sweeper.py and
	// optimizer.py (at ea702d75) finds on these per-row files. Its numenta
	// threshold 0.543099145074 differs from the published 0.5421876907 (not
	// a score in these files) but selects the same detections; for
	// reward_low_FP_rate it beats the published threshold.
	type optimum struct{ threshold, raw float64 }
	for _, tc := range []struct {
		detector   string
		normalized map[string]float64 // as quoted in the data README
		optimum    map[string]optimum
	}{
		{
			detector:   "numenta",
			normalized: map[string]float64{"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32},
			optimum: map[string]optimum{
				"standard":           {0.543099145074, 46.634450197137596},
				"reward_low_FP_rate": {0.543099145074, 30.645309205798327},
				"reward_low_FN_rate": {0.543099145074, 26.634450197137596},
			},
		},
		{
			detector:   "windowedGaussian",
			normalized: map[string]float64{"standard": 39.65, "reward_low_FP_rate": 20.87, "reward_low_FN_rate": 47.41},
			optimum: map[string]optimum{
				"standard":           {1, -24.013105489139935},
				"reward_low_FP_rate": {1, -67.5862728865547},
				"reward_low_FN_rate": {1, -67.01310548913993},
			},
		},
	} {
		t.Run(tc.detector, func(t *testing.T) {
			run := loadRun(t, dir, tc.detector, files)
			for _, p := range Profiles() {
				t.Run(p.Name, func(t *testing.T) {
					published := publishedScores(t, dir, tc.detector, p.Name)
					threshold := thresholds[tc.detector][p.Name].Threshold
					if threshold == 0 {
						t.Fatalf("no published threshold for %s/%s", tc.detector, p.Name)
					}

					t.Run("published threshold", func(t *testing.T) {
						raw, err := Score(files, run.scores, p, threshold)
						if err != nil {
							t.Fatal(err)
						}
						if want := published["Totals"]; math.Abs(raw-want) > 1e-6 {
							t.Errorf("raw at %v = %.10f, published %.10f", threshold, raw, want)
						}
						norm := Normalize(raw, files, p)
						if round2(norm) != tc.normalized[p.Name] {
							t.Errorf("normalized = %.4f, want %.2f", norm, tc.normalized[p.Name])
						}
						if want := final[tc.detector][p.Name]; math.Abs(norm-want) > 1e-6 {
							t.Errorf("normalized = %.10f, final_results.json %.10f", norm, want)
						}
						t.Logf("threshold %.10f: raw %.6f normalized %.4f", threshold, raw, norm)
					})

					t.Run("per-row contributions", func(t *testing.T) {
						var contrib []float64
						for i := range files {
							f := &files[i]
							contrib, err = Contributions(contrib, f, run.scores[i], p, threshold)
							if err != nil {
								t.Fatal(err)
							}
							col := run.st[p.Name][i]
							var sum float64
							for row, c := range contrib {
								sum += c
								if math.Abs(c-col[row]) > 1e-9 {
									t.Errorf("%s row %d: contribution %.12f, S(t)_%s %.12f", f.Name, row, c, p.Name, col[row])
									break
								}
							}
							fileRaw, err := Score(files[i:i+1], run.scores[i:i+1], p, threshold)
							if err != nil {
								t.Fatal(err)
							}
							want, ok := published[f.Name]
							if !ok {
								t.Fatalf("%s missing from the published scores", f.Name)
							}
							if math.Abs(sum-want) > 1e-6 || math.Abs(fileRaw-want) > 1e-6 {
								t.Errorf("%s: contributions sum to %.10f, Score %.10f, published %.10f", f.Name, sum, fileRaw, want)
							}
						}
					})

					t.Run("optimized threshold", func(t *testing.T) {
						opt, raw, err := Optimize(files, run.scores, p)
						if err != nil {
							t.Fatal(err)
						}
						if want := tc.optimum[p.Name]; opt != want.threshold || math.Abs(raw-want.raw) > 1e-9 {
							t.Errorf("Optimize = %v, %.12f; NAB's sweeper finds %v, %.12f", opt, raw, want.threshold, want.raw)
						}
						norm := Normalize(raw, files, p)
						if round2(norm) < tc.normalized[p.Name] {
							t.Errorf("optimum %v: normalized %.4f below published %.2f", opt, norm, tc.normalized[p.Name])
						}
						again, err := Score(files, run.scores, p, opt)
						if err != nil {
							t.Fatal(err)
						}
						if again != raw {
							t.Errorf("Score at the optimum %v = %v, Optimize said %v", opt, again, raw)
						}
						t.Logf("optimized threshold %.10f: raw %.6f normalized %.4f", opt, raw, norm)
					})
				})
			}
		})
	}
}

func TestLoadCorpusNAB(t *testing.T) {
	dir := nabDir(t)
	files, err := LoadCorpus(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	var windows, rows int
	for i, f := range files {
		if i > 0 && files[i-1].Name >= f.Name {
			t.Errorf("files out of order: %s before %s", files[i-1].Name, f.Name)
		}
		if len(f.Timestamps) != f.Rows() {
			t.Errorf("%s: %d timestamps, %d values", f.Name, len(f.Timestamps), f.Rows())
		}
		windows += len(f.Windows)
		rows += f.Rows()
	}
	if len(files) != 58 || windows != 116 || rows != 365558 {
		t.Errorf("corpus has %d files, %d windows, %d rows; want 58, 116, 365558", len(files), windows, rows)
	}

	fh, err := os.Open(filepath.Join(dir, "config", "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	profiles, err := loadProfiles(fh)
	if err != nil {
		t.Fatal(err)
	}
	if want := Profiles(); fmt.Sprint(profiles) != fmt.Sprint(want) {
		t.Errorf("config/profiles.json = %v, Profiles() = %v", profiles, want)
	}
}

// benchCorpus loads the corpus with the published numenta scores.
func benchCorpus(b *testing.B) ([]File, [][]float64) {
	b.Helper()
	dir := nabDir(b)
	files, err := LoadCorpus(os.DirFS(dir))
	if err != nil {
		b.Fatal(err)
	}
	return files, loadRun(b, dir, "numenta", files).scores
}

func BenchmarkOptimize(b *testing.B) {
	files, scores := benchCorpus(b)
	p := Profiles()[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Optimize(files, scores, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScore(b *testing.B) {
	files, scores := benchCorpus(b)
	p := Profiles()[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Score(files, scores, p, 0.5421876907348634); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadCorpus(b *testing.B) {
	fsys := os.DirFS(nabDir(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadCorpus(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
