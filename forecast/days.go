package forecast

import (
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/floats"
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
	day, week := weeklySeason(seasons, step)
	if day < 2 || n < 4*week {
		return nil, nil
	}
	est = weeklyEstimate(y, gap, week)
	// The loads are offset by a tenth of the mean so that a night of zeros
	// is not infinitely off.
	floor := 0.1 * floats.Sum(y) / float64(n)
	if !(floor > 0) {
		return nil, nil
	}
	blocks := dayScores(y, gap, est, quietestPhase(y, day), day, floor)
	var scores []float64
	for _, b := range blocks {
		if !math.IsNaN(b.score) {
			scores = append(scores, b.score)
		}
	}
	if len(scores) < 3 {
		return nil, nil
	}
	med, spread := medianAndSpread(scores)
	limit := max(unusualDayZ*spread, math.Log(unusualDayRatio))
	off := func(b dayScore) int {
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
		last := k
		for j := k + 1; dir != 0 && j < len(blocks); j++ {
			if math.IsNaN(blocks[j].score) {
				continue
			}
			if off(blocks[j]) != dir {
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

// weeklySeason finds, among seasons, a day and a week of seven of it (a
// day of 24 hours when the step is known); 0, 0 without.
func weeklySeason(seasons []Season, step time.Duration) (day, week int) {
	for _, s := range seasons {
		for _, t := range seasons {
			if t.Period == 7*s.Period && (step <= 0 || time.Duration(s.Period)*step == 24*time.Hour) {
				day, week = s.Period, t.Period
			}
		}
	}
	return day, week
}

// weeklyEstimate is, for each point, the median of the same time in up to
// three weeks on each side, the gaps aside; NaN where fewer than three.
func weeklyEstimate(y []float64, gap []bool, week int) []float64 {
	est := make([]float64, len(y))
	var buf []float64
	for i := range y {
		buf = buf[:0]
		for k := -3; k <= 3; k++ {
			if j := i + k*week; k != 0 && j >= 0 && j < len(y) && !gap[j] {
				buf = append(buf, y[j])
			}
		}
		est[i] = math.NaN()
		if len(buf) >= 3 {
			slices.Sort(buf)
			est[i] = sortedMedian(buf)
		}
	}
	return est
}

// dayScore is one day of the history, [from, to), and its median log
// ratio to the weekly estimate; NaN for a day mostly of gaps, unjudged.
type dayScore struct {
	from, to int
	score    float64
}

// dayScores cuts y into days from start and scores each: the median of
// log((y+floor)/(est+floor)) over its observed points.
func dayScores(y []float64, gap []bool, est []float64, start, day int, floor float64) []dayScore {
	var blocks []dayScore
	var buf []float64
	for from := start; from+day <= len(y); from += day {
		buf = buf[:0]
		for i := from; i < from+day; i++ {
			if !gap[i] && !math.IsNaN(est[i]) {
				buf = append(buf, math.Log((y[i]+floor)/(est[i]+floor)))
			}
		}
		b := dayScore{from: from, to: from + day, score: math.NaN()}
		if 2*len(buf) >= day {
			slices.Sort(buf)
			b.score = sortedMedian(buf)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// medianAndSpread are the median of x and its robust standard deviation
// (1.4826 median absolute deviations); x is reordered.
func medianAndSpread(x []float64) (med, spread float64) {
	slices.Sort(x)
	med = sortedMedian(x)
	for i := range x {
		x[i] = math.Abs(x[i] - med)
	}
	slices.Sort(x)
	return med, 1.4826 * sortedMedian(x)
}

// sortedMedian is the median of sorted x, not empty.
func sortedMedian(x []float64) float64 {
	m := len(x) / 2
	if len(x)%2 == 0 {
		return (x[m-1] + x[m]) / 2
	}
	return x[m]
}

// quietestPhase is the phase, in [0, day), where y's daily profile is
// lowest: the night for most services.
func quietestPhase(y []float64, day int) int {
	profile := make([]float64, day)
	for i, v := range y {
		profile[i%day] += v
	}
	return slices.Index(profile, slices.Min(profile))
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
