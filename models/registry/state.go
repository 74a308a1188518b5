package registry

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/feed"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// maxEvents bounds the live and level-shift anomaly events kept.
const maxEvents = 1000

// targetState is one target: its configuration, fitted model, detector,
// recent data, cached forecast and last recommendation. mu guards every
// field but saveMu and the tasks (which the scheduler guards).
type targetState struct {
	mu sync.Mutex

	target models.Target
	origin string
	// epoch counts the changes that void the model (query, step, history,
	// seasons or model kind); a fit or fetch begun in an earlier epoch is
	// discarded.
	epoch   uint64
	deleted bool
	// loadTried is set once the snapshot store has been asked for this
	// target (by Run's restore, or by its first fit).
	loadTried bool
	// held: this replica holds the target (Options.Holds); without, it has
	// no model, data or tasks.
	held bool

	// The model, its state advanced through lastObserved. modeled is
	// fitted != nil, readable without mu: the run loop gives a fit of a
	// target without a model precedence over refits.
	modeled      atomic.Bool
	fitted       *forecast.Fitted
	plan         forecastPlan
	generation   uint64
	fittedAt     time.Time
	fitDuration  time.Duration
	fitErr       string
	fitErrors    uint64
	fitAttempted bool
	// timeline schedules the fits.
	timeline     *models.Timeline
	dataStart    time.Time
	dataEnd      time.Time
	lastObserved time.Time
	training     []models.AnomalyEvent
	// effects are the target's known events with the effects learned at
	// the last fit (or restored with its snapshot); nil without events,
	// and after the restore of a snapshot that kept none, until the fit
	// that follows at once.
	effects *events.Effects

	// The live detector, nil until a fit makes it (and after it fell
	// behind), and the events it reported.
	detector *models.LiveDetector
	events   eventRing

	// The data: every point through streamed went into the history cache,
	// the latest observation and the accuracy tracker.
	streamed     time.Time
	observed     float64
	observedAt   time.Time
	lastFetch    time.Time
	fetchErr     string
	fetchErrors  uint64
	fetchFailing bool
	history      historyRing

	// The forecast cached at lastObserved: the load to provision for steps
	// 1..len(fc), from fcStart (models.Provision, at
	// models.Target.Quantile), and the tracked quantiles at the lead step.
	fc         []float64
	fcStart    time.Time
	leadValues []float64
	// fcWeight and fcScale are the model's short-horizon trends' weight
	// and interval scale the forecast was made with (forecast.Dynamics).
	fcWeight, fcScale float64
	accuracy          accuracyTracker

	last       models.Recommendation
	hasLast    bool
	changes    changeRing
	lastGood   int
	lastGoodAt time.Time

	// version counts changes worth a snapshot; savedVersion is the one on
	// disk.
	version      uint64
	savedVersion uint64
	// saveMu orders saves and the removal of the snapshot; held before mu.
	saveMu sync.Mutex

	fetchTask task
	fitTask   task
}

// accuracyCapacity is how many forecasts may wait for their actual: one
// per step of the lead window, and as many for late data.
func accuracyCapacity(t *models.Target) int { return 2*t.LeadSteps() + 8 }

// forecastPlan is what a target's cached forecast takes from the model's
// calibration. The calibration does not change between fits, so the
// quantile offsets are found once per fit (each is a sort of pooled
// errors) and a streaming update needs only the point forecast.
type forecastPlan struct {
	lead    int // steps from the last observation to the end of the lead window
	steps   int // length of the cached forecast
	cal     *forecast.Calibration
	offsets []float64 // of models.Target.Quantile, for steps 1..steps
	core    []float64 // of forecast.CoreLevel, for steps 1..steps
	q       float64   // models.Target.Quantile
	tracked []float64 // of the registry's quantiles, at step lead
	low     float64   // of accuracyLow and accuracyHigh, at step lead
	high    float64
}

// newPlan finds the offsets for target t.
func (r *Registry) newPlan(f *forecast.Fitted, t *models.Target) forecastPlan {
	cal := &f.Calibration
	p := forecastPlan{
		lead:    t.LeadSteps(),
		steps:   models.ForecastSteps(t, 0, models.StaleAfter(t, r.opts.StaleAfter)),
		cal:     cal,
		tracked: make([]float64, len(r.opts.Quantiles)),
	}
	p.q = t.Quantile
	p.offsets = cal.Offsets(make([]float64, p.steps), t.Quantile)
	p.core = p.offsets
	if t.Quantile != forecast.CoreLevel {
		p.core = cal.Offsets(make([]float64, p.steps), forecast.CoreLevel)
	}
	// Offsets at the lead step, each found once.
	found := map[float64]float64{t.Quantile: p.offsets[p.lead-1]}
	at := func(q float64) float64 {
		off, ok := found[q]
		if !ok {
			off = cal.Offset(p.lead, q)
			found[q] = off
		}
		return off
	}
	for i, q := range r.opts.Quantiles {
		p.tracked[i] = at(q)
	}
	p.low, p.high = at(accuracyLow), at(accuracyHigh)
	return p
}

// refreshForecast recomputes the cached forecast (the load to provision
// at each step: models.Provision) from the model's state at
// lastObserved, and puts its lead-step quantiles aside for the accuracy
// tracker.
func (s *targetState) refreshForecast() {
	s.fc = s.fc[:0]
	s.fcStart = time.Time{}
	clear(s.leadValues)
	if s.fitted == nil || s.plan.steps == 0 {
		return
	}
	res, err := s.fitted.Forecast(s.plan.steps, nil)
	if err != nil {
		return // a model that cannot forecast leaves the reactive floor
	}
	cal, scale := s.plan.cal, s.fitted.IntervalScale()
	s.fcWeight, s.fcScale = s.fitted.LocalWeight(), scale
	step := s.target.Step
	s.fcStart = s.lastObserved.Add(step)
	for i, p := range res.Point {
		t := s.fcStart.Add(time.Duration(i) * step)
		s.fc = append(s.fc, models.Provision(cal, s.effects, t, p, s.plan.offsets[i], s.plan.core[i], s.plan.q, scale))
	}
	p := res.Point[s.plan.lead-1]
	for i, off := range s.plan.tracked {
		s.leadValues[i] = cal.Apply(p, off, scale)
	}
	at := s.lastObserved.Add(time.Duration(s.plan.lead) * step)
	s.accuracy.add(at, p, cal.Apply(p, s.plan.low, scale), cal.Apply(p, s.plan.high, scale))
}

// watermark is the time of the last point every part of the state has
// taken, or zero when none has taken any: the next fetch starts after it.
func (s *targetState) watermark() time.Time {
	w := s.streamed
	if s.fitted != nil && (w.IsZero() || s.lastObserved.Before(w)) {
		w = s.lastObserved
	}
	if s.detector != nil && (w.IsZero() || s.detector.End().Before(w)) {
		w = s.detector.End()
	}
	return w
}

// ingest takes the points of series up to index last (its last finite
// point, so that trailing gaps are read again when their samples come
// late). Each part of the state takes the points after the last one it
// took, a missing step between as a gap: the history cache, the latest
// observation and the accuracy tracker; the detector; the model. A part
// more than models.MaxGap steps behind does not stream: the detector is dropped
// and the model left as it is, and behind asks for a refit, which
// replaces both. advanced says whether the model moved, shift whether the
// detector confirmed a level shift.
func (s *targetState) ingest(series *feed.Series, last int) (advanced, shift, behind bool) {
	step := s.target.Step
	maxGap := models.MaxGap(&s.target)
	for i := 0; i <= last; i++ {
		t := series.Time(i)
		v := series.Values[i]
		if math.IsInf(v, 0) {
			v = math.NaN() // Fitted.Observe rejects infinities; no load is infinite
		}
		if t.After(s.streamed) {
			s.history.put(t, v, step)
			if !math.IsNaN(v) {
				s.observed, s.observedAt = v, t
			}
			s.accuracy.observe(t, v)
			s.streamed = t
		}
		if s.detector != nil && t.After(s.detector.End()) {
			if gap := s.detector.Gap(t); gap > maxGap {
				s.dropDetector()
				behind = true
			} else if s.detector.Observe(t, v, gap) {
				shift = true
			}
		}
		if s.fitted != nil && t.After(s.lastObserved) {
			gap := models.StepsBetween(s.lastObserved, t, step)
			if gap > maxGap {
				behind = true
				continue
			}
			_ = models.Advance(s.fitted, gap, v, t, step, s.effects) // v is finite or NaN: Observe takes it
			s.lastObserved = t
			advanced = true
		}
	}
	return advanced, shift, behind
}

// replay feeds the model and the detector, when they are behind the data
// (a model installed while streaming went on), the points they missed
// from the history cache, if it holds them all. It reports whether they
// caught up.
func (s *targetState) replay() bool {
	from := s.watermark()
	if !from.Before(s.streamed) {
		return true
	}
	step := s.target.Step
	k := models.StepsBetween(from, s.streamed, step) + 1
	vals, start := s.history.last(k, step)
	if len(vals) < k || !start.Equal(from.Add(step)) {
		return false
	}
	s.ingest(&feed.Series{Start: start, Step: step, Values: vals}, len(vals)-1)
	return !s.watermark().Before(s.streamed)
}

// newDetector makes the live detector for the model just fitted on
// history[first:last+1]; the windows of known events are gaps to it.
func (s *targetState) newDetector(history *feed.Series, first, last int) error {
	d, err := models.NewLiveDetector(s.fitted.Seasons, history, first, last, s.effects.Known(), s.events.add)
	if err != nil {
		return err
	}
	s.detector = d
	return nil
}

func (s *targetState) dropDetector() {
	if s.detector != nil {
		s.detector.Close()
	}
	s.detector = nil
}

// dropModel forgets the model after a change of configuration that voids
// it; keepData keeps the detector, the recent data and the anomaly
// events, which stay valid when the series is the same. The previous
// recommendation stays: it is what a stale target holds.
func (s *targetState) dropModel(keepData bool) {
	s.fitted = nil
	s.modeled.Store(false)
	s.plan = forecastPlan{}
	s.fittedAt, s.fitDuration = time.Time{}, 0
	s.fitErr = ""
	s.dataStart, s.dataEnd, s.lastObserved = time.Time{}, time.Time{}, time.Time{}
	s.training = nil
	s.effects = nil
	s.fc, s.fcStart = s.fc[:0], time.Time{}
	clear(s.leadValues)
	s.version++
	if keepData {
		return
	}
	s.dropDetector()
	s.events = eventRing{}
	s.streamed, s.observed, s.observedAt = time.Time{}, 0, time.Time{}
}

// trainingEvents turns the spans a fit kept out of training into events.
func trainingEvents(anomalies []forecast.Anomaly, dataStart time.Time, step time.Duration) []models.AnomalyEvent {
	if len(anomalies) == 0 {
		return nil
	}
	out := make([]models.AnomalyEvent, len(anomalies))
	for i, a := range anomalies {
		out[i] = models.AnomalyEvent{
			Start: dataStart.Add(time.Duration(a.Start) * step),
			End:   dataStart.Add(time.Duration(a.End) * step),
			Kind:  a.Kind,
			Score: 1,
		}
	}
	return out
}

// anomalies returns the events overlapping [start, end), unsorted.
func (s *targetState) anomalies(start, end time.Time) []models.AnomalyEvent {
	var out []models.AnomalyEvent
	keep := func(e models.AnomalyEvent) {
		if e.Start.Before(end) && e.End.After(start) {
			out = append(out, e)
		}
	}
	for _, e := range s.events.buf {
		keep(e)
	}
	if s.detector != nil {
		if e, open := s.detector.Open(); open {
			keep(e)
		}
	}
	for _, e := range s.training {
		keep(e)
	}
	return out
}

// status returns the target's status.
func (r *Registry) status(s *targetState) TargetStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.statusLocked(s)
}

// statusLocked returns the target's status; s.mu is held.
func (r *Registry) statusLocked(s *targetState) TargetStatus {
	st := TargetStatus{
		Target:       s.target,
		Origin:       s.origin,
		Held:         s.held,
		Generation:   s.generation,
		FittedAt:     s.fittedAt,
		FitDuration:  s.fitDuration,
		FitError:     s.fitErr,
		FitErrors:    s.fitErrors,
		NextRefit:    s.timeline.NextRefit(),
		DataStart:    s.dataStart,
		DataEnd:      s.dataEnd,
		LastObserved: s.lastObserved,
		Observed:     s.observed,
		ObservedAt:   s.observedAt,
		LastFetch:    s.lastFetch,
		FetchError:   s.fetchErr,
		FetchErrors:  s.fetchErrors,
		Accuracy:     s.accuracy.summary(),
	}
	st.Target.Seasons = slices.Clone(s.target.Seasons)
	if !s.timeline.Fitting() {
		st.FitDueSince = r.sched.dueSince(&s.fitTask, r.now())
	}
	if s.fitted != nil {
		st.ModelKind = s.fitted.Model
		st.Seasons = slices.Clone(s.fitted.Seasons)
		st.ModelReason = s.fitted.Reason
		st.ModelNotes = slices.Clone(s.fitted.Notes)
	}
	if len(s.fc) > 0 {
		st.LeadForecast = make([]forecast.Quantile, len(r.opts.Quantiles))
		for i, q := range r.opts.Quantiles {
			st.LeadForecast[i] = forecast.Quantile{Level: q, Values: []float64{s.leadValues[i]}}
		}
	}
	if s.hasLast {
		rec := s.last
		st.Recommendation = &rec
	}
	st.Events = eventStatuses(s.effects, r.now(), s.target.Quantile)
	return st
}

// Which of a target's events its status lists: those whose windows
// overlap the last day or the next week, at most MaxStatusEvents.
const (
	statusEventsBefore = 24 * time.Hour
	statusEventsAfter  = 7 * 24 * time.Hour
	MaxStatusEvents    = 20
)

// EventStatus is an occurrence of a target's event with the effect the
// policy gives it.
type EventStatus struct {
	Name       string
	Start, End time.Time
	// From and To bound its window: its lead before Start, its lag
	// after End.
	From, To time.Time
	// Effect is "learned", "declared" or "unknown"; Learned how many past
	// occurrences were learned from; Factor the load over its usual level
	// (learned: the largest over the event; declared: the multiplier;
	// unknown: the widening, or the largest ratio past events of any name
	// showed when larger); Load a declared load, when that is used; Others,
	// for an unknown effect, how many past events of any name sized it (0
	// when the widening did).
	Effect  string
	Learned int
	Factor  float64
	Load    float64
	Others  int
}

// eventStatuses lists the occurrences of fx's calendar around now.
func eventStatuses(fx *events.Effects, now time.Time, q float64) []EventStatus {
	if fx == nil || fx.Calendar == nil {
		return nil
	}
	var out []EventStatus
	summaries := map[*events.Event]events.Use{} // occurrences of one entry share it
	for _, o := range fx.Calendar.Between(now.Add(-statusEventsBefore), now.Add(statusEventsAfter)) {
		if len(out) == MaxStatusEvents {
			break
		}
		u, ok := summaries[o.Event]
		if !ok {
			u = fx.Summary(o, q)
			summaries[o.Event] = u
		}
		es := EventStatus{Name: o.Event.Name, Start: o.Start, End: o.End, From: o.From(), To: o.To(),
			Effect: u.Source, Learned: u.Learned, Factor: u.Factor, Others: u.Others}
		if u.Source == "declared" && u.Factor == 0 {
			es.Load = o.Event.Load
		}
		out = append(out, es)
	}
	return out
}

// historyRing keeps a target's most recent points, gaps as NaN, each as
// a float32 (7 significant digits, 4 bytes a step): the cache serves
// charts and catches a model up on a few points; a fit reads its
// history from the source again.
type historyRing struct {
	buf  []float32
	head int // index of the oldest point
	n    int
	end  time.Time // time of the newest point
}

func newHistoryRing(capacity int) historyRing {
	if capacity <= 0 {
		return historyRing{}
	}
	return historyRing{buf: make([]float32, capacity)}
}

// put appends the point at t after a NaN for each step missing since the
// newest. A point not after the newest is ignored.
func (h *historyRing) put(t time.Time, v float64, step time.Duration) {
	if len(h.buf) == 0 {
		return
	}
	if h.n > 0 {
		if !t.After(h.end) {
			return
		}
		if gap := models.StepsBetween(h.end, t, step); gap >= len(h.buf) {
			h.head, h.n = 0, 0
		} else {
			for range gap {
				h.push(math.NaN())
			}
		}
	}
	h.push(v)
	h.end = t
}

func (h *historyRing) push(v float64) {
	if h.n < len(h.buf) {
		h.buf[(h.head+h.n)%len(h.buf)] = float32(v)
		h.n++
		return
	}
	h.buf[h.head] = float32(v)
	h.head = (h.head + 1) % len(h.buf)
}

// last returns up to k newest points, oldest first, and the time of the
// first, for a grid of step.
func (h *historyRing) last(k int, step time.Duration) ([]float64, time.Time) {
	k = min(k, h.n)
	if k == 0 {
		return nil, time.Time{}
	}
	out := make([]float64, k)
	for i := range out {
		out[i] = float64(h.buf[(h.head+h.n-k+i)%len(h.buf)])
	}
	return out, h.end.Add(-time.Duration(k-1) * step)
}

// resize changes the capacity to n points, keeping the newest when keep.
func (h *historyRing) resize(n int, keep bool, step time.Duration) {
	if keep && n == len(h.buf) {
		return
	}
	old := *h
	*h = newHistoryRing(n)
	if !keep {
		return
	}
	vals, start := old.last(n, step)
	for i, v := range vals {
		h.put(start.Add(time.Duration(i)*step), v, step)
	}
}

// eventRing keeps the last maxEvents anomaly events.
type eventRing struct {
	buf  []models.AnomalyEvent
	next int // where the next event goes once buf is full
}

func (r *eventRing) add(e models.AnomalyEvent) {
	if len(r.buf) < maxEvents {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.next] = e
	r.next = (r.next + 1) % maxEvents
}
