package backtest

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// forecasts are the prescale policy's forecasts as the service makes them:
// state j is the target after the points up to index j became visible and
// the fit due then ran. The schedule is the service's own
// (models.Timeline, models.LiveDetector, models.FetchStart,
// models.FitHistory, models.Advance), driven by the replay clock.
type forecasts struct {
	h      int       // forecast steps kept per state
	quants []float64 // quantile levels with offsets in every segment
	seg    []int32   // the segment serving each state; -1 without a model
	segs   []*segment

	fits      []int                 // the states the fits succeeded at
	failed    int                   // fits that failed (the model before them stayed)
	fitTime   time.Duration         // CPU time of every fit made
	anomalies []models.AnomalyEvent // live spans and level shifts the detector reported
}

// segment is one successful fit and the states [at, to) it serves: the
// model fitted at state at, streamed through each state's points.
type segment struct {
	at, to int
	// cal turns a point forecast and an offset into a quantile; it keeps
	// only Relative of the fit's calibration, so that the segment does not
	// hold the fit's errors (Offsets were taken from them once).
	cal     forecast.Calibration
	offsets map[float64][]float64 // per quantile, steps 1..h
	lastObs []int32               // per state: the model's last observed index; -1 without a forecast
	point   []float64             // per state: h point forecasts from lastObs+1
	scale   []float64             // per state: the model's interval scale
	weight  []float64             // per state: the model's short-horizon trends' weight
	effects *events.Effects       // the known events' effects learned by the fit
}

// Span is a half-open range of point indices [Start, End).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// replayTarget is one target's schedule replayed over the visible data.
type replayTarget struct {
	values []float64
	start  time.Time
	step   time.Duration
	target *models.Target
	from   int // the first state: the target is declared then

	// deliveredLo[j]..deliveredHi[j] are the points the fetch of state j
	// gave the target (none when hi < lo), as the registry's fetch does.
	deliveredLo, deliveredHi []int32

	mu       sync.Mutex
	outcomes map[int]*fitOutcome // every fit made, by state

	// events is the calendar the target knows: its occurrences' windows
	// are gaps in every fit's history (models.FitHistoryEvents); the
	// model streams them, and so follows an event under way.
	events *events.Calendar
}

// fitOutcome is a fit made at one state. The fitted model, while kept, has
// not been streamed yet.
type fitOutcome struct {
	err     error
	fitted  *forecast.Fitted
	effects *events.Effects
	seasons []int
	took    time.Duration
	// last is the index of the last point the model saw: before j when
	// the history ends within an event's window (a gap to the model).
	last int
}

func (rt *replayTarget) at(i int) time.Time { return rt.start.Add(time.Duration(i) * rt.step) }

func (rt *replayTarget) index(t time.Time) int { return int(t.Sub(rt.start) / rt.step) }

// plan is one pass of the schedule: the fits it made, and the fits whose
// success it assumed without making them.
type plan struct {
	fits      []int
	failed    int
	assumed   []int
	anomalies []models.AnomalyEvent
}

// makeForecasts replays the service's schedule and forecasts over values.
// A fit's outcome shapes the schedule (a failure is retried with a
// backoff), so the schedule is planned assuming the fits it has not made
// succeed; the fits then run on workers while their models stream through
// the states they serve, and should one fail, the schedule is planned
// again with that outcome known, until no assumption was wrong. The
// result is exactly the service's schedule; only the first fit (and any
// that makes a new detector) is made while planning.
func makeForecasts(ctx context.Context, rt *replayTarget, h int, quants []float64, workers int, progress func(done, total int)) (*forecasts, error) {
	rt.outcomes = map[int]*fitOutcome{}
	rt.deliveredLo = make([]int32, len(rt.values))
	rt.deliveredHi = make([]int32, len(rt.values))
	fc := &forecasts{h: h, quants: quants}
	done := map[[2]int]*segment{}
	for {
		p, err := rt.pass(ctx)
		if err != nil {
			return nil, err
		}
		var todo []*segment
		fc.segs = fc.segs[:0]
		for k, at := range p.fits {
			to := len(rt.values)
			if k+1 < len(p.fits) {
				to = p.fits[k+1]
			}
			s := done[[2]int{at, to}]
			if s == nil {
				s = &segment{at: at, to: to}
				done[[2]int{at, to}] = s
				todo = append(todo, s)
			}
			fc.segs = append(fc.segs, s)
		}
		if err := rt.stream(ctx, todo, h, quants, workers, progress); err != nil {
			return nil, err
		}
		if !rt.wrong(p.assumed) {
			fc.fits, fc.failed, fc.anomalies = p.fits, p.failed, p.anomalies
			break
		}
	}
	fc.seg = make([]int32, len(rt.values))
	for i := range fc.seg {
		fc.seg[i] = -1
	}
	for k, s := range fc.segs {
		for j := s.at; j < s.to; j++ {
			fc.seg[j] = int32(k)
		}
	}
	for _, o := range rt.outcomes {
		fc.fitTime += o.took
	}
	return fc, nil
}

// wrong reports whether a fit assumed to succeed failed.
func (rt *replayTarget) wrong(assumed []int) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, j := range assumed {
		if o := rt.outcomes[j]; o != nil && o.err != nil {
			return true
		}
	}
	return false
}

// pass drives the service's schedule through every state once.
func (rt *replayTarget) pass(ctx context.Context) (*plan, error) {
	t := rt.target
	maxGap := models.MaxGap(t)
	sched := models.NewTimeline(t, rt.at(rt.from), nil)
	p := &plan{}
	emit := func(e models.AnomalyEvent) { p.anomalies = append(p.anomalies, e) }
	var det *models.LiveDetector
	watermark, modelLast := -1, -1 // the last point taken; by the model
	for j := rt.from; j < len(rt.values); j++ {
		if j%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		now := rt.at(j)
		// The fetch: the points after the watermark, through the last
		// observed one.
		var wm time.Time
		if watermark >= 0 {
			wm = rt.at(watermark)
		}
		start, skipped := models.FetchStart(t, wm, now, 1)
		lo, hi := rt.index(start), j
		for hi >= lo && math.IsNaN(rt.values[hi]) {
			hi--
		}
		rt.deliveredLo[j], rt.deliveredHi[j] = int32(lo), int32(hi)
		shift, lagging := false, false
		for i := lo; i <= hi; i++ {
			if det != nil && rt.at(i).After(det.End()) {
				if gap := det.Gap(rt.at(i)); gap > maxGap {
					det.Close()
					det, lagging = nil, true
				} else if det.Observe(rt.at(i), rt.values[i], gap) {
					shift = true
				}
			}
			if modelLast >= 0 && i > modelLast {
				if i-modelLast-1 > maxGap {
					lagging = true
				} else {
					modelLast = i
				}
			}
			watermark = i
		}
		if hi >= lo && (lagging || skipped && modelLast >= 0) {
			sched.Behind(now)
		}
		if shift {
			sched.Shift(now)
		}
		if !sched.Due(now) {
			continue
		}
		// The fit: its outcome if known, made now if the detector needs
		// its seasons, else assumed to succeed.
		sched.BeginFit()
		o := rt.outcome(j, det == nil)
		if o == nil {
			p.assumed = append(p.assumed, j)
		} else if o.err != nil {
			sched.FitFailed(now)
			p.failed++
			continue
		}
		sched.Fitted(now)
		p.fits = append(p.fits, j)
		modelLast = lastObserved(rt.values, j)
		if det == nil {
			if d, err := models.NewLiveDetector(o.seasons, rt.history(j), o.first(rt, j), modelLast-rt.historyFrom(j), rt.events, emit); err == nil {
				det = d
			}
		}
	}
	if det != nil {
		det.Close()
	}
	return p, nil
}

// outcome returns the fit at state j if it was made, or makes it when
// force is set (its model kept for the segment it starts); else nil.
func (rt *replayTarget) outcome(j int, force bool) *fitOutcome {
	rt.mu.Lock()
	o := rt.outcomes[j]
	rt.mu.Unlock()
	if o != nil || !force {
		return o
	}
	o = rt.fit(j)
	rt.record(j, o, true)
	return o
}

// fit makes the fit at state j, as the registry does.
func (rt *replayTarget) fit(j int) *fitOutcome {
	began := time.Now()
	f, _, last, fx, err := models.FitHistoryEvents(rt.target, rt.history(j), rt.events)
	o := &fitOutcome{err: err, fitted: f, effects: fx, took: time.Since(began), last: rt.historyFrom(j) + last}
	if f != nil {
		o.seasons = f.Seasons
	}
	return o
}

// record keeps the outcome of the fit at state j: its model only when
// keep, so that a model lives no longer than the segment streaming it.
func (rt *replayTarget) record(j int, o *fitOutcome, keep bool) {
	kept := *o
	if !keep {
		kept.fitted = nil
	}
	rt.mu.Lock()
	rt.outcomes[j] = &kept
	rt.mu.Unlock()
}

// take returns the model fitted at state j for streaming: the one made
// while planning if not streamed yet, else a new fit (the same model: fits
// are deterministic). The outcome it records keeps no model.
func (rt *replayTarget) take(j int) *fitOutcome {
	rt.mu.Lock()
	o := rt.outcomes[j]
	if o != nil && o.fitted != nil {
		taken := *o
		o.fitted = nil
		rt.mu.Unlock()
		return &taken
	}
	rt.mu.Unlock()
	o = rt.fit(j)
	rt.record(j, o, false)
	return o
}

// historyFrom is the index the history of a fit at state j starts at, as
// the registry fetches it (the data starts at index 0).
func (rt *replayTarget) historyFrom(j int) int {
	return max(0, rt.index(models.HistoryStart(rt.target, rt.at(j))))
}

// history is the history a fit at state j reads.
func (rt *replayTarget) history(j int) *feed.Series {
	from := rt.historyFrom(j)
	return &feed.Series{Start: rt.at(from), Step: rt.step, Values: rt.values[from : j+1]}
}

// first is the index in history(j) of its first observed point.
func (o *fitOutcome) first(rt *replayTarget, j int) int {
	from := rt.historyFrom(j)
	for i := from; i <= j; i++ {
		if !math.IsNaN(rt.values[i]) {
			return i - from
		}
	}
	return 0
}

// stream fits and streams the segments on workers.
func (rt *replayTarget) stream(ctx context.Context, segs []*segment, h int, quants []float64, workers int, progress func(done, total int)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	var mu sync.Mutex
	done := 0
	for _, s := range segs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			rt.runSegment(s, h, quants)
			mu.Lock()
			defer mu.Unlock()
			done++
			if progress != nil {
				progress(done, len(segs))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// runSegment streams the model fitted at s.at through the points each
// state s.at+1..s.to-1 was given, as the registry's ingest does, keeping
// each state's point forecast. A failed fit leaves the segment empty (the
// schedule is then planned again).
func (rt *replayTarget) runSegment(s *segment, h int, quants []float64) {
	o := rt.take(s.at)
	if o.err != nil {
		return
	}
	f := o.fitted
	s.effects = o.effects
	s.offsets = make(map[float64][]float64, len(quants))
	for _, q := range quants {
		s.offsets[q] = f.Calibration.Offsets(make([]float64, h), q)
	}
	s.cal = forecast.Calibration{Relative: f.Calibration.Relative, ReferenceSpread: f.Calibration.ReferenceSpread}
	maxGap := models.MaxGap(rt.target)
	n := s.to - s.at
	s.lastObs = make([]int32, n)
	s.point = make([]float64, n*h)
	s.scale = make([]float64, n)
	s.weight = make([]float64, n)
	point := make([]float64, h)
	scale, weight := 1.0, 0.0
	predict := func() bool {
		r, err := f.Forecast(h, nil)
		if err != nil {
			return false
		}
		copy(point, r.Point)
		scale, weight = f.IntervalScale(), f.LocalWeight()
		return true
	}
	// advance streams points from..to the model has not seen; false when
	// it falls behind (a gap too long: the registry leaves it for a refit).
	last := o.last
	advance := func(from, to int) (advanced, ok bool) {
		for i := max(from, last+1); i <= to; i++ {
			gap := i - last - 1
			if gap > maxGap || models.Advance(f, gap, rt.values[i], rt.at(i), rt.step, s.effects) != nil {
				return advanced, false
			}
			last, advanced = i, true
		}
		return advanced, true
	}
	// The points the fit's history held after the last it saw (an event's
	// window under way is a gap to the fit) are streamed at once, as the
	// registry's install streams them from the fetched history.
	_, caughtUp := advance(last+1, lastObserved(rt.values, s.at))
	ok, behind := predict(), !caughtUp
	for j := s.at; j < s.to; j++ {
		if j > s.at && !behind {
			advanced, streamed := advance(int(rt.deliveredLo[j]), int(rt.deliveredHi[j]))
			behind = !streamed
			if advanced {
				ok = predict()
			}
		}
		k := j - s.at
		s.lastObs[k] = -1
		if ok {
			s.lastObs[k] = int32(last)
			copy(s.point[k*h:(k+1)*h], point)
			s.scale[k], s.weight[k] = scale, weight
		}
	}
}

// state returns state j's point forecasts (h values for the indices from
// first on) and the segment they come from, or nil without a forecast.
func (fc *forecasts) state(j int) (point []float64, first int, s *segment) {
	if j < 0 || j >= len(fc.seg) || fc.seg[j] < 0 {
		return nil, 0, nil
	}
	s = fc.segs[fc.seg[j]]
	k := j - s.at
	if s.lastObs == nil || s.lastObs[k] < 0 {
		return nil, 0, nil
	}
	return s.point[k*fc.h : (k+1)*fc.h], int(s.lastObs[k]) + 1, s
}

// quantileAt is the level quantile of the point forecast p of state j,
// k+1 steps ahead.
func (s *segment) quantileAt(j int, level float64, k int, p float64) float64 {
	return s.cal.Apply(p, s.offsets[level][k], s.scale[j-s.at])
}

// dynamics are the short-horizon trends' weight and interval scale of state j's
// forecast (zero without one).
func (fc *forecasts) dynamics(j int) (weight, scale float64) {
	if _, _, s := fc.state(j); s != nil {
		return s.weight[j-s.at], s.scale[j-s.at]
	}
	return 0, 0
}

// effects are the known events' effects of state j's model; nil without.
func (fc *forecasts) effects(j int) *events.Effects {
	if _, _, s := fc.state(j); s != nil {
		return s.effects
	}
	return nil
}

// provision writes the load state j's forecast provisions at level q
// (models.Provision, as the registry's cached forecast) into
// dst (h values from index first) and returns it with first, or nil
// without a forecast.
func (fc *forecasts) provision(dst []float64, j int, q float64, start time.Time, step time.Duration) ([]float64, int) {
	point, first, s := fc.state(j)
	if s == nil {
		return nil, 0
	}
	dst = dst[:fc.h]
	for k, p := range point {
		dst[k] = s.provisionAt(j, q, k, p, start.Add(time.Duration(first+k)*step))
	}
	return dst, first
}

// provisionAt is the load state j's forecast provisions at level q for
// the point forecast p, k+1 steps ahead, at time t (models.Provision).
func (s *segment) provisionAt(j int, q float64, k int, p float64, t time.Time) float64 {
	return models.Provision(&s.cal, s.effects, t, p, s.offsets[q][k], s.offsets[forecast.CoreLevel][k], q, s.scale[j-s.at])
}

// lastObserved is the index of the last observed point at or before j, or
// -1.
func lastObserved(values []float64, j int) int {
	for ; j >= 0; j-- {
		if !math.IsNaN(values[j]) {
			return j
		}
	}
	return -1
}

func finiteIn(v []float64) int {
	n := 0
	for _, x := range v {
		if !math.IsNaN(x) {
			n++
		}
	}
	return n
}
