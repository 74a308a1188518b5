package nab

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// sig is NAB's scaled sigmoid written out independently of ScaledSigmoid:
// 2*sigmoid(-5x) - 1 with sigmoid(z) = 1/(1+exp(-z)).
func sig(x float64) float64 {
	if x > 3 {
		return -1
	}
	return 2/(1+math.Exp(5*x)) - 1
}

var standard = Profile{Name: "standard", TP: 1, FP: 0.11, FN: 1}

// rowsFile builds an n-row file with the given windows.
func rowsFile(n int, windows ...Window) File {
	return File{Name: "test.csv", Values: make([]float64, n), Windows: windows}
}

// detect returns n scores of 0 with 1 at the given rows.
func detect(n int, rows ...int) []float64 {
	s := make([]float64, n)
	for _, i := range rows {
		s[i] = 1
	}
	return s
}

func TestScaledSigmoid(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    float64
		want float64
	}{
		{"left edge of window", -1, 0.9866142981514305},
		{"middle of window", -0.5, 0.8482836399575129},
		{"right edge", 0, 0},
		{"one width after", 1, -0.9866142981514303},
		{"at the cutoff", 3, 2/(1+math.Exp(15)) - 1},
		{"past the cutoff", 3.0000001, -1},
		{"far past", math.Inf(1), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ScaledSigmoid(tc.y); math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("ScaledSigmoid(%v) = %.17g, want %.17g", tc.y, got, tc.want)
			}
		})
	}
}

func TestProbationLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 0}, {6, 0}, {7, 1}, {20, 3}, {4032, 604}, {5000, 750}, {5001, 750}, {22695, 750},
	} {
		if got := ProbationLength(tc.n); got != tc.want {
			t.Errorf("ProbationLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestWeights(t *testing.T) {
	p := Profile{Name: "custom", TP: 2, FP: 0.5, FN: 3}
	maxTP := sig(-1)
	inside := func(i int, w Window) float64 {
		width := float64(w.End - w.Start + 1)
		return sig(-float64(w.End-i+1)/width) * p.TP / maxTP
	}
	after := func(i int, w Window) float64 {
		return sig(float64(i-w.End)/float64(w.End-w.Start)) * p.FP
	}
	for _, tc := range []struct {
		name string
		file File
		want func(i int) float64
	}{
		{
			name: "no windows",
			file: rowsFile(8),
			want: func(int) float64 { return -p.FP },
		},
		{
			name: "window at start",
			file: rowsFile(12, Window{0, 3}),
			want: func(i int) float64 {
				if i <= 3 {
					return inside(i, Window{0, 3})
				}
				return after(i, Window{0, 3})
			},
		},
		{
			name: "window at end",
			file: rowsFile(10, Window{6, 9}),
			want: func(i int) float64 {
				if i < 6 {
					return -p.FP
				}
				return inside(i, Window{6, 9})
			},
		},
		{
			name: "two windows",
			file: rowsFile(30, Window{5, 9}, Window{20, 21}),
			want: func(i int) float64 {
				switch {
				case i < 5:
					return -p.FP
				case i <= 9:
					return inside(i, Window{5, 9})
				case i < 20:
					return after(i, Window{5, 9})
				case i <= 21:
					return inside(i, Window{20, 21})
				}
				return after(i, Window{20, 21})
			},
		},
		{
			name: "one-row window",
			file: rowsFile(6, Window{2, 2}),
			want: func(i int) float64 {
				switch {
				case i < 2:
					return -p.FP
				case i == 2:
					return p.TP
				}
				return -p.FP // NAB divides by zero here
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Weights(nil, &tc.file, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.file.Rows() {
				t.Fatalf("%d weights for %d rows", len(got), tc.file.Rows())
			}
			for i, g := range got {
				if want := tc.want(i); math.Abs(g-want) > 1e-12 {
					t.Errorf("row %d: weight %.15g, want %.15g", i, g, want)
				}
			}
		})
	}

	t.Run("first row of a window earns TP", func(t *testing.T) {
		f := rowsFile(50, Window{10, 29})
		w, err := Weights(nil, &f, p)
		if err != nil {
			t.Fatal(err)
		}
		if w[10] != p.TP {
			t.Errorf("weight at window start = %v, want %v", w[10], p.TP)
		}
		for i := 11; i <= 29; i++ {
			if !(w[i] < w[i-1] && w[i] > 0) {
				t.Errorf("row %d: weight %v not in (0, %v)", i, w[i], w[i-1])
			}
		}
		if !(w[30] < 0 && w[30] > -p.FP) {
			t.Errorf("first row after window: weight %v not in (-FP, 0)", w[30])
		}
	})
}

func TestScore(t *testing.T) {
	lowFN := Profile{Name: "reward_low_FN_rate", TP: 1, FP: 0.11, FN: 2}
	maxTP := sig(-1)
	for _, tc := range []struct {
		name      string
		file      File
		scores    []float64
		profile   Profile
		threshold float64
		want      float64
	}{
		{"no windows, no detections", rowsFile(20), detect(20), standard, 0.5, 0},
		{"no windows, one false positive", rowsFile(20), detect(20, 10), standard, 0.5, -0.11},
		{"detection in probation is ignored", rowsFile(20), detect(20, 0, 1, 2), standard, 0.5, 0},
		{"first row after probation counts", rowsFile(20), detect(20, 3), standard, 0.5, -0.11},
		{"missed window", rowsFile(20, Window{10, 14}), detect(20), standard, 0.5, -1},
		{"missed window, low FN profile", rowsFile(20, Window{10, 14}), detect(20), lowFN, 0.5, -2},
		{"window detected at its start", rowsFile(20, Window{10, 14}), detect(20, 10), standard, 0.5, 1},
		{"window detected at its last row", rowsFile(20, Window{10, 14}), detect(20, 14), standard, 0.5, sig(-1.0/5) / maxTP},
		{"earliest of two detections counts once", rowsFile(20, Window{10, 14}), detect(20, 12, 11), standard, 0.5, sig(-4.0/5) / maxTP},
		{"window at start of file", rowsFile(40, Window{0, 9}), detect(40, 8), standard, 0.5, sig(-2.0/10) / maxTP},
		{"window wholly in probation is ignored", rowsFile(40, Window{0, 4}), detect(40), standard, 0.5, 0},
		{"window straddling probation, detection in probation", rowsFile(40, Window{2, 9}), detect(40, 5), standard, 0.5, -1},
		{"window straddling probation, detection after", rowsFile(40, Window{2, 9}), detect(40, 5, 6), standard, 0.5, sig(-4.0/8) / maxTP},
		{"window at end of file", rowsFile(20, Window{15, 19}), detect(20, 19), standard, 0.5, sig(-1.0/5) / maxTP},
		{"false positive right after a window", rowsFile(20, Window{5, 9}), detect(20, 10), standard, 0.5, -1 + 0.11*sig(1.0/4)},
		{"false positive far after a window", rowsFile(40, Window{5, 9}), detect(40, 30), standard, 0.5, -1 - 0.11},
		{"false positive before the first window", rowsFile(40, Window{30, 34}), detect(40, 10, 30), standard, 0.5, 1 - 0.11},
		{"score equal to the threshold is a detection", rowsFile(20), []float64{9: 0, 10: 0.5, 19: 0}, standard, 0.5, -0.11},
		{"threshold above every score detects nothing", rowsFile(20, Window{10, 14}), detect(20, 10, 18), standard, NoDetection, -1},
		{"threshold 0 detects everything", rowsFile(20, Window{10, 14}), make([]float64, 20), standard, 0,
			-0.11*7 + 1 + 0.11*(sig(1.0/4)+sig(2.0/4)+sig(3.0/4)+sig(4.0/4)+sig(5.0/4))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := []File{tc.file}
			scores := [][]float64{tc.scores}
			got, err := Score(files, scores, tc.profile, tc.threshold)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Score = %.15g, want %.15g", got, tc.want)
			}
			contrib, err := Contributions(nil, &files[0], tc.scores, tc.profile, tc.threshold)
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			for _, c := range contrib {
				sum += c
			}
			if math.Abs(sum-got) > 1e-12 {
				t.Errorf("contributions sum to %.15g, Score %.15g", sum, got)
			}
		})
	}
}

func TestContributionsLayout(t *testing.T) {
	f := rowsFile(40, Window{2, 9}, Window{20, 24})
	scores := detect(40, 5, 6, 7, 15, 30)
	got, err := Contributions(nil, &f, scores, standard, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 40)
	maxTP := sig(-1)
	want[6] = sig(-4.0/8) / maxTP // window straddling probation: at its first scored row
	want[15] = 0.11 * sig(6.0/7)  // false positive after the first window
	want[20] = -1                 // missed window: at its first row
	want[30] = 0.11 * sig(6.0/4)  // false positive after the second window
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("row %d: contribution %.15g, want %.15g", i, got[i], want[i])
		}
	}
}

// bruteOptimize scores every candidate threshold from scratch and keeps the
// best, the highest threshold among equals.
func bruteOptimize(t *testing.T, files []File, scores [][]float64, p Profile) (float64, float64) {
	t.Helper()
	candidates := map[float64]bool{NoDetection: true}
	for i, s := range scores {
		for row := ProbationLength(files[i].Rows()); row < len(s); row++ {
			candidates[s[row]] = true
		}
	}
	bestThreshold, bestRaw := math.NaN(), math.Inf(-1)
	for c := range candidates {
		raw, err := Score(files, scores, p, c)
		if err != nil {
			t.Fatal(err)
		}
		if raw > bestRaw || (raw == bestRaw && c > bestThreshold) {
			bestThreshold, bestRaw = c, raw
		}
	}
	return bestThreshold, bestRaw
}

// randomCorpus builds files with random windows and scores on a few levels,
// so that thresholds tie.
func randomCorpus(rng *rand.Rand, levels int) ([]File, [][]float64) {
	files := make([]File, 1+rng.IntN(4))
	scores := make([][]float64, len(files))
	for i := range files {
		n := rng.IntN(60)
		f := rowsFile(n)
		for start := rng.IntN(20); start < n; {
			end := min(start+rng.IntN(8), n-1)
			f.Windows = append(f.Windows, Window{start, end})
			start = end + 1 + rng.IntN(30)
		}
		files[i] = f
		scores[i] = make([]float64, n)
		for row := range scores[i] {
			scores[i][row] = float64(rng.IntN(levels+1)) / float64(levels)
		}
	}
	return files, scores
}

func TestOptimizeMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		files, scores := randomCorpus(rng, 1+trial%12)
		for _, p := range Profiles() {
			threshold, raw, err := Optimize(files, scores, p)
			if err != nil {
				t.Fatal(err)
			}
			wantThreshold, wantRaw := bruteOptimize(t, files, scores, p)
			if threshold != wantThreshold || raw != wantRaw {
				t.Fatalf("trial %d %s: Optimize = %v, %v; brute force %v, %v", trial, p.Name, threshold, raw, wantThreshold, wantRaw)
			}
		}
	}
}

func TestOptimizeNothingToDetect(t *testing.T) {
	// Every detection is a false positive: detecting nothing is best.
	files := []File{rowsFile(20)}
	scores := [][]float64{detect(20, 10, 11)}
	threshold, raw, err := Optimize(files, scores, standard)
	if err != nil {
		t.Fatal(err)
	}
	if threshold != NoDetection || raw != 0 {
		t.Errorf("Optimize = %v, %v; want %v, 0", threshold, raw, NoDetection)
	}
}

func TestNormalize(t *testing.T) {
	files := []File{rowsFile(40, Window{0, 4}, Window{20, 24}), rowsFile(40, Window{10, 14})}
	// Three windows, one of them wholly in probation: perfect = 3 TP,
	// null = -2 FN.
	for _, tc := range []struct {
		name string
		p    Profile
		raw  float64
		want float64
	}{
		{"null", standard, -2, 0},
		{"perfect", standard, 3, 100},
		{"half way", standard, 0.5, 50},
		{"low FN null", Profile{TP: 1, FP: 0.11, FN: 2}, -4, 0},
		{"low FN perfect", Profile{TP: 1, FP: 0.11, FN: 2}, 3, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.raw, files, tc.p); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Normalize(%v) = %v, want %v", tc.raw, got, tc.want)
			}
		})
	}
	t.Run("no windows", func(t *testing.T) {
		if got := Normalize(0, []File{rowsFile(10)}, standard); !math.IsNaN(got) {
			t.Errorf("Normalize without windows = %v, want NaN", got)
		}
	})
}

func TestEvaluate(t *testing.T) {
	files, scores := randomCorpus(rand.New(rand.NewPCG(3, 4)), 7)
	r, err := Evaluate(files, scores)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Profiles) != 3 {
		t.Fatalf("%d profile scores, want 3", len(r.Profiles))
	}
	for _, p := range Profiles() {
		got, ok := r.Get(p.Name)
		if !ok {
			t.Fatalf("no score for %s", p.Name)
		}
		threshold, raw, err := Optimize(files, scores, p)
		if err != nil {
			t.Fatal(err)
		}
		want := ProfileScore{Profile: p.Name, Threshold: threshold, Raw: raw, Normalized: Normalize(raw, files, p)}
		if got != want {
			t.Errorf("%s: %+v, want %+v", p.Name, got, want)
		}
	}
	if _, ok := r.Get("nope"); ok {
		t.Error("Get of an unknown profile succeeded")
	}
}

func TestScoringErrors(t *testing.T) {
	good := func() ([]File, [][]float64) {
		return []File{rowsFile(20, Window{10, 14})}, [][]float64{detect(20, 10)}
	}
	for _, tc := range []struct {
		name      string
		edit      func(files []File, scores [][]float64) ([]File, [][]float64)
		profile   Profile
		threshold float64
		want      error
		mention   string
	}{
		{"more files than scores", func(f []File, s [][]float64) ([]File, [][]float64) { return f, nil }, standard, 0.5, ErrFileCount, "1 files, 0 score"},
		{"short scores", func(f []File, s [][]float64) ([]File, [][]float64) { return f, [][]float64{s[0][:19]} }, standard, 0.5, ErrLength, "test.csv"},
		{"NaN score", func(f []File, s [][]float64) ([]File, [][]float64) { s[0][12] = math.NaN(); return f, s }, standard, 0.5, ErrScore, "test.csv: row 12"},
		{"score above 1", func(f []File, s [][]float64) ([]File, [][]float64) { s[0][3] = 1.5; return f, s }, standard, 0.5, ErrScore, "row 3"},
		{"negative score", func(f []File, s [][]float64) ([]File, [][]float64) { s[0][0] = -0.1; return f, s }, standard, 0.5, ErrScore, "row 0"},
		{"infinite score", func(f []File, s [][]float64) ([]File, [][]float64) { s[0][19] = math.Inf(1); return f, s }, standard, 0.5, ErrScore, "row 19"},
		{"window past the end", func(f []File, s [][]float64) ([]File, [][]float64) { f[0].Windows[0].End = 20; return f, s }, standard, 0.5, ErrWindow, "test.csv: window 0"},
		{"negative window start", func(f []File, s [][]float64) ([]File, [][]float64) { f[0].Windows[0].Start = -1; return f, s }, standard, 0.5, ErrWindow, "window 0"},
		{"reversed window", func(f []File, s [][]float64) ([]File, [][]float64) { f[0].Windows[0] = Window{14, 10}; return f, s }, standard, 0.5, ErrWindow, "window 0"},
		{"overlapping windows", func(f []File, s [][]float64) ([]File, [][]float64) {
			f[0].Windows = append(f[0].Windows, Window{14, 16})
			return f, s
		}, standard, 0.5, ErrWindow, "window 1"},
		{"timestamps of the wrong length", func(f []File, s [][]float64) ([]File, [][]float64) {
			f[0].Timestamps = make([]time.Time, 3)
			return f, s
		}, standard, 0.5, ErrLength, "3 timestamps"},
		{"unnamed file", func(f []File, s [][]float64) ([]File, [][]float64) { f[0].Name = ""; return f, [][]float64{nil} }, standard, 0.5, ErrLength, "unnamed file"},
		{"negative weight", nil, Profile{Name: "bad", TP: 1, FP: -0.1, FN: 1}, 0.5, ErrProfile, `"bad": fp`},
		{"NaN weight", nil, Profile{Name: "bad", TP: math.NaN(), FP: 0.1, FN: 1}, 0.5, ErrProfile, "tp weight"},
		{"NaN threshold", nil, standard, math.NaN(), ErrThreshold, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, scores := good()
			if tc.edit != nil {
				files, scores = tc.edit(files, scores)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: error %v, want %v", what, err, tc.want)
				} else if !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("%s: error %q does not mention %q", what, err, tc.mention)
				}
			}
			_, err := Score(files, scores, tc.profile, tc.threshold)
			check("Score", err)
			if !math.IsNaN(tc.threshold) {
				_, _, err = Optimize(files, scores, tc.profile)
				check("Optimize", err)
			}
			if len(files) == len(scores) {
				_, err = Contributions(nil, &files[0], scores[0], tc.profile, tc.threshold)
				check("Contributions", err)
			}
		})
	}

	t.Run("Weights", func(t *testing.T) {
		f := rowsFile(5, Window{3, 7})
		if _, err := Weights(nil, &f, standard); !errors.Is(err, ErrWindow) {
			t.Errorf("error %v, want %v", err, ErrWindow)
		}
		g := rowsFile(5)
		if _, err := Weights(nil, &g, Profile{FP: math.Inf(1)}); !errors.Is(err, ErrProfile) {
			t.Errorf("error %v, want %v", err, ErrProfile)
		}
	})

	t.Run("Evaluate", func(t *testing.T) {
		files, scores := good()
		scores[0][4] = math.NaN()
		if _, err := Evaluate(files, scores); !errors.Is(err, ErrScore) {
			t.Errorf("error %v, want %v", err, ErrScore)
		}
	})
}
