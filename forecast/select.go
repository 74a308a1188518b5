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

// crossValidate fits c on y[:train], then walks the model through the rest
// of y one observation at a time, forecasting h steps from every origin and
// scoring the forecasts against target: what was observed, NaN where
// nothing real was (a gap, an outage).
// The parameters are not refitted at each origin: the errors are those of a
// model that has been running unchanged since train, as it would in
// service between refits.
func crossValidate(c candidate, y, target []float64, train, h int) (*cvResult, error) {
	m, err := c.fit(y[:train])
	if err != nil {
		return nil, err
	}
	res := &cvResult{errors: make([][]float64, h), preds: make([][]float64, h)}
	pred := make([]float64, h)
	var sum float64
	var count int
	for origin := train; origin+h <= len(y); origin++ {
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
// why any candidate was dropped.
func choose(cands []candidate, y, target []float64, train, h int, scale float64) (best choice, scores map[string]float64, dropped []string) {
	scores = map[string]float64{}
	var valid []choice
	for _, c := range cands {
		r, err := crossValidate(c, y, target, train, h)
		if err != nil {
			dropped = append(dropped, err.Error())
			continue
		}
		valid = append(valid, choice{name: c.name, members: []candidate{c}, cv: r})
	}
	slices.SortStableFunc(valid, func(a, b choice) int { return cmp.Compare(a.cv.mae, b.cv.mae) })
	options := slices.Clone(valid)
	for k := 2; k <= min(maxCombined, len(valid)); k++ {
		options = append(options, combine(valid[:k]))
	}
	for _, o := range options {
		mase := o.cv.mae
		if scale > 0 {
			mase /= scale
		}
		scores[o.name] = mase
		if best.cv == nil || o.cv.mae < best.cv.mae {
			best = o
		}
	}
	return best, scores, dropped
}

// combine averages the choices' cross-validation errors: the errors of the
// average forecast, since every choice saw the same origins.
func combine(cs []choice) choice {
	c := choice{cv: &cvResult{errors: make([][]float64, len(cs[0].cv.errors)), preds: make([][]float64, len(cs[0].cv.errors))}}
	var names []string
	w := 1 / float64(len(cs))
	var sum float64
	var count int
	for s := range c.cv.errors {
		c.cv.errors[s] = make([]float64, len(cs[0].cv.errors[s]))
		c.cv.preds[s] = make([]float64, len(cs[0].cv.errors[s]))
		for o := range c.cv.errors[s] {
			var e, p float64
			for _, m := range cs {
				e += w * m.cv.errors[s][o]
				p += w * m.cv.preds[s][o]
			}
			c.cv.errors[s][o] = e
			c.cv.preds[s][o] = p
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
