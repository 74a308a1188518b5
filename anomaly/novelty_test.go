package anomaly

import (
	"math"
	"math/rand/v2"
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
			n := newNovelty(10, 4, 200, 500)
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
	n := newNovelty(10, 4, 200, 500)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := n.update(v); got != 0 {
			t.Errorf("update(%v) = %v, want 0", v, got)
		}
	}
}

// storedNovelty is novelty as it was first written, each remembered
// vector stored on its own: the reference for the history-backed one.
type storedNovelty struct {
	dim, stride int
	recent      *ring
	mem         []float64
	memLen      int
	memNext     int
	values      *rolling
	seen        int
	vec         []float64
}

func (n *storedNovelty) update(y float64) float64 {
	if !finite(y) {
		return 0
	}
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
	for k := range n.vec {
		n.vec[k] = n.recent.ago(n.dim - 1 - k)
	}
	best := math.Inf(1)
	for m := range n.memLen {
		v := n.mem[m*n.dim : (m+1)*n.dim]
		var s float64
		for k, x := range n.vec {
			d := x - v[k]
			s += d * d
			if s >= best {
				break
			}
		}
		best = min(best, s)
	}
	if math.IsInf(best, 1) {
		return 0
	}
	dist := math.Sqrt(best)
	med := n.values.median()
	scale := robustScale(n.values.sorted, med)
	switch {
	case scale > 0:
		return dist / scale
	case dist > 0:
		return math.Inf(1)
	}
	return 0
}

// TestNoveltyMatchesStoredVectors checks that reading the remembered
// vectors off the history of finite values gives exactly what storing each
// vector gave, with gaps, ties and constant stretches, for strides below,
// at and above the dimension.
func TestNoveltyMatchesStoredVectors(t *testing.T) {
	for _, p := range []struct{ dim, stride, memory, window int }{
		{10, 4, 1000, 1000}, {10, 4, 200, 500}, {3, 1, 5, 8}, {4, 7, 3, 16}, {1, 1, 1, 8}, {5, 5, 40, 300},
	} {
		rng := rand.New(rand.NewPCG(uint64(p.dim), uint64(p.stride)))
		got := newNovelty(p.dim, p.stride, p.memory, p.window)
		want := &storedNovelty{
			dim: p.dim, stride: p.stride,
			recent: newRing(2 * p.dim),
			mem:    make([]float64, p.memory*p.dim),
			values: newRolling(p.window),
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
