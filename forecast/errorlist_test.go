package forecast

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestErrorListKeepsElevenBits checks that errors spanning many orders of
// magnitude, of either sign, keep 11 significant bits, stay in order, and
// survive a JSON round trip unchanged.
func TestErrorListKeepsElevenBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, top := range []float64{1e-9, 0.3, 1, 65504, 1e6, 3e12} {
		s := make([]float64, 500)
		for i := range s {
			s[i] = top * math.Exp2(-20*rng.Float64()) // 20 octaves below top
			if rng.IntN(3) == 0 {
				s[i] = -s[i]
			}
		}
		s = append(s, 0, top, -top)
		slices.Sort(s)
		l := newErrorList(s)
		got := l.Values()
		for i, x := range s {
			if math.Abs(got[i]-x) > 0x1p-11*math.Abs(x) {
				t.Fatalf("top %g: %v kept as %v", top, x, got[i])
			}
		}
		if !slices.IsSorted(got) {
			t.Fatalf("top %g: values out of order", top)
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		var back ErrorList
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back.Values(), got) {
			t.Fatalf("top %g: JSON round trip changed the values", top)
		}
	}
	if l := newErrorList(nil); l.Len() != 0 {
		t.Errorf("empty list holds %d values", l.Len())
	}
}

// TestErrorListLoadsFloat32Snapshots checks that a calibration saved with
// float32 errors loads, rounded, and that unsorted errors are refused.
func TestErrorListLoadsFloat32Snapshots(t *testing.T) {
	var c Calibration
	if err := json.Unmarshal([]byte(`{"errors":[[-0.125,0.0123456789,0.5],[]],"relative":true}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Horizon() != 2 || c.Errors[0].Len() != 3 || c.Errors[1].Len() != 0 {
		t.Fatalf("loaded %d steps", c.Horizon())
	}
	if v := c.Errors[0].At(1); math.Abs(v-0.0123456789) > 0x1p-11*0.0123456789 {
		t.Errorf("0.0123456789 loaded as %v", v)
	}
	err := json.Unmarshal([]byte(`{"errors":[[0.5,-0.125]]}`), &c)
	if err == nil || !strings.Contains(err.Error(), "ascending") {
		t.Errorf("unsorted errors: %v, want an error that says they are not ascending", err)
	}
}
