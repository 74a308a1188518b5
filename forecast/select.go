package forecast

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// candidate is one model that auto may choose.
type candidate struct {
	name string
	fit  func(y []float64) (Model, error)
}

// cvResult is how a candidate fared in cross-validation.
type cvResult struct {
	mae    float64     // mean absolute error over all origins and steps
	errors [][]float64 // errors[step][origin], actual minus forecast
	preds  [][]float64 // preds[step][origin], the forecasts
}

// cvPlan places the rolling origins: every step from train to n-horizon.
// The span is folds half-horizons, or the longest season when that is
// longer (so that every part of the season, a weekend too, is forecast in
// validation), counted in observed points: it reaches further back over
// gaps (NaN in target). It shrinks when the series is too short to leave
// minTrain points before the first origin.
func cvPlan(target []float64, horizon, folds, minTrain, longest int) (train, cvHorizon int) {
	n := len(target)
	cvHorizon = min(horizon, max(1, (n-minTrain)/2))
	want := max((folds-1)*max(1, (cvHorizon+1)/2), longest) + cvHorizon
	train = n
	for observed := 0; train > minTrain && observed < want; {
		train--
		if !math.IsNaN(target[train]) {
			observed++
		}
	}
	if train+cvHorizon > n {
		return 0, 0
	}
	return train, cvHorizon
}

// maxCVValues bounds the forecasts crossValidate keeps per candidate (8
// MiB, and as much for their errors): a long horizon from every origin
// over a week of minutes would be 1,440 × 11,520 of each, 133 MB. Beyond
// it, forecasts are made from every stride-th origin only; the model still
// observes every point. Forecasts from neighbouring origins err alike, and
// a step keeps hundreds of errors (which calibration thins to 128
// quantiles) over the same span of the seasons.
const maxCVValues = 1 << 20

// crossValidate fits c on y[:train], then walks the model through the rest
// of y one observation at a time, forecasting h steps from every origin and
// scoring the forecasts against target: what was observed, NaN where
// nothing real was (a gap, an outage).
// When horizon × origins exceeds maxCVValues, it forecasts from every
// stride-th origin only.
// The parameters are not refitted at each origin: the errors are those of a
// model that has been running unchanged since train, as it would in
// service between refits.
func crossValidate(c candidate, y, target []float64, train, h int) (*cvResult, error) {
	m, err := c.fit(y[:train])
	if err != nil {
		return nil, err
	}
	res := &cvResult{errors: make([][]float64, h), preds: make([][]float64, h)}
	origins := len(y) - h - train + 1
	stride := max(1, (h*origins+maxCVValues-1)/maxCVValues)
	for s := range h {
		// Sized once: grown by append, they took twice the room.
		res.errors[s] = make([]float64, 0, (origins+stride-1)/stride)
		res.preds[s] = make([]float64, 0, (origins+stride-1)/stride)
	}
	pred := make([]float64, h)
	var sum float64
	var count int
	for origin := train; origin+h <= len(y); origin++ {
		if (origin-train)%stride != 0 {
			m.Observe(y[origin])
			continue
		}
		m.Predict(pred)
		for s, p := range pred {
			p = math.Max(p, 0)
			if math.IsNaN(p) || math.IsInf(p, 0) {
				return nil, fmt.Errorf("%s: non-finite forecast at origin %d", c.name, origin)
			}
			// A NaN target (a gap, an outage) is not scored, but keeps
			// its place so that candidates' errors line up.
			e := target[origin+s] - p
			res.errors[s] = append(res.errors[s], e)
			res.preds[s] = append(res.preds[s], p)
			if !math.IsNaN(e) {
				sum += math.Abs(e)
				count++
			}
		}
		m.Observe(y[origin])
	}
	if count == 0 {
		return nil, fmt.Errorf("%s: no origin to validate", c.name)
	}
	if count == 0 {
		return nil, fmt.Errorf("%s: every validation point is missing", c.name)
	}
	res.mae = sum / float64(count)
	return res, nil
}

// naiveScale is the in-sample mean absolute error of the seasonal naive
// forecast with the given period: the denominator of MASE.
func naiveScale(y []float64, period int) float64 {
	period = max(1, period)
	if len(y) <= period {
		return math.NaN()
	}
	var s float64
	for t := period; t < len(y); t++ {
		s += math.Abs(y[t] - y[t-period])
	}
	return s / float64(len(y)-period)
}

// choice is a candidate or an equal-weight combination of candidates.
type choice struct {
	name    string
	members []candidate
	cv      *cvResult
}

// maxCombined is the most candidates a combination averages.
const maxCombined = 3

// choose cross-validates the candidates and the equal-weight averages of
// the best two and three of them (forecast combinations are robustly
// better than their members when those err differently), and returns the
// one with the smallest error, each one's score (MAE scaled by scale) and
// why any candidate was dropped. Only the best maxCombined candidates'
// errors are kept while the others are scored, and only the chosen
// combination's are computed whole: each set of errors is horizon ×
// origins (a week of minutes) values.
func choose(cands []candidate, y, target []float64, train, h int, scale float64) (best choice, scores map[string]float64, dropped []string) {
	scores = map[string]float64{}
	score := func(name string, mae float64) {
		if scale > 0 {
			mae /= scale
		}
		scores[name] = mae
	}
	var valid []choice // the best so far, by MAE; the first of equals first
	for _, c := range cands {
		r, err := crossValidate(c, y, target, train, h)
		if err != nil {
			dropped = append(dropped, err.Error())
			continue
		}
		score(c.name, r.mae)
		i := len(valid)
		for i > 0 && cmp.Compare(valid[i-1].cv.mae, r.mae) > 0 {
			i--
		}
		valid = slices.Insert(valid, i, choice{name: c.name, members: []candidate{c}, cv: r})
		if len(valid) > maxCombined {
			valid[maxCombined] = choice{} // its errors go now
			valid = valid[:maxCombined]
		}
	}
	if len(valid) == 0 {
		return best, scores, dropped
	}
	best = valid[0]
	bestK := 1
	for k := 2; k <= len(valid); k++ {
		c := combine(valid[:k], false)
		score(c.name, c.cv.mae)
		if c.cv.mae < best.cv.mae {
			best, bestK = c, k
		}
	}
	if bestK > 1 {
		best = combine(valid[:bestK], true)
	}
	return best, scores, dropped
}

// combine averages the choices' cross-validation errors: the errors of the
// average forecast, since every choice saw the same origins. Unless keep,
// it only scores the average: the errors are not kept.
func combine(cs []choice, keep bool) choice {
	steps := len(cs[0].cv.errors)
	c := choice{cv: &cvResult{}}
	if keep {
		c.cv.errors, c.cv.preds = make([][]float64, steps), make([][]float64, steps)
	}
	var names []string
	w := 1 / float64(len(cs))
	var sum float64
	var count int
	for s := range steps {
		origins := len(cs[0].cv.errors[s])
		if keep {
			c.cv.errors[s], c.cv.preds[s] = make([]float64, origins), make([]float64, origins)
		}
		for o := range origins {
			var e, p float64
			for _, m := range cs {
				e += w * m.cv.errors[s][o]
				p += w * m.cv.preds[s][o]
			}
			if keep {
				c.cv.errors[s][o], c.cv.preds[s][o] = e, p
			}
			if !math.IsNaN(e) {
				sum += math.Abs(e)
				count++
			}
		}
	}
	for _, m := range cs {
		names = append(names, m.name)
		c.members = append(c.members, m.members...)
	}
	c.name = KindCombination + "(" + strings.Join(names, " + ") + ")"
	c.cv.mae = sum / float64(count)
	return c
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
