package forecast

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prescale/prescale/anomaly"
)

// Fit fits a forecaster to a load history. values is a regular grid; NaN
// marks a gap. The input rules:
//   - an infinite value is an error (ErrInvalidValue) naming its index;
//   - a negative value is clamped to 0, with a note;
//   - leading gaps are dropped; interior gaps are filled with the median
//     of the same phase in the three seasons on each side (of the 30
//     neighbours on each side when there is no season); trailing gaps are
//     stepped over with the model's own prediction; each with a note;
//   - unless Options.KeepAnomalies, outages (runs at or below a tenth of
//     the seasonal estimate) and one-off spikes and dips that
//     anomaly.Clean flags are replaced the same way before fitting, so
//     they do not teach the model a false season (see trainingAnomalies);
//     so are, with a weekly season and four weeks of history, the
//     unusual days: a holiday, a launch (see unusualDays);
//   - when the step is known and divides an hour, a move of the daily
//     phase by an hour within the history (a daylight-saving change) is
//     found, and the days before it are shifted to the phase of the days
//     after, with a note (see realignPhase);
//   - a constant series forecasts the constant with zero-width intervals;
//   - a season needs two full cycles: shorter histories drop it, and a
//     model that cannot be fitted falls back to a simpler one; Reason says
//     why.
//
// With Model auto, every candidate (seasonal naive, Holt-Winters and
// harmonic regression variants), and the equal-weight averages of the best
// two and three, is scored by rolling-origin cross-validation on the
// recent history: each is fitted on the history before the first origin
// and then stepped forward one observation at a time without refitting.
// The best is refitted on the whole history; its out-of-sample errors by
// step ahead calibrate its quantiles. A single kind compares its own
// variants the same way.
func Fit(values []float64, opts *Options) (*Fitted, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if o.Observed != nil && len(o.Observed) != len(values) {
		return nil, fmt.Errorf("%w: observed holds %d values, want one per value (%d)", ErrBadOptions, len(o.Observed), len(values))
	}
	p, err := prepare(values)
	if err != nil {
		return nil, err
	}
	y := p.y
	f := &Fitted{Notes: p.notes, Seasons: []int{}}

	if isConstant(y) {
		f.Model = KindNaive
		f.Reason = "constant series: forecasting the constant"
		naive, _ := NewSeasonalNaive(y, 1)
		f.Components = []Component{newComponent("naive(1)", 1, naive)}
		f.Calibration = Calibration{Errors: make([]ErrorList, o.Horizon)}
		return f.finish(y, nil, p.trailing, o.Lead)
	}

	move, note := realignPhase(p, o.Step)
	if note != "" {
		p.notes = append(p.notes, note)
		f.Notes = p.notes
	}
	target, seasons, primary := f.cleanHistory(p, o)
	f.Anomalies = move.place(f.Anomalies, p.offset)
	plan, reasons := planValidation(target, seasons, primary, o)
	chosen, why := f.selectModel(o, y, target, plan)
	reasons = append(reasons, why...)
	reasons = append(reasons, f.fitChosen(chosen, y)...)
	f.describe()
	if o.Model != KindAuto && f.Model != o.Model {
		reasons = append(reasons, fmt.Sprintf("%s could not be fitted, used %s", o.Model, f.Model))
	}
	f.Reason = joinReasons(reasons)
	return f.finish(y, asObserved(y, values, o.Observed, p.offset, move), p.trailing, o.Lead)
}

// cleanHistory finds the seasons of the prepared history (declared or
// detected, each needing two full cycles) and replaces its gaps, and by
// default its anomalies, by anomaly.Clean's seasonal estimate: the median
// of the same phase in the three seasons on each side, from points that
// are neither (see replaceGaps). It records the anomalies and a note in f,
// and returns what cross-validation scores forecasts against, the seasons
// and the primary season. The target holds only real observations: not
// gaps, and not what an outage or dip replaced (NaN there), but a spike's
// load is kept, since it is load to serve.
func (f *Fitted) cleanHistory(p *prepared, o Options) (target []float64, seasons []Season, primary int) {
	y := p.y
	n := len(y)
	detection, run := detectionSeries(p, o)
	seasons = f.seasons(detection, o)
	primary = primarySeason(usableSeasons(seasons, n), n)

	target = slices.Clone(y)
	for i, gap := range p.gap {
		if gap {
			target[i] = math.NaN()
		}
	}
	if run == nil || run.period != cleanPeriod(primary) {
		run = cleanGaps(p, primary) // else detection's, at the day, serves
	}
	cleaned, anomalies := replaceGaps(p, run, o.KeepAnomalies)
	copy(y, cleaned)
	if !o.KeepAnomalies {
		anomalies = replaceUnusualDays(p, y, seasons, o.Step, anomalies)
	}
	if len(anomalies) == 0 {
		return target, seasons, primary
	}
	count := 0
	for _, a := range anomalies {
		count += a.End - a.Start
		a.Start += p.offset
		a.End += p.offset
		f.Anomalies = append(f.Anomalies, a)
	}
	p.notes = append(p.notes, fmt.Sprintf("replaced %d anomalous points in %d spans (outages, spikes, dips, unusual days) before fitting", count, len(anomalies)))
	f.Notes = p.notes
	for i, v := range target {
		if p.gap[i] && !(v > y[i]) {
			target[i] = math.NaN()
		}
	}
	// Seasons are found again on the cleaned history, which an outage no
	// longer distorts.
	seasons = f.seasons(y, o)
	primary = primarySeason(usableSeasons(seasons, n), n)
	return target, seasons, primary
}

// detectionSeries is the prepared history as season detection first sees
// it: with its gaps filled by the median of the same time of day in the
// three days on each side, when the step divides a day and the history
// holds two, rather than by prepare's straight lines. A straight line
// across an outage of a day and a half (NASA-HTTP's, in August 1995)
// flattened the autocorrelation around a day: 0.48 there, but no longer a
// peak, so two-week histories ending up to seven days after it had no
// season at all (0.79, a peak, with the gap filled this way). It also
// returns the cleaning that filled them, nil without one: when the day is
// the primary season, fitting's gaps are filled from it too.
func detectionSeries(p *prepared, o Options) ([]float64, *cleanRun) {
	if len(o.Periods) > 0 || o.Step <= 0 || (24*time.Hour)%o.Step != 0 || !slices.Contains(p.gap, true) {
		return p.y, nil
	}
	day := int(24 * time.Hour / o.Step)
	if day < 2 || 2*day > len(p.y) {
		return p.y, nil
	}
	run := cleanGaps(p, day)
	filled, _ := replaceGaps(p, run, true)
	return filled, run
}

// validationPlan is what the candidates are built and cross-validated
// on: the seasons kept, the primary one, and the rolling origins (cvPlan).
type validationPlan struct {
	periods []int
	primary int
	train   int
	horizon int // 0: no history to validate on
}

// planValidation keeps the seasons with two full cycles in the history
// and places the rolling origins over target, and says why it dropped any
// season.
func planValidation(target []float64, seasons []Season, primary int, o Options) (validationPlan, []string) {
	n := len(target)
	var reasons []string
	periods := []int{}
	for _, s := range seasons {
		if 2*s.Period > n {
			reasons = append(reasons, fmt.Sprintf("season of %d steps ignored: %d points are fewer than two seasons", s.Period, n))
			continue
		}
		periods = append(periods, s.Period)
	}

	// A season that takes the whole history to fit twice leaves nothing
	// to validate on: drop the longest seasons until the rest can be
	// validated (two weeks of minutes keep the daily season, not the
	// weekly one).
	var train, cvH int
	for {
		minTrain, longest := 4, 0
		for _, period := range periods {
			minTrain = max(minTrain, 2*period)
			longest = max(longest, period)
		}
		train, cvH = cvPlan(target, o.Horizon, o.Folds, minTrain, longest)
		if cvH > 0 || len(periods) < 2 {
			break
		}
		reasons = append(reasons, fmt.Sprintf("season of %d steps ignored: %d points leave no history to validate it after two seasons", longest, n))
		periods = slices.DeleteFunc(periods, func(p int) bool { return p == longest })
		if !slices.Contains(periods, primary) {
			var kept []Season
			for _, s := range seasons {
				if slices.Contains(periods, s.Period) {
					kept = append(kept, s)
				}
			}
			primary = primarySeason(kept, n)
		}
	}
	return validationPlan{periods: periods, primary: primary, train: train, horizon: cvH}, reasons
}

// selectModel lists the candidates for the requested kind and picks the
// best single one or combination by cross-validation, recording the scores
// in f. Without history to validate on, it picks the first candidate, or
// the naive forecast.
func (f *Fitted) selectModel(o Options, y, target []float64, plan validationPlan) (choice, []string) {
	cands, reasons := candidates(o, y, plan.periods, plan.primary)
	if len(cands) == 0 {
		reasons = append(reasons, "falling back to the naive forecast")
		cands = []candidate{naiveCandidate(1)}
	}
	train, cvH := plan.train, plan.horizon
	if cvH == 0 {
		// Too short for any season in validation: compare what fits.
		reasons = append(reasons, fmt.Sprintf("%d points are too few to validate seasonal models", len(y)))
		cands = []candidate{naiveCandidate(1)}
		train, cvH = cvPlan(target, o.Horizon, o.Folds, 2, 0)
	}
	chosen := choice{name: cands[0].name, members: cands[:1]}
	if cvH == 0 {
		return chosen, append(reasons, "no history left to calibrate intervals: they have zero width")
	}
	var best choice
	var dropped []string
	best, f.Scores, dropped = choose(cands, y, target, train, cvH, naiveScale(y, plan.primary))
	if best.cv == nil {
		reasons = append(reasons, dropped...) // every candidate failed
	} else {
		chosen = best
	}
	if len(f.Scores) == 1 {
		f.Scores = nil
	}
	return chosen, reasons
}

// fitChosen fits the chosen members on the whole history into f's
// components, and calibrates the quantiles on their cross-validation
// errors. Should a member fail, the forecast falls back to the naive one
// with zero-width intervals, and it says why.
func (f *Fitted) fitChosen(chosen choice, y []float64) []string {
	var reasons []string
	weight := 1 / float64(len(chosen.members))
	for _, c := range chosen.members {
		model, err := c.fit(y)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v; falling back to the naive forecast", c.name, err))
			naive := naiveCandidate(1)
			model, _ = naive.fit(y)
			f.Components = []Component{newComponent(naive.name, 1, model)}
			chosen.cv = nil
			break
		}
		f.Components = append(f.Components, newComponent(c.name, weight, model))
	}
	if chosen.cv != nil {
		f.Calibration = newCalibration(chosen.cv, positive(y))
	}
	return reasons
}

// describe sets f.Model, the components' kind or KindCombination, and
// f.Seasons, the periods they use.
func (f *Fitted) describe() {
	f.Model = f.Components[0].kind()
	for _, c := range f.Components[1:] {
		if c.kind() != f.Model {
			f.Model = KindCombination
		}
	}
	for _, c := range f.Components {
		for _, p := range c.seasons() {
			if !slices.Contains(f.Seasons, p) {
				f.Seasons = append(f.Seasons, p)
			}
		}
	}
	slices.Sort(f.Seasons)
}

// cleanRun is anomaly.Clean run over a prepared history with its gaps as
// NaN (raw), at a seasonal period.
type cleanRun struct {
	period       int // cleanPeriod's
	raw, cleaned []float64
	flagged      []bool
	err          error
}

// cleanPeriod is the period Clean is given for a season of period steps:
// -1 (none) below 2.
func cleanPeriod(period int) int {
	if period < 2 {
		return -1
	}
	return period
}

// cleanGaps runs anomaly.Clean over the prepared history, its gaps NaN.
func cleanGaps(p *prepared, period int) *cleanRun {
	run := &cleanRun{period: cleanPeriod(period), raw: slices.Clone(p.y)}
	for i, gap := range p.gap {
		if gap {
			run.raw[i] = math.NaN()
		}
	}
	run.cleaned, run.flagged, run.err = anomaly.Clean(run.raw, &anomaly.CleanOptions{Period: run.period})
	return run
}

// replaceGaps returns the prepared history with the gaps replaced by the
// seasonal estimate of run (anomaly.Clean over it), and unless
// keepAnomalies, the anomalies that trainingAnomalies picks too (indexed
// in the prepared history). Should Clean have failed, the linear fill of
// prepare stands.
func replaceGaps(p *prepared, run *cleanRun, keepAnomalies bool) ([]float64, []Anomaly) {
	if run.err != nil {
		return p.y, nil
	}
	raw, cleaned, flagged := run.raw, run.cleaned, run.flagged
	out := slices.Clone(p.y)
	for i, gap := range p.gap {
		if gap {
			out[i] = math.Max(0, cleaned[i])
		}
	}
	if keepAnomalies {
		return out, nil
	}
	anomalies := trainingAnomalies(raw, cleaned, flagged, p.gap, max(run.period, 1))
	for _, a := range anomalies {
		for i := a.Start; i < a.End; i++ {
			out[i] = math.Max(0, cleaned[i])
			p.gap[i] = true
		}
	}
	return out, anomalies
}

// outageMinRun is how many points at or below a tenth of their seasonal
// estimate make a flagged run an outage, with the partial readings around
// them (anomaly.Clean's own minimum run).
const outageMinRun = 5

// trainingAnomalies picks, from the runs of points anomaly.Clean flagged
// (gaps aside), those to keep out of training: every collapse (a run at or
// below a tenth of its cleaned value, or one with at least outageMinRun
// such points: an outage reading as zero or nearly), and the
// one-off spikes and dips: short (at most a 24th of a season, or 3
// points), alone (no other flagged point within a season of them), and
// before the last season. A departure that recurs (a weekend the daily
// profile does not know), lasts, or is too recent to tell may be a real
// pattern or change of level: the model must learn from it, not have it
// erased.
func trainingAnomalies(raw, cleaned []float64, flagged, gap []bool, period int) []Anomaly {
	n := len(raw)
	span := max(period, 24)
	maxSpike := max(3, period/24)
	type run struct {
		start, end int
		collapse   bool
	}
	var runs []run
	for i := 0; i < n; {
		if !flagged[i] || gap[i] {
			i++
			continue
		}
		r := run{start: i}
		collapsed := 0
		for i < n && flagged[i] && !gap[i] {
			if raw[i] <= 0.1*cleaned[i] {
				collapsed++
			}
			i++
		}
		r.end = i
		r.collapse = collapsed == r.end-r.start || collapsed >= outageMinRun
		runs = append(runs, r)
	}
	var out []Anomaly
	for k, r := range runs {
		alone := (k == 0 || runs[k-1].end+span <= r.start) && (k == len(runs)-1 || r.end+span <= runs[k+1].start)
		a := Anomaly{Start: r.start, End: r.end, Kind: AnomalyOutage}
		if !r.collapse {
			if r.end-r.start > maxSpike || !alone || r.end > n-span {
				continue
			}
			a.Kind = AnomalyDip
			if raw[r.start] > cleaned[r.start] {
				a.Kind = AnomalySpike
			}
		}
		out = append(out, a)
	}
	return out
}

// seasons returns the declared seasons, or detects them in y and records
// them in f.Detected.
func (f *Fitted) seasons(y []float64, o Options) []Season {
	var seasons []Season
	if len(o.Periods) > 0 {
		for _, period := range o.Periods {
			seasons = append(seasons, Season{Period: period, ACF: math.NaN()})
		}
		return seasons
	}
	var natural []int
	for _, d := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		if o.Step > 0 && d%o.Step == 0 {
			natural = append(natural, int(d/o.Step))
		}
	}
	f.Detected = DetectSeasons(y, o.MaxPeriod, natural...)
	return f.Detected
}

// usableSeasons keeps the seasons with two full cycles in n points.
func usableSeasons(seasons []Season, n int) []Season {
	var out []Season
	for _, s := range seasons {
		if 2*s.Period <= n {
			out = append(out, s)
		}
	}
	return out
}

// asObserved is the local trend's window at the end of y (its last
// dynamicsWindow points) with the points of the input values that were
// kept out of training (NaN in values, a number in observed) put back as
// observed: the load as the model will follow it in service, known events
// included. Nil when there is nothing to put back, or when the daily phase
// was moved (the points no longer line up).
func asObserved(y, values, observed []float64, offset int, move phaseMove) []float64 {
	if len(observed) != len(values) || move.lag != 0 {
		return nil
	}
	from := max(0, len(y)-dynamicsWindow)
	var recent []float64
	for i := from; i < len(y); i++ {
		j := offset + i // y is values from offset on
		if v := observed[j]; math.IsNaN(values[j]) && v >= 0 && !math.IsInf(v, 0) {
			if recent == nil {
				recent = slices.Clone(y[from:])
			}
			recent[i-from] = v
		}
	}
	return recent
}

// finish steps the model over trailing gaps and counts observations. The
// short-horizon dynamics are tuned on observed, the window asObserved
// gives (nil: y's).
func (f *Fitted) finish(y, observed []float64, trailing, lead int) (*Fitted, error) {
	f.Observations = len(y)
	m, err := f.model()
	if err != nil {
		return nil, err
	}
	if lead > 0 {
		f.Dynamics = newDynamics(y, observed, lead, &f.Calibration)
		f.Calibration.ReferenceSpread = referenceSpread(y, lead, &f.Calibration)
	}
	for range trailing {
		m.Observe(math.NaN())
		f.Observations++
		if f.Dynamics != nil {
			f.Dynamics.smooth(math.NaN())
		}
	}
	if f.Dynamics != nil {
		f.Dynamics.start(m)
	}
	return f, nil
}

// referenceLevel is the quantile of the history's load whose spread is
// the usual one, for a calibration whose errors grow with the load: the
// busy hours get the target's quantile, quieter hours more, load beyond
// them less. With the median instead, the panel's reductions at equal cost
// read the same within a point or two (the reference moves what a quantile
// costs, not what the replica-hours buy), but the default quantile
// provisioned the flash crowds' peaks with the point forecast: seed 1 was
// short 2,709 minutes at 0.9 (25,902 replica-hours) against 1,346 for the
// quantile before (27,453), where with the busy hours it is short 404 for
// 28,443.
const referenceLevel = 0.95

// referenceSample is how many points of the history the reference level is
// read from.
const referenceSample = 4096

// referenceSpread is the calibration's core spread at the lead step at
// the referenceLevel quantile of the history y (the busy hours' load):
// the spread Provision takes as usual.
func referenceSpread(y []float64, lead int, cal *Calibration) float64 {
	level := 1.0
	if cal.Relative && len(y) > 0 {
		// Every stride-th point, at most referenceSample of them: the
		// level's quantile within a few tenths of a percent of the
		// whole history's, for a sort of a fixed size.
		stride := (len(y) + referenceSample - 1) / referenceSample
		sample := make([]float64, 0, referenceSample)
		for i := 0; i < len(y); i += stride {
			sample = append(sample, y[i])
		}
		slices.Sort(sample)
		level = sample[int(referenceLevel*float64(len(sample)-1))]
	}
	s := cal.CoreSpread(level, cal.Offset(lead, CoreLevel))
	if !(s > 0) || math.IsInf(s, 0) {
		return 0
	}
	return s
}

// candidates lists the models to compare for the requested kind, and says
// why any kind that was asked for cannot be had.
func candidates(o Options, y []float64, periods []int, primary int) ([]candidate, []string) {
	positive := !slices.ContainsFunc(y, func(v float64) bool { return v <= 0 })
	var cands []candidate
	var why []string
	want := func(kind string) bool { return o.Model == KindAuto || o.Model == kind }

	if want(KindNaive) {
		cands = append(cands, naiveCandidate(primary))
		if o.Model == KindAuto {
			for _, period := range periods {
				if period != primary {
					cands = append(cands, naiveCandidate(period))
				}
			}
		}
	}
	if want(KindHoltWinters) {
		hwPeriod := max(1, primary)
		if len(y) < 2*hwPeriod+o.Horizon {
			why = append(why, fmt.Sprintf("Holt-Winters with period %d needs more than %d points", hwPeriod, len(y)))
		} else {
			cands = append(cands, hwCandidate(HoltWintersConfig{Period: hwPeriod, Trend: true, Damped: true}))
			if positive && hwPeriod > 1 {
				cands = append(cands, hwCandidate(HoltWintersConfig{Period: hwPeriod, Trend: true, Damped: true, Multiplicative: true}))
			}
		}
	}
	if want(KindHarmonic) {
		cfg := HarmonicConfig{Periods: periods, MaxAR: 5, Log: positive}
		for i := range periods {
			cfg.Orders = append(cfg.Orders, defaultOrder(periods[i], o.FourierOrder))
		}
		cands = append(cands, harmonicCandidate(cfg))
		cfg.Smooth, cfg.Horizon = true, o.Horizon
		cands = append(cands, harmonicCandidate(cfg))
	}
	return cands, why
}

func naiveCandidate(period int) candidate {
	period = max(1, period)
	return candidate{
		name: "naive(" + strconv.Itoa(period) + ")",
		fit: func(y []float64) (Model, error) {
			return NewSeasonalNaive(y, min(period, len(y)))
		},
	}
}

func hwCandidate(cfg HoltWintersConfig) candidate {
	parts := []string{"add"}
	if cfg.Multiplicative {
		parts[0] = "mul"
	}
	if cfg.Damped {
		parts = append(parts, "damped")
	}
	parts = append(parts, strconv.Itoa(cfg.Period))
	// The refit on the whole history starts from the parameters found in
	// cross-validation, which are nearly right and save most iterations.
	var warm *HoltWintersParams
	return candidate{
		name: "holtwinters(" + strings.Join(parts, ",") + ")",
		fit: func(y []float64) (Model, error) {
			m, err := fitHoltWinters(y, cfg, warm)
			if err == nil {
				warm = &m.HoltWintersParams
			}
			return m, err
		},
	}
}

func harmonicCandidate(cfg HarmonicConfig) candidate {
	var parts []string
	if cfg.Log {
		parts = append(parts, "log")
	}
	if cfg.Trend {
		parts = append(parts, "trend")
	}
	if cfg.Smooth {
		parts = append(parts, "smooth")
	}
	for i, p := range cfg.Periods {
		parts = append(parts, fmt.Sprintf("%d/%d", p, cfg.Orders[i]))
	}
	return candidate{
		name: "harmonic(" + strings.Join(parts, ",") + ")",
		fit:  func(y []float64) (Model, error) { return FitHarmonic(y, cfg) },
	}
}

// seasons lists the periods the component's model uses.
func (c *Component) seasons() []int {
	switch {
	case c.Naive != nil && c.Naive.Period > 1:
		return []int{c.Naive.Period}
	case c.HoltWinters != nil && c.HoltWinters.Period > 1:
		return []int{c.HoltWinters.Period}
	case c.Harmonic != nil:
		return c.Harmonic.Periods
	}
	return nil
}

func positive(y []float64) bool {
	return !slices.ContainsFunc(y, func(v float64) bool { return v <= 0 })
}

func isConstant(y []float64) bool {
	for _, v := range y {
		if v != y[0] {
			return false
		}
	}
	return true
}
