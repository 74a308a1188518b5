package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Errors from Range. They come wrapped with the query, the range and, for
// a split query, the piece that failed, so test for them with errors.Is.
var (
	// ErrOptions is an Options or a URL that fails validation.
	ErrOptions = errors.New("prometheus: invalid options")
	// ErrRange is a range with no grid: end before start, a step that is
	// not a positive number of milliseconds, or more than MaxPoints points.
	ErrRange = errors.New("prometheus: invalid range")
	// ErrNoData is a query that matched no samples in the range (or only
	// NaN ones). It is never reported as zeros.
	ErrNoData = errors.New("prometheus: no data")
	// ErrMultipleSeries is a query that returned more than one series; the
	// message names their label sets. Aggregate them in PromQL (sum, max,
	// ...) or narrow the selector.
	ErrMultipleSeries = errors.New("prometheus: several series")
	// ErrUnavailable is a server that could not be reached or answered
	// 5xx or 429 on every attempt.
	ErrUnavailable = errors.New("prometheus: unavailable")
	// ErrTimeout is a request that got no complete answer within
	// Options.Timeout. It also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("prometheus: timeout")
	// ErrBadQuery is a query Prometheus refused (400 or 422): a PromQL
	// syntax error, or one it could not execute.
	ErrBadQuery = errors.New("prometheus: bad query")
	// ErrRejected is any other 4xx answer: 401 or 403 (credentials), 404
	// (a URL that is not a Prometheus).
	ErrRejected = errors.New("prometheus: request rejected")
	// ErrBadResponse is an answer that is not a valid query_range result:
	// malformed JSON, a result that is not a matrix, samples off the grid.
	ErrBadResponse = errors.New("prometheus: bad response")
	// ErrTooLarge is an answer longer than the bound for the points asked
	// (see maxBodyBytes): a proxy streaming without end, or a query giving
	// many series. It is not retried.
	ErrTooLarge = errors.New("prometheus: answer too large")
)

// fault is one failed request, classified. Its message leads with its
// sentinel's text and matches it under errors.Is; Unwrap gives the cause
// (a *url.Error, a *v1.Error, context.DeadlineExceeded).
type fault struct {
	kind     error
	msg      string
	cause    error
	attempts int // more than 1 when retried
}

func (f *fault) Error() string {
	msg := f.kind.Error() + ": " + f.msg
	if f.attempts > 1 {
		msg += fmt.Sprintf(" (gave up after %d attempts)", f.attempts)
	}
	return msg
}

func (f *fault) Is(target error) bool { return target == f.kind }

func (f *fault) Unwrap() error { return f.cause }

// retryable reports whether the same request may succeed if repeated.
func (f *fault) retryable() bool { return f.kind == ErrUnavailable }

// attempt is what one HTTP exchange left behind for classify: the status
// and the Retry-After header, which v1.API does not return. maxBody is
// the longest body limitedTransport reads for it.
type attempt struct {
	status     int
	retryAfter string
	maxBody    int64
}

// classify turns the error of one QueryRange attempt into a fault.
// reqErr is the error of the attempt's context, whose deadline is Options.Timeout.
func classify(err error, at *attempt, reqErr error, timeoutMsg string) *fault {
	var apiErr *v1.Error
	var large *http.MaxBytesError
	switch {
	case errors.As(err, &large):
		return &fault{kind: ErrTooLarge, msg: fmt.Sprintf("the answer is longer than %d bytes, the bound for the points asked; aggregate the query to one series", large.Limit), cause: err}
	case errors.Is(reqErr, context.DeadlineExceeded):
		return &fault{kind: ErrTimeout, msg: timeoutMsg, cause: context.DeadlineExceeded}
	case errors.As(err, &apiErr):
		return classifyAPI(apiErr, at)
	}
	// No HTTP answer: refused, reset, DNS, TLS, a body cut short.
	return &fault{kind: ErrUnavailable, msg: err.Error(), cause: err}
}

func classifyAPI(e *v1.Error, at *attempt) *fault {
	status := httpStatus(at.status)
	switch e.Type {
	case v1.ErrServer:
		return &fault{kind: ErrUnavailable, msg: status + detail(e.Detail), cause: e}
	case v1.ErrClient:
		if at.status == http.StatusTooManyRequests {
			return &fault{kind: ErrUnavailable, msg: status + detail(e.Detail), cause: e}
		}
		if at.status == http.StatusBadRequest || at.status == http.StatusUnprocessableEntity {
			// An error body that is not Prometheus's JSON: quote it.
			msg := status + detail(e.Detail)
			if e.Detail == "" {
				msg = status + ": " + e.Msg
			}
			return &fault{kind: ErrBadQuery, msg: msg, cause: e}
		}
		return &fault{kind: ErrRejected, msg: status + detail(e.Detail), cause: e}
	case v1.ErrBadResponse:
		msg := e.Msg
		if !strings.Contains(msg, "client error") && !strings.Contains(msg, "server error") &&
			!strings.Contains(msg, "bad response code") {
			msg = "malformed JSON: " + msg
		}
		return &fault{kind: ErrBadResponse, msg: status + ": " + shorten(msg), cause: e}
	case v1.ErrTimeout, v1.ErrCanceled:
		// Prometheus's own -query.timeout; retrying would time out again.
		return &fault{kind: ErrTimeout, msg: status + ": " + string(e.Type) + ": " + e.Msg, cause: e}
	}
	// bad_data, execution, and whatever else a 400 or 422 carries.
	return &fault{kind: ErrBadQuery, msg: status + ": " + string(e.Type) + ": " + e.Msg, cause: e}
}

func httpStatus(code int) string {
	if code == 0 {
		return "no HTTP status"
	}
	return fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
}

// detail quotes the start of an error body, where proxies and load
// balancers say why.
func detail(body string) string {
	body = strings.TrimSpace(body)
	if body == "" {
		return ""
	}
	return ": " + shorten(body)
}

// shorten keeps an error message to one readable line.
func shorten(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

// Cause is what went wrong, without the query and the range that Range's
// errors lead with: what the server said of a failed request, or what
// follows the sentinel's text (the label sets of ErrMultipleSeries).
func Cause(err error) string {
	var f *fault
	if errors.As(err, &f) {
		return f.msg
	}
	msg := err.Error()
	for _, s := range []error{ErrMultipleSeries, ErrNoData, ErrRange, ErrBadResponse} {
		if i := strings.Index(msg, s.Error()+": "); i >= 0 {
			return msg[i+len(s.Error())+2:]
		}
	}
	return msg
}
