package forecast

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// pooledOffset is Offset as it was before errors were thinned: sort the
// pooled errors of the steps near h, widened a step each side at a time
// while they are too few for q's conformal rank to lie among them, and
// take the conformal rank.
func pooledOffset(errs [][]float64, h int, q float64) float64 {
	H := len(errs)
	if H == 0 {
		return 0
	}
	scale := 1.0
	if h > H {
		scale = math.Sqrt(float64(h) / float64(H))
		h = H
	}
	w := int(float64(H) * calibrationPool)
	rankOf := func(n int) int {
		if q >= 0.5 {
			return int(math.Ceil((float64(n) + 1) * q))
		}
		return int(math.Floor((float64(n) + 1) * q))
	}
	var pool []float64
	for lo, hi := h-w, h+w; ; lo, hi = lo-1, hi+1 {
		pool = pool[:0]
		for s := max(1, lo); s <= min(H, hi); s++ {
			pool = append(pool, errs[s-1]...)
		}
		if r := rankOf(len(pool)); (r >= 1 && r <= len(pool)) || (lo <= 1 && hi >= H) {
			break
		}
	}
	if len(pool) == 0 {
		return 0
	}
	slices.Sort(pool)
	rank := rankOf(len(pool))
	rank = min(max(rank, 1), len(pool))
	return scale * pool[rank-1]
}

// stepErrors returns horizon lists of sorted errors, count(s) of them for
// step s (0-based), Gaussian with a spread growing with the step and, when
// spiky, one error in 50 multiplied by up to 20 (a heavy right tail).
// Rounding makes ties.
func stepErrors(rng *rand.Rand, horizon int, count func(s int) int, spiky bool) [][]float64 {
	errs := make([][]float64, horizon)
	for s := range errs {
		for range count(s) {
			e := math.Round(100*rng.NormFloat64()*(1+float64(s)/10)) / 100
			if spiky && rng.IntN(50) == 0 {
				e = math.Abs(e) * (1 + 19*rng.Float64())
			}
			errs[s] = append(errs[s], e)
		}
		slices.Sort(errs[s])
		errs[s] = newErrorList(errs[s]).Values() // as a Calibration holds them
	}
	return errs
}

// lists is errs, each list as a Calibration holds it.
func lists(errs [][]float64) []ErrorList {
	out := make([]ErrorList, len(errs))
	for s, e := range errs {
		out[s] = newErrorList(e)
	}
	return out
}

var offsetLevels = []float64{0.001, 0.01, 0.025, 0.1, 0.4999, 0.5, 0.9, 0.975, 0.99, 0.995, 0.999}

// TestOffsetWholeErrorsIsExact checks that errors kept whole give the
// conformal rank of the pooled errors exactly, as before thinning: short
// and empty steps, ties, horizons whose pool does not fit Offset's stack
// array, and steps beyond the horizon.
func TestOffsetWholeErrorsIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name    string
		horizon int
		count   func(s int) int
	}{
		{"one step", 1, func(int) int { return 7 }},
		{"hourly", 48, func(int) int { return 169 }},
		{"uneven with empty steps", 24, func(s int) int { return (s * 37) % 11 }},
		{"old snapshot, long lists", 48, func(int) int { return 1441 }},
		{"wide pool", 400, func(s int) int { return 5 + s%3 }},
		// A young history with its last hours kept out of training:
		// the first steps score no error, the later ones a few.
		{"first steps empty", 27, func(s int) int { return max(0, s-4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := stepErrors(rng, tc.horizon, tc.count, true)
			c := Calibration{Errors: lists(errs)}
			for h := 0; h <= tc.horizon+3; h++ {
				for _, q := range offsetLevels {
					if got, want := c.Offset(h, q), pooledOffset(errs, h, q); got != want {
						t.Fatalf("Offset(%d, %v) = %v, want %v", h, q, got, want)
					}
				}
			}
		})
	}
}

// TestThinnedOffsetsTrackWhole checks the offsets of thinned errors
// against the pooled whole errors they came from (1,441 a step as for two
// weeks of one-minute data), Gaussian and with a heavy tail: each must lie
// between the pooled order statistics one standard error of the rank,
// √(nq(1-q)), either side of the conformal rank, so that thinning moves an
// offset by less than the sampling error of the quantile itself.
func TestThinnedOffsetsTrackWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, spiky := range []bool{false, true} {
		errs := stepErrors(rng, 48, func(int) int { return 1441 }, spiky)
		cv := &cvResult{}
		for _, e := range errs {
			cv.errors = append(cv.errors, slices.Clone(e))
		}
		c := newCalibration(cv, false)
		if len(c.Counts) != 48 || c.Counts[0] != 1441 || c.Errors[0].Len() != calibrationKeep {
			t.Fatalf("spiky %v: %d counts, first %v, %d kept; want 48, 1441, %d", spiky, len(c.Counts), c.Counts[0], c.Errors[0].Len(), calibrationKeep)
		}
		var worst float64 // |thinned - whole| in standard errors
		for h := 1; h <= 48; h++ {
			w := int(48 * calibrationPool)
			var pool []float64
			for s := max(1, h-w); s <= min(48, h+w); s++ {
				pool = append(pool, errs[s-1]...)
			}
			slices.Sort(pool)
			n := float64(len(pool))
			for _, q := range offsetLevels {
				got, want := c.Offset(h, q), pooledOffset(errs, h, q)
				se := math.Sqrt(n * q * (1 - q))
				lo := pool[max(0, int(math.Floor(q*n-se)))]
				hi := pool[min(len(pool)-1, int(math.Ceil(q*n+se)))]
				if got < lo || got > hi {
					t.Errorf("spiky %v: Offset(%d, %v) = %.4f, whole errors give %.4f, within one standard error [%.4f, %.4f]", spiky, h, q, got, want, lo, hi)
				}
				if hi > lo {
					worst = max(worst, 2*math.Abs(got-want)/(hi-lo))
				}
			}
		}
		t.Logf("spiky %v: thinned offsets within %.2f standard errors", spiky, worst)
	}
}

func TestThinnedLayout(t *testing.T) {
	for _, l := range []thinnedLayout{{n: 513, k: 128}, {n: 1441, k: 128}, {n: 100000, k: 128}, {n: 130, k: 129}, {n: 10, k: 3}} {
		prev := -1.0
		for i := range l.k {
			p := l.pos(i)
			if !(p > prev) || p > float64(l.n-1) {
				t.Fatalf("%+v: pos(%d) = %v after %v", l, i, p, prev)
			}
			if mirror := float64(l.n-1) - l.pos(l.k-1-i); math.Abs(p-mirror) > 1e-9*float64(l.n) {
				t.Fatalf("%+v: pos(%d) = %v, mirrored %v", l, i, p, mirror)
			}
			prev = p
		}
		if 3*l.n <= 2*l.k*l.k && (l.pos(0) != 0 || l.pos(l.k-1) != float64(l.n-1)) {
			t.Errorf("%+v: ends at %v and %v, want the extremes 0 and %d", l, l.pos(0), l.pos(l.k-1), l.n-1)
		}
		// Thinning the ranks themselves gives the positions.
		ranks := make([]float64, l.n)
		for i := range ranks {
			ranks[i] = float64(i)
		}
		for i, v := range thin(ranks, l.k).Values() {
			if math.Abs(v-l.pos(i)) > 1e-3*float64(l.n) {
				t.Fatalf("%+v: thin gives %v at %d, want %v", l, v, i, l.pos(i))
			}
		}
	}
}

func TestNewCalibrationThinsOnlyLongLists(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	counts := []int{0, 40, calibrationThinAbove, calibrationThinAbove + 1, 3000}
	errs := stepErrors(rng, len(counts), func(s int) int { return counts[s] }, false)
	cv := &cvResult{errors: make([][]float64, len(errs)), preds: make([][]float64, len(errs))}
	for s, e := range errs {
		cv.errors[s] = slices.Clone(e)
		rng.Shuffle(len(cv.errors[s]), func(i, j int) { cv.errors[s][i], cv.errors[s][j] = cv.errors[s][j], cv.errors[s][i] })
		cv.errors[s] = append(cv.errors[s], math.NaN()) // an unscored origin
	}
	c := newCalibration(cv, false)
	wantCounts := []int{0, 0, 0, calibrationThinAbove + 1, 3000}
	if !slices.Equal(c.Counts, wantCounts) {
		t.Errorf("Counts %v, want %v", c.Counts, wantCounts)
	}
	for s, l := range c.Errors {
		e := l.Values()
		if c.Counts[s] == 0 && !slices.Equal(e, errs[s]) {
			t.Errorf("step %d: %d errors changed by keeping them whole", s+1, len(e))
		}
		if c.Counts[s] > 0 && (len(e) != calibrationKeep || !slices.IsSorted(e) || e[0] != errs[s][0] || e[len(e)-1] != errs[s][len(errs[s])-1]) {
			t.Errorf("step %d: %d thinned errors from %v to %v, want %d sorted from the least %v to the largest %v",
				s+1, len(e), e[0], e[len(e)-1], calibrationKeep, errs[s][0], errs[s][len(errs[s])-1])
		}
	}

	// Saved and loaded, the calibration is the same.
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var loaded Calibration
	if err := json.Unmarshal(raw, &loaded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("calibration changed by saving and loading:\n got %+v\nwant %+v", loaded, c)
	}

	// With nothing thinned, the JSON is as before: no counts.
	whole := newCalibration(&cvResult{errors: [][]float64{{3, 1, 2}}}, false)
	if raw, _ := json.Marshal(whole); string(raw) != `{"errors":[[1,2,3]]}` {
		t.Errorf("whole calibration saved as %s", raw)
	}
}

// TestOffsetSurvivesBadCounts feeds Offset counts that no fit writes (from
// a damaged or hand-edited snapshot): it must not panic, and counts not
// above a list's length mean the list is whole.
func TestOffsetSurvivesBadCounts(t *testing.T) {
	errs := [][]float64{{1, 2, 3}, {4, 5}, {6}}
	for _, counts := range [][]int{nil, {}, {-5, 0, 1}, {3, 2, 1, 99}, {0}, {1 << 40, 7, 0}} {
		c := Calibration{Errors: lists(errs), Counts: counts}
		for h := 1; h <= 4; h++ {
			for _, q := range offsetLevels {
				got := c.Offset(h, q)
				if math.IsNaN(got) || got < 1 || got > 6*math.Sqrt(4.0/3) {
					t.Errorf("counts %v: Offset(%d, %v) = %v", counts, h, q, got)
				}
			}
		}
	}
}

// BenchmarkOffset is one offset of a two-week one-minute calibration (48
// steps of 1,441 errors, pooled 13 at a time), thinned and, as saved by
// older versions, whole; "sorted" is how Offset found it before, sorting
// the pooled whole errors at every call.
func BenchmarkOffset(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	errs := stepErrors(rng, 48, func(int) int { return 1441 }, true)
	cv := &cvResult{}
	for _, e := range errs {
		cv.errors = append(cv.errors, slices.Clone(e))
	}
	for _, c := range []struct {
		name string
		cal  Calibration
	}{{"thinned", newCalibration(cv, false)}, {"whole", Calibration{Errors: lists(errs)}}} {
		for _, q := range []float64{0.5, 0.9, 0.99} {
			b.Run(c.name+"/q="+strconv.FormatFloat(q, 'g', -1, 64), func(b *testing.B) {
				b.ReportAllocs()
				h := 0
				for b.Loop() {
					c.cal.Offset(h%48+1, q)
					h++
				}
			})
		}
	}
	b.Run("sorted/q=0.9", func(b *testing.B) {
		b.ReportAllocs()
		h := 0
		for b.Loop() {
			pooledOffset(errs, h%48+1, 0.9)
			h++
		}
	})
}
