package cluster

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/prescale/prescale/models"
)

var (
	benchTargets = flag.Int("bench.targets", 10000, "targets BenchmarkReplicas loads into its three replicas")
	benchHeap    = flag.String("bench.heapprofile", "", "file BenchmarkReplicas writes the heap profile at rest to (go tool pprof -sample_index=inuse_space)")
)

// BenchmarkReplicas loads -bench.targets targets of 14 days at 1 minute
// (the demo source, each its own variant) into three in-process replicas
// on loopback, each target held by two (--cluster.replication 2), and
// reports: the live heap per held target (three replicas share this
// process's heap: it is divided by targets × 2), the time until every
// target is fitted, the latency of recommendations asked of random
// replicas at 2,000 a second (a third are forwarded), and the time from
// one replica's death to every target answered and held twice again.
//
//	go test -run '^$' -bench Replicas -benchtime 1x ./cluster/ -bench.targets 300
func BenchmarkReplicas(b *testing.B) {
	for b.Loop() {
		benchReplicas(b, *benchTargets)
	}
}

// fitsIdle reports whether no replica has a fit due and waiting.
func fitsIdle(rs []*replica) bool {
	for _, r := range rs {
		for _, st := range r.reg.List() {
			if st.Held && !st.FitDueSince.IsZero() {
				return false
			}
		}
	}
	return true
}

func benchReplicas(b *testing.B, n int) {
	targets := make([]models.Target, n)
	for i := range targets {
		tg := models.DefaultTarget()
		tg.Name = fmt.Sprintf("t%05d", i)
		tg.Query = fmt.Sprintf("demo:%d", i+1)
		tg.CapacityPerReplica = 50
		tg.LeadTime = 3 * time.Minute
		tg.History = 14 * 24 * time.Hour
		targets[i] = tg
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	client := kubefake.NewClientset()
	clk := &clock{}
	start := time.Now()
	var rs []*replica
	for i := range 3 {
		rs = append(rs, startReplica(b, client, clk, fmt.Sprintf("prescale-%d", i), 2, targets))
	}
	defer func() {
		for _, r := range rs {
			r.stop()
		}
	}()
	for !allJoined(rs, 3) {
		time.Sleep(100 * time.Millisecond)
	}
	fitted := time.Since(start)
	// The heap at rest: the refits that fell due meanwhile (first fits go
	// first) have run, so no fit's working memory is counted.
	for !fitsIdle(rs) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the fits taken by a worker just before
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	perTarget := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(2*n)
	if *benchHeap != "" {
		writeHeapProfile(b, *benchHeap)
	}
	// Each phase's figures as it ends, on stderr at once: a long run
	// stopped early keeps them (b.Logf prints at the end).
	progress("%d targets held twice and fitted in %v; %.0f B of heap per held target", n, fitted.Round(time.Second), perTarget)

	// 2,000 recommendations a second for five seconds, each of a random
	// target at a random replica, open loop.
	const rate, seconds = 2000, 5
	lat := make([]time.Duration, 0, rate*seconds)
	var mu sync.Mutex
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second / rate)
	errs := 0
	for range rate * seconds {
		<-tick.C
		r, name := rs[rng.IntN(3)], targets[rng.IntN(n)].Name
		wg.Go(func() {
			t0 := time.Now()
			_, err := r.fwd.Recommendation(name)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
			}
			lat = append(lat, d)
		})
	}
	tick.Stop()
	wg.Wait()
	slices.Sort(lat)
	progress("recommendations at %d/s: p50 %v, p99 %v, %d errors", rate, lat[len(lat)/2], lat[len(lat)*99/100], errs)

	// One replica dies (its Lease expires): until every target answers
	// from the two left and is held twice again.
	client.PrependReactor("delete", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == leasePrefix+rs[0].name {
			return true, nil, apierrors.NewServiceUnavailable("killed")
		}
		return false, nil, nil
	})
	t0 := time.Now()
	rs[0].stop()
	clk.advance(2 * time.Second)
	for !allJoined(rs[1:], 2) {
		time.Sleep(100 * time.Millisecond)
	}
	failover := time.Since(t0)
	progress("one replica dead: every target held twice and fitted again after %v", failover.Round(time.Second))

	b.ReportMetric(perTarget, "B/held-target")
	b.ReportMetric(fitted.Seconds(), "s-to-fit-all")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(failover.Seconds(), "s-failover")
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// progress prints a benchmark phase's figures at once.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "BenchmarkReplicas: "+format+"\n", args...)
}

// allJoined reports whether every replica sees members replicas and has
// fitted every target it holds.
func allJoined(rs []*replica, members int) bool {
	for _, r := range rs {
		if len(r.members.Members()) != members || !allFitted(r.reg) {
			return false
		}
	}
	return true
}
