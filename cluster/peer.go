package cluster

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/prescale/prescale/api"
	peerv1 "github.com/prescale/prescale/api/prescale/peer/v1"
	"github.com/prescale/prescale/cluster/rendezvous"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// The registry reads a replica answers for the others (peer.proto).
const (
	methodGet            = "get"
	methodRecommendation = "recommendation"
	methodForecast       = "forecast"
	methodAnomalies      = "anomalies"
	methodHistory        = "history"
	methodList           = "list"
)

// forecastArgs and windowArgs (of anomalies and history) are the arguments
// of those reads.
type forecastArgs struct {
	Horizon   int
	Quantiles []float64
	History   time.Duration
}

type windowArgs struct{ Start, End time.Time }

// PeerServer answers the other replicas' reads of the targets this one
// holds, from its own registry (never forwarding again).
type PeerServer struct {
	peerv1.UnimplementedPeerServiceServer
	local api.Backend
	self  string
}

// NewPeerServer returns the peer service of the replica named self over
// its registry.
func NewPeerServer(local api.Backend, self string) *PeerServer {
	return &PeerServer{local: local, self: self}
}

// Call runs one read; see peer.proto.
func (p *PeerServer) Call(_ context.Context, req *peerv1.CallRequest) (*peerv1.CallResponse, error) {
	name := req.GetTarget()
	var result any
	var err error
	switch req.GetMethod() {
	case methodGet:
		var st registry.TargetStatus
		if st, err = p.local.Get(name); err == nil && !st.Held {
			err = fmt.Errorf("get %q: %w", name, registry.ErrNotHeld)
		}
		result = st
	case methodRecommendation:
		result, err = p.local.Recommendation(name)
	case methodForecast:
		var a forecastArgs
		if err := decode(req.GetArgs(), &a); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "forecast arguments: %v", err)
		}
		if err = registry.CheckForecastArgs(a.Horizon, a.Quantiles, a.History); err == nil {
			result, err = p.local.Forecast(name, a.Horizon, a.Quantiles, a.History)
		}
	case methodAnomalies:
		var a windowArgs
		if err := decode(req.GetArgs(), &a); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "anomalies arguments: %v", err)
		}
		result, err = p.local.Anomalies(name, a.Start, a.End)
	case methodHistory:
		var a windowArgs
		if err := decode(req.GetArgs(), &a); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "history arguments: %v", err)
		}
		result, err = p.local.History(name, a.Start, a.End)
	case methodList:
		result = slices.DeleteFunc(p.local.List(), func(st registry.TargetStatus) bool { return !st.Held })
	default:
		return nil, status.Errorf(codes.InvalidArgument, "method %q: want get, recommendation, forecast, anomalies, history or list", req.GetMethod())
	}
	out := &peerv1.CallResponse{ServedBy: p.self}
	if err != nil {
		out.ErrorKind, out.Error = errorKind(err), err.Error()
		return out, nil
	}
	if out.Result, err = encode(result); err != nil {
		return nil, status.Errorf(codes.Internal, "encode %s: %v", req.GetMethod(), err)
	}
	return out, nil
}

// The registry's errors a peer's answer carries, by kind.
var errorKinds = []struct {
	kind string
	err  error
}{
	{"not_found", registry.ErrNotFound},
	{"not_ready", registry.ErrNotReady},
	{"not_held", registry.ErrNotHeld},
	{"bad_argument", forecast.ErrBadOptions},
}

func errorKind(err error) string {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "other"
}

// peerError is a peer's error, wrapping the registry's error of its kind.
type peerError struct {
	member, msg string
	kind        error
}

func (e *peerError) Error() string {
	return fmt.Sprintf("%s (answered by replica %s)", e.msg, e.member)
}
func (e *peerError) Unwrap() error { return e.kind }

func remoteError(member string, resp *peerv1.CallResponse) error {
	e := &peerError{member: member, msg: resp.GetError()}
	for _, k := range errorKinds {
		if k.kind == resp.GetErrorKind() {
			e.kind = k.err
		}
	}
	return e
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func decode(data []byte, v any) error { return gob.NewDecoder(bytes.NewReader(data)).Decode(v) }

// ForwarderOptions configure a Forwarder. A nil *ForwarderOptions means
// the defaults.
type ForwarderOptions struct {
	// Timeout bounds one call to one replica (default 2s); a holder that
	// does not answer in time is passed over for the next.
	Timeout time.Duration
	// DialOptions reach the other replicas' gRPC API: their transport
	// credentials and this replica's (default: plaintext).
	DialOptions []grpc.DialOption
	// Logger (default: discard).
	Logger *slog.Logger
}

// Forwarder is the API's backend on a replica that holds some targets
// (serve --cluster.replication): it answers for the targets it holds from
// its registry and forwards the reads of the others to the replicas that
// hold them, the owner first. Writes go to its registry.
type Forwarder struct {
	api.Backend // this replica's registry
	members     *Membership
	replication int
	opts        ForwarderOptions
	log         *slog.Logger

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by address
}

var _ api.Router = (*Forwarder)(nil)

// NewForwarder returns the backend of a replica whose registry is local,
// among members, each target held by replication of them (0: by every
// member, so that every read is answered here and Via names this one).
func NewForwarder(local api.Backend, members *Membership, replication int, opts *ForwarderOptions) *Forwarder {
	var o ForwarderOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.DialOptions) == 0 {
		o.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return &Forwarder{Backend: local, members: members, replication: replication, opts: o, log: o.Logger, conns: map[string]*grpc.ClientConn{}}
}

// Close closes the connections to the other replicas.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, c := range f.conns {
		c.Close()
		delete(f.conns, addr)
	}
}

func (f *Forwarder) client(addr string) (peerv1.PeerServiceClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.conns[addr]; ok {
		return peerv1.NewPeerServiceClient(c), nil
	}
	c, err := grpc.NewClient(addr, f.opts.DialOptions...)
	if err != nil {
		return nil, err
	}
	f.conns[addr] = c
	return peerv1.NewPeerServiceClient(c), nil
}

// forward asks the target's holders, owner first, until one answers, and
// decodes its result into out. A holder that does not answer, or does
// not hold the target yet (the replicas' views of the members differ for
// a moment after a change), is passed over; when none answers, the error
// wraps registry.ErrNotReady: the caller retries, and an HPA keeps its
// replicas meanwhile.
func (f *Forwarder) forward(method, name string, args, out any, by *string) error {
	var raw []byte
	if args != nil {
		var err error
		if raw, err = encode(args); err != nil {
			return err
		}
	}
	var tried []error
	for _, h := range rendezvous.Holders(name, f.members.Members(), f.replication) {
		if h == f.members.Self() {
			continue
		}
		addr := f.members.Address(h)
		if addr == "" {
			tried = append(tried, fmt.Errorf("%s: no address on its Lease", h))
			continue
		}
		client, err := f.client(addr)
		if err != nil {
			tried = append(tried, fmt.Errorf("%s: %w", h, err))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
		resp, err := client.Call(ctx, &peerv1.CallRequest{Method: method, Target: name, Args: raw})
		cancel()
		switch {
		case err != nil:
			tried = append(tried, fmt.Errorf("%s: %w", h, err))
		case resp.GetErrorKind() == "not_held":
			tried = append(tried, fmt.Errorf("%s: does not hold it yet", h))
		case resp.GetErrorKind() == "not_ready":
			// A new holder fitting it: the next may have a model.
			tried = append(tried, fmt.Errorf("%s: %s", h, resp.GetError()))
		case resp.GetErrorKind() != "":
			record(by, resp.GetServedBy())
			return remoteError(resp.GetServedBy(), resp)
		default:
			f.log.Debug("forwarded", "method", method, "target", name, "served_by", resp.GetServedBy())
			record(by, resp.GetServedBy())
			return decode(resp.GetResult(), out)
		}
	}
	return fmt.Errorf("%s %q: no replica that holds it answered (%v): %w", method, name, errors.Join(tried...), registry.ErrNotReady)
}

// record notes in *by, when by is not nil, who answered.
func record(by *string, member string) {
	if by != nil {
		*by = member
	}
}

// Via returns the Forwarder for one request: each read through it records
// in *by the replica that answered, this one or the one it was forwarded
// to (see api.Router).
func (f *Forwarder) Via(by *string) api.Backend { return routed{f, by} }

// routed is a Forwarder that records who answered each read.
type routed struct {
	*Forwarder
	by *string
}

func (r routed) Get(name string) (registry.TargetStatus, error) { return r.get(name, r.by) }

func (r routed) Recommendation(name string) (models.Recommendation, error) {
	return r.recommendation(name, r.by)
}

func (r routed) Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*registry.ForecastView, error) {
	return r.forecast(name, horizon, quantiles, history, r.by)
}

func (r routed) Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error) {
	return r.anomalies(name, start, end, r.by)
}

func (r routed) History(name string, start, end time.Time) (registry.History, error) {
	return r.history(name, start, end, r.by)
}

// Get returns the target's status from this replica when it holds it,
// else from a replica that does.
func (f *Forwarder) Get(name string) (registry.TargetStatus, error) { return f.get(name, nil) }

// Recommendation answers for a target this replica holds, else forwards.
func (f *Forwarder) Recommendation(name string) (models.Recommendation, error) {
	return f.recommendation(name, nil)
}

// Forecast answers for a target this replica holds, else forwards.
func (f *Forwarder) Forecast(name string, horizon int, quantiles []float64, history time.Duration) (*registry.ForecastView, error) {
	return f.forecast(name, horizon, quantiles, history, nil)
}

// Anomalies answers for a target this replica holds, else forwards.
func (f *Forwarder) Anomalies(name string, start, end time.Time) ([]models.AnomalyEvent, error) {
	return f.anomalies(name, start, end, nil)
}

func (f *Forwarder) get(name string, by *string) (registry.TargetStatus, error) {
	st, err := f.Backend.Get(name)
	if err != nil || st.Held {
		record(by, f.members.Self())
		return st, err
	}
	var remote registry.TargetStatus
	if err := f.forward(methodGet, name, nil, &remote, by); err != nil {
		return st, err
	}
	return remote, nil
}

func (f *Forwarder) recommendation(name string, by *string) (models.Recommendation, error) {
	rec, err := f.Backend.Recommendation(name)
	if !f.elsewhere(err) {
		record(by, f.members.Self())
		return rec, err
	}
	var remote models.Recommendation
	if ferr := f.forward(methodRecommendation, name, nil, &remote, by); ferr != nil {
		return rec, f.unanswered(err, ferr, by)
	}
	return remote, nil
}

// elsewhere reports whether a read that failed here with err is asked of
// the other holders: a target held elsewhere, or, with replication, one
// this replica has just come to hold and is fitting (a replica's death
// made it a holder), which the other holders answer from their models.
func (f *Forwarder) elsewhere(err error) bool {
	return errors.Is(err, registry.ErrNotHeld) || f.replication > 0 && errors.Is(err, registry.ErrNotReady)
}

// unanswered is the error of a read that failed here with local and on
// the other holders with remote: the local one when this replica holds
// the target (it is fitting it), which says so.
func (f *Forwarder) unanswered(local, remote error, by *string) error {
	if errors.Is(local, registry.ErrNotReady) && errors.Is(remote, registry.ErrNotReady) {
		record(by, f.members.Self())
		return fmt.Errorf("%w; asked of the other holders: %v", local, remote)
	}
	return remote
}

func (f *Forwarder) forecast(name string, horizon int, quantiles []float64, history time.Duration, by *string) (*registry.ForecastView, error) {
	v, err := f.Backend.Forecast(name, horizon, quantiles, history)
	if !f.elsewhere(err) {
		record(by, f.members.Self())
		return v, err
	}
	remote := new(registry.ForecastView)
	if ferr := f.forward(methodForecast, name, forecastArgs{horizon, quantiles, history}, remote, by); ferr != nil {
		return nil, f.unanswered(err, ferr, by)
	}
	return remote, nil
}

func (f *Forwarder) anomalies(name string, start, end time.Time, by *string) ([]models.AnomalyEvent, error) {
	ev, err := f.Backend.Anomalies(name, start, end)
	if !f.elsewhere(err) {
		record(by, f.members.Self())
		return ev, err
	}
	var remote []models.AnomalyEvent
	if ferr := f.forward(methodAnomalies, name, windowArgs{start, end}, &remote, by); ferr != nil {
		return nil, f.unanswered(err, ferr, by)
	}
	return remote, nil
}

// History answers for a target this replica holds, else forwards.
func (f *Forwarder) History(name string, start, end time.Time) (registry.History, error) {
	return f.history(name, start, end, nil)
}

func (f *Forwarder) history(name string, start, end time.Time, by *string) (registry.History, error) {
	h, err := f.Backend.History(name, start, end)
	if !f.elsewhere(err) {
		record(by, f.members.Self())
		return h, err
	}
	var remote registry.History
	if ferr := f.forward(methodHistory, name, windowArgs{start, end}, &remote, by); ferr != nil {
		return h, f.unanswered(err, ferr, by)
	}
	return remote, nil
}

// List returns every target's status: this replica's for the targets it
// holds, the other replicas' for theirs (asked at the same time, each
// within the timeout); a target whose holders did not answer is listed as
// this replica knows it (Held false).
func (f *Forwarder) List() []registry.TargetStatus {
	local := f.Backend.List()
	if !slices.ContainsFunc(local, func(st registry.TargetStatus) bool { return !st.Held }) {
		return local
	}
	var mu sync.Mutex
	remote := map[string]registry.TargetStatus{}
	var wg sync.WaitGroup
	for _, m := range f.members.Members() {
		addr := f.members.Address(m)
		if m == f.members.Self() || addr == "" {
			continue
		}
		wg.Go(func() {
			client, err := f.client(addr)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
			defer cancel()
			resp, err := client.Call(ctx, &peerv1.CallRequest{Method: methodList})
			if err != nil || resp.GetErrorKind() != "" {
				f.log.Warn("list: a replica did not answer", "member", m, "err", err, "error", resp.GetError())
				return
			}
			var sts []registry.TargetStatus
			if err := decode(resp.GetResult(), &sts); err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, st := range sts {
				// The owner's status wins over a follower's.
				if _, seen := remote[st.Target.Name]; !seen || rendezvous.Owner(st.Target.Name, f.members.Members()) == m {
					remote[st.Target.Name] = st
				}
			}
		})
	}
	wg.Wait()
	for i, st := range local {
		if r, ok := remote[st.Target.Name]; ok && !st.Held {
			local[i] = r
		}
	}
	return local
}
