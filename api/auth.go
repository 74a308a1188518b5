package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	peerv1 "github.com/prescale/prescale/api/prescale/peer/v1"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// What the REST, gRPC and KEDA calls are authorized against: every call
// is a verb on the resource "targets" of the API group "prescale.io", as
// a Kubernetes SubjectAccessReview (cluster-scoped; the name is the
// target's when the call names one). An RBAC rule grants it like any
// other resource:
//
//	rules:
//	  - apiGroups: ["prescale.io"]
//	    resources: ["targets"]
//	    verbs: ["get", "list", "create", "update", "delete"]
const (
	AuthGroup    = "prescale.io"
	AuthResource = "targets"
)

// The verbs of the calls.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbDelete = "delete"
)

// grpcVerbs is the verb of every gRPC method of prescale's service and of
// KEDA's external scaler. A KEDA call is a create when the ScaledObject's
// metadata defines a target (it registers or refreshes it), and a get when
// the metadata names one ("target"): kedaVerb decides from the request.
// The health and reflection services are open to all (probes call them);
// any other method is refused.
var grpcVerbs = map[string]string{
	prescalev1.PrescaleService_ListTargets_FullMethodName:         VerbList,
	prescalev1.PrescaleService_GetTarget_FullMethodName:           VerbGet,
	prescalev1.PrescaleService_GetForecast_FullMethodName:         VerbGet,
	prescalev1.PrescaleService_GetRecommendation_FullMethodName:   VerbGet,
	prescalev1.PrescaleService_ListAnomalies_FullMethodName:       VerbGet,
	prescalev1.PrescaleService_ListRecommendations_FullMethodName: VerbGet,
	prescalev1.PrescaleService_CreateTarget_FullMethodName:        VerbCreate,
	prescalev1.PrescaleService_UpdateTarget_FullMethodName:        VerbUpdate,
	prescalev1.PrescaleService_DeleteTarget_FullMethodName:        VerbDelete,

	// Another replica's read of a target this one holds (--cluster.replication).
	peerv1.PeerService_Call_FullMethodName: VerbGet,

	externalscaler.ExternalScaler_IsActive_FullMethodName:         VerbCreate,
	externalscaler.ExternalScaler_StreamIsActive_FullMethodName:   VerbCreate,
	externalscaler.ExternalScaler_GetMetricSpec_FullMethodName:    VerbCreate,
	externalscaler.ExternalScaler_GetMetrics_FullMethodName:       VerbCreate,
	externalscaler.ExternalScaler_StreamMetricSpec_FullMethodName: VerbCreate,
}

// openServices are the gRPC services anyone may call: health (for probes)
// and reflection (the schema, no data).
var openServices = []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"}

// isRead reports a verb that changes nothing.
func isRead(verb string) bool { return verb == VerbGet || verb == VerbList }

// AuthOptions configure Auth. A nil *AuthOptions is AuthOptions{}: every
// write refused, every read allowed.
type AuthOptions struct {
	// None allows every call without an identity (serve --auth=none).
	None bool
	// Authenticator identifies a caller from its bearer token or client
	// certificate (a TokenReview, the client CA); nil identifies nobody,
	// so every call that needs an identity is refused.
	Authenticator authenticator.Request
	// Authorizer decides what an identified caller may do (a
	// SubjectAccessReview); required with Authenticator.
	Authorizer authorizer.Authorizer
	// AnonymousReads allows get and list without an identity.
	AnonymousReads bool
	// Logger receives the audit lines of the writes and the
	// authorization errors; nil discards them.
	Logger *slog.Logger
}

// Validate reports an authenticator without an authorizer.
func (o *AuthOptions) Validate() error {
	if o != nil && o.Authenticator != nil && o.Authorizer == nil {
		return errors.New("api: an authenticator needs an authorizer")
	}
	return nil
}

// Auth decides who may call what, the same way over REST, gRPC and KEDA's
// protocol, and writes the audit log of the writes.
type Auth struct {
	o   AuthOptions
	log *slog.Logger
}

// NewAuth returns the authentication and authorization of the APIs.
func NewAuth(opts *AuthOptions) (*Auth, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	a := &Auth{log: slog.New(slog.DiscardHandler)}
	if opts != nil {
		a.o = *opts
		if opts.Logger != nil {
			a.log = opts.Logger
		}
	}
	return a, nil
}

// Caller is who made a call: the identity its credentials proved, or none.
type Caller struct {
	// User is nil for a call without credentials, and with --auth=none.
	User user.Info
	// Via is the protocol: "rest", "grpc" or "keda".
	Via string
}

// Name is the caller's user name, "anonymous" without one.
func (c Caller) Name() string {
	if c.User == nil {
		return "anonymous"
	}
	return c.User.GetName()
}

type callerKey struct{}

// CallerFrom returns the caller Auth admitted for ctx's call.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// admit authenticates the call (its headers and TLS state) and authorizes
// verb on the target name (empty for list and create). It returns the
// caller, or a status error: Unauthenticated without a valid identity
// where one is needed, PermissionDenied when the authorizer says no,
// Unavailable when it cannot be asked.
func (a *Auth) admit(ctx context.Context, h http.Header, tlsState *tls.ConnectionState, via, verb, name string) (Caller, error) {
	c := Caller{Via: via}
	if a.o.None {
		return c, nil
	}
	if a.o.Authenticator != nil && hasCredentials(h, tlsState) {
		req := (&http.Request{Header: h, TLS: tlsState}).WithContext(ctx)
		resp, ok, err := a.o.Authenticator.AuthenticateRequest(req)
		switch {
		case err != nil:
			return c, status.Errorf(codes.Unauthenticated, "the credentials were refused: %v", err)
		case !ok:
			return c, status.Error(codes.Unauthenticated, "the credentials were not recognised")
		}
		c.User = resp.User
	} else if h.Get("Authorization") != "" || tlsState != nil && len(tlsState.PeerCertificates) > 0 {
		return c, status.Error(codes.Unauthenticated, "this server cannot check credentials: it runs without a Kubernetes API (--auth.kubeconfig) and without --tls.client-ca-file; remove them, or start it with a way to check them")
	}
	if isRead(verb) && a.o.AnonymousReads {
		return c, nil // anyone may read; credentials given must still be valid
	}
	if c.User == nil {
		return c, a.needIdentity(verb)
	}
	attrs := authorizer.AttributesRecord{
		User:            c.User,
		Verb:            verb,
		APIGroup:        AuthGroup,
		APIVersion:      "v1",
		Resource:        AuthResource,
		Name:            name,
		ResourceRequest: true,
	}
	decision, reason, err := a.o.Authorizer.Authorize(ctx, attrs)
	if decision == authorizer.DecisionAllow {
		return c, nil
	}
	if err != nil {
		a.log.ErrorContext(ctx, "authorization failed", "user", c.Name(), "verb", verb, "target", name, "err", err)
		return c, status.Errorf(codes.Unavailable, "the authorization of %s could not be checked; retry shortly", c.Name())
	}
	msg := fmt.Sprintf("user %q may not %s %s.%s", c.Name(), verb, AuthResource, AuthGroup)
	if name != "" {
		msg += fmt.Sprintf(" %q", name)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return c, status.Error(codes.PermissionDenied, msg)
}

// needIdentity is the Unauthenticated error of a call made without
// credentials.
func (a *Auth) needIdentity(verb string) error {
	what := "changes targets"
	if isRead(verb) {
		what = "reads targets, and this server admits no anonymous reads (--auth.anonymous-reads=false),"
	}
	if a.o.Authenticator == nil {
		return status.Errorf(codes.Unauthenticated, "this call %s and needs an identity, but this server cannot check one "+
			"(no Kubernetes API: --auth.kubeconfig or in a cluster; no --tls.client-ca-file): start it with one, or with --auth=none", what)
	}
	return status.Errorf(codes.Unauthenticated, "this call %s and needs an identity: a Kubernetes bearer token (Authorization: Bearer) or a client certificate", what)
}

// hasCredentials reports a bearer token or a client certificate.
func hasCredentials(h http.Header, tlsState *tls.ConnectionState) bool {
	return strings.HasPrefix(h.Get("Authorization"), "Bearer ") || tlsState != nil && len(tlsState.PeerCertificates) > 0
}

// HTTP wraps the REST API: each request is admitted by its method (GET
// and HEAD read, anything else writes) and the target its path names
// (/v1/targets/{name}/...), then served with its Caller in the context.
// A refusal is answered in the REST API's error shape: 401 (with
// WWW-Authenticate), 403 or 503.
func (a *Auth) HTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verb, name := restVerb(r)
		c, err := a.admit(r.Context(), r.Header, r.TLS, "rest", verb, name)
		if err != nil {
			st := status.Convert(err)
			code := runtimeHTTPStatus(st.Code())
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="prescale"`)
			}
			writeStatus(w, code, st.Code(), st.Message())
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// restVerb is the verb and the target name of a REST request.
func restVerb(r *http.Request) (verb, name string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // v1 targets NAME ...
	if len(parts) >= 3 {
		name = parts[2]
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if name == "" {
			return VerbList, ""
		}
		return VerbGet, name
	case http.MethodPost:
		if name == "" {
			return VerbCreate, ""
		}
		return VerbUpdate, name // no POST on a target exists; any would change it
	case http.MethodDelete:
		return VerbDelete, name
	}
	return VerbUpdate, name
}

// runtimeHTTPStatus is the HTTP status of the codes admit returns.
func runtimeHTTPStatus(c codes.Code) int {
	switch c {
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

// UnaryInterceptor admits each unary gRPC call by its method (grpcVerbs).
func (a *Auth) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := a.admitGRPC(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// StreamInterceptor admits each streaming gRPC call by its method and its
// request: the first message received, which a server-streaming handler
// reads before anything else. Nothing is served before it is admitted.
func (a *Auth) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if isOpen(info.FullMethod) {
		return h(srv, ss)
	}
	return h(srv, &admittingStream{ServerStream: ss, a: a, method: info.FullMethod, ctx: ss.Context()})
}

// admittingStream admits its call when its first message arrives, and
// then carries the Caller in its context.
type admittingStream struct {
	grpc.ServerStream
	a        *Auth
	method   string
	ctx      context.Context
	admitted bool
}

func (s *admittingStream) Context() context.Context { return s.ctx }

func (s *admittingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if !s.admitted {
		ctx, err := s.a.admitGRPC(s.ServerStream.Context(), s.method, m)
		if err != nil {
			return err
		}
		s.ctx, s.admitted = ctx, true
	}
	return nil
}

func (s *admittingStream) SendMsg(m any) error {
	if !s.admitted {
		return status.Error(codes.PermissionDenied, "nothing is sent before the request is admitted")
	}
	return s.ServerStream.SendMsg(m)
}

// isOpen reports a method of the services anyone may call.
func isOpen(method string) bool {
	for _, open := range openServices {
		if strings.HasPrefix(method, open) {
			return true
		}
	}
	return false
}

// admitGRPC admits a gRPC call from its metadata ("authorization") and
// its connection's TLS state.
func (a *Auth) admitGRPC(ctx context.Context, method string, req any) (context.Context, error) {
	if isOpen(method) {
		return ctx, nil
	}
	verb, ok := grpcVerbs[method]
	if !ok {
		return ctx, status.Errorf(codes.PermissionDenied, "method %s is not authorized for anyone", method)
	}
	h := http.Header{}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			h.Add("Authorization", v)
		}
	}
	var tlsState *tls.ConnectionState
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			tlsState = &info.State
		}
	}
	via, name := "grpc", ""
	switch r := req.(type) {
	case *externalscaler.ScaledObjectRef:
		via, verb, name = kedaVerb(r)
	case *externalscaler.GetMetricsRequest:
		via, verb, name = kedaVerb(r.GetScaledObjectRef())
	case *prescalev1.UpdateTargetRequest:
		name = r.GetTarget().GetName()
	case interface{ GetName() string }:
		name = r.GetName()
	}
	c, err := a.admit(ctx, h, tlsState, via, verb, name)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, callerKey{}, c), nil
}

// kedaVerb is the verb of a KEDA call on ref, and the target it names: a
// get of the target its metadata names ("target"), or a create of the one
// it defines.
func kedaVerb(ref *externalscaler.ScaledObjectRef) (via, verb, name string) {
	if name, ok := ref.GetScalerMetadata()["target"]; ok {
		return "keda", VerbGet, name
	}
	return "keda", VerbCreate, ""
}

// auditLog logs a write that succeeded: who made it, over what, what it
// did to which target, and the target's spec before and after (empty when
// it did not exist, or no longer does).
func auditLog(ctx context.Context, log *slog.Logger, action, target, before, after string) {
	c := CallerFrom(ctx)
	attrs := []any{"audit", true, "user", c.Name(), "via", c.Via, "action", action, "target", target, "before", before, "after", after}
	if c.User != nil && len(c.User.GetGroups()) > 0 {
		attrs = append(attrs, "groups", c.User.GetGroups())
	}
	log.InfoContext(ctx, "audit", attrs...)
}
