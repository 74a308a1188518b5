package registry

// Wake makes Run's loop read the clock again at once, for tests that move
// a fake clock (Options.Now) instead of waiting.
func (r *Registry) Wake() { r.sched.poke() }
