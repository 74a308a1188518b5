package anomaly

import (
	"fmt"
	"os"
	"testing"

	"github.com/prescale/prescale/anomaly/nab"
)

func TestDiag(t *testing.T) {
	name := os.Getenv("DIAG")
	if name == "" {
		t.Skip()
	}
	files, err := nab.LoadCorpus(os.DirFS("/work/shared/data/nab"))
	if err != nil {
		t.Fatal(err)
	}
	scores := make([][]float64, len(files))
	for i := range files {
		d, _ := New(name, nil)
		scores[i] = Batch(nil, files[i].Values, d)
	}
	res, _ := nab.Evaluate(files, scores)
	p := nab.Profiles()[0]
	ps, _ := res.Get("standard")
	th := ps.Threshold
	if v := os.Getenv("TH"); v != "" {
		fmt.Sscan(v, &th)
	}
	fmt.Printf("threshold %.6f norm %.2f\n", th, ps.Normalized)
	var totFP, totTP, totFN int
	for i := range files {
		f := &files[i]
		w, _ := nab.Weights(nil, f, p)
		c, _ := nab.Contributions(nil, f, scores[i], p, th)
		var sum float64
		for _, x := range c {
			sum += x
		}
		prob := nab.ProbationLength(f.Rows())
		fps := 0
		ones := 0
		inWin := make([]bool, f.Rows())
		for _, win := range f.Windows {
			for j := win.Start; j <= win.End; j++ {
				inWin[j] = true
			}
		}
		for j := prob; j < f.Rows(); j++ {
			if scores[i][j] >= th && !inWin[j] {
				fps++
			}
			if scores[i][j] >= 1 {
				ones++
			}
		}
		det := ""
		for _, win := range f.Windows {
			first := -1
			for j := max(win.Start, prob); j <= win.End; j++ {
				if scores[i][j] >= th {
					first = j
					break
				}
			}
			if win.End < prob {
				det += " P"
				continue
			}
			if first < 0 {
				det += " -"
				totFN++
			} else {
				det += fmt.Sprintf(" %.2f", w[first])
				totTP++
			}
		}
		totFP += fps
		fmt.Printf("%-55s n=%5d fp=%3d ones=%4d sum=%6.2f win:%s\n", f.Name, f.Rows(), fps, ones, sum, det)
	}
	fmt.Printf("TP %d FN %d FP %d\n", totTP, totFN, totFP)
}
