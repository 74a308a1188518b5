package nab

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// fuzzCorpus decodes arbitrary bytes into one file and its scores: a row
// count, windows as raw (possibly invalid) row pairs, and scores as raw
// float64 bits (possibly NaN, infinite or out of range).
func fuzzCorpus(data []byte) (File, []float64, float64) {
	next := func() uint64 {
		var b [8]byte
		n := copy(b[:], data)
		data = data[n:]
		return binary.LittleEndian.Uint64(b[:])
	}
	n := int(next() % 200)
	f := File{Name: "fuzz.csv", Values: make([]float64, n)}
	for range next() % 4 {
		f.Windows = append(f.Windows, Window{Start: int(int16(next())), End: int(int16(next()))})
	}
	threshold := math.Float64frombits(next())
	scores := make([]float64, n)
	for i := range scores {
		if len(data) == 0 {
			break
		}
		b := next()
		if b&1 == 0 { // mostly valid scores on a few levels, so thresholds tie
			scores[i] = float64(b>>1%9) / 8
		} else {
			scores[i] = math.Float64frombits(b)
		}
	}
	return f, scores, threshold
}

func FuzzScore(f *testing.F) {
	enc := func(words ...uint64) []byte {
		var b []byte
		for _, w := range words {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		return b
	}
	f.Add([]byte{})
	f.Add(enc(40, 1, 10, 19, math.Float64bits(0.5), 2, 4, 6, 8, 10, 12, 14, 16))
	f.Add(enc(100, 2, 5, 9, 20, 30, math.Float64bits(0.25), 1, math.Float64bits(math.NaN())))
	f.Add(enc(10, 1, 12, 3, math.Float64bits(math.Inf(-1))))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, scores, threshold := fuzzCorpus(data)
		files, all := []File{file}, [][]float64{scores}
		for _, p := range Profiles() {
			raw, scoreErr := Score(files, all, p, threshold)
			contrib, contribErr := Contributions(nil, &files[0], scores, p, threshold)
			best, bestRaw, optErr := Optimize(files, all, p)
			r, evalErr := Evaluate(files, all)
			if (scoreErr == nil) != (contribErr == nil) || (optErr == nil) != (evalErr == nil) {
				t.Fatalf("inconsistent errors: Score %v, Contributions %v, Optimize %v, Evaluate %v", scoreErr, contribErr, optErr, evalErr)
			}
			for _, err := range []error{scoreErr, optErr} {
				if err != nil && !errors.Is(err, ErrScore) && !errors.Is(err, ErrWindow) && !errors.Is(err, ErrThreshold) {
					t.Fatalf("unexpected error %v", err)
				}
			}
			if optErr == nil {
				if math.IsNaN(bestRaw) || math.IsInf(bestRaw, 0) {
					t.Fatalf("Optimize raw %v", bestRaw)
				}
				if again, err := Score(files, all, p, best); err != nil || again != bestRaw {
					t.Fatalf("Score at optimum %v = %v, %v; Optimize said %v", best, again, err, bestRaw)
				}
				if s, ok := r.Get(p.Name); !ok || s.Raw != bestRaw {
					t.Fatalf("Evaluate %+v, Optimize raw %v", s, bestRaw)
				}
			}
			if scoreErr != nil {
				continue
			}
			var sum float64
			for _, c := range contrib {
				sum += c
			}
			if math.Abs(sum-raw) > 1e-9 {
				t.Fatalf("contributions sum to %v, Score %v", sum, raw)
			}
			if optErr == nil && raw > bestRaw+1e-9 {
				t.Fatalf("Score at %v = %v beats the optimum %v at %v", threshold, raw, bestRaw, best)
			}
		}
	})
}
