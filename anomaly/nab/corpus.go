package nab

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the timestamp format of NAB's data and label files. Label
// timestamps carry a fractional second (".000000"), which time.Parse accepts
// without it being in the layout.
const TimeLayout = "2006-01-02 15:04:05"

// Corpus paths, relative to the root of a NAB checkout.
const (
	dataDir    = "data"
	labelsPath = "labels/combined_windows.json"
)

// Window is a labeled anomaly window as an inclusive range of row indices.
type Window struct {
	Start, End int
}

// File is one series of the corpus with its ground-truth windows.
type File struct {
	// Name is the path relative to data/, e.g. "realKnownCause/nyc_taxi.csv";
	// it is the key of the file in labels/combined_windows.json.
	Name string
	// Timestamps may be nil; if not, it has one entry per row.
	Timestamps []time.Time
	// Values holds the series; its length is the file's number of rows.
	Values []float64
	// Windows are in row order and do not overlap.
	Windows []Window
}

// Rows returns the number of rows, the length of Values.
func (f *File) Rows() int { return len(f.Values) }

// Validate reports whether Timestamps matches Values in length and every
// window is a non-empty row range inside the file that starts after the
// previous window ends.
func (f *File) Validate() error {
	n := f.Rows()
	if f.Timestamps != nil && len(f.Timestamps) != n {
		return fmt.Errorf("%s: %d timestamps for %d values: %w", f.label(), len(f.Timestamps), n, ErrLength)
	}
	prevEnd := -1
	for k, w := range f.Windows {
		if w.Start <= prevEnd || w.Start > w.End || w.End >= n {
			return fmt.Errorf("%s: window %d [%d, %d] of %d rows (previous ends at %d): %w",
				f.label(), k, w.Start, w.End, n, prevEnd, ErrWindow)
		}
		prevEnd = w.End
	}
	return nil
}

func (f *File) label() string {
	if f.Name == "" {
		return "unnamed file"
	}
	return f.Name
}

// LoadCorpus reads every data/**/*.csv file (header "timestamp,value") and
// the windows of labels/combined_windows.json from fsys, which is rooted at
// a NAB checkout (os.DirFS(dir)). Files come sorted by name. Window
// timestamps are mapped to rows the way NAB's sweeper does: a window spans
// from the first row stamped with its start to the first row stamped with
// its end. Every data file needs an entry in the labels, and every label
// entry a data file.
func LoadCorpus(fsys fs.FS) ([]File, error) {
	var names []string
	err := fs.WalkDir(fsys, dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".csv") {
			names = append(names, strings.TrimPrefix(p, dataDir+"/"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dataDir, err)
	}
	slices.Sort(names)

	labels, err := readLabels(fsys)
	if err != nil {
		return nil, err
	}

	files := make([]File, 0, len(names))
	for _, name := range names {
		f, err := readDataFile(fsys, name)
		if err != nil {
			return nil, err
		}
		limits, ok := labels[name]
		if !ok {
			return nil, fmt.Errorf("%s: no entry for %s: %w", labelsPath, name, ErrFormat)
		}
		delete(labels, name)
		if f.Windows, err = mapWindows(f.Timestamps, limits); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", labelsPath, name, err)
		}
		files = append(files, f)
	}
	if len(labels) > 0 {
		extra := make([]string, 0, len(labels))
		for name := range labels {
			extra = append(extra, name)
		}
		slices.Sort(extra)
		return nil, fmt.Errorf("%s: windows for files not in %s: %s: %w",
			labelsPath, dataDir, strings.Join(extra, ", "), ErrFormat)
	}
	return files, nil
}

// readLabels parses the labels file into timestamp pairs per file.
func readLabels(fsys fs.FS) (map[string][][2]time.Time, error) {
	raw, err := fs.ReadFile(fsys, labelsPath)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	var doc map[string][][]string
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", labelsPath, jsonErrorLine(raw, err), err)
	}
	out := make(map[string][][2]time.Time, len(doc))
	for name, windows := range doc {
		limits := make([][2]time.Time, len(windows))
		for k, w := range windows {
			if len(w) != 2 {
				return nil, fmt.Errorf("%s: %s window %d has %d timestamps, want 2: %w", labelsPath, name, k, len(w), ErrFormat)
			}
			for j, s := range w {
				t, err := time.Parse(TimeLayout, s)
				if err != nil {
					return nil, fmt.Errorf("%s: %s window %d: %w", labelsPath, name, k, err)
				}
				limits[k][j] = t
			}
		}
		out[name] = limits
	}
	return out, nil
}

// jsonErrorLine returns the 1-based line of a JSON decoding error, or 0.
func jsonErrorLine(raw []byte, err error) int {
	var offset int64
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	default:
		return 0
	}
	offset = min(max(offset, 0), int64(len(raw)))
	return 1 + bytes.Count(raw[:offset], []byte{'\n'})
}

// mapWindows turns timestamp limits into row ranges. Like NAB's sweeper it
// uses the first row carrying each timestamp (NAB files can repeat a
// timestamp around a daylight-saving change).
func mapWindows(ts []time.Time, limits [][2]time.Time) ([]Window, error) {
	if len(limits) == 0 {
		return nil, nil
	}
	first := make(map[int64]int, len(ts))
	for i, t := range ts {
		k := t.UnixNano()
		if _, ok := first[k]; !ok {
			first[k] = i
		}
	}
	windows := make([]Window, len(limits))
	prevEnd := -1
	for k, lim := range limits {
		var rows [2]int
		for j, t := range lim {
			i, ok := first[t.UnixNano()]
			if !ok {
				return nil, fmt.Errorf("window %d: timestamp %s not in the file: %w", k, t.Format(TimeLayout), ErrWindow)
			}
			rows[j] = i
		}
		w := Window{Start: rows[0], End: rows[1]}
		if w.Start > w.End || w.Start <= prevEnd {
			return nil, fmt.Errorf("window %d [%s, %s] is rows [%d, %d], previous window ends at row %d: %w",
				k, lim[0].Format(TimeLayout), lim[1].Format(TimeLayout), w.Start, w.End, prevEnd, ErrWindow)
		}
		windows[k] = w
		prevEnd = w.End
	}
	return windows, nil
}

// readDataFile parses one data/<name> CSV file.
func readDataFile(fsys fs.FS, name string) (File, error) {
	p := path.Join(dataDir, name)
	fh, err := fsys.Open(p)
	if err != nil {
		return File{}, fmt.Errorf("open %s: %w", p, err)
	}
	defer fh.Close()
	f, err := parseData(bufio.NewReader(fh), p)
	f.Name = name
	return f, err
}

// parseData reads a "timestamp,value" CSV; p names the file in errors.
func parseData(r io.Reader, p string) (File, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return File{}, fmt.Errorf("%s: empty file, want header timestamp,value: %w", p, ErrFormat)
	}
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", p, err)
	}
	if header[0] != "timestamp" || header[1] != "value" {
		return File{}, fmt.Errorf("%s:1: header %q,%q, want timestamp,value: %w", p, header[0], header[1], ErrFormat)
	}
	var f File
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return File{}, fmt.Errorf("%s: %w", p, err)
		}
		line, _ := cr.FieldPos(0)
		t, err := time.Parse(TimeLayout, rec[0])
		if err != nil {
			return File{}, fmt.Errorf("%s:%d: timestamp: %w", p, line, err)
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return File{}, fmt.Errorf("%s:%d: value: %w", p, line, err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return File{}, fmt.Errorf("%s:%d: value %q is not finite: %w", p, line, rec[1], ErrFormat)
		}
		f.Timestamps = append(f.Timestamps, t)
		f.Values = append(f.Values, v)
	}
}
