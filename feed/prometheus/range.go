package prometheus

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// grid is the regular grid of one Range call in Prometheus's resolution,
// milliseconds: point i is at start + i*step.
type grid struct {
	start, step int64 // Unix milliseconds, milliseconds
	n           int
}

// newGrid returns the grid of points start + i*step that are not after end.
// Prometheus timestamps are whole milliseconds, so start is truncated to
// the millisecond and step must be a whole number of them.
func newGrid(start, end time.Time, step time.Duration) (grid, error) {
	if step <= 0 || step%time.Millisecond != 0 {
		return grid{}, fmt.Errorf("%w: step %v is not a positive whole number of milliseconds", ErrRange, step)
	}
	s, e := start.UnixMilli(), end.UnixMilli()
	if e < s {
		return grid{}, fmt.Errorf("%w: end %s is before start %s", ErrRange, formatTime(end), formatTime(start))
	}
	g := grid{start: s, step: step.Milliseconds()}
	// Unsigned arithmetic keeps e-s exact over the whole int64 range.
	points := uint64(e-s)/uint64(g.step) + 1
	if points > MaxPoints {
		return grid{}, fmt.Errorf("%w: %d points of %v, more than %d; use a longer step", ErrRange, points, step, MaxPoints)
	}
	g.n = int(points)
	return g, nil
}

// time returns the timestamp of grid point i.
func (g grid) time(i int) time.Time { return time.UnixMilli(g.start + int64(i)*g.step).UTC() }

// piece is one request's share of a grid: points [first, first+n).
type piece struct{ first, n int }

// last is the grid index of the piece's last point.
func (p piece) last() int { return p.first + p.n - 1 }

// split cuts n grid points into pieces of at most per points: piece k
// covers points [k*per, min((k+1)*per, n)). The pieces neither overlap
// nor leave holes, and each one starts on the grid, so its own query_range
// evaluates exactly the grid's points.
func split(n, per int) []piece {
	if n <= 0 || per <= 0 {
		return nil
	}
	pieces := make([]piece, 0, (n+per-1)/per)
	for first := 0; first < n; first += per {
		pieces = append(pieces, piece{first: first, n: min(per, n-first)})
	}
	return pieces
}

// stitch writes the samples of one series returned for piece p into
// values, the whole grid's, leaving NaN where there is no sample. A sample
// that is not on one of the piece's grid points, or is not after the one
// before it, is an error: query_range never sends one, so the answer
// cannot be trusted.
func stitch(values []float64, g grid, p piece, samples []model.SamplePair) error {
	prev := int64(-1)
	for _, sp := range samples {
		t := int64(sp.Timestamp)
		d := t - g.start
		if d < 0 || d%g.step != 0 {
			return fmt.Errorf("%w: sample at %s is not on the grid of step %v from %s",
				ErrBadResponse, formatTime(sp.Timestamp.Time()), time.Duration(g.step)*time.Millisecond, formatTime(g.time(0)))
		}
		i := d / g.step
		if i < int64(p.first) || i > int64(p.last()) {
			return fmt.Errorf("%w: sample at %s is outside the requested [%s, %s]",
				ErrBadResponse, formatTime(sp.Timestamp.Time()), formatTime(g.time(p.first)), formatTime(g.time(p.last())))
		}
		if i <= prev {
			return fmt.Errorf("%w: sample at %s is out of order or repeated",
				ErrBadResponse, formatTime(sp.Timestamp.Time()))
		}
		prev = i
		// A NaN sample (0/0 in the query, say) stays NaN: a gap.
		values[i] = float64(sp.Value)
	}
	return nil
}

// fillNaN sets every value to NaN, the gap marker.
func fillNaN(values []float64) {
	nan := math.NaN()
	for i := range values {
		values[i] = nan
	}
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
