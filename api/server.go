package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// Defaults of the forecast and anomaly calls.
const (
	// forecastExtra is added to a target's lead window to make the default
	// forecast horizon.
	forecastExtra = time.Hour
	// defaultHistory is how much recent load a forecast returns by default.
	defaultHistory = 6 * time.Hour
	// anomalyWindow is the default window of ListAnomalies.
	anomalyWindow = 24 * time.Hour
	// recommendationWindow is the default window of ListRecommendations.
	recommendationWindow = 6 * time.Hour
)

// defaultQuantiles are the forecast quantiles returned when none are asked.
var defaultQuantiles = [...]float64{0.1, 0.5, 0.9}

// ServerOptions configure a Server. A nil *ServerOptions means defaults.
type ServerOptions struct {
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
	// CheckQuery asks the data source about a target's query before it is
	// created or updated; an error wrapping models.ErrConfig refuses the
	// write (InvalidArgument naming the field). Nil checks nothing.
	CheckQuery QueryChecker
}

// QueryChecker checks a target's query against the data source once
// (serve asks Prometheus): a *models.FieldError on "query" when the
// source refuses it, nil when it accepts it or cannot say now.
type QueryChecker func(ctx context.Context, t models.Target) error

// Server implements prescale's gRPC service (and, through grpc-gateway,
// its REST API) over a Backend.
type Server struct {
	prescalev1.UnimplementedPrescaleServiceServer
	b          Backend
	log        *slog.Logger
	now        func() time.Time
	checkQuery QueryChecker
}

var _ prescalev1.PrescaleServiceServer = (*Server)(nil)

// NewServer returns the gRPC service over b.
func NewServer(b Backend, opts *ServerOptions) (*Server, error) {
	if b == nil {
		return nil, errors.New("api: nil backend")
	}
	s := &Server{b: b, log: slog.New(slog.DiscardHandler), now: time.Now}
	if opts != nil {
		s.checkQuery = opts.CheckQuery
		if opts.Logger != nil {
			s.log = opts.Logger
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
	}
	return s, nil
}

// ListTargets lists every target.
func (s *Server) ListTargets(ctx context.Context, _ *prescalev1.ListTargetsRequest) (*prescalev1.ListTargetsResponse, error) {
	list := s.b.List()
	resp := &prescalev1.ListTargetsResponse{Targets: make([]*prescalev1.Target, len(list))}
	for i := range list {
		resp.Targets[i] = targetProto(&list[i])
	}
	return resp, nil
}

// GetTarget returns one target.
func (s *Server) GetTarget(ctx context.Context, req *prescalev1.GetTargetRequest) (*prescalev1.Target, error) {
	if err := requireName(req.GetName()); err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	st, err := b.Get(req.GetName())
	if err != nil {
		return nil, s.status(ctx, "get target", req.GetName(), err)
	}
	return targetProto(&st), nil
}

// CreateTarget registers a target through the API.
func (s *Server) CreateTarget(ctx context.Context, req *prescalev1.CreateTargetRequest) (*prescalev1.Target, error) {
	t, err := targetFromSpec(req.GetTarget(), "target")
	if err != nil {
		return nil, s.status(ctx, "create target", req.GetTarget().GetName(), err)
	}
	if err := s.checkQuery.check(ctx, t); err != nil {
		return nil, s.status(ctx, "create target", t.Name, err)
	}
	st, err := s.b.Create(t, registry.OriginAPI)
	if err != nil {
		return nil, s.status(ctx, "create target", t.Name, err)
	}
	auditLog(ctx, s.log, "create", t.Name, "", specJSON(&st.Target))
	return targetProto(&st), nil
}

// UpdateTarget replaces a target's configuration.
func (s *Server) UpdateTarget(ctx context.Context, req *prescalev1.UpdateTargetRequest) (*prescalev1.Target, error) {
	t, err := targetFromSpec(req.GetTarget(), "target")
	if err != nil {
		return nil, s.status(ctx, "update target", req.GetTarget().GetName(), err)
	}
	before, _ := s.b.Get(t.Name)
	if before.Target.Query != t.Query || before.Target.Step != t.Step {
		if err := s.checkQuery.check(ctx, t); err != nil {
			return nil, s.status(ctx, "update target", t.Name, err)
		}
	}
	st, err := s.b.Update(t)
	if err != nil {
		return nil, s.status(ctx, "update target", t.Name, err)
	}
	auditLog(ctx, s.log, "update", t.Name, specJSON(&before.Target), specJSON(&st.Target))
	return targetProto(&st), nil
}

// DeleteTarget removes a target.
func (s *Server) DeleteTarget(ctx context.Context, req *prescalev1.DeleteTargetRequest) (*prescalev1.DeleteTargetResponse, error) {
	if err := requireName(req.GetName()); err != nil {
		return nil, err
	}
	before, _ := s.b.Get(req.GetName())
	if err := s.b.Delete(req.GetName()); err != nil {
		return nil, s.status(ctx, "delete target", req.GetName(), err)
	}
	auditLog(ctx, s.log, "delete", req.GetName(), specJSON(&before.Target), "")
	return &prescalev1.DeleteTargetResponse{}, nil
}

// GetRecommendation returns the recommendation now.
func (s *Server) GetRecommendation(ctx context.Context, req *prescalev1.GetRecommendationRequest) (*prescalev1.Recommendation, error) {
	if err := requireName(req.GetName()); err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	rec, err := b.Recommendation(req.GetName())
	if err != nil {
		return nil, s.status(ctx, "recommendation", req.GetName(), err)
	}
	return RecommendationProto(&rec), nil
}

// GetForecast returns a quantile forecast with recent history.
func (s *Server) GetForecast(ctx context.Context, req *prescalev1.GetForecastRequest) (*prescalev1.Forecast, error) {
	name := req.GetName()
	if err := requireName(name); err != nil {
		return nil, err
	}
	var violations []*errdetails.BadRequest_FieldViolation
	bad := func(field, format string, args ...any) {
		violations = append(violations, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	if h := req.GetHorizon(); h < 0 || h > registry.MaxForecastHorizon {
		bad("horizon", "must be between 1 and %d steps, got %d", registry.MaxForecastHorizon, h)
	}
	quantiles := req.GetQuantiles()
	if n := len(quantiles); n > registry.MaxForecastQuantiles {
		bad("quantiles", "must list at most %d levels, got %d", registry.MaxForecastQuantiles, n)
		quantiles = nil // each would be one more violation
	}
	for i, q := range quantiles {
		if !(q > 0 && q < 1) {
			bad(fmt.Sprintf("quantiles[%d]", i), "must be between 0 and 1 (exclusive), got %v", q)
		}
	}
	history := defaultHistory
	if h := req.GetHistory(); h != "" {
		d, err := model.ParseDuration(h)
		if err != nil {
			bad("history", "%q is not a duration such as 6h or 1d", h)
		}
		history = time.Duration(d)
	}
	if len(violations) > 0 {
		return nil, invalid(violations)
	}
	if len(quantiles) == 0 {
		quantiles = defaultQuantiles[:]
	}
	b, served := via(ctx, s.b)
	defer served()
	horizon := int(req.GetHorizon())
	if horizon == 0 {
		st, err := b.Get(name)
		if err != nil {
			return nil, s.status(ctx, "forecast", name, err)
		}
		t := &st.Target
		horizon = int(math.Ceil(float64(t.LeadTime+t.Margin+forecastExtra) / float64(t.Step)))
		horizon = min(max(horizon, 1), registry.MaxForecastHorizon)
	}
	v, err := b.Forecast(name, horizon, quantiles, history)
	if err != nil {
		return nil, s.status(ctx, "forecast", name, err)
	}
	f := &prescalev1.Forecast{
		Name:         v.Target,
		Model:        v.Model,
		Generation:   v.Generation,
		Seasons:      int32s(v.Seasons),
		Notes:        v.Notes,
		Step:         durationpb.New(v.Step),
		HistoryStart: timestamp(v.HistoryStart),
		History:      v.History,
		Start:        timestamp(v.Start),
		Point:        v.Point,
		Provision:    v.Provision,
		Quantiles:    make([]*prescalev1.QuantileValues, len(v.Quantiles)),
	}
	for i, q := range v.Quantiles {
		f.Quantiles[i] = &prescalev1.QuantileValues{Level: q.Level, Values: q.Values}
	}
	return f, nil
}

// ListAnomalies returns the anomalous spans in a window.
func (s *Server) ListAnomalies(ctx context.Context, req *prescalev1.ListAnomaliesRequest) (*prescalev1.ListAnomaliesResponse, error) {
	name := req.GetName()
	if err := requireName(name); err != nil {
		return nil, err
	}
	start, end, err := s.window(req.GetStart(), req.GetEnd(), anomalyWindow)
	if err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	events, err := b.Anomalies(name, start, end)
	if err != nil {
		return nil, s.status(ctx, "anomalies", name, err)
	}
	resp := &prescalev1.ListAnomaliesResponse{Anomalies: make([]*prescalev1.AnomalySpan, len(events))}
	for i, e := range events {
		resp.Anomalies[i] = &prescalev1.AnomalySpan{Start: timestamp(e.Start), End: timestamp(e.End), Kind: e.Kind, Score: e.Score}
	}
	return resp, nil
}

// window checks a request's window [start, end): end defaults to now,
// start to def before end.
func (s *Server) window(startTS, endTS *timestamppb.Timestamp, def time.Duration) (start, end time.Time, err error) {
	end = s.now()
	if endTS != nil {
		if err := endTS.CheckValid(); err != nil {
			return start, end, invalidField("end", err.Error())
		}
		end = endTS.AsTime()
	}
	start = end.Add(-def)
	if startTS != nil {
		if err := startTS.CheckValid(); err != nil {
			return start, end, invalidField("start", err.Error())
		}
		start = startTS.AsTime()
	}
	if !start.Before(end) {
		return start, end, invalidField("start", fmt.Sprintf("must be before end (%s), got %s", end.Format(time.RFC3339), start.Format(time.RFC3339)))
	}
	return start, end, nil
}

// ListRecommendations returns a target's recommendation changes and
// accuracy windows in a window.
func (s *Server) ListRecommendations(ctx context.Context, req *prescalev1.ListRecommendationsRequest) (*prescalev1.ListRecommendationsResponse, error) {
	name := req.GetName()
	if err := requireName(name); err != nil {
		return nil, err
	}
	start, end, err := s.window(req.GetStart(), req.GetEnd(), recommendationWindow)
	if err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	h, err := b.History(name, start, end)
	if err != nil {
		return nil, s.status(ctx, "recommendations", name, err)
	}
	resp := &prescalev1.ListRecommendationsResponse{
		Recommendations: make([]*prescalev1.RecommendationChange, len(h.Changes)),
		Accuracy:        make([]*prescalev1.AccuracyWindow, len(h.Accuracy)),
	}
	for i, c := range h.Changes {
		ch := &prescalev1.RecommendationChange{Time: timestamp(c.Time), Replicas: int32(c.Replicas), Won: c.Won, Stale: c.Stale}
		if c.CurrentKnown {
			ch.CurrentReplicas = proto.Int32(int32(c.Current))
		}
		resp.Recommendations[i] = ch
	}
	for i, w := range h.Accuracy {
		resp.Accuracy[i] = &prescalev1.AccuracyWindow{Start: timestamp(w.Start), End: timestamp(w.End), Accuracy: liveAccuracy(w.Accuracy)}
	}
	return resp, nil
}

// status maps a backend error to a gRPC status once, at the edge: domain
// errors keep their message, anything else is logged and reported as an
// internal error without its details.
func (s *Server) status(ctx context.Context, op, name string, err error) error {
	return grpcStatus(ctx, s.log, op, name, err)
}

func grpcStatus(ctx context.Context, log *slog.Logger, op, name string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return status.Errorf(codes.NotFound, "target %q not found", name)
	case errors.Is(err, registry.ErrExists):
		return status.Errorf(codes.AlreadyExists, "target %q already exists", name)
	case errors.Is(err, registry.ErrReadOnly):
		var ro *registry.ReadOnlyError
		if errors.As(err, &ro) {
			return status.Errorf(codes.FailedPrecondition, "target %q is %s", name, registry.Where(ro.Origin))
		}
		return status.Errorf(codes.FailedPrecondition, "target %q is declared in the config file (or is the demo); change it there", name)
	case errors.Is(err, registry.ErrNotReady):
		return status.Errorf(codes.Unavailable, "target %q has no data yet; retry shortly", name)
	case errors.Is(err, registry.ErrTooMany):
		var lim *registry.LimitError
		if errors.As(err, &lim) {
			return status.Errorf(codes.ResourceExhausted, "target %q not created: prescale serves at most %d targets (--max-targets); delete one first", name, lim.Limit)
		}
		return status.Errorf(codes.ResourceExhausted, "target %q not created: prescale serves its maximum of targets (--max-targets); delete one first", name)
	case errors.Is(err, models.ErrConfig), errors.Is(err, forecast.ErrBadOptions):
		return invalid(fieldViolations(err))
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return err
	}
	log.ErrorContext(ctx, "internal error", "op", op, "target", name, "err", err)
	return status.Errorf(codes.Internal, "internal error during %s", op)
}

// fieldViolations lists the field errors in err (a join of
// *models.FieldError, or any other error as a single violation).
func fieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *models.FieldError
		if errors.As(e, &fe) {
			out = append(out, &errdetails.BadRequest_FieldViolation{Field: fe.Field, Description: fe.Msg})
			return
		}
		out = append(out, &errdetails.BadRequest_FieldViolation{Description: e.Error()})
	}
	walk(err)
	return out
}

// invalid is an InvalidArgument status whose message names every field
// and whose details carry them as a BadRequest.
func invalid(violations []*errdetails.BadRequest_FieldViolation) error {
	msg := "invalid argument"
	for i, v := range violations {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		if v.Field != "" {
			msg += sep + v.Field + ": " + v.Description
		} else {
			msg += sep + v.Description
		}
	}
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: violations}); err == nil {
		st = d
	}
	return st.Err()
}

func invalidField(field, desc string) error {
	return invalid([]*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}})
}

func requireName(name string) error {
	if name == "" {
		return invalidField("name", "is required")
	}
	return nil
}

// targetFromSpec turns an API target spec into a Target, starting from
// the config file's defaults. The spec's fields are models.TargetFields,
// by JSON name: a field absent from the spec (or zero, for one without
// presence) keeps its default. Unparsable durations are field errors named
// after the JSON field; Validate's rules are the backend's.
func targetFromSpec(spec *prescalev1.TargetSpec, path string) (models.Target, error) {
	t := models.DefaultTarget()
	if spec == nil {
		return t, &models.FieldError{Field: path, Msg: "is required"}
	}
	m := spec.ProtoReflect()
	var errs []error
	for _, f := range models.TargetFields() {
		fd := specField(m, f)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch dst := f.Addr(&t).(type) {
		case *string:
			*dst = v.String()
		case *float64:
			*dst = v.Float()
		case *int:
			*dst = int(v.Int())
		case *[]time.Duration:
			items := make([]string, v.List().Len())
			for i := range items {
				items[i] = v.List().Get(i).String()
			}
			errs = append(errs, f.ParseList(&t, items))
		case *[]events.Spec:
			for _, e := range spec.GetEvents() {
				*dst = append(*dst, eventSpec(e))
			}
		default: // durations, as text
			errs = append(errs, f.Parse(&t, v.String()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return t, err
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

// specField is the field of a TargetSpec that carries f. The spec and
// models.TargetFields agree (a test checks it): a field without its
// counterpart is a programmer error.
func specField(m protoreflect.Message, f models.TargetField) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByJSONName(f.Name)
	if fd == nil {
		panic("api: TargetSpec has no field " + f.Name)
	}
	return fd
}

// SpecProto is a Target as an API spec, durations in the config syntax.
func SpecProto(t *models.Target) *prescalev1.TargetSpec {
	spec := &prescalev1.TargetSpec{}
	m := spec.ProtoReflect()
	for _, f := range models.TargetFields() {
		fd := specField(m, f)
		switch v := f.Addr(t).(type) {
		case *string:
			m.Set(fd, protoreflect.ValueOfString(*v))
		case *time.Duration:
			m.Set(fd, protoreflect.ValueOfString(fmtDuration(*v)))
		case *float64:
			m.Set(fd, protoreflect.ValueOfFloat64(*v))
		case *int:
			m.Set(fd, protoreflect.ValueOfInt32(clampInt32(*v)))
		case *[]time.Duration:
			for _, d := range *v {
				m.Mutable(fd).List().Append(protoreflect.ValueOfString(fmtDuration(d)))
			}
		case *[]events.Spec:
			for i := range *v {
				spec.Events = append(spec.Events, eventProto(&(*v)[i]))
			}
		default:
			panic(fmt.Sprintf("api: no spec value for target field %s (%T)", f.Name, v))
		}
	}
	return spec
}

// eventSpec is an API event as the events package reads it.
func eventSpec(e *prescalev1.Event) events.Spec {
	return events.Spec{Name: e.GetName(), Start: e.GetStart(), TimeZone: e.GetTimeZone(), Duration: e.GetDuration(),
		Lead: e.GetLead(), Lag: e.GetLag(), RRule: e.GetRrule(), Multiplier: e.GetMultiplier(), Load: e.GetLoad()}
}

// eventProto is an event as the API writes it.
func eventProto(e *events.Spec) *prescalev1.Event {
	return &prescalev1.Event{Name: e.Name, Start: e.Start, TimeZone: e.TimeZone, Duration: e.Duration,
		Lead: e.Lead, Lag: e.Lag, Rrule: e.RRule, Multiplier: e.Multiplier, Load: e.Load}
}

// check runs c, if any.
func (c QueryChecker) check(ctx context.Context, t models.Target) error {
	if c == nil {
		return nil
	}
	return c(ctx, t)
}

// specJSON is t as the REST API writes its spec, on one line, for the
// audit log; empty for the zero target.
func specJSON(t *models.Target) string {
	if t.Name == "" {
		return ""
	}
	b, err := protojson.Marshal(SpecProto(t))
	if err != nil {
		return fmt.Sprintf("unprintable spec: %v", err)
	}
	return string(b)
}

func targetProto(st *registry.TargetStatus) *prescalev1.Target {
	p := &prescalev1.Target{
		Spec:   SpecProto(&st.Target),
		Origin: st.Origin,
		Model: &prescalev1.ModelStatus{
			Kind:        st.ModelKind,
			Generation:  st.Generation,
			FittedAt:    timestamp(st.FittedAt),
			FitDuration: durationpb.New(st.FitDuration),
			Seasons:     int32s(st.Seasons),
			FitError:    st.FitError,
			FitErrors:   st.FitErrors,
			NextRefit:   timestamp(st.NextRefit),
			FitDueSince: timestamp(st.FitDueSince),
			Reason:      st.ModelReason,
			Notes:       st.ModelNotes,
		},
		Data: &prescalev1.DataStatus{
			DataStart:    timestamp(st.DataStart),
			DataEnd:      timestamp(st.DataEnd),
			LastObserved: timestamp(st.LastObserved),
			Observed:     st.Observed,
			ObservedAt:   timestamp(st.ObservedAt),
			LastFetch:    timestamp(st.LastFetch),
			FetchError:   st.FetchError,
			FetchErrors:  st.FetchErrors,
		},
		Accuracy: liveAccuracy(st.Accuracy),
	}
	if st.Recommendation != nil {
		p.Recommendation = RecommendationProto(st.Recommendation)
	}
	for _, e := range st.Events {
		p.Events = append(p.Events, &prescalev1.EventStatus{Name: e.Name, Start: timestamp(e.Start), End: timestamp(e.End),
			WindowStart: timestamp(e.From), WindowEnd: timestamp(e.To), Effect: e.Effect, Learned: int32(e.Learned), Factor: e.Factor, Load: e.Load, Others: int32(e.Others)})
	}
	return p
}

func liveAccuracy(a registry.Accuracy) *prescalev1.LiveAccuracy {
	return &prescalev1.LiveAccuracy{
		Points:       int64(a.Points),
		Wape:         a.WAPE,
		Bias:         a.Bias,
		Coverage:     a.Coverage,
		IntervalLow:  a.IntervalLow,
		IntervalHigh: a.IntervalHigh,
	}
}

// RecommendationProto is a recommendation as an API message.
func RecommendationProto(r *models.Recommendation) *prescalev1.Recommendation {
	return &prescalev1.Recommendation{
		Target: r.Target,
		Time:   timestamp(r.Time),
		// Replica counts are bounded by MaxInt32 in the policy.
		Replicas: int32(r.Replicas),
		Won:      r.Won,
		Reason:   r.Reason,
		Forecast: &prescalev1.ForecastInput{
			Quantile:  r.Forecast.Quantile,
			WindowEnd: timestamp(r.Forecast.WindowEnd),
			Steps:     int32(r.Forecast.Steps),
			From:      timestamp(r.Forecast.From),
			To:        timestamp(r.Forecast.To),
			Max:       r.Forecast.Max,
			MaxAt:     timestamp(r.Forecast.MaxAt),
			Replicas:  int32(r.Forecast.Replicas),
			Short:     r.Forecast.Short,
		},
		Reactive: &prescalev1.ReactiveInput{
			Known:    r.Reactive.Known,
			Load:     r.Reactive.Load,
			At:       timestamp(r.Reactive.At),
			Replicas: int32(r.Reactive.Replicas),
		},
		MinReplicas:        int32(r.MinReplicas),
		MaxReplicas:        int32(r.MaxReplicas),
		CapacityPerReplica: r.CapacityPerReplica,
		LeadTime:           durationpb.New(r.LeadTime),
		Margin:             durationpb.New(r.Margin),
		ModelKind:          r.ModelKind,
		ModelVersion:       r.ModelVersion,
		ModelFittedAt:      timestamp(r.ModelFittedAt),
		DataStart:          timestamp(r.DataStart),
		DataEnd:            timestamp(r.DataEnd),
		Stale:              r.Stale,
		StaleFor:           durationpb.New(r.StaleFor),
		StaleSince:         timestamp(r.StaleSince),
		StaleAfter:         durationpb.New(r.StaleAfter),
		HoldFor:            durationpb.New(r.HoldFor),
		LastFetch:          timestamp(r.LastFetch),
		PreviousReplicas:   int32(r.PreviousReplicas),
		PreviousTime:       timestamp(r.PreviousTime),
		Demo:               r.Demo,
		CollapseSince:      timestamp(r.CollapseSince),
		CollapseFrom:       r.CollapseFrom,
	}
}

// timestamp is nil for the zero time, so absent times stay absent.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fmtDuration(d time.Duration) string { return model.Duration(d).String() }

// clampInt32 is n, or the int32 closest to it.
func clampInt32(n int) int32 { return int32(min(max(n, math.MinInt32), math.MaxInt32)) }

func int32s(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = clampInt32(x)
	}
	return out
}
