package prometheus

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		n, per int
		want   []piece
	}{
		{"empty", 0, 5, nil},
		{"one point", 1, 5, []piece{{0, 1}}},
		{"fewer than per", 4, 5, []piece{{0, 4}}},
		{"exactly per", 5, 5, []piece{{0, 5}}},
		{"per plus one", 6, 5, []piece{{0, 5}, {5, 1}}},
		{"exactly twice", 10, 5, []piece{{0, 5}, {5, 5}}},
		{"uneven end", 13, 5, []piece{{0, 5}, {5, 5}, {10, 3}}},
		{"per one", 3, 1, []piece{{0, 1}, {1, 1}, {2, 1}}},
		{"14 days of minutes", 20161, 11000, []piece{{0, 11000}, {11000, 9161}}},
		{"exactly Prometheus's limit", 11000, 11000, []piece{{0, 11000}}},
		{"limit plus one", 11001, 11000, []piece{{0, 11000}, {11000, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := split(tt.n, tt.per); !slices.Equal(got, tt.want) {
				t.Errorf("split(%d, %d) = %v, want %v", tt.n, tt.per, got, tt.want)
			}
		})
	}
}

func TestNewGrid(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		start, end time.Time
		step       time.Duration
		wantN      int
		wantStart  time.Time
		wantErr    error
	}{
		{"end on grid is included", t0, t0.Add(10 * time.Minute), time.Minute, 11, t0, nil},
		{"end off grid", t0, t0.Add(10*time.Minute + 59*time.Second), time.Minute, 11, t0, nil},
		{"start equals end", t0, t0, time.Minute, 1, t0, nil},
		{"14 days of minutes", t0, t0.Add(14 * 24 * time.Hour), time.Minute, 20161, t0, nil},
		{"start truncated to ms", t0.Add(1500 * time.Microsecond), t0.Add(time.Second), 100 * time.Millisecond, 10, t0.Add(time.Millisecond), nil},
		{"end before start", t0, t0.Add(-time.Second), time.Minute, 0, time.Time{}, ErrRange},
		{"zero step", t0, t0, 0, 0, time.Time{}, ErrRange},
		{"negative step", t0, t0, -time.Minute, 0, time.Time{}, ErrRange},
		{"sub-millisecond step", t0, t0, 1500 * time.Microsecond, 0, time.Time{}, ErrRange},
		{"too many points", t0, t0.Add(400 * 24 * time.Hour), time.Second, 0, time.Time{}, ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newGrid(tt.start, tt.end, tt.step)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if g.n != tt.wantN || !g.time(0).Equal(tt.wantStart) {
				t.Errorf("grid of %d points from %s, want %d from %s", g.n, g.time(0), tt.wantN, tt.wantStart)
			}
		})
	}
}

func TestStitch(t *testing.T) {
	g := grid{start: 1_000_000, step: 60_000, n: 10}
	p := piece{first: 5, n: 3} // points 5, 6, 7
	at := func(i int64, v float64) model.SamplePair {
		return model.SamplePair{Timestamp: model.Time(g.start + i*g.step), Value: model.SampleValue(v)}
	}
	off := at(5, 1)
	off.Timestamp++
	tests := []struct {
		name    string
		samples []model.SamplePair
		want    map[int]float64 // the rest NaN
		wantErr error
	}{
		{"all points", []model.SamplePair{at(5, 1), at(6, 2), at(7, 3)}, map[int]float64{5: 1, 6: 2, 7: 3}, nil},
		{"gap in the middle", []model.SamplePair{at(5, 1), at(7, 3)}, map[int]float64{5: 1, 7: 3}, nil},
		{"NaN sample is a gap", []model.SamplePair{at(5, math.NaN()), at(6, 2)}, map[int]float64{6: 2}, nil},
		{"no samples", nil, map[int]float64{}, nil},
		{"off grid", []model.SamplePair{off}, nil, ErrBadResponse},
		{"before the piece", []model.SamplePair{at(4, 1)}, nil, ErrBadResponse},
		{"after the piece", []model.SamplePair{at(8, 1)}, nil, ErrBadResponse},
		{"before the grid", []model.SamplePair{at(-1, 1)}, nil, ErrBadResponse},
		{"repeated", []model.SamplePair{at(5, 1), at(5, 1)}, nil, ErrBadResponse},
		{"out of order", []model.SamplePair{at(6, 1), at(5, 1)}, nil, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := make([]float64, g.n)
			fillNaN(values)
			err := stitch(values, g, p, tt.samples)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			for i, v := range values {
				want, ok := tt.want[i]
				if !ok {
					want = math.NaN()
				}
				if !sameFloat(v, want) {
					t.Errorf("values[%d] = %v, want %v", i, v, want)
				}
			}
		})
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// FuzzSplitStitch checks the arithmetic from a range to its pieces and
// back: each piece, evaluated the way Prometheus evaluates query_range
// (start, start+step, ... up to end), yields exactly its own grid points,
// and together they yield every point once.
func FuzzSplitStitch(f *testing.F) {
	f.Add(int64(1714521600000), int64(60_000), 20161, 11000)
	f.Add(int64(0), int64(1), 1, 1)
	f.Add(int64(-5000), int64(7), 100, 3)
	f.Add(int64(1714521600123), int64(15_000), 11001, 11000)
	f.Fuzz(func(t *testing.T, startMs, stepMs int64, n, per int) {
		// Inputs outside the domain are not tests.
		if stepMs <= 0 || stepMs > int64(time.Hour/time.Millisecond)*24*365 || n <= 0 || n > 50_000 || per <= 0 {
			return
		}
		if startMs < -1<<50 || startMs > 1<<50 {
			return // keep time.UnixMilli in range
		}
		start := time.UnixMilli(startMs)
		step := time.Duration(stepMs) * time.Millisecond
		end := start.Add(time.Duration(n-1) * step)
		g, err := newGrid(start, end, step)
		if err != nil {
			t.Fatalf("newGrid: %v", err)
		}
		if g.n != n {
			t.Fatalf("grid of %d points, want %d", g.n, n)
		}
		values := make([]float64, g.n)
		fillNaN(values)
		pieces := split(g.n, per)
		next := 0
		for _, p := range pieces {
			if p.first != next || p.n <= 0 || p.n > per {
				t.Fatalf("piece %+v after point %d, per %d", p, next, per)
			}
			next = p.first + p.n
			// What query_range would evaluate for this piece's bounds.
			ps, pe := g.time(p.first).UnixMilli(), g.time(p.last()).UnixMilli()
			var samples []model.SamplePair
			for ts := ps; ts <= pe; ts += stepMs {
				samples = append(samples, model.SamplePair{Timestamp: model.Time(ts), Value: model.SampleValue((ts - startMs) / stepMs)})
			}
			if len(samples) != p.n {
				t.Fatalf("piece %+v evaluates %d points", p, len(samples))
			}
			if err := stitch(values, g, p, samples); err != nil {
				t.Fatalf("stitch piece %+v: %v", p, err)
			}
		}
		if next != n {
			t.Fatalf("pieces end at %d, want %d", next, n)
		}
		for i, v := range values {
			if v != float64(i) {
				t.Fatalf("values[%d] = %v", i, v)
			}
		}
	})
}
