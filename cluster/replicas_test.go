package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/prescale/prescale/api"
	peerv1 "github.com/prescale/prescale/api/prescale/peer/v1"
	"github.com/prescale/prescale/cluster/rendezvous"
	"github.com/prescale/prescale/feed/demo"
	"github.com/prescale/prescale/models"
	"github.com/prescale/prescale/models/registry"
)

// replica is one prescale replica in-process: its registry, membership,
// peer server on loopback and forwarder, as serve wires them.
type replica struct {
	name    string
	reg     *registry.Registry
	members *Membership
	fwd     *Forwarder
	grpc    *grpc.Server
	stop    func()
}

func startReplica(t testing.TB, client *kubefake.Clientset, clk *clock, name string, replication int, targets []models.Target) *replica {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := demo.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name}
	r.members, err = New(client, ns, name, &Options{
		LeaseDuration: time.Second, Address: lis.Addr().String(), Now: clk.Now,
		JoinWhen: func() bool { return r.reg != nil && r.reg.Ready() && allFitted(r.reg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.reg, err = registry.New(src, &registry.Options{Workers: 1, MaxTargets: max(len(targets), 1000), Holds: func(n string) bool { return r.members.Holds(n, replication) }})
	if err != nil {
		t.Fatal(err)
	}
	r.members.OnChange(r.reg.Rebalance)
	if err := r.reg.SetConfig(targets); err != nil {
		t.Fatal(err)
	}
	r.fwd = NewForwarder(r.reg, r.members, replication, &ForwarderOptions{Timeout: time.Second})
	r.grpc = grpc.NewServer()
	peerv1.RegisterPeerServiceServer(r.grpc, NewPeerServer(r.reg, name))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.grpc.Serve(lis) })
	wg.Go(func() {
		if err := r.reg.Run(ctx); err != nil {
			t.Errorf("%s: registry: %v", name, err)
		}
	})
	wg.Go(func() {
		if err := r.members.Run(ctx); err != nil {
			t.Errorf("%s: membership: %v", name, err)
		}
	})
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			r.grpc.Stop()
			cancel()
			wg.Wait()
			r.fwd.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

// allFitted reports whether every target reg holds has a model.
func allFitted(reg *registry.Registry) bool {
	for _, st := range reg.List() {
		if st.Held && st.ModelKind == "" {
			return false
		}
	}
	return true
}

func clusterTargets(n int) []models.Target {
	var out []models.Target
	for i := range n {
		tg := models.DefaultTarget()
		tg.Name = fmt.Sprintf("t%02d", i)
		tg.Query = fmt.Sprintf("%s:%d", demo.Query, i+1)
		tg.CapacityPerReplica = 50
		tg.LeadTime = 3 * time.Minute
		tg.History = 2 * 24 * time.Hour
		tg.Model = "holtwinters"
		out = append(out, tg)
	}
	return out
}

// TestReplicasShareAndFailOver runs three replicas holding each of 18
// targets twice (--cluster.replication 2): each target is fitted on its
// two holders only, every replica answers for every target, and when a
// replica is killed (its Lease stays until it expires) the others answer
// for all of them at once, from the follower's model (no refit), and a
// new second holder is chosen.
func TestReplicasShareAndFailOver(t *testing.T) {
	client := kubefake.NewClientset()
	clk := &clock{}
	targets := clusterTargets(18)
	var rs []*replica
	for i := range 3 {
		rs = append(rs, startReplica(t, client, clk, fmt.Sprintf("prescale-%d", i), 2, targets))
	}
	names := []string{"prescale-0", "prescale-1", "prescale-2"}
	// Settled: each replica sees all three, holds exactly the targets the
	// three share out to it, with a model, and no other model (a replica
	// that joined late may still hold what it took while it saw fewer), and
	// has no fit waiting.
	eventually(t, "the three replicas joined and fitted what they hold", func() bool {
		for _, r := range rs {
			if len(r.members.Members()) != 3 || !allFitted(r.reg) {
				return false
			}
			for _, st := range r.reg.List() {
				held := slices.Contains(rendezvous.Holders(st.Target.Name, names, 2), r.name)
				if st.Held != held || (st.ModelKind != "") != held || !st.FitDueSince.IsZero() {
					return false
				}
			}
		}
		return true
	})

	// Each target is held, and fitted, by its two holders only.
	generation := map[string]map[string]uint64{} // target -> holder -> generation
	for _, tg := range targets {
		holders := rendezvous.Holders(tg.Name, names, 2)
		generation[tg.Name] = map[string]uint64{}
		for _, r := range rs {
			st, err := r.reg.Get(tg.Name)
			if err != nil {
				t.Fatal(err)
			}
			held := r.name == holders[0] || r.name == holders[1]
			if st.Held != held || (st.ModelKind != "") != held {
				t.Errorf("%s on %s: held %v, model %q; its holders are %v", tg.Name, r.name, st.Held, st.ModelKind, holders)
			}
			if held {
				generation[tg.Name][r.name] = st.Generation
			}
		}
	}
	checkEveryReplicaAnswers(t, rs, names, targets)

	// Kill prescale-0: its gRPC server stops at once and its Lease stays
	// (the delete a graceful stop makes fails), as after kill -9.
	killed := rs[0]
	client.PrependReactor("delete", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == leasePrefix+killed.name {
			return true, nil, apierrors.NewServiceUnavailable("the killed replica's delete never arrives")
		}
		return false, nil, nil
	})
	killed.stop()
	// Before its Lease expires the others still count it a member, and
	// answer for every target: the owner does not answer, its follower does.
	for _, r := range rs[1:] {
		if len(r.members.Members()) != 3 {
			t.Fatalf("%s sees %v before the Lease expired", r.name, r.members.Members())
		}
		for _, tg := range targets {
			if _, err := r.fwd.Recommendation(tg.Name); err != nil {
				t.Errorf("%s: recommendation of %s with its owner dead: %v", r.name, tg.Name, err)
			}
		}
	}
	clk.advance(2 * time.Second) // the Lease expires
	awaitFailover(t, rs[1:], targets)
	failedOver := 0
	for _, tg := range targets {
		for _, r := range rs[1:] {
			st, err := r.fwd.Get(tg.Name)
			if err != nil {
				t.Fatal(err)
			}
			if before, ok := generation[tg.Name][r.name]; ok {
				// A holder before and after keeps its model: no refit.
				if st.Generation != before {
					t.Errorf("%s on %s: generation %d after the failover, %d before: refitted", tg.Name, r.name, st.Generation, before)
				}
				if rendezvous.Owner(tg.Name, names) == killed.name {
					failedOver++
				}
			}
			if _, err := r.fwd.Recommendation(tg.Name); err != nil {
				t.Errorf("%s: recommendation of %s after the failover: %v", r.name, tg.Name, err)
			}
		}
	}
	if failedOver == 0 {
		t.Error("no target of the killed replica failed over: the test proves nothing")
	}
	t.Logf("%d targets failed over to their follower without a refit", failedOver)
}

// awaitFailover waits until the survivors have fitted what they now hold,
// checking that each answers every target meanwhile.
func awaitFailover(t *testing.T, survivors []*replica, targets []models.Target) {
	t.Helper()
	// Each survivor now holds targets it did not and fits them; meanwhile
	// it asks the other holder, so that no read fails. (Reads are checked
	// once a survivor sees the other: the fake clock jumped past every
	// Lease, so for a moment a survivor may count itself alone.)
	whileFitting := 0
	eventually(t, "the two others dropped the killed replica and fitted what they now hold", func() bool {
		done := true
		for _, r := range survivors {
			if len(r.members.Members()) != 2 {
				done = false
				continue
			}
			for _, tg := range targets {
				var by string
				if _, err := r.fwd.Via(&by).Recommendation(tg.Name); err != nil {
					t.Errorf("%s: recommendation of %s during the failover: %v", r.name, tg.Name, err)
				}
				if st, _ := r.reg.Get(tg.Name); st.Held && st.ModelKind == "" && by != r.name {
					whileFitting++
				}
			}
			done = done && allFitted(r.reg)
		}
		return done
	})
	t.Logf("%d reads of targets a survivor was fitting were answered by the other holder", whileFitting)
}

// checkEveryReplicaAnswers checks that every replica answers for every
// target, forwarding when it does not hold it: the owner's answer, and it
// says who answered.
func checkEveryReplicaAnswers(t *testing.T, rs []*replica, names []string, targets []models.Target) {
	t.Helper()
	for _, r := range rs {
		for _, tg := range targets {
			var by string
			rec, err := r.fwd.Via(&by).Recommendation(tg.Name)
			if err != nil {
				t.Fatalf("%s: recommendation of %s: %v", r.name, tg.Name, err)
			}
			holders := rendezvous.Holders(tg.Name, names, 2)
			want := holders[0] // the owner, asked first
			if r.name == holders[0] || r.name == holders[1] {
				want = r.name
			}
			if by != want {
				t.Errorf("%s: recommendation of %s served by %q, want %q (holders %v)", r.name, tg.Name, by, want, holders)
			}
			if rec.Target != tg.Name || rec.Replicas < 1 {
				t.Errorf("%s: recommendation of %s: %+v", r.name, tg.Name, rec)
			}
			if st, err := r.fwd.Get(tg.Name); err != nil || !st.Held || st.ModelKind == "" {
				t.Errorf("%s: status of %s: held %v, model %q, %v", r.name, tg.Name, st.Held, st.ModelKind, err)
			}
			if v, err := r.fwd.Forecast(tg.Name, 10, []float64{0.9}, time.Hour); err != nil || len(v.Point) != 10 || len(v.History) == 0 {
				t.Errorf("%s: forecast of %s: %v", r.name, tg.Name, err)
			}
		}
		list := r.fwd.List()
		for _, st := range list {
			if !st.Held || st.ModelKind == "" {
				t.Errorf("%s: List has %s as held %v, model %q", r.name, st.Target.Name, st.Held, st.ModelKind)
			}
		}
		if len(list) != len(targets) {
			t.Errorf("%s: List has %d targets, want %d", r.name, len(list), len(targets))
		}
	}
}

// fitting is a replica's registry that has just come to hold every target
// and not fitted any yet.
type fitting struct{ api.Backend }

func (fitting) Recommendation(name string) (models.Recommendation, error) {
	return models.Recommendation{}, fmt.Errorf("recommendation %q: %w", name, registry.ErrNotReady)
}

// TestNewHolderAsksTheOthers checks that a replica that holds a target
// it is still fitting (a replica's death made it a holder) answers its
// reads from another holder, names that holder, and says it is fitting
// when no holder has a model.
func TestNewHolderAsksTheOthers(t *testing.T) {
	client := kubefake.NewClientset()
	clk := &clock{}
	targets := clusterTargets(4)
	a := startReplica(t, client, clk, "prescale-0", 2, targets)
	b := startReplica(t, client, clk, "prescale-1", 2, targets)
	eventually(t, "both replicas joined and fitted every target", func() bool {
		return len(a.members.Members()) == 2 && len(b.members.Members()) == 2 && allFitted(a.reg) && allFitted(b.reg)
	})
	fwd := NewForwarder(fitting{a.reg}, a.members, 2, &ForwarderOptions{Timeout: time.Second})
	defer fwd.Close()
	for _, tg := range targets {
		var by string
		rec, err := fwd.Via(&by).Recommendation(tg.Name)
		if err != nil || rec.Target != tg.Name || by != b.name {
			t.Errorf("recommendation of %s while fitting it: %+v, %v, served by %q; want %s's answer", tg.Name, rec, err, by, b.name)
		}
	}
	// No holder with a model: the fitting replica's own error, named.
	b.stop()
	var by string
	_, err := fwd.Via(&by).Recommendation(targets[0].Name)
	if !errors.Is(err, registry.ErrNotReady) || by != a.name {
		t.Errorf("with the other holder gone: %v, served by %q; want ErrNotReady from %s", err, by, a.name)
	}
}
