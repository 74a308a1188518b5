package anomaly

import (
	"math"
	"os"
	"strconv"
)

func knob(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return def
}

// Default is the detector whose score users see: it runs the robust
// z-score, streaming seasonal ESD and CUSUM level-shift detectors on the
// same stream and combines their scores.
type Default struct {
	rz    *RobustZ
	es    *SeasonalESD
	cp    *ChangePoint
	cal   [4]*tailCalibrator
	short *ring
	sum   float64
	prev  *ring
	use   [4]bool
	supp  int
	sfac  float64
	quiet int
}

var _ Detector = (*Default)(nil)

// NewDefault returns the default detector, registered as "prescale"; opts
// may be nil.
func NewDefault(opts *Options) *Default {
	o := sanitize(opts)
	cw := int(knob("CALW", float64(o.Window)))
	d := &Default{rz: NewRobustZ(opts), es: NewSeasonalESD(opts), cp: NewChangePoint(opts)}
	for i := range d.cal {
		d.cal[i] = newTailCalibrator(cw, o.MinHistory)
	}
	d.short = newRing(int(knob("SHORT", 10)))
	uses := os.Getenv("USE")
	if uses == "" {
		uses = "1111"
	}
	for i := range d.use {
		d.use[i] = uses[i] == '1'
	}
	d.supp = int(knob("SUPP", 0))
	d.sfac = knob("SFAC", 0.5)
	d.prev = newRing(max(d.supp, 1))
	return d
}

// Update scores y; see Detector.
func (d *Default) Update(y float64) float64 {
	if !finite(y) {
		d.rz.Update(y)
		d.es.Update(y)
		d.cp.Update(y)
		return 0
	}
	a := scoreEvidence(d.rz.Update(y))
	a = min(a, 1e6)
	if d.short.n == len(d.short.buf) {
		d.sum -= d.short.ago(len(d.short.buf) - 1)
	}
	d.short.push(a)
	d.sum += a
	raw := [4]float64{
		a,
		scoreEvidence(d.es.Update(y)),
		scoreEvidence(d.cp.Update(y)),
		d.sum / float64(d.short.n),
	}
	var e float64
	k := 0
	for i, r := range raw {
		ev := d.cal[i].evidence(r)
		if knob("SUMC", 0) > 0 && d.use[i] {
			e += ev
			k = 1
			continue
		}
		if d.use[i] {
			e = max(e, ev)
			k++
		}
	}
	e -= math.Log10(float64(k))
	if knob("SUMC", 0) > 0 {
		var tot float64
		for i, r := range raw {
			if d.use[i] {
				tot += d.cal[i].peek(r)
			}
		}
		_ = tot
	}
	if lvl := knob("ALARM", 0); lvl > 0 {
		if d.quiet > 0 {
			d.quiet--
			e = 0
		} else if e >= lvl {
			d.quiet = d.supp
		}
	} else if d.supp > 0 {
		var m float64
		for j := 0; j < d.prev.n; j++ {
			m = max(m, d.prev.ago(j))
		}
		d.prev.push(e)
		if e <= m {
			e *= d.sfac
		}
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
