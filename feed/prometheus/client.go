package prometheus

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/prescale/prescale/feed"
)

// queryRangeAPI is the one method of v1.API the client needs.
type queryRangeAPI interface {
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

var _ queryRangeAPI = v1.API(nil)

// Client reads range queries from one Prometheus server. It is safe for
// concurrent use.
type Client struct {
	opts Options
	http *http.Client
	api  queryRangeAPI

	warned sync.Map // queries already warned about, so a refit loop warns once
}

// New returns a client for the Prometheus server at rawURL (the URL its
// web UI answers on, e.g. "http://prometheus:9090" or one with a path
// prefix). A nil opts means the defaults.
func New(rawURL string, opts *Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %q: %w", ErrOptions, rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want http:// or https:// and a host", ErrOptions, rawURL)
	}
	o := opts.withDefaults()
	hc, err := config.NewClientFromConfig(*o.HTTP, "prescale", config.WithUserAgent("prescale"))
	if err != nil {
		return nil, fmt.Errorf("%w: HTTP: %w", ErrOptions, err)
	}
	hc.Transport = limitedTransport{hc.Transport}
	ac, err := api.NewClient(api.Config{Address: rawURL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("%w: URL %q: %w", ErrOptions, rawURL, err)
	}
	return &Client{
		opts: o,
		http: hc,
		api:  v1.NewAPI(recordingClient{ac}),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Range evaluates query at start, start+step, ... up to end (included if on
// the grid) and returns the result as one Series on that grid: Values[i]
// is at start + i*step. Prometheus timestamps are whole milliseconds, so
// start is truncated to the millisecond and step must be a whole number of
// milliseconds.
//
// A range of more than Options.MaxPointsPerQuery points is split: piece k
// asks for grid points [k*N, (k+1)*N), N being MaxPointsPerQuery, so the
// pieces neither overlap nor leave holes. Up to Options.Concurrency pieces
// are in flight at once; each is retried on its own (see Options.Retries).
// If any piece fails for good, Range fails: it never returns part of the
// range as if it were the whole.
//
// The result must be exactly one series:
//   - Grid points with no sample (gaps, series that went stale) and NaN
//     samples are NaN. A sample off the grid is ErrBadResponse (query_range
//     never sends one).
//   - No series at all, or only NaN samples, is ErrNoData: never zeros.
//   - Several series (across all pieces: a label that changes in the middle
//     of the range makes two) is ErrMultipleSeries, naming their label
//     sets. Aggregation is left to PromQL: sum(...), max(...).
//   - Warnings from Prometheus go to Options.Logger, and so does a query
//     that reads a raw counter (a name ending in _total, _count, _sum or
//     _bucket outside rate(), irate(), increase() and the like), once per
//     query and Client.
//
// Every error is wrapped as `query range "q" [start, end] step s: ...`.
func (c *Client) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	s, err := c.rangeQuery(ctx, query, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query range %q [%s, %s] step %v: %w", query, formatTime(start), formatTime(end), step, err)
	}
	return s, nil
}

// pieceResult is what one piece found besides its values.
type pieceResult struct {
	series   []model.Metric
	warnings []string
	samples  int // non-NaN samples
}

func (c *Client) rangeQuery(ctx context.Context, query string, start, end time.Time, step time.Duration) (*feed.Series, error) {
	g, err := newGrid(start, end, step)
	if err != nil {
		return nil, err
	}
	if counters := rawCounters(query); len(counters) > 0 {
		if _, seen := c.warned.LoadOrStore(query, true); !seen {
			c.opts.Logger.WarnContext(ctx, "query reads a raw counter, which only grows and drops to zero when its process restarts; forecast its rate instead, e.g. rate("+counters[0]+"[5m])",
				"query", query, "counters", counters)
		}
	}

	pieces := split(g.n, c.opts.MaxPointsPerQuery)
	values := make([]float64, g.n)
	fillNaN(values)
	results := make([]pieceResult, len(pieces))

	// The first piece to fail cancels the others and is the error.
	eg, egCtx := errgroup.WithContext(ctx)
	eg.SetLimit(c.opts.Concurrency)
	for k := range pieces {
		if egCtx.Err() != nil {
			break
		}
		eg.Go(func() error {
			if egCtx.Err() != nil {
				return nil // another piece failed, or ctx is done
			}
			err := c.fetch(egCtx, query, g, step, pieces[k], values, &results[k])
			if err != nil && len(pieces) > 1 {
				p := pieces[k]
				err = fmt.Errorf("piece %d of %d [%s, %s]: %w",
					k+1, len(pieces), formatTime(g.time(p.first)), formatTime(g.time(p.last())), err)
			}
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var (
		series   []model.Metric
		seen     = make(map[model.Fingerprint]bool)
		samples  int
		warnings []string
		warned   = make(map[string]bool)
	)
	for _, r := range results {
		for _, m := range r.series {
			if fp := m.Fingerprint(); !seen[fp] {
				seen[fp] = true
				series = append(series, m)
			}
		}
		for _, w := range r.warnings {
			if !warned[w] {
				warned[w] = true
				warnings = append(warnings, w)
			}
		}
		samples += r.samples
	}
	for _, w := range warnings {
		c.opts.Logger.WarnContext(ctx, "prometheus warning: "+w, "query", query)
	}
	if len(series) > 1 {
		return nil, multipleSeries(series)
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("%w: the query matched no series in the range", ErrNoData)
	}
	if samples == 0 {
		return nil, fmt.Errorf("%w: series %s has only NaN samples in the range", ErrNoData, series[0])
	}
	return &feed.Series{Name: query, Start: g.time(0), Step: step, Values: values}, nil
}

// fetch runs the query for one piece, with retries, and stitches its
// samples into values.
func (c *Client) fetch(ctx context.Context, query string, g grid, step time.Duration, p piece, values []float64, res *pieceResult) error {
	r := v1.Range{Start: g.time(p.first), End: g.time(p.last()), Step: step}
	timeoutMsg := fmt.Sprintf("no complete answer within %v (the per-request timeout)", c.opts.Timeout)
	for n := 1; ; n++ {
		at := &attempt{maxBody: maxBodyBytes(p.n)}
		reqCtx, cancel := context.WithTimeout(context.WithValue(ctx, attemptKey{}, at), c.opts.Timeout)
		val, warnings, _, err := c.api.QueryRange(reqCtx, query, r)
		reqErr := reqCtx.Err()
		cancel()
		res.warnings = append(res.warnings, warnings...)
		if err == nil {
			return collect(val, g, p, values, res)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f := classify(err, at, reqErr, timeoutMsg)
		f.attempts = n
		if !f.retryable() || n > c.opts.Retries {
			return f
		}
		t := time.NewTimer(c.backoff(n, at.retryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w while waiting to retry; the last attempt: %w", ctx.Err(), f)
		case <-t.C:
		}
	}
}

// collect checks one piece's answer and stitches it into values.
func collect(val model.Value, g grid, p piece, values []float64, res *pieceResult) error {
	m, ok := val.(model.Matrix)
	if !ok {
		typ := "nothing"
		if val != nil {
			typ = val.Type().String()
		}
		return fmt.Errorf("%w: result is a %s, want a matrix", ErrBadResponse, typ)
	}
	if len(m) > 1 {
		metrics := make([]model.Metric, len(m))
		for i, s := range m {
			metrics[i] = s.Metric
		}
		return multipleSeries(metrics)
	}
	for _, s := range m {
		if len(s.Histograms) > 0 {
			return fmt.Errorf("%w: series %s has native histogram samples; query a float, e.g. histogram_quantile(0.9, rate(...))",
				ErrBadResponse, s.Metric)
		}
		if err := stitch(values, g, p, s.Values); err != nil {
			return fmt.Errorf("series %s: %w", s.Metric, err)
		}
		res.series = append(res.series, s.Metric)
		for _, sp := range s.Values {
			if !math.IsNaN(float64(sp.Value)) {
				res.samples++
			}
		}
	}
	return nil
}

// multipleSeries names the first few label sets of a result that should
// have had one series.
func multipleSeries(series []model.Metric) error {
	const shown = 5
	names := make([]string, 0, shown)
	for _, m := range series[:min(len(series), shown)] {
		names = append(names, m.String())
	}
	list := strings.Join(names, ", ")
	if len(series) > shown {
		list += fmt.Sprintf(", and %d more", len(series)-shown)
	}
	return fmt.Errorf("%w: the query returned %d series, want one: %s; aggregate them in PromQL (sum, max, ...) or narrow the selector",
		ErrMultipleSeries, len(series), list)
}

// backoff is the wait before retry n (1, 2, ...): RetryBackoff doubled for
// each retry before it, at least the server's Retry-After (in seconds),
// at most MaxRetryBackoff.
func (c *Client) backoff(n int, retryAfter string) time.Duration {
	d := c.opts.MaxRetryBackoff
	if n-1 < 32 {
		d = min(c.opts.RetryBackoff<<(n-1), d)
		if d <= 0 { // overflow
			d = c.opts.MaxRetryBackoff
		}
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && secs > 0 {
		d = max(d, time.Duration(secs)*time.Second)
	}
	return min(d, c.opts.MaxRetryBackoff)
}

// attemptKey carries an *attempt through v1.API to recordingClient.
type attemptKey struct{}

// recordingClient notes each answer's status and Retry-After in the
// request's *attempt: v1.API folds them into its error text.
type recordingClient struct{ api.Client }

func (c recordingClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := c.Client.Do(ctx, req)
	if at, ok := ctx.Value(attemptKey{}).(*attempt); ok && resp != nil {
		at.status = resp.StatusCode
		at.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, body, err
}

// Bounds on an answer's body, which v1.API reads whole: a sample of the
// one series asked for takes about 40 bytes of JSON
// ([1714521600.123,"1234.5678901234567"]), so bodyBytesPerPoint allows
// several series' worth, and bodyBytesFixed the labels, warnings and
// infos. A piece of 11,000 points may take 3.8 MiB.
const (
	bodyBytesPerPoint = 256
	bodyBytesFixed    = 1 << 20
)

// maxBodyBytes is the longest answer read for a request of points points.
func maxBodyBytes(points int) int64 {
	return bodyBytesFixed + bodyBytesPerPoint*int64(points)
}

// limitedTransport cuts off an answer's body at the bound of the request's
// attempt (maxBody), so that an answer without end fails with
// *http.MaxBytesError instead of filling memory.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if at, ok := req.Context().Value(attemptKey{}).(*attempt); ok && err == nil && at.maxBody > 0 {
		resp.Body = http.MaxBytesReader(nil, resp.Body, at.maxBody)
	}
	return resp, err
}

// CloseIdleConnections lets Client.Close reach the transport.
func (t limitedTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
