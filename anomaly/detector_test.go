package anomaly_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prescale/prescale/anomaly"
	"github.com/prescale/prescale/anomaly/nab"
	"github.com/prescale/prescale/feed/feedtest"
)

func TestNew(t *testing.T) {
	for _, name := range anomaly.Detectors() {
		t.Run(name, func(t *testing.T) {
			if _, err := anomaly.New(name, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := anomaly.New("nope", nil); !errors.Is(err, anomaly.ErrUnknownDetector) {
		t.Errorf("New(nope): err %v, want ErrUnknownDetector", err)
	}
	if anomaly.Detectors()[0] != anomaly.NameDefault {
		t.Errorf("Detectors()[0] = %q, want the default", anomaly.Detectors()[0])
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *anomaly.Options
		ok   bool
	}{
		{"nil", nil, true},
		{"zero", &anomaly.Options{}, true},
		{"seasonal", &anomaly.Options{Period: 24, Window: 500}, true},
		{"no season", &anomaly.Options{Period: -1}, true},
		{"negative window", &anomaly.Options{Window: -1}, false},
		{"tiny window", &anomaly.Options{Window: 4}, false},
		{"huge period", &anomaly.Options{Period: 1 << 30}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, anomaly.ErrOptions) {
				t.Fatalf("err %v does not wrap ErrOptions", err)
			}
			if _, err := anomaly.New(anomaly.NameDefault, tc.opts); (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// series returns a noisy daily-seasonal series with a spike at 700 and a
// level shift at 900.
func series(n int) []float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, n)
	for i := range y {
		y[i] = 50 + 20*math.Sin(2*math.Pi*float64(i)/48) + rng.NormFloat64()
		if i == 700 {
			y[i] += 40
		}
		if i >= 900 {
			y[i] += 15
		}
	}
	return y
}

func TestBatchMatchesStreaming(t *testing.T) {
	y := series(1500)
	for _, name := range anomaly.Detectors() {
		t.Run(name, func(t *testing.T) {
			d1, _ := anomaly.New(name, nil)
			d2, _ := anomaly.New(name, nil)
			batch := anomaly.Batch(nil, y, d1)
			for i, v := range y {
				if s := d2.Update(v); s != batch[i] {
					t.Fatalf("point %d: streaming %v, batch %v", i, s, batch[i])
				}
			}
		})
	}
}

func TestDetectorsFindAnomalies(t *testing.T) {
	y := series(1500)
	for _, name := range anomaly.Detectors() {
		t.Run(name, func(t *testing.T) {
			d, _ := anomaly.New(name, &anomaly.Options{Period: 48})
			s := anomaly.Batch(nil, y, d)
			calm := slices.Max(s[300:690])
			spike := slices.Max(s[700:705])
			shift := slices.Max(s[900:930])
			t.Logf("calm max %.3f, spike %.3f, shift %.3f", calm, spike, shift)
			if name != anomaly.NameChangePoint && spike <= calm {
				t.Errorf("spike scores %.3f, calm stretch up to %.3f", spike, calm)
			}
			if shift <= calm {
				t.Errorf("level shift scores %.3f, calm stretch up to %.3f", shift, calm)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	constant := slices.Repeat([]float64{7}, 200)
	departs := append(slices.Clone(constant), 8)
	for _, name := range anomaly.Detectors() {
		for _, tc := range []struct {
			name string
			y    []float64
			want func(s []float64) error
		}{
			{"empty", nil, nil},
			{"short", []float64{1, 2, 3}, allZero},
			{"NaN and Inf", []float64{nan, inf, -inf, nan}, allZero},
			{"constant", constant, allZero},
			{"NaN inside", append(series(400), nan, 1, nan), func(s []float64) error {
				if s[400] != 0 || s[402] != 0 {
					return fmt.Errorf("NaN scored %v, %v", s[400], s[402])
				}
				return nil
			}},
			{"departs from constant", departs, func(s []float64) error {
				if s[len(s)-1] <= 0 {
					return fmt.Errorf("departure scored %v", s[len(s)-1])
				}
				return allZero(s[:len(s)-1])
			}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				d, _ := anomaly.New(name, nil)
				s := anomaly.Batch(nil, tc.y, d)
				for i, v := range s {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("score %d = %v", i, v)
					}
				}
				if tc.want != nil {
					if err := tc.want(s); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func allZero(s []float64) error {
	for i, v := range s {
		if v != 0 {
			return fmt.Errorf("score %d = %v, want 0", i, v)
		}
	}
	return nil
}

func FuzzDetectors(f *testing.F) {
	f.Add([]byte{}, 0)
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), 0)
	f.Add(slices.Repeat([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 100), 3)
	f.Add(slices.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 0x40}, 64), 5)
	f.Fuzz(func(t *testing.T, raw []byte, period int) {
		y := make([]float64, len(raw)/8)
		for i := range y {
			y[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		opts := &anomaly.Options{Period: period % 50, Window: 16, WarmUp: 40, MinHistory: 5}
		for _, name := range anomaly.Detectors() {
			d, err := anomaly.New(name, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range anomaly.Batch(nil, y, d) {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%s: score %d = %v", name, i, v)
				}
				if !(y[i]-y[i] == 0) && v != 0 { // NaN or Inf
					t.Fatalf("%s: non-finite point %d scored %v", name, i, v)
				}
			}
		}
		cleaned, _, err := anomaly.Clean(y, &anomaly.CleanOptions{Period: period % 50})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range cleaned {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("cleaned[%d] = %v", i, v)
			}
		}
		if _, _, err := anomaly.LevelShift(y, opts); err != nil && !errors.Is(err, anomaly.ErrOptions) {
			t.Fatal(err)
		}
		if _, err := anomaly.ESD(y, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNABGolden pins the default detector's NAB scores, under the three
// profiles, to testdata/nab_golden.json: a change of 1% fails; run go test
// -run NAB -update to record an intended one.
func TestNABGolden(t *testing.T) {
	files, err := nab.LoadCorpus(os.DirFS(filepath.Join(dataDir(t), "nab")))
	if err != nil {
		t.Fatal(err)
	}
	scores := make([][]float64, len(files))
	for i := range files {
		d, err := anomaly.NewDefault(nil)
		if err != nil {
			t.Fatal(err)
		}
		scores[i] = anomaly.Batch(nil, files[i].Values, d)
	}
	res, err := nab.Evaluate(files, scores)
	if err != nil {
		t.Fatal(err)
	}
	// The profiles by the short names `prescale eval nab --json` prints.
	profiles := map[string]string{"standard": "standard", "low_fp": "reward_low_FP_rate", "low_fn": "reward_low_FN_rate"}
	got := map[string]float64{}
	for key, profile := range profiles {
		s, ok := res.Get(profile)
		if !ok {
			t.Fatalf("no %s profile in the NAB result", profile)
		}
		got[anomaly.NameDefault+"/"+key] = s.Normalized
	}
	feedtest.Golden(t, filepath.Join("testdata", "nab_golden.json"), got, map[string]feedtest.Tolerance{"": {Rel: 0.01}}, *update)
}

func BenchmarkDefaultUpdate(b *testing.B) {
	y := series(20000)
	d, err := anomaly.NewDefault(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range y[:10000] { // past warm-up, windows full
		d.Update(v)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Update(y[10000+i%10000])
		i++
	}
}

func BenchmarkClean(b *testing.B) {
	y := series(20000)
	b.ReportAllocs()
	for b.Loop() {
		anomaly.Clean(y, &anomaly.CleanOptions{Period: 48})
	}
}
