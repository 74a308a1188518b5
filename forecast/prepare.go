package forecast

import (
	"fmt"
	"math"
)

// prepared is a series made ready for fitting.
type prepared struct {
	y        []float64 // no NaN, no Inf, no negative value
	gap      []bool    // y[i] was filled in, not observed
	trailing int       // NaN points after the last observation, replayed as gaps
	offset   int       // index in the input of y[0] (leading NaNs dropped)
	notes    []string
}

// prepare applies the input rules that Fit documents:
//   - an infinite value is an error naming its index;
//   - a negative value is clamped to 0 (loads are never negative);
//   - leading NaNs are dropped, trailing NaNs are kept as gaps that the
//     model steps over with its own prediction, and interior NaN gaps are
//     filled by linear interpolation here, which season detection sees
//     unless the time of day gives a better fill (detectionSeries), then
//     with a seasonal estimate once the seasons are known (replaceGaps).
func prepare(values []float64) (*prepared, error) {
	first, last := -1, -1
	negatives, firstNegative := 0, -1
	for i, v := range values {
		if math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: value at index %d is %v", ErrInvalidValue, i, v)
		}
		if math.IsNaN(v) {
			continue
		}
		if v < 0 {
			if negatives == 0 {
				firstNegative = i
			}
			negatives++
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first < 0 {
		return nil, fmt.Errorf("%w: no observed value among %d points", ErrTooShort, len(values))
	}
	p := &prepared{
		y:        make([]float64, last-first+1),
		gap:      make([]bool, last-first+1),
		trailing: len(values) - 1 - last,
		offset:   first,
	}
	if first > 0 {
		p.notes = append(p.notes, fmt.Sprintf("dropped %d leading missing points", first))
	}
	if negatives > 0 {
		p.notes = append(p.notes, fmt.Sprintf("clamped %d negative values to 0 (first at index %d)", negatives, firstNegative))
	}
	if p.trailing > 0 {
		p.notes = append(p.notes, fmt.Sprintf("the last %d points are missing; the model steps over them with its own prediction", p.trailing))
	}
	gaps := 0
	for i, v := range values[first : last+1] {
		if math.IsNaN(v) {
			p.gap[i] = true
			gaps++
			continue
		}
		p.y[i] = math.Max(v, 0)
	}
	p.fillGapsLinear()
	if gaps > 0 {
		p.notes = append(p.notes, fmt.Sprintf("filled %d missing points inside the history", gaps))
	}
	return p, nil
}

// fillGapsLinear fills every gap by linear interpolation between the
// observed points around it. prepare cuts the history from the first
// observation to the last, so every gap has an observed point on each side.
func (p *prepared) fillGapsLinear() {
	prev := 0
	for i, gap := range p.gap {
		if gap {
			continue
		}
		for j := prev + 1; j < i; j++ {
			w := float64(j-prev) / float64(i-prev)
			p.y[j] = (1-w)*p.y[prev] + w*p.y[i]
		}
		prev = i
	}
}
