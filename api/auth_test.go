package api_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/api/apitest"
	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// testPKI is a CA with a server certificate for 127.0.0.1.
type testPKI struct {
	*apitest.CA
	server tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca := apitest.NewCA(t)
	return &testPKI{CA: ca, server: ca.ServingCert(t, "127.0.0.1")}
}

// serverTLS asks for client certificates and leaves their verification
// to the authenticator, as serve does.
func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
}

func (p *testPKI) clientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12}
}

// The identities of the tests: alice may do anything, bob may only read,
// carol proves herself with a client certificate and may do anything, and
// asking about dave fails.
var testTokens = map[string]string{"alice-token": "alice", "bob-token": "bob", "dave-token": "dave"}

func testAuthenticator(p *testPKI) authenticator.Request {
	tokens := authenticator.TokenFunc(func(ctx context.Context, token string) (*authenticator.Response, bool, error) {
		name, ok := testTokens[token]
		if !ok {
			return nil, false, errors.New("token not recognised")
		}
		return &authenticator.Response{User: &user.DefaultInfo{Name: name, Groups: []string{"testers"}}}, true, nil
	})
	verify := func() (x509.VerifyOptions, bool) {
		return x509.VerifyOptions{Roots: p.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true
	}
	return union.New(x509request.NewDynamic(verify, x509request.CommonNameUserConversion), bearertoken.New(tokens))
}

// asked records the authorizer's questions.
type asked struct {
	mu    sync.Mutex
	attrs []authorizer.Attributes
}

func (a *asked) authorizer() authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(ctx context.Context, at authorizer.Attributes) (authorizer.Decision, string, error) {
		a.mu.Lock()
		a.attrs = append(a.attrs, at)
		a.mu.Unlock()
		if at.GetAPIGroup() != api.AuthGroup || at.GetResource() != api.AuthResource {
			return authorizer.DecisionDeny, "wrong resource", nil
		}
		switch at.GetUser().GetName() {
		case "alice", "carol":
			return authorizer.DecisionAllow, "", nil
		case "bob":
			if at.GetVerb() == api.VerbGet || at.GetVerb() == api.VerbList {
				return authorizer.DecisionAllow, "", nil
			}
			return authorizer.DecisionNoOpinion, "no RBAC rule allows it", nil
		}
		return authorizer.DecisionNoOpinion, "", errors.New("the SubjectAccessReview timed out")
	})
}

func (a *asked) last() authorizer.Attributes {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.attrs) == 0 {
		return nil
	}
	return a.attrs[len(a.attrs)-1]
}

// audits returns the audit lines logged so far.
func (s *syncBuffer) audits(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// authFixture serves the fake backend over REST (HTTPS) and gRPC (TLS)
// behind one Auth.
type authFixture struct {
	pki   *testPKI
	rest  *httptest.Server
	grpc  string // address
	asked *asked
	log   *syncBuffer
}

func newAuthFixture(t *testing.T, opts api.AuthOptions) *authFixture {
	t.Helper()
	f := &authFixture{pki: newTestPKI(t), asked: &asked{}, log: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(f.log, nil))
	if !opts.None {
		opts.Authenticator = testAuthenticator(f.pki)
		opts.Authorizer = f.asked.authorizer()
	}
	opts.Logger = logger
	auth, err := api.NewAuth(&opts)
	if err != nil {
		t.Fatal(err)
	}
	b := newFixture(t)
	srv, err := api.NewServer(b, &api.ServerOptions{Logger: logger, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHTTPHandler(t.Context(), srv, &api.HTTPOptions{Logger: logger, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	f.rest = httptest.NewUnstartedServer(h)
	f.rest.TLS = f.pki.serverTLS()
	f.rest.StartTLS()
	t.Cleanup(f.rest.Close)

	keda, err := api.NewKEDAScaler(b, &api.KEDAOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	g := api.NewGRPCServer(srv, keda, nil, logger,
		grpc.ChainUnaryInterceptor(auth.UnaryInterceptor), grpc.ChainStreamInterceptor(auth.StreamInterceptor),
		grpc.Creds(credentials.NewTLS(f.pki.serverTLS())))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(func() { keda.Close(); g.Stop() })
	f.grpc = lis.Addr().String()
	return f
}

// do sends a REST request with a bearer token (none when empty) and client
// certificates, and returns the status, the body (the message of an
// error) and the WWW-Authenticate header.
func (f *authFixture) do(t *testing.T, method, path, token, body string, certs ...tls.Certificate) (int, string, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: f.pki.clientTLS(certs...)}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.rest.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Message string }
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return resp.StatusCode, e.Message, resp.Header.Get("WWW-Authenticate")
	}
	return resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate")
}

// conn is a gRPC connection presenting certs.
func (f *authFixture) conn(t *testing.T, certs ...tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(f.grpc, grpc.WithTransportCredentials(credentials.NewTLS(f.pki.clientTLS(certs...))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

const newTargetJSON = `{"name":"fresh","query":"up","capacityPerReplica":10,"leadTime":"1m"}`

func TestAuthREST(t *testing.T) {
	f := newAuthFixture(t, api.AuthOptions{AnonymousReads: true})
	carol := f.pki.ClientCert(t, "carol")
	stranger := apitest.NewCA(t).ClientCert(t, "mallory")
	cases := []struct {
		name, method, path, token, body string
		certs                           []tls.Certificate
		want                            int
		says                            string
	}{
		{"anonymous list", "GET", "/v1/targets", "", "", nil, 200, ""},
		{"anonymous fleet page", "GET", "/", "", "", nil, 200, "prescale"},
		{"anonymous create", "POST", "/v1/targets", "", newTargetJSON, nil, 401, "needs an identity"},
		{"anonymous delete", "DELETE", "/v1/targets/batch", "", "", nil, 401, "needs an identity"},
		{"unknown token", "POST", "/v1/targets", "nope", newTargetJSON, nil, 401, "credentials were refused"},
		{"unknown token, even to read", "GET", "/v1/targets", "nope", "", nil, 401, "credentials were refused"},
		{"reader without RBAC reads", "GET", "/v1/targets/web", "dave-token", "", nil, 200, `"web"`},
		{"reader creates", "POST", "/v1/targets", "bob-token", newTargetJSON, nil, 403, `user "bob" may not create targets.prescale.io: no RBAC rule allows it`},
		{"reader deletes", "DELETE", "/v1/targets/batch", "bob-token", "", nil, 403, `may not delete targets.prescale.io "batch"`},
		{"authorizer down", "POST", "/v1/targets", "dave-token", newTargetJSON, nil, 503, "could not be checked"},
		{"client certificate of another CA", "POST", "/v1/targets", "", newTargetJSON, []tls.Certificate{stranger}, 401, "credentials were refused"},
		{"writer creates", "POST", "/v1/targets", "alice-token", newTargetJSON, nil, 200, `"fresh"`},
		{"client certificate updates", "PUT", "/v1/targets/fresh", "", strings.Replace(newTargetJSON, `10`, `12`, 1), []tls.Certificate{carol}, 200, `"fresh"`},
		{"writer deletes", "DELETE", "/v1/targets/fresh", "alice-token", "", nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, challenge := f.do(t, c.method, c.path, c.token, c.body, c.certs...)
			if code != c.want || !strings.Contains(body, c.says) {
				t.Fatalf("%s %s: %d %s, want %d saying %q", c.method, c.path, code, body, c.want, c.says)
			}
			if (code == 401) != (challenge != "") {
				t.Errorf("WWW-Authenticate %q on a %d", challenge, code)
			}
		})
	}
	if at := f.asked.last(); at == nil || at.GetVerb() != api.VerbDelete || at.GetName() != "fresh" || at.GetUser().GetName() != "alice" {
		t.Errorf("the last SubjectAccessReview: %+v, want alice's delete of fresh", at)
	}

	audits := f.log.audits(t)
	if len(audits) != 3 {
		t.Fatalf("%d audit lines, want 3 (create, update, delete):\n%v", len(audits), audits)
	}
	want := []struct{ user, action, before, after string }{
		{"alice", "create", "", `"capacityPerReplica":10`},
		{"carol", "update", `"capacityPerReplica":10`, `"capacityPerReplica":12`},
		{"alice", "delete", `"capacityPerReplica":12`, ""},
	}
	for i, w := range want {
		a := audits[i]
		before, _ := a["before"].(string)
		after, _ := a["after"].(string)
		if a["user"] != w.user || a["action"] != w.action || a["via"] != "rest" || a["target"] != "fresh" ||
			!strings.Contains(before, w.before) || (w.before == "") != (before == "") ||
			!strings.Contains(after, w.after) || (w.after == "") != (after == "") {
			t.Errorf("audit line %d: %v, want %s's %s of fresh, before %q, after %q", i, a, w.user, w.action, w.before, w.after)
		}
	}
}

func TestAuthNoAnonymousReads(t *testing.T) {
	f := newAuthFixture(t, api.AuthOptions{})
	if code, body, _ := f.do(t, "GET", "/v1/targets/web", "", ""); code != 401 || !strings.Contains(body, "no anonymous reads") {
		t.Errorf("anonymous GET: %d %s, want 401 saying no anonymous reads", code, body)
	}
	if code, body, _ := f.do(t, "GET", "/v1/targets/web", "bob-token", ""); code != 200 {
		t.Errorf("bob's GET: %d %s, want 200", code, body)
	}
	if at := f.asked.last(); at == nil || at.GetVerb() != api.VerbGet || at.GetName() != "web" {
		t.Errorf("the SubjectAccessReview of bob's GET: %+v, want get of web", at)
	}
	// The probes and the scrapes need no identity.
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if code, body, _ := f.do(t, "GET", path, "", ""); code != 200 {
			t.Errorf("anonymous GET %s: %d %s, want 200", path, code, body)
		}
	}
}

func TestAuthNone(t *testing.T) {
	f := newAuthFixture(t, api.AuthOptions{None: true})
	if code, body, _ := f.do(t, "POST", "/v1/targets", "", newTargetJSON); code != 200 {
		t.Errorf("anonymous create with --auth=none: %d %s, want 200", code, body)
	}
	if a := f.log.audits(t); len(a) != 1 || a[0]["user"] != "anonymous" {
		t.Errorf("audit lines %v, want the anonymous create", a)
	}
}

func TestAuthGRPC(t *testing.T) {
	f := newAuthFixture(t, api.AuthOptions{AnonymousReads: true})
	carol := f.pki.ClientCert(t, "carol")
	anon := prescalev1.NewPrescaleServiceClient(f.conn(t))
	spec := &prescalev1.TargetSpec{Name: "fresh", Query: "up", CapacityPerReplica: 10, LeadTime: "1m"}
	ctx := t.Context()

	if _, err := anon.ListTargets(ctx, &prescalev1.ListTargetsRequest{}); err != nil {
		t.Errorf("anonymous ListTargets: %v", err)
	}
	wantCode := func(what string, err error, code codes.Code, says string) {
		t.Helper()
		if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), says) {
			t.Errorf("%s: %v, want %v saying %q", what, err, code, says)
		}
	}
	_, err := anon.CreateTarget(ctx, &prescalev1.CreateTargetRequest{Target: spec})
	wantCode("anonymous CreateTarget", err, codes.Unauthenticated, "needs an identity")
	_, err = anon.UpdateTarget(withToken(ctx, "bob-token"), &prescalev1.UpdateTargetRequest{Target: &prescalev1.TargetSpec{Name: "batch"}})
	wantCode("bob's UpdateTarget", err, codes.PermissionDenied, `may not update targets.prescale.io "batch"`)
	_, err = anon.DeleteTarget(withToken(ctx, "nope"), &prescalev1.DeleteTargetRequest{Name: "batch"})
	wantCode("DeleteTarget with an unknown token", err, codes.Unauthenticated, "refused")
	if _, err := anon.CreateTarget(withToken(ctx, "alice-token"), &prescalev1.CreateTargetRequest{Target: spec}); err != nil {
		t.Errorf("alice's CreateTarget: %v", err)
	}
	byCert := prescalev1.NewPrescaleServiceClient(f.conn(t, carol))
	if _, err := byCert.DeleteTarget(ctx, &prescalev1.DeleteTargetRequest{Name: "fresh"}); err != nil {
		t.Errorf("carol's DeleteTarget with her client certificate: %v", err)
	}

	// A KEDA call naming a target reads; one defining a target registers
	// it, and needs an identity.
	named := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "default", ScalerMetadata: map[string]string{"target": "web"}}
	if _, err := externalscaler.NewExternalScalerClient(f.conn(t)).GetMetricSpec(ctx, named); err != nil {
		t.Errorf("anonymous KEDA GetMetricSpec naming a target: %v", err)
	}
	ref := &externalscaler.ScaledObjectRef{Name: "web", Namespace: "default", ScalerMetadata: map[string]string{"query": "up", "capacityPerReplica": "10", "leadTime": "1m"}}
	_, err = externalscaler.NewExternalScalerClient(f.conn(t)).GetMetricSpec(ctx, ref)
	wantCode("anonymous KEDA GetMetricSpec defining a target", err, codes.Unauthenticated, "needs an identity")
	stream, err := externalscaler.NewExternalScalerClient(f.conn(t)).StreamIsActive(ctx, ref)
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode("anonymous KEDA StreamIsActive defining a target", err, codes.Unauthenticated, "needs an identity")
	if _, err := externalscaler.NewExternalScalerClient(f.conn(t, carol)).GetMetricSpec(ctx, ref); err != nil {
		t.Errorf("carol's KEDA GetMetricSpec: %v", err)
	}
	if at := f.asked.last(); at == nil || at.GetVerb() != api.VerbCreate || at.GetUser().GetName() != "carol" {
		t.Errorf("the SubjectAccessReview of KEDA's call: %+v, want carol's create", at)
	}
	// Probes need no identity.
	if _, err := healthpb.NewHealthClient(f.conn(t)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) == codes.Unauthenticated {
		t.Errorf("anonymous health check: %v", err)
	}
	a := f.log.audits(t)
	if len(a) != 3 || a[0]["user"] != "alice" || a[0]["via"] != "grpc" || a[1]["user"] != "carol" || a[1]["action"] != "delete" ||
		a[2]["user"] != "carol" || a[2]["via"] != "keda" || a[2]["action"] != "create" || a[2]["target"] != "default-web" {
		t.Errorf("audit lines %v, want alice's create and carol's delete over grpc, and carol's registration over keda", a)
	}
}

// TestAuthEveryMethod checks that every method of the gRPC services has a
// verb, so that none is refused to everyone (or, were the default to
// change, open to anyone), and that every one without a verb is refused.
func TestAuthEveryMethod(t *testing.T) {
	f := newAuthFixture(t, api.AuthOptions{})
	cc := f.conn(t)
	for _, sd := range []grpc.ServiceDesc{prescalev1.PrescaleService_ServiceDesc, externalscaler.ExternalScaler_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, s := range sd.Streams {
			names = append(names, s.StreamName)
		}
		for _, name := range names {
			method := "/" + sd.ServiceName + "/" + name
			// An empty message decodes as any request.
			stream, err := cc.NewStream(t.Context(), &grpc.StreamDesc{ServerStreams: true}, method)
			if err == nil {
				if err = stream.SendMsg(&emptypb.Empty{}); err == nil {
					_ = stream.CloseSend()
					err = stream.RecvMsg(&emptypb.Empty{})
				}
			}
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("anonymous %s: %v, want Unauthenticated (every method is mapped to a verb)", method, err)
			}
		}
	}
}
