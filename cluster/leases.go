package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/prescale/prescale/cluster/rendezvous"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/client-go/tools/cache"
)

// Labels of a member's Lease: the cluster it belongs to (several prescale
// installations may share a namespace) and what the Lease is.
const (
	// AnnotationAddress on a member's Lease is where the others reach its
	// gRPC API (host:port).
	AnnotationAddress = "prescale.io/address"
	LabelCluster      = "prescale.io/cluster"
	LabelComponent    = "app.kubernetes.io/component"
	componentValue    = "membership"
	leasePrefix       = "prescale-member-"
)

// Options configure a Membership. A nil *Options means the defaults.
type Options struct {
	// Cluster names the group of replicas (default "prescale"): a Lease
	// labelled with another cluster is not a member.
	Cluster string
	// LeaseDuration is how long a member counts as live after its last
	// renewal (default 6s): the longest a dead replica's targets wait for
	// a new owner. Renewals come three times in a lease.
	LeaseDuration time.Duration
	// Logger (default: discard).
	Logger *slog.Logger
	// Now reads the clock (default time.Now).
	Now func() time.Time
	// Address is where the other replicas reach this one's gRPC API
	// (host:port), written on its Lease; empty: nowhere (they do not
	// forward to it).
	Address string
	// JoinWhen, polled four times a second once the others' Leases are
	// listed, says when this replica may write its Lease and join: once
	// it has fitted the targets it will hold (Holds counts it from the
	// start). Nil: at once.
	JoinWhen func() bool
}

// DefaultLeaseDuration is Options.LeaseDuration's default.
const DefaultLeaseDuration = 6 * time.Second

// Validate reports the first option out of range.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	switch {
	case o.LeaseDuration < 0:
		return fmt.Errorf("cluster: lease duration %v is negative", o.LeaseDuration)
	case o.LeaseDuration > 0 && o.LeaseDuration < time.Second:
		return fmt.Errorf("cluster: lease duration %v is under a second, Lease's resolution", o.LeaseDuration)
	case o.Cluster != "" && len(validation.IsValidLabelValue(o.Cluster)) > 0:
		return fmt.Errorf("cluster: cluster name %q is not a label value: %v", o.Cluster, validation.IsValidLabelValue(o.Cluster))
	}
	return nil
}

// Membership is this replica's Lease and its view of the live members:
// the Leases of its cluster renewed within their duration. Its methods
// are safe for concurrent use.
type Membership struct {
	client    kubernetes.Interface
	namespace string
	self      string
	opts      Options
	log       *slog.Logger

	members  atomic.Pointer[[]string]
	addrs    atomic.Pointer[map[string]string] // member -> AnnotationAddress
	synced   atomic.Bool                       // the others' Leases are listed
	ready    atomic.Bool                       // and this replica's Lease is written
	mu       sync.Mutex
	onChange []func()
	lister   coordinationlisters.LeaseLister
	lease    *coordinationv1.Lease // as last written; only Run's goroutine uses it
}

// New returns the membership of the replica named self (its pod name) in
// namespace. Run joins and keeps it current.
func New(client kubernetes.Interface, namespace, self string, opts *Options) (*Membership, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Cluster == "" {
		o.Cluster = "prescale"
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if msgs := validation.IsDNS1123Subdomain(leasePrefix + self); self == "" || len(msgs) > 0 {
		return nil, fmt.Errorf("cluster: replica name %q does not make a Lease name: %v", self, msgs)
	}
	if namespace == "" {
		return nil, errors.New("cluster: no namespace for the Leases")
	}
	m := &Membership{client: client, namespace: namespace, self: self, opts: o, log: o.Logger}
	m.members.Store(&[]string{})
	m.addrs.Store(&map[string]string{})
	return m, nil
}

// Self is this replica's name.
func (m *Membership) Self() string { return m.self }

// Members returns the live members, sorted; this replica is one once its
// Lease is written.
func (m *Membership) Members() []string { return *m.members.Load() }

// Address returns where member's gRPC API is, from its Lease, or "".
func (m *Membership) Address(member string) string { return (*m.addrs.Load())[member] }

// Ready reports whether this replica's Lease is written and the others'
// are listed: until then it owns nothing.
func (m *Membership) Ready() bool { return m.ready.Load() }

// Owns reports whether this replica owns key: it is the key's first
// member by rendezvous hashing, and the membership is ready.
func (m *Membership) Owns(key string) bool {
	return m.Ready() && rendezvous.Owner(key, m.Members()) == m.self
}

// Holds reports whether this replica is among the first n members for
// key by rendezvous hashing, counting itself a member from the moment the
// others' Leases are listed, before it joins: it fits what it will hold
// before the others hand it over. False until the Leases are listed.
func (m *Membership) Holds(key string, n int) bool {
	if !m.synced.Load() {
		return false
	}
	members := m.Members()
	if !slices.Contains(members, m.self) {
		members = append(slices.Clone(members), m.self)
	}
	return slices.Contains(rendezvous.Holders(key, members, n), m.self)
}

// OnChange calls f (on a goroutine of Run's) after every change of the
// live members. Register before Run.
func (m *Membership) OnChange(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onChange = append(m.onChange, f)
}

// Run watches the cluster's Leases and, once Options.JoinWhen says so,
// writes this replica's Lease, renews it three times a lease duration,
// and deletes it when ctx is done, so that the others take its targets over at once rather than
// when the Lease expires. A failed renewal is retried at the next tick;
// the others drop this replica when its Lease expires.
func (m *Membership) Run(ctx context.Context) error {
	sel := labels.Set{LabelCluster: m.opts.Cluster, LabelComponent: componentValue}.String()
	factory := informers.NewSharedInformerFactoryWithOptions(m.client, 0, informers.WithNamespace(m.namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf := factory.Coordination().V1().Leases()
	m.lister = inf.Lister()
	update := func(any) { m.refresh() }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: update, UpdateFunc: func(_, o any) { update(o) }, DeleteFunc: update,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil // ctx done
	}
	m.refresh()
	m.synced.Store(true)
	m.notify() // Holds now counts this replica in
	if m.opts.JoinWhen != nil {
		tick := time.NewTicker(250 * time.Millisecond)
		for !m.opts.JoinWhen() {
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil
			case <-tick.C:
				m.refresh()
			}
		}
		tick.Stop()
	}

	renew := time.NewTicker(m.opts.LeaseDuration / 3)
	defer renew.Stop()
	for {
		if err := m.renew(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("cluster lease not renewed; retrying", "lease", leasePrefix+m.self, "err", err)
		} else if err == nil && !m.ready.Load() {
			m.ready.Store(true)
			m.log.Info("joined the cluster", "cluster", m.opts.Cluster, "member", m.self, "lease_duration", m.opts.LeaseDuration)
		}
		// Leases expire without an event: look again at every renewal.
		m.refresh()
		select {
		case <-ctx.Done():
			m.ready.Store(false)
			m.leave()
			return nil
		case <-renew.C:
		}
	}
}

// renew writes this replica's Lease: an update of the one it wrote last,
// one call a renewal; it reads the Lease again (or creates it) only when
// it has none or the update failed.
func (m *Membership) renew(ctx context.Context) error {
	leases := m.client.CoordinationV1().Leases(m.namespace)
	now := metav1.NewMicroTime(m.opts.Now())
	seconds := int32(m.opts.LeaseDuration / time.Second)
	l := m.lease
	if l == nil {
		var err error
		l, err = leases.Get(ctx, leasePrefix+m.self, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{
					Name:        leasePrefix + m.self,
					Labels:      map[string]string{LabelCluster: m.opts.Cluster, LabelComponent: componentValue},
					Annotations: map[string]string{AnnotationAddress: m.opts.Address},
				},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: &m.self, LeaseDurationSeconds: &seconds, AcquireTime: &now, RenewTime: &now,
				},
			}
			m.lease, err = leases.Create(ctx, l, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
	}
	l = l.DeepCopy()
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &m.self, &seconds, &now
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[AnnotationAddress] = m.opts.Address
	written, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	m.lease = written // nil on failure: read it again next time
	return err
}

// leave deletes this replica's Lease, with a few seconds to do it.
func (m *Membership) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := m.client.CoordinationV1().Leases(m.namespace).Delete(ctx, leasePrefix+m.self, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		m.log.Warn("cluster lease not deleted; the others wait for it to expire", "lease", leasePrefix+m.self, "err", err)
		return
	}
	m.log.Info("left the cluster", "member", m.self)
}

// refresh recomputes the live members from the listed Leases and calls
// the OnChange functions when they changed.
func (m *Membership) refresh() {
	if m.lister == nil {
		return
	}
	leases, err := m.lister.Leases(m.namespace).List(labels.Everything())
	if err != nil {
		return
	}
	live := []string{}
	addrs := map[string]string{}
	now := m.opts.Now()
	for _, l := range leases {
		if name, ok := liveMember(l, now); ok {
			live = append(live, name)
			addrs[name] = l.Annotations[AnnotationAddress]
		}
	}
	m.addrs.Store(&addrs)
	slices.Sort(live)
	live = slices.Compact(live)
	m.mu.Lock()
	defer m.mu.Unlock() // keeps changes in order
	if slices.Equal(live, *m.members.Load()) {
		return
	}
	m.members.Store(&live)
	m.log.Info("cluster members changed", "members", live)
	for _, f := range m.onChange {
		f()
	}
}

// notify calls the OnChange functions.
func (m *Membership) notify() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.onChange {
		f()
	}
}

// liveMember returns the member a Lease stands for, and whether its last
// renewal is within its duration at now.
func liveMember(l *coordinationv1.Lease, now time.Time) (string, bool) {
	s := l.Spec
	if l.DeletionTimestamp != nil || s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return "", false
	}
	if l.Name != leasePrefix+*s.HolderIdentity {
		return "", false // not written by Membership
	}
	expires := s.RenewTime.Add(time.Duration(*s.LeaseDurationSeconds) * time.Second)
	return *s.HolderIdentity, now.Before(expires)
}
