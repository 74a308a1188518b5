package forecast

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestHarmonicGram checks the closed-form X'X against the one summed over
// the rows: hours with a day and a week (shared harmonics dropped), a day
// and a week of minutes, periods of no common divisor, a history that
// ends mid-cycle, and one shorter than its season.
func TestHarmonicGram(t *testing.T) {
	for _, c := range []struct {
		periods, orders []int
		n               int
	}{
		{[]int{24, 168}, nil, 24 * 7 * 3},
		{[]int{24, 168}, []int{11, 20}, 1000},
		{[]int{1440, 10080}, nil, 14*1440 + 17},
		{[]int{1451, 1440}, []int{20, 20}, 20160},
		{[]int{7}, []int{3}, 5},
		{[]int{12}, []int{5}, 1},
	} {
		t.Run(fmt.Sprint(c.periods, c.orders, c.n), func(t *testing.T) {
			m := &Harmonic{HarmonicConfig: HarmonicConfig{Periods: c.periods, Orders: c.orders}}
			if m.Orders == nil {
				for _, p := range c.periods {
					m.Orders = append(m.Orders, defaultOrder(p, 0))
				}
			}
			p := m.numCoef()
			want := mat.NewSymDense(p, nil)
			row := make([]float64, p)
			for tt := range c.n {
				m.features(row, tt)
				want.SymRankOne(want, 1, mat.NewVecDense(p, row))
			}
			got := m.gram(c.n)
			if got.SymmetricDim() != p {
				t.Fatalf("%d regressors, want %d", got.SymmetricDim(), p)
			}
			for i := range p {
				for j := i; j < p; j++ {
					// Rounding in the summed one grows with n.
					if d := math.Abs(got.At(i, j) - want.At(i, j)); d > 1e-9*float64(c.n) {
						t.Fatalf("X'X[%d,%d] = %v, summed over the rows %v", i, j, got.At(i, j), want.At(i, j))
					}
				}
			}
		})
	}
}

// TestHarmonicSum checks the geometric series against the plain sum,
// with a product m·n far beyond what a float holds exactly.
func TestHarmonicSum(t *testing.T) {
	for _, c := range []struct {
		m, q int64
		n    int
	}{{1, 24, 100}, {-5, 168, 1000}, {24, 24, 50}, {7, 10080 * 1440, 20160}, {123_456_789, 604_800 * 86_400, 1_200_000}} {
		var want complex128
		for tt := range c.n {
			turns := math.Mod(float64(c.m%c.q)*float64(tt), float64(c.q)) / float64(c.q)
			s, co := math.Sincos(2 * math.Pi * turns)
			want += complex(co, s)
		}
		got := harmonicSum(c.m, c.q, c.n)
		if math.Abs(real(got)-real(want)) > 1e-7*float64(c.n) || math.Abs(imag(got)-imag(want)) > 1e-7*float64(c.n) {
			t.Errorf("harmonicSum(%d, %d, %d) = %v, summed %v", c.m, c.q, c.n, got, want)
		}
	}
}

// TestHarmonicFolded checks X'z from the folded series, and the residuals
// from the profiles, against the rows' regressors.
func TestHarmonicFolded(t *testing.T) {
	m := &Harmonic{HarmonicConfig: HarmonicConfig{Periods: []int{24, 168}, Orders: []int{11, 20}}}
	n := 24*7*3 + 5
	z := make([]float64, n)
	for i := range z {
		z[i] = math.Sin(float64(i)*0.3) + float64(i%24) + 0.01*float64(i)
	}
	p := m.numCoef()
	m.Coef = make([]float64, p)
	for i := range m.Coef {
		m.Coef[i] = 1 / float64(i+1)
	}
	want := make([]float64, p)
	row := make([]float64, p)
	profiles := m.profiles()
	for tt, v := range z {
		m.features(row, tt)
		for i := range want {
			want[i] += row[i] * v
		}
		if got, want := seasonalAt(profiles, m.Periods, tt)+m.Coef[0], m.deterministic(row, tt); math.Abs(got-want) > 1e-9 {
			t.Fatalf("regression at %d from the profiles %v, from the regressors %v", tt, got, want)
		}
	}
	got := m.folded(z)
	if len(got) != p {
		t.Fatalf("%d sums, want %d", len(got), p)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9*float64(n) {
			t.Fatalf("X'z[%d] = %v folded, %v from the rows", i, got[i], want[i])
		}
	}
}

// TestHarmonicLongPeriod fits a period longer than the series, which
// FitHarmonic's callers outside Fit may ask for: the regressors are then
// taken point by point (a fold would hold a value a phase), and the fit
// is the one the closed form gives on the same points when the period
// fits.
func TestHarmonicLongPeriod(t *testing.T) {
	y := make([]float64, 300)
	for i := range y {
		y[i] = 10 + 3*math.Sin(2*math.Pi*float64(i)/250) + 0.1*math.Cos(float64(i))
	}
	long, err := FitHarmonic(y, HarmonicConfig{Periods: []int{1 << 40}, Orders: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(long.Coef) != 5 {
		t.Fatalf("%d coefficients, want 5", len(long.Coef))
	}
	// Below the length, point by point and by phase agree.
	byPhase, err := FitHarmonic(y, HarmonicConfig{Periods: []int{250}, Orders: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float64, len(y))
	copy(z, y)
	m := &Harmonic{HarmonicConfig: byPhase.HarmonicConfig}
	want, err := leastSquares(z, m.numCoef(), m.features)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(byPhase.Coef[i]-want[i]) > 1e-9 {
			t.Fatalf("coefficient %d by phase %v, point by point %v", i, byPhase.Coef[i], want[i])
		}
	}
}
