package backtest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Startup is how long a new pod takes to become ready: a fixed delay, a
// uniform range, or a normal distribution truncated at zero.
type Startup struct {
	// Kind is "fixed", "uniform" or "normal".
	Kind string
	// Fixed: A. Uniform: between A and B. Normal: mean A, standard
	// deviation B.
	A, B time.Duration
}

// Startup kinds.
const (
	StartupFixed   = "fixed"
	StartupUniform = "uniform"
	StartupNormal  = "normal"
)

// ParseStartup reads a start-up delay: "3m" (fixed), "2m..4m" (uniform
// between the two) or "3m~30s" (normal with that mean and standard
// deviation, never below zero).
func ParseStartup(s string) (Startup, error) {
	parse := func(part string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 90s or 3m", strings.TrimSpace(part))
		}
		if d < 0 {
			return 0, fmt.Errorf("%q is negative", strings.TrimSpace(part))
		}
		return d, nil
	}
	var out Startup
	var err error
	switch {
	case strings.Contains(s, ".."):
		lo, hi, _ := strings.Cut(s, "..")
		out.Kind = StartupUniform
		if out.A, err = parse(lo); err == nil {
			out.B, err = parse(hi)
		}
		if err == nil && out.B < out.A {
			err = fmt.Errorf("the range %s is empty (the upper end is below the lower)", s)
		}
	case strings.Contains(s, "~"):
		mean, sd, _ := strings.Cut(s, "~")
		out.Kind = StartupNormal
		if out.A, err = parse(mean); err == nil {
			out.B, err = parse(sd)
		}
	default:
		out.Kind = StartupFixed
		out.A, err = parse(s)
	}
	if err != nil {
		return Startup{}, fmt.Errorf("start-up delay %q: %w (want 3m, 2m..4m or 3m~30s)", s, err)
	}
	return out, nil
}

// String writes the delay as ParseStartup reads it.
func (s Startup) String() string {
	switch s.Kind {
	case StartupUniform:
		return fmtDuration(s.A) + ".." + fmtDuration(s.B)
	case StartupNormal:
		return fmtDuration(s.A) + "~" + fmtDuration(s.B)
	}
	return fmtDuration(s.A)
}

// Max is the longest delay the distribution gives in practice (for a
// normal one, the mean plus three standard deviations).
func (s Startup) Max() time.Duration {
	switch s.Kind {
	case StartupUniform:
		return s.B
	case StartupNormal:
		return s.A + 3*s.B
	}
	return s.A
}

func (s Startup) validate() error {
	switch s.Kind {
	case StartupFixed, "":
	case StartupUniform:
		if s.B < s.A {
			return errors.New("startup: the uniform range is empty")
		}
	case StartupNormal:
	default:
		return fmt.Errorf("startup: unknown kind %q", s.Kind)
	}
	if s.A < 0 || s.B < 0 {
		return errors.New("startup: must not be negative")
	}
	return nil
}

// draw returns one start-up delay.
func (s Startup) draw(rng *rand.Rand) time.Duration {
	switch s.Kind {
	case StartupUniform:
		return s.A + time.Duration(rng.Int64N(int64(s.B-s.A)+1))
	case StartupNormal:
		return time.Duration(math.Max(0, float64(s.A)+rng.NormFloat64()*float64(s.B)))
	}
	return s.A
}

// pods is a workload's pods, each with the time it is (or will be) ready.
type pods struct {
	readyAt []time.Time // sorted, earliest first
	startup Startup
	rng     *rand.Rand
}

// scale creates or deletes pods to reach n at now. New pods become ready
// after a start-up delay; deletion takes the pods that are not ready yet
// first, the latest to be ready first (a ReplicaSet deletes pods in an
// earlier phase before ready ones).
func (p *pods) scale(now time.Time, n int) {
	for len(p.readyAt) < n {
		at := now.Add(p.startup.draw(p.rng))
		i, _ := slices.BinarySearchFunc(p.readyAt, at, time.Time.Compare)
		p.readyAt = slices.Insert(p.readyAt, i, at)
	}
	if len(p.readyAt) > n {
		p.readyAt = p.readyAt[:max(n, 0)]
	}
}

// ready counts the pods ready at now.
func (p *pods) ready(now time.Time) int {
	n, _ := slices.BinarySearchFunc(p.readyAt, now, func(a, t time.Time) int {
		if a.After(t) {
			return 1
		}
		return -1
	})
	return n
}
