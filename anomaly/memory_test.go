package anomaly

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

// minuteSeries is n points of one-minute load with a daily season and
// noise.
func minuteSeries(n int) []float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, n)
	for i := range y {
		y[i] = 500 + 200*math.Sin(2*math.Pi*float64(i)/1440) + 10*rng.NormFloat64()
	}
	return y
}

// BenchmarkDefaultMemory reports the live heap of the default detector as
// the service keeps one per target: one-minute data with a daily season
// (Period 1440), warmed up on 6,000 points so that every window is full.
func BenchmarkDefaultMemory(b *testing.B) {
	const detectors = 10
	y := minuteSeries(6000)
	var perDetector float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ds := make([]*Default, detectors)
		for i := range ds {
			d, err := NewDefault(&Options{Period: 1440})
			if err != nil {
				b.Fatal(err)
			}
			for _, v := range y {
				d.Update(v)
			}
			ds[i] = d
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(ds)
		perDetector = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / detectors
	}
	b.ReportMetric(perDetector, "B/detector")
	d, _ := NewDefault(&Options{Period: 1440})
	for _, v := range y {
		d.Update(v)
	}
	for _, p := range d.footprint() {
		b.Logf("%-28s %7d B", p.name, p.bytes)
	}
}

type part struct {
	name  string
	bytes int
}

// footprint lists the detector's large buffers by their capacity.
func (d *Default) footprint() []part {
	const f32, code = 4, 1
	rolling := func(r *rolling) int { return (cap(r.ring) + cap(r.sorted)) * f32 }
	ps := []part{
		{"history (season and novelty)", cap(d.hist.buf) * f32},
		{"robustz residuals", rolling(d.rz.residuals)},
		{"changepoint reference", rolling(d.cp.ref)},
		{"changepoint recent", cap(d.cp.recent.buf) * f32},
		{"novelty scale window", cap(d.nov.sorted) * f32},
	}
	for i, c := range d.cal {
		ps = append(ps, part{"tail calibrator " + strconv.Itoa(i), cap(c.ring)*code + int(unsafe.Sizeof(c.counts))})
	}
	return ps
}
