package registry

import "github.com/prescale/prescale/forecast"

// Wake makes Run's loop read the clock again at once, for tests that move
// a fake clock (Options.Now) instead of waiting.
func (r *Registry) Wake() { r.sched.poke() }

// Calibration is the target's fitted calibration and interval scale now,
// for tests that check the load provisioned; nil without a model.
func (r *Registry) Calibration(name string) (*forecast.Calibration, float64) {
	s, err := r.lookup("calibration", name)
	if err != nil {
		return nil, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fitted == nil {
		return nil, 0
	}
	return &s.fitted.Calibration, s.fitted.IntervalScale()
}
