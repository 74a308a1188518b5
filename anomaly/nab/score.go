package nab

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Probation follows NAB's default: the first 15% of a file's rows, at most
// 0.15 * 5000 = 750, are never scored.
const (
	probationPercent = 0.15
	probationMax     = probationPercent * 5000
)

// NoDetection is the threshold Optimize reports when detecting nothing
// scores best. It is NAB's starting threshold, above every valid score.
const NoDetection = 1.1

// ProbationLength returns the number of leading rows of an n-row file that
// NAB does not score: min(floor(0.15 n), 750).
func ProbationLength(n int) int {
	return int(math.Min(math.Floor(probationPercent*float64(n)), probationMax))
}

// ScaledSigmoid is NAB's scoring curve of a relative position y:
// 2/(1+exp(5y)) - 1, or -1 beyond y > 3. It falls from about 0.987 at the
// left edge of a window (y = -1) through 0 at its right edge (y = 0) to
// about -0.987 one window width after it (y = 1).
func ScaledSigmoid(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2*(1/(1+math.Exp(5*y))) - 1
}

// Weights writes into dst (grown as needed) the weight NAB's sweeper gives a
// detection at each row of f, whether or not the row is in probation:
//
//   - inside a window [l, r] of width W: TP * σ(-(r-i+1)/W) / σ(-1), which is
//     TP at the window's first row and falls towards its end;
//   - before the first window: -FP;
//   - after a window [l, r] of width W: FP * σ((i-r)/(W-1)), from about 0
//     right after the window down to -FP. A one-row window divides by zero:
//     NAB would fail, here the weight is -FP.
func Weights(dst []float64, f *File, p Profile) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	if err := f.Validate(); err != nil {
		return dst, err
	}
	return weights(dst, f, p), nil
}

// weights implements Weights for a validated file and profile.
func weights(dst []float64, f *File, p Profile) []float64 {
	n := f.Rows()
	dst = slices.Grow(dst[:0], n)[:n]
	maxTP := ScaledSigmoid(-1)
	i := 0
	for ; i < n && (len(f.Windows) == 0 || i < f.Windows[0].Start); i++ {
		dst[i] = -p.FP
	}
	for k, w := range f.Windows {
		width := float64(w.End - w.Start + 1)
		for ; i <= w.End; i++ {
			dst[i] = ScaledSigmoid(-float64(w.End-i+1)/width) * p.TP / maxTP
		}
		next := n
		if k+1 < len(f.Windows) {
			next = f.Windows[k+1].Start
		}
		for ; i < next; i++ {
			dst[i] = ScaledSigmoid(float64(i-w.End)/(width-1)) * p.FP
		}
	}
	return dst
}

// Contributions writes into dst (grown as needed) each row's share of f's
// raw score at threshold, laid out like the S(t)_<profile> columns of NAB's
// published per-row results: a detected false positive holds its weight, a
// window holds its score (its best detection's weight, or -FN when it has
// none) at its first scored row, every other row holds 0. The sum of dst is
// the file's raw score.
func Contributions(dst []float64, f *File, scores []float64, p Profile, threshold float64) ([]float64, error) {
	if err := checkScoring(p, threshold); err != nil {
		return dst, err
	}
	if err := checkFile(f, scores); err != nil {
		return dst, err
	}
	w := weights(nil, f, p)
	dst = slices.Grow(dst[:0], len(w))[:len(w)]
	clear(dst)
	fileScore(f, w, scores, p, threshold, dst)
	return dst, nil
}

// Score returns the raw NAB score of a detector over files at threshold:
// rows at or after probation whose score is at least threshold are
// detections. scores[i] holds one anomaly score in [0, 1] per row of
// files[i].
func Score(files []File, scores [][]float64, p Profile, threshold float64) (raw float64, err error) {
	if err := checkScoring(p, threshold); err != nil {
		return 0, err
	}
	if err := checkCorpus(files, scores); err != nil {
		return 0, err
	}
	return score(files, scores, p, threshold), nil
}

// score implements Score for validated inputs.
func score(files []File, scores [][]float64, p Profile, threshold float64) float64 {
	var w []float64
	var total float64
	for i := range files {
		w = weights(w, &files[i], p)
		total += fileScore(&files[i], w, scores[i], p, threshold, nil)
	}
	return total
}

// fileScore scores one file from its row weights, as NAB's sweeper does:
// the weights of detections outside windows, plus for every window with a
// scored row its best detection's weight, or -FN if it has none. If contrib
// is not nil, each term is added to contrib at its row.
func fileScore(f *File, w, scores []float64, p Profile, threshold float64, contrib []float64) float64 {
	n := len(scores)
	probation := ProbationLength(n)
	k := 0
	for k < len(f.Windows) && f.Windows[k].End < probation {
		k++ // wholly in probation: neither detectable nor missed
	}
	var fp, windows float64
	for i := probation; i < n; {
		if k < len(f.Windows) && i >= f.Windows[k].Start {
			best := -p.FN
			for ; i <= f.Windows[k].End; i++ {
				if scores[i] >= threshold && w[i] > best {
					best = w[i]
				}
			}
			windows += best
			if contrib != nil {
				contrib[max(f.Windows[k].Start, probation)] += best
			}
			k++
			continue
		}
		next := n
		if k < len(f.Windows) {
			next = f.Windows[k].Start
		}
		for ; i < next; i++ {
			if scores[i] >= threshold {
				fp += w[i]
				if contrib != nil {
					contrib[i] += w[i]
				}
			}
		}
	}
	return fp + windows
}

// point is one scored row of the corpus, for the threshold sweep.
type point struct {
	score  float64
	weight float64
	window int32 // corpus-wide index of the row's window, or -1
}

// Optimize finds the threshold that maximizes the corpus's raw score, as
// NAB's sweeper does: the candidates are NoDetection and every distinct
// score of a scored row; a candidate detects every row scoring at least it.
// Of equal raw scores the highest threshold wins. It sorts the scored rows
// once, so it takes O(N log N) time for N rows.
func Optimize(files []File, scores [][]float64, p Profile) (threshold, raw float64, err error) {
	if err := checkScoring(p, 0); err != nil {
		return 0, 0, err
	}
	if err := checkCorpus(files, scores); err != nil {
		return 0, 0, err
	}

	rows := 0
	for i := range files {
		rows += files[i].Rows() - ProbationLength(files[i].Rows())
	}
	pts := make([]point, 0, rows)
	var w []float64
	var windows int32
	for fi := range files {
		f := &files[fi]
		w = weights(w, f, p)
		n := f.Rows()
		k := 0
		for i := ProbationLength(n); i < n; i++ {
			for k < len(f.Windows) && f.Windows[k].End < i {
				k++
			}
			win := int32(-1)
			if k < len(f.Windows) && i >= f.Windows[k].Start {
				if i == f.Windows[k].Start || i == ProbationLength(n) {
					windows++ // first scored row of this window
				}
				win = windows - 1
			}
			pts = append(pts, point{score: scores[fi][i], weight: w[i], window: win})
		}
	}
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(b.score, a.score) })

	best := make([]float64, windows)
	for k := range best {
		best[k] = -p.FN
	}
	var fp float64
	windowSum := -p.FN * float64(windows)
	threshold, raw = NoDetection, fp+windowSum
	for j := 0; j < len(pts); {
		cur := pts[j].score
		for ; j < len(pts) && pts[j].score == cur; j++ {
			pt := pts[j]
			switch {
			case pt.window < 0:
				fp += pt.weight
			case pt.weight > best[pt.window]:
				windowSum += pt.weight - best[pt.window]
				best[pt.window] = pt.weight
			}
		}
		if s := fp + windowSum; s > raw {
			threshold, raw = cur, s
		}
	}
	// Report the score exactly as Score computes it at that threshold,
	// free of the sweep's running-sum rounding.
	return threshold, score(files, scores, p, threshold), nil
}

// Normalize maps a raw corpus score to NAB's scale, on which the null
// detector (no detections) scores 0 and the perfect one 100:
// 100 * (raw - null) / (perfect - null), where perfect = TP * windows and
// null = -FN * (windows with a row after probation). It returns NaN if the
// two coincide, e.g. for a corpus without windows.
func Normalize(raw float64, files []File, p Profile) float64 {
	var all, scorable int
	for i := range files {
		probation := ProbationLength(files[i].Rows())
		for _, w := range files[i].Windows {
			all++
			if w.End >= probation {
				scorable++
			}
		}
	}
	perfect := p.TP * float64(all)
	null := -p.FN * float64(scorable)
	if perfect == null {
		return math.NaN()
	}
	return 100 * (raw - null) / (perfect - null)
}

// ProfileScore is a detector's result under one profile.
type ProfileScore struct {
	Profile    string
	Threshold  float64 // corpus-optimal threshold
	Raw        float64 // raw score at Threshold
	Normalized float64 // Raw on the 0 (null) to 100 (perfect) scale
}

// Result holds a detector's scores under each of Profiles().
type Result struct {
	Profiles []ProfileScore
}

// Get returns the score under the named profile.
func (r Result) Get(profile string) (ProfileScore, bool) {
	for _, s := range r.Profiles {
		if s.Profile == profile {
			return s, true
		}
	}
	return ProfileScore{}, false
}

// Evaluate scores a detector as NAB's leaderboard does: for each of
// Profiles(), the corpus-optimal threshold, its raw and normalized score.
func Evaluate(files []File, scores [][]float64) (Result, error) {
	var r Result
	for _, p := range Profiles() {
		threshold, raw, err := Optimize(files, scores, p)
		if err != nil {
			return Result{}, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		r.Profiles = append(r.Profiles, ProfileScore{
			Profile:    p.Name,
			Threshold:  threshold,
			Raw:        raw,
			Normalized: Normalize(raw, files, p),
		})
	}
	return r, nil
}

func checkScoring(p Profile, threshold float64) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if math.IsNaN(threshold) {
		return ErrThreshold
	}
	return nil
}

func checkCorpus(files []File, scores [][]float64) error {
	if len(files) != len(scores) {
		return fmt.Errorf("%d files, %d score slices: %w", len(files), len(scores), ErrFileCount)
	}
	for i := range files {
		if err := checkFile(&files[i], scores[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkFile(f *File, scores []float64) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if len(scores) != f.Rows() {
		return fmt.Errorf("%s: %d scores for %d rows: %w", f.label(), len(scores), f.Rows(), ErrLength)
	}
	for i, s := range scores {
		if !(s >= 0 && s <= 1) { // also catches NaN
			return fmt.Errorf("%s: row %d: score %v: %w", f.label(), i, s, ErrScore)
		}
	}
	return nil
}
