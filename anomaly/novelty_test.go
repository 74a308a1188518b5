package anomaly

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNovelty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name string
		y    func(i int) float64
		at   int  // index of the departure, or -1
		want bool // whether the departure's novelty exceeds the calm stretch's
	}{
		{"sine then flat", func(i int) float64 {
			if i >= 1500 && i < 1530 {
				return 0.05 * rng.NormFloat64()
			}
			return math.Sin(2*math.Pi*float64(i)/50) + 0.05*rng.NormFloat64()
		}, 1510, true},
		{"sine", func(i int) float64 { return math.Sin(2 * math.Pi * float64(i) / 50) }, 1510, false},
		{"constant then step", func(i int) float64 {
			if i >= 1500 {
				return 2
			}
			return 1
		}, 1500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNovelty(10, 4, 200, 500)
			var calm, dep float64
			for i := range 1600 {
				v := n.update(tc.y(i))
				if !(v >= 0) {
					t.Fatalf("point %d: novelty %v", i, v)
				}
				switch {
				case i >= 1000 && i < 1490:
					calm = max(calm, v)
				case i >= tc.at && i < tc.at+10:
					dep = max(dep, v)
				}
			}
			t.Logf("calm max %.3g, departure %.3g", calm, dep)
			if (dep > calm) != tc.want {
				t.Errorf("departure %v, calm up to %v", dep, calm)
			}
		})
	}
	n := newTestNovelty(10, 4, 200, 500)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := n.update(v); got != 0 {
			t.Errorf("update(%v) = %v, want 0", v, got)
		}
	}
}

// testNovelty is a novelty with a history of its own, pushed to as the
// Default pushes to the history it shares.
type testNovelty struct{ *novelty }

func newTestNovelty(dim, stride, memory, window int) testNovelty {
	return testNovelty{newNovelty(dim, stride, memory, window, newRing(noveltyHistory(dim, stride, memory, window)))}
}

func (n testNovelty) update(y float64) float64 {
	n.hist.push(y)
	return n.novelty.update(y)
}

// storedNovelty is novelty as it was first written, each remembered
// vector stored on its own, and the scale's window sorted afresh: the
// reference for the history-backed one.
type storedNovelty struct {
	dim, stride int
	recent      *ring
	mem         []float64
	memLen      int
	memNext     int
	values      *ring // the scale's window, NaN included
	seen        int
	vec         []float64
}

func (n *storedNovelty) update(y float64) float64 {
	n.recent.push(y)
	n.values.push(y)
	n.seen++
	if n.seen < 2*n.dim {
		return 0
	}
	if (n.seen-n.dim)%n.stride == 0 {
		slot := n.mem[n.memNext*n.dim : (n.memNext+1)*n.dim]
		for k := range slot {
			slot[k] = n.recent.ago(2*n.dim - 1 - k)
		}
		n.memNext = (n.memNext + 1) % (len(n.mem) / n.dim)
		n.memLen = min(n.memLen+1, len(n.mem)/n.dim)
	}
	if !finite(y) {
		return 0
	}
	for k := range n.vec {
		n.vec[k] = n.recent.ago(n.dim - 1 - k)
		if !finite(n.vec[k]) {
			return 0
		}
	}
	best := math.Inf(1)
	for m := range n.memLen {
		v := n.mem[m*n.dim : (m+1)*n.dim]
		if slices.ContainsFunc(v, func(x float64) bool { return !finite(x) }) {
			continue
		}
		var s float64
		for k, x := range n.vec {
			d := x - v[k]
			s += d * d
		}
		best = min(best, s)
	}
	if math.IsInf(best, 1) {
		return 0
	}
	dist := math.Sqrt(best)
	var window []float32
	for k := range n.values.n {
		if v := n.values.ago(k); finite(v) {
			window = append(window, float32(v))
		}
	}
	slices.Sort(window)
	med := sortedQuantile(window, 0.5)
	scale := robustScale(window, med)
	switch {
	case scale > 0:
		return dist / scale
	case dist > 0:
		return math.Inf(1)
	}
	return 0
}

// TestNoveltyMatchesStoredVectors checks that reading the remembered
// vectors off the history gives exactly what storing each vector gave,
// with gaps (vectors with one are left out), ties and constant stretches,
// for strides below, at and above the dimension.
func TestNoveltyMatchesStoredVectors(t *testing.T) {
	for _, p := range []struct{ dim, stride, memory, window int }{
		{10, 4, 1000, 1000}, {10, 4, 200, 500}, {3, 1, 5, 8}, {4, 7, 3, 16}, {1, 1, 1, 8}, {5, 5, 40, 300},
	} {
		rng := rand.New(rand.NewPCG(uint64(p.dim), uint64(p.stride)))
		got := newTestNovelty(p.dim, p.stride, p.memory, p.window)
		want := &storedNovelty{
			dim: p.dim, stride: p.stride,
			recent: newRing(2 * p.dim),
			mem:    make([]float64, p.memory*p.dim),
			values: newRing(p.window),
			vec:    make([]float64, p.dim),
		}
		for i := range 6000 {
			y := math.Sin(2*math.Pi*float64(i)/50) + 0.1*rng.NormFloat64()
			switch {
			case i%97 == 0 || (i > 3000 && i < 3040):
				y = math.NaN()
			case i%13 == 0:
				y = math.Round(y)
			case i > 4000 && i < 4300:
				y = 2
			}
			if g, w := got.update(y), want.update(y); g != w {
				t.Fatalf("%+v, point %d: novelty %v, want %v", p, i, g, w)
			}
		}
	}
}

// TestSharedHistoryMatchesOwn checks that the Default's one history serves
// its seasonal predictor exactly as a history of the predictor's own
// would, when the period is given and when it is detected after a warm-up
// (the history then grows to three seasons and is refilled), on a stream
// with gaps.
func TestSharedHistoryMatchesOwn(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	y := make([]float64, 9000)
	for i := range y {
		y[i] = 500 + 200*math.Sin(2*math.Pi*float64(i)/1440) + 10*rng.NormFloat64()
		if i%211 == 0 || (i > 5000 && i < 5030) {
			y[i] = math.NaN()
		}
	}
	for _, o := range []Options{{Period: 1440}, {WarmUp: 3000, MaxPeriod: 1500}, {WarmUp: 500}} {
		d, err := NewDefault(&o)
		if err != nil {
			t.Fatal(err)
		}
		own := newSeasonal(o.withDefaults())
		for i, v := range y {
			if got, want := d.rz.season.predict(), own.predict(); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("%+v, point %d: shared history predicts %v, own %v", o, i, got, want)
			}
			d.Update(v)
			own.observe(held(v))
		}
		if p := d.rz.season.Period(); p == 0 && o.WarmUp != 500 {
			t.Errorf("%+v: no period detected", o)
		}
		t.Logf("%+v: period %d, history of %d values", o, d.rz.season.Period(), len(d.hist.buf))
	}
}
