package prometheus

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/common/config"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxPointsPerQuery is Prometheus's own limit on the points of
	// one series in one range query.
	DefaultMaxPointsPerQuery = 11_000
	DefaultConcurrency       = 4
	DefaultRetries           = 3
	// DefaultTimeout matches Prometheus's default -query.timeout, so that
	// the client does not give up on a query the server would answer.
	DefaultTimeout         = 2 * time.Minute
	DefaultRetryBackoff    = 250 * time.Millisecond
	DefaultMaxRetryBackoff = 8 * time.Second
)

// MaxPoints bounds the grid of one Range call: ten million points is 19
// years of minutes, and a longer grid is nearly always a mistyped step.
const MaxPoints = 10_000_000

// Options configures a Client. A nil *Options means the defaults.
type Options struct {
	// HTTP holds the connection settings in Prometheus's own shape (bearer
	// token or token file, basic auth, TLS CA, client certificate,
	// insecure_skip_verify, extra headers, proxy). Nil means
	// config.DefaultHTTPClientConfig.
	HTTP *config.HTTPClientConfig
	// Timeout bounds one HTTP request (one piece of a split query, one
	// attempt). Zero means DefaultTimeout. The ctx given to Range bounds
	// the whole call, retries included.
	Timeout time.Duration
	// MaxPointsPerQuery is the most grid points one request asks for.
	// Zero means DefaultMaxPointsPerQuery.
	MaxPointsPerQuery int
	// Concurrency is the most requests in flight for one Range call. Zero
	// means DefaultConcurrency; 1 fetches the pieces one after another.
	Concurrency int
	// Retries is how many times a request is repeated after a 5xx, a 429
	// or a network error, waiting RetryBackoff, then twice that, and so on
	// up to MaxRetryBackoff (or the server's Retry-After, if longer). Zero
	// means DefaultRetries; a negative value disables retries. Bad queries
	// (400, 422), other 4xx answers, malformed responses and timeouts are
	// not retried: they would fail the same way again.
	Retries int
	// RetryBackoff is the wait before the first retry. Zero means
	// DefaultRetryBackoff.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the wait between retries. Zero means
	// DefaultMaxRetryBackoff.
	MaxRetryBackoff time.Duration
	// Logger receives warnings: those Prometheus sends with a result, and
	// a query that reads a raw counter. Nil discards them.
	Logger *slog.Logger
}

// Validate reports options that no client can work with.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.Timeout < 0:
		return fmt.Errorf("%w: negative Timeout %v", ErrOptions, o.Timeout)
	case o.MaxPointsPerQuery < 0:
		return fmt.Errorf("%w: negative MaxPointsPerQuery %d", ErrOptions, o.MaxPointsPerQuery)
	case o.Concurrency < 0:
		return fmt.Errorf("%w: negative Concurrency %d", ErrOptions, o.Concurrency)
	case o.RetryBackoff < 0:
		return fmt.Errorf("%w: negative RetryBackoff %v", ErrOptions, o.RetryBackoff)
	case o.MaxRetryBackoff < 0:
		return fmt.Errorf("%w: negative MaxRetryBackoff %v", ErrOptions, o.MaxRetryBackoff)
	}
	if o.HTTP != nil {
		if err := o.HTTP.Validate(); err != nil {
			return fmt.Errorf("%w: HTTP: %w", ErrOptions, err)
		}
	}
	return nil
}

// withDefaults returns a copy of o with its zero fields set.
func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.HTTP == nil {
		cfg := config.DefaultHTTPClientConfig
		d.HTTP = &cfg
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.MaxPointsPerQuery == 0 {
		d.MaxPointsPerQuery = DefaultMaxPointsPerQuery
	}
	if d.Concurrency == 0 {
		d.Concurrency = DefaultConcurrency
	}
	switch {
	case d.Retries == 0:
		d.Retries = DefaultRetries
	case d.Retries < 0:
		d.Retries = 0
	}
	if d.RetryBackoff == 0 {
		d.RetryBackoff = DefaultRetryBackoff
	}
	if d.MaxRetryBackoff == 0 {
		d.MaxRetryBackoff = DefaultMaxRetryBackoff
	}
	if d.MaxRetryBackoff < d.RetryBackoff {
		d.MaxRetryBackoff = d.RetryBackoff
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}
