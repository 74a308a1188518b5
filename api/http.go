package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/models"
)

// HTTPOptions configure the HTTP handler.
type HTTPOptions struct {
	// Gatherer is served on /metrics; nil serves no /metrics.
	Gatherer prometheus.Gatherer
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Auth admits the requests of the REST API; nil
	// admits every request (a server behind its own gate, or a test).
	Auth *Auth
	// Version is the server's version, the OpenAPI document's
	// info.version; empty leaves the generated one.
	Version string
	// Requests counts and times the requests of the REST API, the OpenAPI
	// document and the web pages; nil records nothing.
	Requests *RequestMetrics
}

// NewHTTPHandler serves the REST API under /v1/ (grpc-gateway, calling srv
// in process), the OpenAPI document on /openapi.json, /metrics, /healthz
// (the process is up), /readyz (the backend is ready: it has restored its
// targets and can answer for them; fits still to come are on /metrics and
// in each target's status) and the web pages: the fleet on / and each
// target on /targets/{name} (ui.go). With opts.Auth, the REST API admits
// each request by its identity; the pages read through it.
func NewHTTPHandler(ctx context.Context, srv *Server, opts *HTTPOptions) (http.Handler, error) {
	var o HTTPOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &restJSON{&runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			}},
		}),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithErrorHandler(parameterError),
	)
	if err := prescalev1.RegisterPrescaleServiceHandlerServer(ctx, gw, srv); err != nil {
		return nil, fmt.Errorf("register REST gateway: %w", err)
	}
	mux := http.NewServeMux()
	guard := func(h http.Handler) http.Handler { return h }
	if o.Auth != nil {
		guard = o.Auth.HTTP
	}
	// gzip when the client accepts it: the list of 1,000 targets is 1.8 MB
	// of JSON, 0.1 MB gzipped.
	mux.Handle("/v1/", o.Requests.HTTP("rest", gzhttp.GzipHandler(guard(limitBody(commaLists(durationHorizons(gw, srv.b), "quantiles"))))))
	openapi, err := prescalev1.OpenAPIVersion(o.Version)
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /openapi.json", o.Requests.HTTP("openapi", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi)
	})))
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
			ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelError),
			EnableOpenMetrics: true,
		}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !srv.b.Ready() {
			http.Error(w, "not ready: restoring the targets and their snapshots", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	uiHandlers(mux, o.Requests.HTTP)
	return mux, nil
}

// MaxRequestBytes bounds a request's body, over REST and gRPC: a target's
// definition is a few hundred bytes.
const MaxRequestBytes = 1 << 20

// durationHorizons lets a REST forecast's horizon be a duration as well
// as steps, as dashboards think of it: horizon=1h asks for the steps of
// the target's step that cover an hour, rounded up. A number of steps, a
// value that is neither (the gateway's error names it) and other paths
// pass as they are; for an unknown target the horizon is dropped, so
// that the answer is the 404.
func durationHorizons(h http.Handler, b Backend) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, isTarget := strings.CutPrefix(r.URL.Path, "/v1/targets/")
		name, isForecast := strings.CutSuffix(rest, "/forecast")
		if !isTarget || !isForecast || !strings.Contains(r.URL.RawQuery, "horizon=") {
			h.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		v := q.Get("horizon")
		if _, err := strconv.Atoi(v); err == nil || len(q["horizon"]) != 1 {
			h.ServeHTTP(w, r)
			return
		}
		d, err := models.ParseDuration(v)
		if err != nil || d <= 0 {
			h.ServeHTTP(w, r)
			return
		}
		st, err := b.Get(name)
		if err != nil || st.Target.Step <= 0 {
			// Without the horizon the server answers for the target:
			// 404, or the refusal of a read.
			q.Del("horizon")
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
			h.ServeHTTP(w, r)
			return
		}
		steps := d / st.Target.Step
		if d%st.Target.Step != 0 {
			steps++
		}
		q.Set("horizon", strconv.FormatInt(int64(min(steps, math.MaxInt32)), 10))
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
		h.ServeHTTP(w, r)
	})
}

// commaLists lets each of the repeated query parameters params be written
// as one comma-separated value too, as dashboards write lists:
// quantiles=0.1,0.5,0.9 is quantiles=0.1&quantiles=0.5&quantiles=0.9. The
// values keep their order, so an error names the same index either way.
func commaLists(h http.Handler, params ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, ",") && !strings.Contains(r.URL.RawQuery, "%2C") && !strings.Contains(r.URL.RawQuery, "%2c") {
			h.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		changed := false
		for _, p := range params {
			var split []string
			for _, v := range q[p] {
				split = append(split, strings.Split(v, ",")...)
			}
			if len(split) != len(q[p]) {
				q[p], changed = split, true
			}
		}
		if changed {
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		}
		h.ServeHTTP(w, r)
	})
}

// limitBody answers 413 to a request whose body is larger than
// MaxRequestBytes, before any of it is decoded.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxRequestBytes {
			tooLarge(w, r.ContentLength)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge(w, -1)
				return
			}
			if err != nil {
				http.Error(w, "read the request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	})
}

// routingError answers a method that a path under /v1/ does not serve
// with 405, where grpc-gateway answers 501 (Unimplemented): a 5xx says the
// server failed, to clients that retry and to alerts on error rates.
// Other routing errors are the gateway's.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus != http.StatusMethodNotAllowed {
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
		return
	}
	writeStatus(w, http.StatusMethodNotAllowed, codes.Unimplemented,
		fmt.Sprintf("method %s is not allowed on %s", models.Echo(r.Method), models.Echo(r.URL.Path)))
}

// gatewayParseError is how grpc-gateway reports a query parameter it
// cannot read: `parsing field "horizon": strconv.ParseInt: ...`.
var gatewayParseError = regexp.MustCompile(`^parsing field "([^"]+)": (.*)$`)

// parameterError is the REST API's error handler: a query parameter the
// gateway could not read is an InvalidArgument with BadRequest details
// naming it, as the service's own checks are; everything else as
// grpc-gateway answers it.
func parameterError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		if p := gatewayParseError.FindStringSubmatch(st.Message()); p != nil {
			desc := "unreadable: " + p[2]
			if p[1] == "horizon" {
				desc = fmt.Sprintf("must be a number of steps or a positive duration such as 1h, got %s", models.Echo(r.URL.Query().Get("horizon")))
			}
			err = invalid([]*errdetails.BadRequest_FieldViolation{{Field: p[1], Description: desc}})
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// tooLarge answers 413 in the REST API's error shape.
func tooLarge(w http.ResponseWriter, size int64) {
	msg := fmt.Sprintf("the request body is larger than %d bytes", MaxRequestBytes)
	if size > 0 {
		msg = fmt.Sprintf("the request body is %d bytes, larger than %d", size, MaxRequestBytes)
	}
	writeStatus(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, msg)
}

// writeStatus answers an error in the REST API's shape, as grpc-gateway
// writes a status: {"code": the gRPC code, "message": msg}.
func writeStatus(w http.ResponseWriter, httpCode int, code codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpCode)
	b, _ := json.Marshal(map[string]any{"code": int(code), "message": msg, "details": []any{}})
	_, _ = w.Write(b)
}

// outgoingHeader maps gRPC response header metadata to HTTP headers:
// ServedByHeader to Prescale-Served-By, the rest as the gateway does by
// default (Grpc-Metadata-<key>).
func outgoingHeader(key string) (string, bool) {
	if key == ServedByHeader {
		return servedByHTTP, true
	}
	return runtime.MetadataHeaderPrefix + key, true
}
