package promtest

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Series is one time series on a regular grid: Values[i] is the sample at
// Start + i*Step. A NaN value means no sample at that point (a gap), so a
// literal NaN sample cannot be written through a Series.
type Series struct {
	Name   string            // metric name, the __name__ label
	Labels map[string]string // other labels; may be nil
	Start  time.Time
	Step   time.Duration
	Values []float64
}

// Time returns the timestamp of grid point i.
func (s *Series) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Validate reports whether the series can be written to Prometheus.
func (s *Series) Validate() error {
	if !metricNameRE.MatchString(s.Name) {
		return fmt.Errorf("promtest: invalid metric name %q", s.Name)
	}
	for name := range s.Labels {
		if !labelNameRE.MatchString(name) || name == "__name__" {
			return fmt.Errorf("promtest: series %s: invalid label name %q", s.Name, name)
		}
	}
	if s.Step <= 0 && len(s.Values) > 1 {
		return fmt.Errorf("promtest: series %s: step %v is not positive", s.Name, s.Step)
	}
	if s.Start.IsZero() && len(s.Values) > 0 {
		return fmt.Errorf("promtest: series %s: zero start time", s.Name)
	}
	return nil
}

// Options configure Start. A nil *Options means the defaults.
type Options struct {
	// Series are backfilled with promtool before the server starts.
	Series []Series
	// LookbackDelta is passed as --query.lookback-delta when positive
	// (Prometheus's default is 5m: an instant or range query step takes the
	// latest sample up to 5m back, so gaps shorter than that are filled).
	LookbackDelta time.Duration
	// StartTimeout bounds the wait for /-/ready (default 30s).
	StartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL (default 10s).
	StopGrace time.Duration
	// Flags are extra command-line flags for prometheus, e.g. "--web.enable-admin-api".
	Flags []string
}

// Validate checks the options and every series in them.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.LookbackDelta < 0 || o.StartTimeout < 0 || o.StopGrace < 0 {
		return errors.New("promtest: negative duration in options")
	}
	return validateSeries(o.Series)
}

// validateSeries checks each series and that no two share a label set.
func validateSeries(series []Series) error {
	seen := make(map[string]bool, len(series))
	for i := range series {
		s := &series[i]
		if err := s.Validate(); err != nil {
			return err
		}
		key := string(appendSelector(nil, s.Name, s.Labels))
		if seen[key] {
			return fmt.Errorf("promtest: series %s given twice", key)
		}
		seen[key] = true
	}
	return nil
}
