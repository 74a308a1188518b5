package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// DefaultPushInterval is how often StreamIsActive sends the active state
// when KEDAOptions.PushInterval is zero: KEDA's own default polling
// interval.
const DefaultPushInterval = 15 * time.Second

// KEDAMetricPrefix starts the name of the metric KEDA asks for; the target
// name follows.
const KEDAMetricPrefix = "prescale-"

// KEDAOptions configure a KEDAScaler. A nil *KEDAOptions means defaults.
type KEDAOptions struct {
	// Logger receives internal errors and the targets registered from
	// trigger metadata; nil discards them.
	Logger *slog.Logger
	// PushInterval is how often StreamIsActive sends the active state.
	// Zero means DefaultPushInterval.
	PushInterval time.Duration
	// CheckQuery asks the data source about a target defined in metadata
	// before it is registered, or when its query changes; nil checks
	// nothing.
	CheckQuery QueryChecker
}

// Validate reports options no scaler can work with.
func (o *KEDAOptions) Validate() error {
	if o != nil && o.PushInterval < 0 {
		return fmt.Errorf("api: KEDA options: negative PushInterval %v", o.PushInterval)
	}
	return nil
}

// KEDAScaler is KEDA's external scaler (the "external" and
// "external-push" triggers) over a Backend. A ScaledObject's trigger
// metadata either names an existing target:
//
//	metadata:
//	  scalerAddress: prescale.prescale-system.svc:9000
//	  target: checkout
//
// or defines one, registered with origin registry.OriginKEDA on first use
// and updated when the definition changes:
//
//	metadata:
//	  scalerAddress: prescale.prescale-system.svc:9000
//	  query: sum(rate(http_requests_total{service="checkout"}[2m]))
//	  capacityPerReplica: "50"
//	  leadTime: 3m
//
// query, capacityPerReplica and leadTime are required; step, history,
// margin, quantile, minReplicas, maxReplicas, seasons (comma-separated),
// refitInterval, model and holdFor are optional, with the meaning, syntax
// (Prometheus durations) and defaults of the config file. Events, which no
// line of text holds, are taken by reference: eventsFrom names a target
// (declared in the config file, the API or a PredictiveAutoscaler) whose
// events the target gets, read again at every call. name sets the
// target's name; it defaults to "<namespace>-<ScaledObject name>" made a
// DNS-1123 label. The target's namespace is the ScaledObject's, so the
// external metrics API serves it only in that namespace. Other keys, such
// as KEDA's own scalerAddress, are ignored.
//
// The metric is the recommended replica count with a target of 1, so an
// AverageValue metric (KEDA's default for external triggers) makes the
// HPA's desired replicas prescale's recommendation. The scaler is active
// while the recommendation is above zero.
type KEDAScaler struct {
	externalscaler.UnimplementedExternalScalerServer
	b          Backend
	log        *slog.Logger
	push       time.Duration
	checkQuery QueryChecker
	// closing ends the open StreamIsActive streams (Close), which a
	// graceful gRPC stop would otherwise wait for.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends every open StreamIsActive stream with Unavailable, so that a
// graceful stop of the gRPC server need not wait for KEDA to hang up; KEDA
// reconnects to the next server.
func (s *KEDAScaler) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

var _ externalscaler.ExternalScalerServer = (*KEDAScaler)(nil)

// NewKEDAScaler returns the external scaler over b.
func NewKEDAScaler(b Backend, opts *KEDAOptions) (*KEDAScaler, error) {
	if b == nil {
		return nil, errors.New("api: nil backend")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &KEDAScaler{b: b, log: slog.New(slog.DiscardHandler), push: DefaultPushInterval, closing: make(chan struct{})}
	if opts != nil {
		s.checkQuery = opts.CheckQuery
		if opts.Logger != nil {
			s.log = opts.Logger
		}
		if opts.PushInterval > 0 {
			s.push = opts.PushInterval
		}
	}
	return s, nil
}

// IsActive reports whether the recommendation is above zero.
func (s *KEDAScaler) IsActive(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	const op = "keda is active"
	name, err := s.resolve(ctx, op, ref)
	if err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	rec, err := b.Recommendation(name)
	if err != nil {
		return nil, grpcStatus(ctx, s.log, op, name, err)
	}
	return &externalscaler.IsActiveResponse{Result: rec.Replicas > 0}, nil
}

// StreamIsActive sends the active state at once and then every
// PushInterval until the stream's context ends. While the target has no
// data yet nothing is sent and the stream stays open. A server's
// GracefulStop waits for these streams: stop it with Stop after a grace
// period.
func (s *KEDAScaler) StreamIsActive(ref *externalscaler.ScaledObjectRef, stream grpc.ServerStreamingServer[externalscaler.IsActiveResponse]) error {
	const op = "keda stream is active"
	ctx := stream.Context()
	name, err := s.resolve(ctx, op, ref)
	if err != nil {
		return err
	}
	tick := time.NewTicker(s.push)
	defer tick.Stop()
	for {
		rec, err := s.b.Recommendation(name)
		switch {
		case errors.Is(err, registry.ErrNotReady):
			// KEDA keeps its last state; send once there is one.
		case err != nil:
			return grpcStatus(ctx, s.log, op, name, err)
		default:
			if err := stream.Send(&externalscaler.IsActiveResponse{Result: rec.Replicas > 0}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return status.Error(codes.Unavailable, "server shutting down")
		case <-tick.C:
		}
	}
}

// GetMetricSpec returns the one metric, "prescale-<target>", with a target
// size of 1 replica.
func (s *KEDAScaler) GetMetricSpec(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	name, err := s.resolve(ctx, "keda get metric spec", ref)
	if err != nil {
		return nil, err
	}
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{
		MetricName:      KEDAMetricPrefix + name,
		TargetSize:      1,
		TargetSizeFloat: 1,
	}}}, nil
}

// GetMetrics returns the recommended replica count under the metric name
// asked for.
func (s *KEDAScaler) GetMetrics(ctx context.Context, req *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	const op = "keda get metrics"
	name, err := s.resolve(ctx, op, req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	b, served := via(ctx, s.b)
	defer served()
	rec, err := b.Recommendation(name)
	if err != nil {
		return nil, grpcStatus(ctx, s.log, op, name, err)
	}
	metric := req.GetMetricName()
	if metric == "" {
		metric = KEDAMetricPrefix + name
	}
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{
		MetricName:       metric,
		MetricValue:      int64(rec.Replicas),
		MetricValueFloat: float64(rec.Replicas),
	}}}, nil
}

// kedaFields are the target fields trigger metadata defines, by key: all
// but the namespace, which is the ScaledObject's.
func kedaFields() []models.TargetField {
	return slices.DeleteFunc(models.TargetFields(), func(f models.TargetField) bool { return f.Name == "namespace" })
}

// resolve returns the name of the target a ScaledObject scales on,
// registering or updating the target its metadata defines.
func (s *KEDAScaler) resolve(ctx context.Context, op string, ref *externalscaler.ScaledObjectRef) (string, error) {
	if ref == nil {
		return "", invalidField("scaledObjectRef", "is required")
	}
	md := ref.GetScalerMetadata()
	name, named := md["target"]
	if !named {
		t, err := kedaTarget(ref)
		if err != nil {
			return "", err
		}
		if err := s.eventsFrom(ctx, op, md, &t); err != nil {
			return "", err
		}
		return t.Name, s.register(ctx, op, t)
	}
	var bad []*errdetails.BadRequest_FieldViolation
	switch {
	case name == "":
		bad = append(bad, kedaViolation("target", "is empty; name an existing prescale target"))
	case len(name) > validation.DNS1123LabelMaxLength: // no target has it; not echoed whole
		bad = append(bad, kedaViolation("target", fmt.Sprintf("must be at most %d bytes (a target name), got %d",
			validation.DNS1123LabelMaxLength, len(name))))
	}
	for _, f := range kedaFields() {
		if _, ok := md[f.Name]; ok {
			bad = append(bad, kedaViolation(f.Name, `defines a target, but "target" names an existing one; give one or the other`))
		}
	}
	if _, ok := md[KEDAEventsFrom]; ok {
		bad = append(bad, kedaViolation(KEDAEventsFrom, `is for a target the metadata defines; the one "target" names has its own events`))
	}
	if len(bad) > 0 {
		return "", invalid(bad)
	}
	if _, err := s.b.Get(name); err != nil {
		return "", grpcStatus(ctx, s.log, op, name, err)
	}
	return name, nil
}

// KEDAEventsFrom is the metadata key naming the target whose events a
// target defined in metadata takes (metadata is flat text: no list of
// events fits in it).
const KEDAEventsFrom = "eventsFrom"

// eventsFrom gives t the events of the target metadata names by
// KEDAEventsFrom, if it names one. They are read at every call, so a
// change of that target's events reaches t at KEDA's next poll.
func (s *KEDAScaler) eventsFrom(ctx context.Context, op string, md map[string]string, t *models.Target) error {
	from, ok := md[KEDAEventsFrom]
	if !ok {
		return nil
	}
	if from == "" || len(from) > validation.DNS1123LabelMaxLength {
		return invalid([]*errdetails.BadRequest_FieldViolation{kedaViolation(KEDAEventsFrom,
			fmt.Sprintf("must name a prescale target that declares events (at most %d bytes), got %d bytes", validation.DNS1123LabelMaxLength, len(from)))})
	}
	st, err := s.b.Get(from)
	if errors.Is(err, registry.ErrNotFound) {
		return invalid([]*errdetails.BadRequest_FieldViolation{kedaViolation(KEDAEventsFrom,
			fmt.Sprintf("no target %q: name one that declares events (the config file, the API or a PredictiveAutoscaler)", from))})
	}
	if err != nil {
		return grpcStatus(ctx, s.log, op, from, err)
	}
	t.Events = slices.Clone(st.Target.Events)
	return nil
}

// register makes sure the backend holds target t as defined by KEDA
// metadata: created if missing, updated if its definition changed.
// Concurrent calls for a new target all succeed.
func (s *KEDAScaler) register(ctx context.Context, op string, t models.Target) error {
	st, err := s.b.Get(t.Name)
	if errors.Is(err, registry.ErrNotFound) {
		if err := s.checkQuery.check(ctx, t); err != nil {
			return kedaQueryStatus(ctx, s.log, op, t.Name, err)
		}
		created, cerr := s.b.Create(t, registry.OriginKEDA)
		if cerr == nil {
			s.log.InfoContext(ctx, "registered target from KEDA trigger metadata", "target", t.Name, "query", t.Query)
			auditLog(ctx, s.log, "create", t.Name, "", specJSON(&created.Target))
			return nil
		}
		if !errors.Is(cerr, registry.ErrExists) {
			return grpcStatus(ctx, s.log, op, t.Name, cerr)
		}
		// Created meanwhile by a concurrent call: this Get's error is the
		// one checked below (not the first Get's "not found").
		st, err = s.b.Get(t.Name)
	}
	if err != nil {
		return grpcStatus(ctx, s.log, op, t.Name, err)
	}
	if st.Origin != registry.OriginKEDA {
		return status.Errorf(codes.FailedPrecondition,
			`target %q already exists with origin %q; scale on it with metadata "target", or give this definition another "name"`,
			t.Name, st.Origin)
	}
	if kedaSameTarget(st.Target, t) {
		return nil
	}
	if st.Target.Query != t.Query || st.Target.Step != t.Step {
		if err := s.checkQuery.check(ctx, t); err != nil {
			return kedaQueryStatus(ctx, s.log, op, t.Name, err)
		}
	}
	updated, err := s.b.Update(t)
	if err != nil {
		return grpcStatus(ctx, s.log, op, t.Name, err)
	}
	s.log.InfoContext(ctx, "updated target from KEDA trigger metadata", "target", t.Name, "query", t.Query)
	auditLog(ctx, s.log, "update", t.Name, specJSON(&st.Target), specJSON(&updated.Target))
	return nil
}

// kedaQueryStatus is the status of a query the data source refused, named
// by its metadata key.
func kedaQueryStatus(ctx context.Context, log *slog.Logger, op, name string, err error) error {
	var fe *models.FieldError
	if errors.As(err, &fe) {
		return invalid([]*errdetails.BadRequest_FieldViolation{kedaViolation(fe.Field, fe.Msg)})
	}
	return grpcStatus(ctx, log, op, name, err)
}

// kedaSameTarget reports whether a and b are the same definition. The
// seasons are compared as sets (no seasons and an empty list are the
// same), so that a backend storing them sorted does not see a change, and
// refit, on every call.
func kedaSameTarget(a, b models.Target) bool {
	a.Seasons, b.Seasons = slices.Sorted(slices.Values(a.Seasons)), slices.Sorted(slices.Values(b.Seasons))
	return !models.ModelChanged(&a, &b) && !models.PolicyChanged(&a, &b)
}

// kedaTarget reads the target that trigger metadata defines, starting
// from the config file's defaults; every field is read from text, as
// models.TargetField.Parse does. Every problem is reported, each naming
// its metadata key, as an InvalidArgument status.
func kedaTarget(ref *externalscaler.ScaledObjectRef) (models.Target, error) {
	md := ref.GetScalerMetadata()
	t := models.DefaultTarget()
	var bad []*errdetails.BadRequest_FieldViolation
	unreadable := map[string]bool{} // keys already reported
	for _, f := range kedaFields() {
		v, given := md[f.Name]
		switch {
		case given:
			var fe *models.FieldError
			if err := f.Parse(&t, v); errors.As(err, &fe) {
				bad = append(bad, kedaViolation(fe.Field, fe.Msg))
				unreadable[f.Name] = true
			}
		case f.Name == "name":
			if t.Name = models.ObjectTargetName(ref.GetNamespace(), ref.GetName()); t.Name == "" {
				bad = append(bad, kedaViolation("name", "is required when the ScaledObject reference has no name"))
				unreadable["name"] = true
			}
		case f.Required:
			bad = append(bad, kedaViolation(f.Name, `is required to define a target (or give "target" naming an existing one)`))
			unreadable[f.Name] = true
		}
	}
	t.Namespace = ref.GetNamespace()

	if err := t.Validate(); err != nil {
		for _, v := range fieldViolations(err) {
			key, _, _ := strings.Cut(v.Field, "[")
			switch {
			case key == "namespace": // from the reference, not the metadata
				v.Field = "scaledObjectRef.namespace"
				bad = append(bad, v)
			case !unreadable[key]:
				bad = append(bad, kedaViolation(v.Field, v.Description))
			}
		}
	}
	if len(bad) > 0 {
		return t, invalid(bad)
	}
	return t, nil
}

// kedaViolation is a problem with a metadata key.
func kedaViolation(key, desc string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: "metadata." + key, Description: desc}
}
