package anomaly

import "math"

// Default is the detector whose score users see, registered as "prescale".
//
// It reads four channels from the stream: the evidence of the robust
// z-score of each point's residual (RobustZ, at half weight), the evidence
// of its mean over the last shortSpan points (bursts of large deviations, as
// in Numenta's anomaly likelihood), the level evidence: the two-sided normal
// tail of the signed robust z-scores' mean over the last levelWindow points,
// scaled by √levelWindow (each z clipped to ±cusumClip), which sees a shift
// of the level too small for any one point to show, and the novelty of the
// shape of the last noveltyDim points:
// their distance to the nearest shape seen in the last noveltyStride ×
// noveltyMemory points (see novelty), as in KNN-CAD and ARTime.
// Each channel is calibrated against its own trailing history (see
// tailCalibrator: empirical tail, exponential beyond it), so that evidence
// means the same on a calm series and on a spiky one and one threshold
// serves every series; the calibrated evidences, -log10 of tail
// probabilities, are added as independent tests would be. Once the total
// reaches alarmEvidence the detector reports it and then stays quiet for
// quietSteps points, as one incident needs one alarm.
//
// The streaming seasonal ESD is left out of the combination: on NAB it
// lowered the standard score (see the package tests). So is the CUSUM
// evidence: its statistic restarts at each confirmed shift, so on a
// restless series it reaches its cap often and calibrates to little; the
// level channel replaced it (NAB standard 57.9 → 60.4). ChangePoint still
// runs for Shifts.
type Default struct {
	hist  *ring // every value: the season's and the novelty's history
	rz    *RobustZ
	cp    *ChangePoint // on rz's seasonal predictions, for Shifts
	nov   *novelty
	short *ring
	sum   float64
	level *ring // last levelWindow clipped z-scores
	zsum  float64
	cal   [4]*tailCalibrator
	gate  alarmGate
}

// Default's constants, measured on NAB (see eval nab).
const (
	shortSpan          = 10
	levelWindow        = 30
	calibrationFactor  = 4 // calibration window, in Options.Window
	calibrationHistory = 5 // evidence values seen before calibrated ones, in Options.MinHistory
	alarmEvidence      = 6
	quietSteps         = 75
	maxRawEvidence     = 1e6
	// The point channel counts half: its short mean carries the same
	// evidence again, so full weight would count a lone spike twice.
	pointWeight   = 0.5
	noveltyDim    = 10   // points per shape vector
	noveltyStride = 4    // one past vector in noveltyStride is remembered
	noveltyMemory = 1000 // vectors remembered: the last 4000 points
)

var _ Detector = (*Default)(nil)

// NewDefault returns the default detector; opts may be nil.
func NewDefault(opts *Options) (*Default, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	// One history of the values serves the seasonal predictor and the
	// novelty: two would hold the same values twice. The seasonal grows
	// it to its seasons.
	hist := newRing(noveltyHistory(noveltyDim, noveltyStride, noveltyMemory, o.Window))
	d := &Default{
		hist:  hist,
		rz:    newRobustZOn(o, newSharedSeasonal(o, hist)),
		cp:    newChangePointScorer(o), // scored on the predictions of rz's season
		nov:   newNovelty(noveltyDim, noveltyStride, noveltyMemory, o.Window, hist),
		short: newRing(shortSpan),
		level: newRing(levelWindow),
	}
	for i := range d.cal {
		d.cal[i] = newTailCalibrator(calibrationFactor*o.Window, calibrationHistory*o.MinHistory)
	}
	return d, nil
}

// Shifts returns where the confirmed level shifts began; see
// ChangePoint.Shifts.
func (d *Default) Shifts() []int { return d.cp.Shifts() }

// Update scores y; see Detector.
func (d *Default) Update(y float64) float64 {
	y = held(y)
	// RobustZ and ChangePoint share one seasonal predictor, which
	// shares its history with the novelty.
	season := d.rz.season
	pred := season.predict()
	d.hist.push(y)
	season.observe(y)
	a := min(scoreEvidence(d.rz.score(y, pred)), maxRawEvidence)
	d.cp.score(y, pred) // for Shifts only
	nv := min(d.nov.update(y), maxRawEvidence)
	if !finite(y) {
		return 0
	}
	d.sum = slide(d.short, d.sum, a)
	z := d.rz.Z()
	if math.IsNaN(z) { // an overflowing residual: no level evidence
		z = 0
	}
	d.zsum = slide(d.level, d.zsum, max(-cusumClip, min(cusumClip, z)))
	lv := gaussTail(d.zsum / math.Sqrt(float64(d.level.n)))
	e := pointWeight*d.cal[0].evidence(a) +
		d.cal[1].evidence(d.sum/float64(d.short.n)) +
		d.cal[2].evidence(min(lv, maxRawEvidence)) +
		d.cal[3].evidence(nv)
	return d.gate.score(e)
}

// alarmGate turns evidence into a score and silences it for quietSteps
// points after an alarm (evidence of alarmEvidence or more), as one
// incident needs one alarm.
type alarmGate struct{ quiet int }

func (g *alarmGate) score(e float64) float64 {
	if g.quiet > 0 {
		g.quiet--
		return 0
	}
	if e >= alarmEvidence {
		g.quiet = quietSteps
	}
	return evidenceScore(e)
}

// scoreEvidence inverts evidenceScore.
func scoreEvidence(s float64) float64 {
	if s >= 1 {
		return math.Inf(1)
	}
	return halfEvidence * s / (1 - s)
}

// slide pushes x into the window r whose values add up to sum and returns
// the new sum, of the values as r holds them.
func slide(r *ring, sum, x float64) float64 {
	if r.n == len(r.buf) {
		sum -= r.ago(len(r.buf) - 1)
	}
	r.push(x)
	return sum + r.ago(0)
}
