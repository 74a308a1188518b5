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
	notes    []string
}

// prepare applies the input rules that Fit documents:
//   - an infinite value is an error naming its index;
//   - a negative value is clamped to 0 (loads are never negative);
//   - leading NaNs are dropped, trailing NaNs are kept as gaps that the
//     model steps over with its own prediction, and interior NaN gaps are
//     filled by linear interpolation here, then seasonally once the seasons
//     are known (fillSeasonal).
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
	prev := -1
	for i, v := range values[first : last+1] {
		if math.IsNaN(v) {
			p.gap[i] = true
			gaps++
			continue
		}
		p.y[i] = math.Max(v, 0)
		if prev >= 0 && i-prev > 1 {
			for j := prev + 1; j < i; j++ {
				w := float64(j-prev) / float64(i-prev)
				p.y[j] = (1-w)*p.y[prev] + w*p.y[i]
			}
		}
		prev = i
	}
	if gaps > 0 {
		p.notes = append(p.notes, fmt.Sprintf("filled %d missing points inside the history", gaps))
	}
	return p, nil
}

// fillSeasonal refills each interior gap with the shape of the season
// before it: y[t] = y[t-period] plus a straight line that joins the gap's
// two observed edges. Gaps within the first season keep their linear fill.
func (p *prepared) fillSeasonal(period int) {
	if period < 2 {
		return
	}
	n := len(p.y)
	for i := 0; i < n; {
		if !p.gap[i] {
			i++
			continue
		}
		j := i
		for j < n && p.gap[j] {
			j++
		}
		// gap is [i, j); i > 0 and j < n because ends are observed.
		if i-1-period >= 0 {
			left := p.y[i-1] - p.y[i-1-period]
			right := p.y[j] - p.y[j-period]
			for t := i; t < j; t++ {
				w := float64(t-i+1) / float64(j-i+1)
				p.y[t] = math.Max(0, p.y[t-period]+(1-w)*left+w*right)
			}
		}
		i = j
	}
}
