package anomaly

import "math"

// Default is the detector whose score users see, registered as "prescale".
//
// It reads four channels from the stream: the evidence of the robust
// z-score of each point's residual (RobustZ, at half weight), the evidence
// of its mean over the last shortSpan points (sustained small deviations, as
// in Numenta's anomaly likelihood), the CUSUM level-shift evidence
// (ChangePoint), and the novelty of the shape of the last noveltyDim points:
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
// lowered the standard score (see the package tests).
type Default struct {
	rz    *RobustZ
	cp    *ChangePoint
	nov   *novelty
	short *ring
	sum   float64
	cal   [4]*tailCalibrator
	quiet int
}

// Default's constants, measured on NAB (see eval nab).
const (
	shortSpan          = 10
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
func NewDefault(opts *Options) *Default {
	o := sanitize(opts)
	d := &Default{
		rz:    NewRobustZ(&o),
		cp:    NewChangePoint(&o),
		nov:   newNovelty(noveltyDim, noveltyStride, noveltyMemory, o.Window),
		short: newRing(shortSpan),
	}
	for i := range d.cal {
		d.cal[i] = newTailCalibrator(calibrationFactor*o.Window, calibrationHistory*o.MinHistory)
	}
	return d
}

// Shifts returns where the confirmed level shifts began; see
// ChangePoint.Shifts.
func (d *Default) Shifts() []int { return d.cp.Shifts() }

// Update scores y; see Detector.
func (d *Default) Update(y float64) float64 {
	a := min(scoreEvidence(d.rz.Update(y)), maxRawEvidence)
	c := min(scoreEvidence(d.cp.Update(y)), maxRawEvidence)
	if !finite(y) {
		return 0
	}
	nv := min(d.nov.update(y), maxRawEvidence)
	if d.short.n == len(d.short.buf) {
		d.sum -= d.short.ago(len(d.short.buf) - 1)
	}
	d.short.push(a)
	d.sum += a
	e := pointWeight*d.cal[0].evidence(a) +
		d.cal[1].evidence(d.sum/float64(d.short.n)) +
		d.cal[2].evidence(c) +
		d.cal[3].evidence(nv)
	if d.quiet > 0 {
		d.quiet--
		return 0
	}
	if e >= alarmEvidence {
		d.quiet = quietSteps
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
