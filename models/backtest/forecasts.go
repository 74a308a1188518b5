package backtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prescale/prescale/anomaly"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// forecasts are the prescale policy's forecasts as the service would have
// made them: state j is the model after the points up to index j became
// visible (the model steps over missing points, as the registry does).
type forecasts struct {
	h       int       // forecast steps kept per state
	lastObs []int32   // the model's last observed index per state; -1 without a model
	seg     []int32   // the fit in use per state
	point   []float64 // h point forecasts per state, from lastObs+1
	segs    []*segment
	quants  []float64 // quantile levels with offsets in every segment

	anomalies []Span // live detector spans, in point indices
	shifts    []int  // confirmed level shifts, point indices
	detStart  int    // the index the live detector's first point had
}

// segment is one fit and the states it serves.
type segment struct {
	at       int // the visible index the fit happened at
	from, to int // the states [from, to) it serves
	fitted   *forecast.Fitted
	err      error
	offsets  map[float64][]float64 // per quantile, steps 1..h
	relative bool
	fitTime  time.Duration
}

// Span is a half-open range of point indices [Start, End), or of times.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// planFits lays out the registry's fit schedule over the visible index:
// the first fit once MinHistory is visible, then every RefitInterval, a
// level shift the live detector confirms sooner (at most every
// models.ShiftRefitSteps), and a gap longer than half the history at
// once. The live detector needs the first fit's season, so that fit is
// made here.
func planFits(ctx context.Context, values []float64, c *Config, step time.Duration) (*forecasts, error) {
	n := len(values)
	histSteps := int(c.History / step)
	refitSteps := max(1, int(c.RefitInterval/step))
	maxGap := max(1, histSteps/2)
	first := int(c.MinHistory/step) - 1

	fc := &forecasts{}
	var det *anomaly.Default
	detEnd, lastShift, shiftRefit := -1, -1, -1
	var live *Span
	closeLive := func() {
		if live != nil {
			fc.anomalies = append(fc.anomalies, *live)
			live = nil
		}
	}
	next := -1 // the index of the next fit
	for j := max(first, 0); j < n; j++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if next < 0 && finiteIn(values[max(0, j+1-histSteps):j+1]) >= 2 {
			next = j
		}
		if next >= 0 && j >= next {
			s := &segment{at: j}
			fc.segs = append(fc.segs, s)
			next = j + refitSteps
			if det == nil {
				// The first fit (or the first after the detector fell
				// behind) sets the detector's season.
				fitSegment(s, values, c, step)
				period := -1
				if s.fitted != nil && len(s.fitted.Seasons) > 0 {
					period = slices.Min(s.fitted.Seasons)
				}
				d, err := anomaly.NewDefault(&anomaly.Options{Period: period})
				if err != nil {
					return nil, fmt.Errorf("live detector: %w", err)
				}
				det = d
				last := lastFinite(values, j)
				from := max(0, j+1-histSteps, last+1-max(models.DetectorWarmUp, 3*period+anomaly.DefaultWindow))
				for _, v := range values[from : last+1] {
					det.Update(v)
				}
				detEnd, lastShift = last, -1
				if sh := det.Shifts(); len(sh) > 0 {
					lastShift = sh[len(sh)-1]
				}
				fc.detStart = from
				continue
			}
		}
		if det == nil || math.IsNaN(values[j]) {
			continue
		}
		gap := j - detEnd - 1
		if gap > maxGap {
			det = nil // behind: refit at once, with a new detector
			closeLive()
			next = j
			j-- // this point is seen by the refit
			continue
		}
		for range gap {
			det.Update(math.NaN())
		}
		if gap > 0 {
			closeLive()
		}
		if score := det.Update(values[j]); score >= models.LiveThreshold {
			if live != nil && live.End == j {
				live.End = j + 1
			} else {
				closeLive()
				live = &Span{Start: j, End: j + 1}
			}
		} else {
			closeLive()
		}
		detEnd = j
		if sh := det.Shifts(); len(sh) > 0 && sh[len(sh)-1] > lastShift {
			for _, k := range sh {
				if k > lastShift {
					fc.shifts = append(fc.shifts, fc.detStart+k)
				}
			}
			lastShift = sh[len(sh)-1]
			at := j
			if shiftRefit >= 0 {
				at = max(at, shiftRefit+models.ShiftRefitSteps)
			}
			shiftRefit = at
			next = min(next, at)
		}
	}
	closeLive()
	for i, s := range fc.segs {
		s.from = s.at
		s.to = n
		if i+1 < len(fc.segs) {
			s.to = fc.segs[i+1].at
		}
	}
	return fc, nil
}

// fitSegment fits the model on the history visible at s.at, as the
// registry does: the last History, trimmed to its observed ends.
func fitSegment(s *segment, values []float64, c *Config, step time.Duration) {
	if s.fitted != nil || s.err != nil {
		return
	}
	start := time.Now()
	histSteps := int(c.History / step)
	from := max(0, s.at+1-histSteps)
	window := values[from : s.at+1]
	lo, hi := -1, -1
	for i, v := range window {
		if !math.IsNaN(v) {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		s.err = fmt.Errorf("no observed point in the history")
		return
	}
	var periods []int
	for _, p := range c.Seasons {
		periods = append(periods, int(p/step))
	}
	s.fitted, s.err = forecast.Fit(window[lo:hi+1], &forecast.Options{
		Model:   c.Model,
		Horizon: models.FitHorizon(&models.Target{Step: step, LeadTime: c.Lead}),
		Periods: periods,
		Step:    step,
	})
	s.fitTime = time.Since(start)
}

// stream runs every segment: its fit (unless made already), the quantile
// offsets, and the model streamed through the states it serves, writing
// their point forecasts. Segments are independent and run on workers.
func (fc *forecasts) stream(ctx context.Context, values []float64, c *Config, step time.Duration, quants []float64, progress func(done, total int)) error {
	n := len(values)
	fc.quants = quants
	fc.lastObs = make([]int32, n)
	fc.seg = make([]int32, n)
	for i := range fc.lastObs {
		fc.lastObs[i], fc.seg[i] = -1, -1
	}
	fc.point = make([]float64, n*fc.h)

	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range max(1, c.Workers) {
		wg.Go(func() {
			for k := range work {
				fc.runSegment(k, values, c, step)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(fc.segs))
				}
				mu.Unlock()
			}
		})
	}
	var err error
	for k := range fc.segs {
		if err = ctx.Err(); err != nil {
			break
		}
		work <- k
	}
	close(work)
	wg.Wait()
	return err
}

func (fc *forecasts) runSegment(k int, values []float64, c *Config, step time.Duration) {
	s := fc.segs[k]
	fitSegment(s, values, c, step)
	if s.err != nil {
		return
	}
	cal := &s.fitted.Calibration
	s.relative = cal.Relative
	s.offsets = make(map[float64][]float64, len(fc.quants))
	for _, q := range fc.quants {
		s.offsets[q] = models.QuantileOffsets(cal, q, fc.h)
	}
	// The fit has seen the history up to its last observed point.
	f := s.fitted
	s.fitted = nil // the segment's model is advanced below; keep no reference
	last := lastFinite(values, s.at)
	point := make([]float64, fc.h)
	predict := func() bool {
		r, err := f.Forecast(fc.h, nil)
		if err != nil {
			return false
		}
		copy(point, r.Point)
		return true
	}
	ok := predict()
	for j := s.from; j < s.to; j++ {
		if j > s.at && !math.IsNaN(values[j]) {
			for range j - last - 1 {
				f.Observe(math.NaN())
			}
			if f.Observe(values[j]) != nil {
				return
			}
			last = j
			ok = predict()
		}
		if !ok {
			continue
		}
		fc.lastObs[j] = int32(last)
		fc.seg[j] = int32(k)
		copy(fc.point[j*fc.h:(j+1)*fc.h], point)
	}
}

// quantile writes the q-quantile forecast of state j into dst (h values
// from index lastObs+1) and returns it with the index of its first value,
// or nil without a forecast.
func (fc *forecasts) quantile(dst []float64, j int, q float64) ([]float64, int) {
	if j < 0 || j >= len(fc.seg) || fc.seg[j] < 0 {
		return nil, 0
	}
	s := fc.segs[fc.seg[j]]
	off := s.offsets[q]
	dst = dst[:fc.h]
	for i, p := range fc.point[j*fc.h : (j+1)*fc.h] {
		dst[i] = models.QuantileAt(p, off[i], s.relative)
	}
	return dst, int(fc.lastObs[j]) + 1
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

// lastFinite is the index of the last observed point at or before j, or -1.
func lastFinite(values []float64, j int) int {
	for ; j >= 0; j-- {
		if !math.IsNaN(values[j]) {
			return j
		}
	}
	return -1
}
