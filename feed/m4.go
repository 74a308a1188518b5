package feed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// ReadM4 reads an M4 competition file (wide format: a header row, then one
// series a row, its id in the first column and its values after it, padded
// with empty cells, which are dropped; an empty cell inside a series is a
// NaN gap). Series have no timestamps; each starts at the zero
// time with the given step. name is used in errors.
func ReadM4(r io.Reader, name string, step time.Duration) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Series
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %w", name, line, ErrSyntax, err)
		}
		if line == 1 {
			continue // header
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s:%d: %w: a series needs an id and values, have %d fields", name, line, ErrSyntax, len(rec))
		}
		s := Series{Name: strings.TrimSpace(rec[0]), Step: step}
		for col, field := range rec[1:] {
			field = strings.TrimSpace(field)
			if field == "" || field == "NA" {
				s.Values = append(s.Values, math.NaN()) // padding if trailing
				continue
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s:%d: %w: column %d: parse value %q", name, line, ErrSyntax, col+2, field)
			}
			s.Values = append(s.Values, v)
		}
		for len(s.Values) > 0 && math.IsNaN(s.Values[len(s.Values)-1]) {
			s.Values = s.Values[:len(s.Values)-1]
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoData)
	}
	return out, nil
}

// ReadM4File is ReadM4 on a file.
func ReadM4File(path string, step time.Duration) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadM4(f, path, step)
}
