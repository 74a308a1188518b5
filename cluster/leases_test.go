package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

const ns = "prescale-system"

// clock is a test clock that moves only when told to.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// member runs a Membership until the test ends or stop is called.
type member struct {
	*Membership
	stop    func()
	changes atomic.Int64
}

func join(t *testing.T, client kubernetes.Interface, name string, clk *clock) *member {
	t.Helper()
	m, err := New(client, ns, name, &Options{LeaseDuration: time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mb := &member{Membership: m}
	m.OnChange(func() { mb.changes.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", name, err)
		}
	})
	var once sync.Once
	mb.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(mb.stop)
	return mb
}

// eventually waits up to a minute for cond (fits under the race detector
// on a busy machine take their time).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lease(name, holder, cluster string, renewed time.Time) *coordinationv1.Lease {
	seconds := int32(1)
	rt := metav1.NewMicroTime(renewed)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{LabelCluster: cluster, LabelComponent: componentValue}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &rt},
	}
}

// TestMembersShareTheKeys runs two replicas: each sees both, every key
// has exactly one owner, and when one stops (deleting its Lease) the
// other owns everything at once.
func TestMembersShareTheKeys(t *testing.T) {
	client := kubefake.NewClientset()
	clk := &clock{}
	a, b := join(t, client, "prescale-a", clk), join(t, client, "prescale-b", clk)
	both := []string{"prescale-a", "prescale-b"}
	eventually(t, "both members see both", func() bool {
		return slices.Equal(a.Members(), both) && slices.Equal(b.Members(), both) && a.Ready() && b.Ready()
	})
	owned := map[string]int{}
	for _, k := range keys(2000) {
		if a.Owns(k) == b.Owns(k) {
			t.Fatalf("%s: owned by a %v, by b %v", k, a.Owns(k), b.Owns(k))
		}
		if a.Owns(k) {
			owned["a"]++
		}
	}
	if owned["a"] < 800 || owned["a"] > 1200 {
		t.Errorf("a owns %d of 2000 keys", owned["a"])
	}

	before := a.changes.Load()
	b.stop()
	if _, err := client.CoordinationV1().Leases(ns).Get(context.Background(), leasePrefix+"prescale-b", metav1.GetOptions{}); err == nil {
		t.Error("b's Lease is still there after b stopped")
	}
	eventually(t, "a alone after b left", func() bool { return slices.Equal(a.Members(), []string{"prescale-a"}) })
	if a.changes.Load() == before {
		t.Error("no OnChange call when b left")
	}
	for _, k := range keys(100) {
		if !a.Owns(k) {
			t.Fatalf("%s not owned by a, the only member", k)
		}
	}
}

// TestDeadMemberExpires checks that a member that stops renewing (killed:
// its Lease stays) is dropped once its Lease's duration has passed, and
// that Leases of another cluster, unrenewed or not written by a member
// never count.
func TestDeadMemberExpires(t *testing.T) {
	clk := &clock{}
	now := clk.Now()
	client := kubefake.NewClientset(
		lease(leasePrefix+"killed", "killed", "prescale", now),
		lease(leasePrefix+"stale", "stale", "prescale", now.Add(-time.Minute)),
		lease(leasePrefix+"other", "other", "another-cluster", now),
		lease("leader-election", "someone", "prescale", now),
	)
	a := join(t, client, "prescale-a", clk)
	eventually(t, "a sees itself and the killed replica", func() bool {
		return slices.Equal(a.Members(), []string{"killed", "prescale-a"})
	})
	clk.advance(2 * time.Second) // killed's Lease (1s) expires; a renews its own
	eventually(t, "the killed replica dropped", func() bool {
		return slices.Equal(a.Members(), []string{"prescale-a"})
	})
}

func TestNewChecks(t *testing.T) {
	client := kubefake.NewClientset()
	for _, tc := range []struct {
		name, ns, self string
		opts           *Options
	}{
		{"no name", ns, "", nil},
		{"name not a DNS name", ns, "Prescale_0", nil},
		{"no namespace", "", "prescale-0", nil},
		{"lease under a second", ns, "prescale-0", &Options{LeaseDuration: 500 * time.Millisecond}},
		{"negative lease", ns, "prescale-0", &Options{LeaseDuration: -time.Second}},
		{"cluster not a label", ns, "prescale-0", &Options{Cluster: "a b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(client, tc.ns, tc.self, tc.opts); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// keys are target names as the controller makes them.
func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("team-%d-web-%d", i%37, i)
	}
	return out
}
