package forecast

import (
	"math"
	"slices"
	"time"
)

// The unusual days of a weekly history: a holiday is a weekday at a
// weekend's level, once. A model that learns the week from a few weeks
// takes it in: the same weekday comes out a tenth or more low a week
// later. A day shows as unusual only against the same day of the other
// weeks, so this needs a weekly season (seven of the daily one) and four
// weeks of history: three others to outvote the odd one (with two, their
// median is their mean, and a holiday among them makes the normal day
// look unusual too).
const (
	// unusualDayZ is how many robust standard deviations of the history's
	// day-to-day ratios a day must be off, and unusualDayRatio the least
	// ratio (or its inverse) it must be off by, to be unusual.
	unusualDayZ     = 4
	unusualDayRatio = 1.25
	// unusualDayRun is the longest run of unusual days in one direction
	// that is still a one-off; a longer one is a change of level, which
	// the model must learn.
	unusualDayRun = 2
)

// unusualDays returns the days of y (gap marks the points that are not
// observations) whose median ratio to the same time in the other weeks
// is far off the other days', as anomalies of kind AnomalyDay, with the
// weekly estimate of their points in est. Days start at the daily
// profile's lowest phase, the night for most services, so that a
// calendar day falls in one. A day in the last week is not judged: it may
// be the start of a new level. nil without a weekly season of seven days
// (a day of steps when the step is known) or four weeks of history. It
// holds 8 bytes a point while it runs.
func unusualDays(y []float64, gap []bool, seasons []Season, step time.Duration) (days []Anomaly, est []float64) {
	n := len(y)
	var day, week int
	for _, s := range seasons {
		for _, t := range seasons {
			if t.Period == 7*s.Period && (step <= 0 || time.Duration(s.Period)*step == 24*time.Hour) {
				day, week = s.Period, t.Period
			}
		}
	}
	if day < 2 || n < 4*week {
		return nil, nil
	}
	// The weekly estimate: the median of the same time in up to three
	// weeks on each side.
	est = make([]float64, n)
	var buf, sorted []float64
	var mean float64
	for i := range y {
		buf = buf[:0]
		for k := -3; k <= 3; k++ {
			if j := i + k*week; k != 0 && j >= 0 && j < n && !gap[j] {
				buf = append(buf, y[j])
			}
		}
		est[i] = math.NaN()
		if len(buf) >= 3 {
			sorted = append(sorted[:0], buf...)
			slices.Sort(sorted)
			est[i] = sorted[len(sorted)/2]
			if len(sorted)%2 == 0 {
				est[i] = (sorted[len(sorted)/2-1] + est[i]) / 2
			}
		}
		mean += y[i] / float64(n)
	}
	// Days start at the quietest phase of the daily profile.
	profile := make([]float64, day)
	for i, v := range y {
		profile[i%day] += v
	}
	start := slices.Index(profile, slices.Min(profile))
	// Each day's median log ratio to the weekly estimate, the loads offset
	// by a tenth of the mean so that a night of zeros is not infinitely
	// off.
	floor := 0.1 * mean
	if !(floor > 0) {
		return nil, nil
	}
	type block struct {
		from, to int
		score    float64
	}
	var blocks []block
	var scores []float64
	for from := start; from+day <= n; from += day {
		buf = buf[:0]
		for i := from; i < from+day; i++ {
			if !gap[i] && !math.IsNaN(est[i]) {
				buf = append(buf, math.Log((y[i]+floor)/(est[i]+floor)))
			}
		}
		b := block{from: from, to: from + day, score: math.NaN()}
		if 2*len(buf) >= day {
			slices.Sort(buf)
			b.score = buf[len(buf)/2]
			scores = append(scores, b.score)
		}
		blocks = append(blocks, b) // a day mostly of gaps, unjudged
	}
	if len(scores) < 3 {
		return nil, nil
	}
	slices.Sort(scores)
	med := scores[len(scores)/2]
	spread := 0.0
	for i := range scores {
		scores[i] = math.Abs(scores[i] - med)
	}
	slices.Sort(scores)
	spread = 1.4826 * scores[len(scores)/2]
	limit := max(unusualDayZ*spread, math.Log(unusualDayRatio))
	off := func(b block) int {
		switch d := b.score - med; {
		case d > limit:
			return 1
		case d < -limit:
			return -1
		}
		return 0
	}
	// A run of days off the same way, through the unjudged days among
	// them (an outage inside a change of level does not cut it into
	// one-offs), is unusual when short enough.
	for k := 0; k < len(blocks); {
		dir := off(blocks[k])
		j, last := k+1, k
		for ; dir != 0 && j < len(blocks); j++ {
			if d := off(blocks[j]); math.IsNaN(blocks[j].score) {
				continue
			} else if d != dir {
				break
			}
			last = j
		}
		if dir != 0 && last+1-k <= unusualDayRun && blocks[last].to <= n-week {
			for _, b := range blocks[k : last+1] {
				if !math.IsNaN(b.score) {
					days = append(days, Anomaly{Start: b.from, End: b.to, Kind: AnomalyDay})
				}
			}
		}
		k = last + 1
	}
	return days, est
}

// replaceUnusualDays replaces, in the cleaned history y, the points of the
// unusual days (unusualDays) by their weekly estimate and marks them gaps
// (not observations to score against). It returns anomalies with the
// days among them, sorted, the spans within a day dropped and those
// across its edge cut at it, so that no point is listed twice.
func replaceUnusualDays(p *prepared, y []float64, seasons []Season, step time.Duration, anomalies []Anomaly) []Anomaly {
	days, est := unusualDays(y, p.gap, seasons, step)
	for _, d := range days {
		for i := d.Start; i < d.End; i++ {
			if !math.IsNaN(est[i]) {
				y[i] = est[i]
			}
			p.gap[i] = true
		}
		var kept []Anomaly
		for _, a := range anomalies {
			if a.Start < d.Start {
				kept = append(kept, Anomaly{Start: a.Start, End: min(a.End, d.Start), Kind: a.Kind})
			}
			if a.End > d.End {
				kept = append(kept, Anomaly{Start: max(a.Start, d.End), End: a.End, Kind: a.Kind})
			}
		}
		anomalies = append(kept, d)
	}
	slices.SortFunc(anomalies, func(a, b Anomaly) int { return a.Start - b.Start })
	return anomalies
}
