package forecast

import (
	"fmt"
	"math"
	"time"
)

// A daylight-saving change moves a service's day by an hour on the UTC
// grid the load is read on: from that night, every peak comes an hour
// earlier or later. A model fitted on two weeks of which only the last
// few days have the new phase forecasts the old one for days (a day-ahead
// error of 15% where it was 2%). realignPhase finds such a move in the
// history and shifts the days before it by the hour, so that the whole
// history has the phase of its last days.
const (
	// phaseMinDays is the least number of days on each side of a move
	// that shows it: one day could be an odd one.
	phaseMinDays = 2
	// phaseMargin is how much better, in correlation, a day must match
	// the last one an hour off than in place to count as moved.
	phaseMargin = 0.02
	// phaseHistory is the least number of days looked at: more than a
	// week, so that weekends, whose shape differs from weekdays' (a later
	// peak), lie on both sides of any move and break a false pattern.
	phaseHistory = 8
	// phaseUndecided is the correlation with the last day below which a
	// day has no shape to tell its phase by, and undecided marks it.
	phaseUndecided = 0.5
	undecided      = math.MinInt
)

// realignPhase shifts, in place, the days of p before a move of the daily
// phase by an hour (a daylight-saving change) so that they have the phase
// of the days after it, and returns the move and a note saying so (no
// move and "" when it did not). It looks only when step divides an hour and the history holds
// at least phaseHistory days. Days are counted back from the end; each
// is compared with the last day, by the correlation of their profiles
// (log loads, smoothed over a quarter of an hour), in place and an hour
// either way; a day that matches it nowhere (an outage, a holiday) is
// undecided and left aside. A move is every day from some day back at the
// same hour off, at least phaseMinDays of them, and every later day in
// place, at least phaseMinDays with the last: one other day, anywhere,
// means no move. The move is placed at the night (the daily profile's
// lowest phase) nearest the first day off.
func realignPhase(p *prepared, step time.Duration) (phaseMove, string) {
	if step <= 0 || time.Hour%step != 0 {
		return phaseMove{}, ""
	}
	hour := int(time.Hour / step)
	day := 24 * hour
	n := len(p.y)
	days := n / day
	if days < phaseHistory {
		return phaseMove{}, ""
	}
	profile := func(j int) []float64 {
		end := n - j*day
		return smoothedLog(p.y[end-day:end], max(1, hour/4))
	}
	last := profile(0)
	lags := make([]int, days)
	for j := 1; j < days; j++ {
		d := profile(j)
		in := correlation(last, d, 0)
		best, lag := in+phaseMargin, 0
		for _, l := range []int{-hour, hour} {
			if c := correlation(last, d, l); c > best {
				best, lag = c, l
			}
		}
		if max(in, best) < phaseUndecided {
			lag = undecided // an outage, a holiday: no shape to tell by
		}
		lags[j] = lag
	}
	// Days 1..k-1 in place, days k..days-1 at the same lag, at least
	// phaseMinDays of each, the undecided days aside.
	var lag, before, after int
	k := 1
	for ; k < days && lag == 0; k++ {
		switch lags[k] {
		case 0:
			after++
		case undecided:
		default:
			lag = lags[k]
		}
	}
	k-- // the first day off
	for j := k; j < days && lag != 0; j++ {
		switch lags[j] {
		case lag:
			before++
		case undecided:
		default:
			return phaseMove{}, ""
		}
	}
	if lag == 0 || after+1 < phaseMinDays || before < phaseMinDays {
		return phaseMove{}, ""
	}
	// The load at t before the move is the load of t-lag's phase after
	// it: point i takes the point lag steps later, as long as that is
	// before the move; the hour left without one is a gap.
	// The move is placed at the quietest phase of the day nearest the
	// boundary of the first day off (a clock changes at night).
	s := quietestNear(p.y, n-k*day, day)
	y, gap := p.y, p.gap
	if lag > 0 {
		for i := 0; i < s; i++ {
			if i+lag < s {
				y[i], gap[i] = y[i+lag], gap[i+lag]
			} else {
				y[i], gap[i] = y[s-1], true
			}
		}
	} else {
		for i := s - 1; i >= 0; i-- {
			if i+lag >= 0 {
				y[i], gap[i] = y[i+lag], gap[i+lag]
			} else {
				y[i], gap[i] = y[0], true
			}
		}
	}
	return phaseMove{at: s, lag: lag}, fmt.Sprintf("the daily phase moved by %s %d days before the end (a daylight-saving change?): the history before was shifted to match", time.Duration(-lag)*step, k)
}

// phaseMove is where realignPhase found a move, the index at in the
// prepared history, and the lag the points before it were shifted by:
// point i < at holds what was at i+lag. The zero value is no move.
type phaseMove struct{ at, lag int }

// place puts anomalies found on the shifted history (indexed in the
// input, whose index offset is that of the prepared history's first
// point) back where they were in the input.
func (m phaseMove) place(anomalies []Anomaly, offset int) []Anomaly {
	if m.lag == 0 {
		return anomalies
	}
	back := func(i int) int {
		if i-offset >= m.at {
			return i
		}
		return offset + min(max(i-offset+m.lag, 0), m.at)
	}
	out := anomalies[:0]
	for _, a := range anomalies {
		if a.Start, a.End = back(a.Start), back(a.End-1)+1; a.End > a.Start {
			out = append(out, a)
		}
	}
	return out
}

// quietestNear is the index nearest i, less than it by at most half a
// day or more by less, at the phase where y's daily profile is lowest.
func quietestNear(y []float64, i, day int) int {
	d := ((quietestPhase(y, day)-i)%day + day) % day // steps from i forward to the phase
	if d >= day/2 {
		d -= day
	}
	return min(max(i+d, 1), len(y)-1)
}

// smoothedLog is log(1+v) of y smoothed by a centred moving average of
// width w.
func smoothedLog(y []float64, w int) []float64 {
	out := make([]float64, len(y))
	var sum float64
	lo, hi := 0, 0
	for i := range y {
		for hi < len(y) && hi <= i+w/2 {
			sum += math.Log1p(y[hi])
			hi++
		}
		for lo < i-w/2 {
			sum -= math.Log1p(y[lo])
			lo++
		}
		out[i] = sum / float64(hi-lo)
	}
	return out
}

// correlation is the Pearson correlation of a[t] and b[t+lag] over the t
// where both exist; 0 when either is constant there.
func correlation(a, b []float64, lag int) float64 {
	var n, sa, sb, saa, sbb, sab float64
	for t := range a {
		u := t + lag
		if u < 0 || u >= len(b) {
			continue
		}
		x, y := a[t], b[u]
		n++
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
	}
	if n < 2 {
		return 0
	}
	cov := sab - sa*sb/n
	va, vb := saa-sa*sa/n, sbb-sb*sb/n
	if !(va > 0 && vb > 0) {
		return 0
	}
	return cov / math.Sqrt(va*vb)
}
