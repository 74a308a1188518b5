package feed

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prescale/prescale/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// tol is the tolerance for comparing values; they are parsed, not computed,
// except for means of merged rows.
const tol = 1e-12

var nan = math.NaN()

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err) // a typo in a test table
	}
	return t
}

func sameValues(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case math.IsNaN(w):
			if !math.IsNaN(g) {
				return false
			}
		case math.IsInf(w, 0):
			if g != w {
				return false
			}
		case math.IsNaN(g) || math.Abs(g-w) > tol*math.Max(1, math.Abs(w)):
			return false
		}
	}
	return true
}

func TestReadCSV(t *testing.T) {
	const dateTimes = "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n2024-01-01 00:02:00,3\n"
	tests := []struct {
		name      string
		in        string
		opts      *CSVOptions
		wantStart string // RFC 3339
		wantStep  time.Duration
		want      []float64
		wantStats CSVStats
	}{
		// Timestamp formats.
		{
			name:      "date time",
			in:        dateTimes,
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2, 3},
			wantStats: CSVStats{Rows: 3},
		},
		{
			name:      "date time with fractional seconds (NAB)",
			in:        "timestamp,value\n2014-04-10 07:15:00.000000,1\n2014-04-10 07:20:00.000000,2\n",
			wantStart: "2014-04-10T07:15:00Z", wantStep: 5 * time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "RFC 3339",
			in:        "timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:10Z,2\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: 10 * time.Second,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "RFC 3339 with fractional seconds and offsets",
			in:        "timestamp,value\n2024-01-01T02:00:00.250+02:00,1\n2024-01-01T00:00:01.25Z,2\n2023-12-31T19:00:02.250-05:00,3\n",
			wantStart: "2024-01-01T00:00:00.25Z", wantStep: time.Second,
			want:      []float64{1, 2, 3},
			wantStats: CSVStats{Rows: 3},
		},
		{
			name:      "T without zone is UTC",
			in:        "timestamp,value\n2024-01-01T00:00:00,1\n2024-01-01T01:00:00,2\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Hour,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "space with zone",
			in:        "timestamp,value\n2024-01-01 01:00:00+01:00,1\n2024-01-01 01:00:00Z,2\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Hour,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "date only",
			in:        "timestamp,value\n2024-02-28,1\n2024-02-29,2\n2024-03-02,4\n",
			wantStart: "2024-02-28T00:00:00Z", wantStep: 24 * time.Hour,
			want:      []float64{1, 2, nan, 4},
			wantStats: CSVStats{Rows: 3, Missing: 1},
		},
		{
			name:      "Unix seconds",
			in:        "timestamp,value\n1704067200,1\n1704067260,2\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "decimal Unix seconds keep nanoseconds",
			in:        "timestamp,value\n1704067200.123456789,1\n1704067200.223456789,2\n+1704067200.3234567891,3\n",
			wantStart: "2024-01-01T00:00:00.123456789Z", wantStep: 100 * time.Millisecond,
			want:      []float64{1, 2, 3},
			wantStats: CSVStats{Rows: 3},
		},
		{
			name:      "negative Unix seconds",
			in:        "timestamp,value\n-1.5,1\n-0.5,2\n",
			wantStart: "1969-12-31T23:59:58.5Z", wantStep: time.Second,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "formats mixed within a file",
			in:        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01T00:01:00Z,2\n1704067320,3\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2, 3},
			wantStats: CSVStats{Rows: 3},
		},
		{
			name:      "spaces around fields and quotes",
			in:        "timestamp,value\n 2024-01-01 00:00:00 , 1 \n\"2024-01-01 00:01:00\",\"2\"\n",
			wantStart: "2024-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},

		// Values.
		{
			name:      "Inf and negative values kept",
			in:        "timestamp,value\n0,+Inf\n1,-Inf\n2,Inf\n3,-2.5\n4,1e-3\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Second,
			want:      []float64{math.Inf(1), math.Inf(-1), math.Inf(1), -2.5, 0.001},
			wantStats: CSVStats{Rows: 5},
		},

		// Gaps.
		{
			name:      "missing rows, empty and NaN values are gaps",
			in:        "timestamp,value\n0,1\n60,\n120,NaN\n300,5\n360,nan\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, nan, nan, nan, nan, 5, nan},
			wantStats: CSVStats{Rows: 5, Missing: 2},
		},

		// Duplicates.
		{
			name:      "duplicates averaged",
			in:        "timestamp,value\n0,1\n60,2\n60,4\n60,9\n120,3\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 5, 3},
			wantStats: CSVStats{Rows: 5, Duplicates: 2},
		},
		{
			name:      "NaN left out of the mean",
			in:        "timestamp,value\n0,1\n60,NaN\n60,4\n60,\n120,3\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 4, 3},
			wantStats: CSVStats{Rows: 5, Duplicates: 2},
		},
		{
			name:      "all NaN duplicates stay NaN",
			in:        "timestamp,value\n0,1\n60,NaN\n60,\n120,3\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, nan, 3},
			wantStats: CSVStats{Rows: 4, Duplicates: 1},
		},
		{
			name:      "off-grid rows rounded to the nearest point, halfway up",
			in:        "timestamp,value\n0,1\n60,2\n149,3\n150,4\n269,5\n",
			opts:      &CSVOptions{Step: time.Minute},
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2, 3, 4, 5},
			wantStats: CSVStats{Rows: 5, OffGrid: 3},
		},
		{
			name:      "off-grid rows rounding together are merged",
			in:        "timestamp,value\n0,1\n60,2\n70,4\n120,3\n180,5\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 3, 3, 5},
			wantStats: CSVStats{Rows: 5, Duplicates: 1, OffGrid: 1},
		},
		{
			name:      "coarser Step merges rows",
			in:        dateTimes,
			opts:      &CSVOptions{Step: 2 * time.Minute},
			wantStart: "2024-01-01T00:00:00Z", wantStep: 2 * time.Minute,
			want:      []float64{1, 2.5},
			wantStats: CSVStats{Rows: 3, Duplicates: 1, OffGrid: 1},
		},

		// Order.
		{
			name:      "unordered rows sorted",
			in:        "timestamp,value\n120,3\n0,1\n180,4\n60,2\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2, 3, 4},
			wantStats: CSVStats{Rows: 4, Reordered: true},
		},
		{
			name:      "repeated timestamps in order are not reordering",
			in:        "timestamp,value\n0,1\n0,3\n60,2\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{2, 2},
			wantStats: CSVStats{Rows: 3, Duplicates: 1},
		},

		// Step.
		{
			name:      "most common difference wins",
			in:        "timestamp,value\n0,1\n60,2\n120,3\n150,4\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2, 3, 4},
			wantStats: CSVStats{Rows: 4, OffGrid: 1},
		},
		{
			name:      "tie goes to the smaller difference",
			in:        "timestamp,value\n0,1\n120,2\n180,3\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, nan, 2, 3},
			wantStats: CSVStats{Rows: 3, Missing: 1},
		},
		{
			name:      "single row with Step",
			in:        "timestamp,value\n0,7\n",
			opts:      &CSVOptions{Step: time.Minute},
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{7},
			wantStats: CSVStats{Rows: 1},
		},

		// Columns.
		{
			name:      "only other column is the value",
			in:        "requests,Timestamp\n1,0\n2,60\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "value column among several",
			in:        "host,timestamp,value,cpu\na,0,1,9\na,60,2,9\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "named columns, case and space ignored",
			in:        " Time , CPU ,value\n0,1,9\n60,2,9\n",
			opts:      &CSVOptions{Column: "cpu", TimeColumn: "TIME "},
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "byte order mark",
			in:        "\uFEFFtimestamp,value\n0,1\n60,2\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
		{
			name:      "CRLF and blank lines",
			in:        "timestamp,value\r\n\r\n0,1\r\n60,2\r\n\r\n",
			wantStart: "1970-01-01T00:00:00Z", wantStep: time.Minute,
			want:      []float64{1, 2},
			wantStats: CSVStats{Rows: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, stats, err := ReadCSVStats(strings.NewReader(tt.in), "load.csv", tt.opts)
			if err != nil {
				t.Fatalf("ReadCSVStats: %v", err)
			}
			if s.Name != "load.csv" {
				t.Errorf("Name = %q, want %q", s.Name, "load.csv")
			}
			if want := utc(tt.wantStart); !s.Start.Equal(want) || s.Start.Location() != time.UTC {
				t.Errorf("Start = %v, want %v in UTC", s.Start, want)
			}
			if s.Step != tt.wantStep {
				t.Errorf("Step = %v, want %v", s.Step, tt.wantStep)
			}
			if !sameValues(s.Values, tt.want) {
				t.Errorf("Values = %v, want %v", s.Values, tt.want)
			}
			if stats != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", stats, tt.wantStats)
			}

			// ReadCSV must agree with ReadCSVStats.
			s2, err := ReadCSV(strings.NewReader(tt.in), "load.csv", tt.opts)
			if err != nil {
				t.Fatalf("ReadCSV: %v", err)
			}
			if !s2.Start.Equal(s.Start) || s2.Step != s.Step || !sameValues(s2.Values, s.Values) {
				t.Errorf("ReadCSV = %+v, ReadCSVStats = %+v", s2, s)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		opts     *CSVOptions
		wantErr  error
		wantMsg  string
		wantAlso error // a second error the chain must match, if any
	}{
		{
			name:    "empty file",
			in:      "",
			wantErr: ErrNoData,
			wantMsg: "load.csv: empty file, want a header row and data rows",
		},
		{
			name:    "header only",
			in:      "timestamp,value\n",
			wantErr: ErrNoData,
			wantMsg: "load.csv:1: header but no data rows",
		},
		{
			name:    "single row without Step",
			in:      "timestamp,value\n0,1\n",
			wantErr: ErrStep,
			wantMsg: "load.csv: cannot infer the step from a single distinct timestamp; set CSVOptions.Step",
		},
		{
			name:    "one timestamp repeated without Step",
			in:      "timestamp,value\n0,1\n0,2\n",
			wantErr: ErrStep,
			wantMsg: "load.csv: cannot infer the step from a single distinct timestamp; set CSVOptions.Step",
		},
		{
			name:    "month out of range",
			in:      "timestamp,value\n2024-01-01 00:00:00,1\n2024-13-01,3\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:3: parse timestamp "2024-13-01": month out of range`,
		},
		{
			name:    "hour out of range",
			in:      "timestamp,value\n2024-01-01 25:00:00,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "2024-01-01 25:00:00": hour out of range`,
		},
		{
			name:    "February 30",
			in:      "timestamp,value\n2023-02-29T00:00:00Z,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "2023-02-29T00:00:00Z": day out of range`,
		},
		{
			name:    "truncated time",
			in:      "timestamp,value\n2024-01-01 10:00,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "2024-01-01 10:00": does not match "2006-01-02 15:04:05"`,
		},
		{
			name:    "unknown timestamp format",
			in:      "timestamp,value\n0,1\n60,1\nyesterday,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:4: parse timestamp "yesterday": unknown format, want RFC 3339, "2006-01-02 15:04:05" or Unix seconds`,
		},
		{
			name:    "exponent is not Unix seconds",
			in:      "timestamp,value\n1.7e9,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "1.7e9": unknown format, want RFC 3339, "2006-01-02 15:04:05" or Unix seconds`,
		},
		{
			name:    "empty timestamp",
			in:      "timestamp,value\n,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "": empty`,
		},
		{
			name:    "year past 2262",
			in:      "timestamp,value\n2300-01-01T00:00:00Z,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "2300-01-01T00:00:00Z": out of range: years 1678 to 2262 only`,
		},
		{
			name:    "Unix seconds past 2262",
			in:      "timestamp,value\n99999999999,1\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse timestamp "99999999999": out of range: years 1678 to 2262 only`,
		},
		{
			name:    "bad value",
			in:      "timestamp,value\n0,1\n60,2\n120,12abc\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:4: parse value "12abc": invalid syntax`,
		},
		{
			name:    "value out of range",
			in:      "timestamp,value\n0,1e999\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:2: parse value "1e999": value out of range`,
		},
		{
			name:     "wrong number of fields",
			in:       "timestamp,value\n0,1\n60\n",
			wantErr:  ErrSyntax,
			wantMsg:  "load.csv:3: wrong number of fields",
			wantAlso: csv.ErrFieldCount,
		},
		{
			name:     "bare quote",
			in:       "timestamp,value\n0,1\n60,2\"\n",
			wantErr:  ErrSyntax,
			wantMsg:  `load.csv:3: bare " in non-quoted-field`,
			wantAlso: csv.ErrBareQuote,
		},
		{
			name:    "line counts a quoted newline and blank lines",
			in:      "timestamp,value,note\n0,1,\"two\nlines\"\n\n60,x,\n",
			wantErr: ErrSyntax,
			wantMsg: `load.csv:5: parse value "x": invalid syntax`,
		},
		{
			name:    "no time column",
			in:      "time,value\n0,1\n",
			wantErr: ErrColumn,
			wantMsg: `load.csv:1: no column "timestamp"; the columns are "time", "value"`,
		},
		{
			name:    "no named value column",
			in:      "timestamp,value\n0,1\n",
			opts:    &CSVOptions{Column: "cpu"},
			wantErr: ErrColumn,
			wantMsg: `load.csv:1: no column "cpu"; the columns are "timestamp", "value"`,
		},
		{
			name:    "no value column to choose",
			in:      "timestamp,cpu,memory\n0,1,2\n",
			wantErr: ErrColumn,
			wantMsg: `load.csv:1: no value column among "timestamp", "cpu", "memory"; set CSVOptions.Column`,
		},
		{
			name:    "time column only",
			in:      "timestamp\n0\n",
			wantErr: ErrColumn,
			wantMsg: `load.csv:1: no value column among "timestamp"; set CSVOptions.Column`,
		},
		{
			name:    "column named twice",
			in:      "timestamp,value,Value\n0,1,2\n",
			wantErr: ErrColumn,
			wantMsg: `load.csv:1: column "value" appears twice, in columns 2 and 3`,
		},
		{
			name: "typo years after",
			in: "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n" +
				"2024-01-01 00:02:00,3\n2124-01-01 00:03:00,4\n",
			wantErr: ErrGridTooLong,
			wantMsg: "load.csv:5: timestamp 2124-01-01T00:03:00Z is too far from the first one, " +
				"2024-01-01T00:00:00Z (line 2): a 1m0s grid would have 52594564 points, more than 10000000",
		},
		{
			name: "typo years before",
			in: "timestamp,value\n1924-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n" +
				"2024-01-01 00:02:00,3\n2024-01-01 00:03:00,4\n",
			wantErr: ErrGridTooLong,
			wantMsg: "load.csv:2: timestamp 1924-01-01T00:00:00Z is too far from the last one, " +
				"2024-01-01T00:03:00Z (line 5): a 1m0s grid would have 52596004 points, more than 10000000",
		},
		{
			name: "typo in the middle of unordered rows",
			in: "timestamp,value\n2024-01-01 00:00:00,1\n2124-01-01 00:03:00,2\n" +
				"2024-01-01 00:01:00,3\n2024-01-01 00:02:00,4\n2124-01-01 00:03:00,5\n2024-01-01 00:03:00,6\n",
			wantErr: ErrGridTooLong,
			wantMsg: "load.csv:6: timestamp 2124-01-01T00:03:00Z is too far from the first one, " +
				"2024-01-01T00:00:00Z (line 2): a 1m0s grid would have 52594564 points, more than 10000000",
		},
		{
			name: "typo first among repeated earliest timestamps",
			in: "timestamp,value\n2024-01-01 00:02:00,1\n1924-01-01 00:00:00,2\n" +
				"1924-01-01 00:00:00,3\n2024-01-01 00:01:00,4\n2024-01-01 00:03:00,5\n",
			wantErr: ErrGridTooLong,
			wantMsg: "load.csv:3: timestamp 1924-01-01T00:00:00Z is too far from the last one, " +
				"2024-01-01T00:03:00Z (line 6): a 1m0s grid would have 52596004 points, more than 10000000",
		},
		{
			name:    "Step too fine",
			in:      "timestamp,value\n0,1\n60,2\n",
			opts:    &CSVOptions{Step: time.Nanosecond},
			wantErr: ErrGridTooLong,
			wantMsg: "load.csv:3: timestamp 1970-01-01T00:01:00Z is too far from the first one, " +
				"1970-01-01T00:00:00Z (line 2): a 1ns grid would have 60000000001 points, more than 10000000",
		},
		{
			name:    "span over 292 years",
			in:      "timestamp,value\n1700-01-01T00:00:00Z,1\n2200-01-01T00:00:00Z,2\n",
			wantErr: ErrStep,
			wantMsg: "load.csv: cannot infer the step: consecutive timestamps are over 292 years apart; set CSVOptions.Step",
		},
		{
			name:    "negative Step",
			in:      "timestamp,value\n0,1\n",
			opts:    &CSVOptions{Step: -time.Minute},
			wantErr: ErrOptions,
			wantMsg: "feed: invalid options: negative Step -1m0s",
		},
		{
			name:    "value column is the time column",
			in:      "timestamp,value\n0,1\n",
			opts:    &CSVOptions{Column: "Timestamp"},
			wantErr: ErrOptions,
			wantMsg: `feed: invalid options: Column and TimeColumn are both "Timestamp"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ReadCSV(strings.NewReader(tt.in), "load.csv", tt.opts)
			if err == nil {
				t.Fatalf("ReadCSV = %+v, want error %q", s, tt.wantMsg)
			}
			if s != nil {
				t.Errorf("ReadCSV returned a series with error %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not match %v", err, tt.wantErr)
			}
			if tt.wantAlso != nil && !errors.Is(err, tt.wantAlso) {
				t.Errorf("error %v does not match %v", err, tt.wantAlso)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error\n got %s\nwant %s", err, tt.wantMsg)
			}
		})
	}
}

func TestReadCSVReaderError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	_, err := ReadCSV(iotest.ErrReader(errDisk), "load.csv", nil)
	if !errors.Is(err, errDisk) {
		t.Fatalf("error %v does not wrap %v", err, errDisk)
	}
	if want := "read load.csv: disk on fire"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// A half-read file: the error arrives after some rows.
	r := iotest.DataErrReader(strings.NewReader("timestamp,value\n0,1\n60,2\n"))
	r = io.MultiReader(r, iotest.ErrReader(errDisk))
	if _, err := ReadCSV(r, "load.csv", nil); !errors.Is(err, errDisk) {
		t.Errorf("error %v does not wrap %v", err, errDisk)
	}
}

func TestReadCSVFile(t *testing.T) {
	path := filepath.Join("testdata", "nasa_gap.csv")
	s, err := ReadCSVFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != path {
		t.Errorf("Name = %q, want %q", s.Name, path)
	}
	if s.Len() != 8 || s.Gaps() != 3 {
		t.Errorf("Len, Gaps = %d, %d, want 8, 3", s.Len(), s.Gaps())
	}

	_, err = ReadCSVFile(filepath.Join("testdata", "no_such.csv"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want os.ErrNotExist", err)
	}

	_, err = ReadCSVFile(filepath.Join("testdata", "bad_timestamp.csv"), nil)
	if want := `testdata/bad_timestamp.csv:4: parse timestamp "2024-13-01": month out of range`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestCSVOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts *CSVOptions
		ok   bool
	}{
		{"nil", nil, true},
		{"zero", &CSVOptions{}, true},
		{"all set", &CSVOptions{Column: "cpu", Step: time.Minute, TimeColumn: "time"}, true},
		{"negative step", &CSVOptions{Step: -1}, false},
		{"column is default time column", &CSVOptions{Column: " TIMESTAMP"}, false},
		{"column is time column", &CSVOptions{Column: "t", TimeColumn: "T"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrOptions) {
				t.Errorf("Validate() = %v, want ErrOptions", err)
			}
		})
	}
}

// dump renders a read for a golden file: one line per grid point, so that a
// diff points at the changed point.
func dump(s *Series, stats CSVStats, err error) []byte {
	var b bytes.Buffer
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "name: %s\nstart: %s\nstep: %v\nlen: %d\ngaps: %d\n",
		s.Name, s.Start.Format(time.RFC3339Nano), s.Step, s.Len(), s.Gaps())
	fmt.Fprintf(&b, "stats: %+v\n", stats)
	for i, v := range s.Values {
		fmt.Fprintf(&b, "%d %s %s\n", i, s.Time(i).Format(time.RFC3339Nano), strconv.FormatFloat(v, 'g', -1, 64))
	}
	return b.Bytes()
}

func TestReadCSVGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.csv files")
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, stats, err := ReadCSVStats(bytes.NewReader(in), name, nil)
			got := dump(s, stats, err)
			golden := strings.TrimSuffix(file, ".csv") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("ReadCSVStats(%s) differs from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", file, golden, got, want)
			}
		})
	}
}

// dataDir is the shared benchmark data. It must exist: a test that quietly
// skips when the data is missing would let CI pass without checking it.
func dataDir(tb testing.TB) string { return feedtest.DataDir(tb) }

func nasaPath(tb testing.TB) string {
	return filepath.Join(dataDir(tb), "nasa_http", "nasa_http_1995_requests_per_minute.csv")
}

func TestReadCSVNASA(t *testing.T) {
	f, err := os.Open(nasaPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, stats, err := ReadCSVStats(f, "nasa.csv", nil)
	if err != nil {
		t.Fatal(err)
	}

	if want := utc("1995-07-01T00:00:00Z"); !s.Start.Equal(want) {
		t.Errorf("Start = %v, want %v", s.Start, want)
	}
	if s.Step != time.Minute {
		t.Errorf("Step = %v, want 1m", s.Step)
	}
	// July and August 1995, every minute.
	if want := (31 + 31) * 24 * 60; s.Len() != want {
		t.Errorf("Len = %d, want %d", s.Len(), want)
	}
	// The log is missing from 1995-07-28 13:32 (last row) to 1995-08-01 00:00.
	gapStart := int(utc("1995-07-28T13:33:00Z").Sub(s.Start) / time.Minute)
	gapEnd := int(utc("1995-08-01T00:00:00Z").Sub(s.Start) / time.Minute)
	if math.IsNaN(s.Values[gapStart-1]) || math.IsNaN(s.Values[gapEnd]) {
		t.Errorf("the points around the gap are NaN: %v, %v", s.Values[gapStart-1], s.Values[gapEnd])
	}
	for i := gapStart; i < gapEnd; i++ {
		if !math.IsNaN(s.Values[i]) {
			t.Fatalf("Values[%d] at %v = %v, want NaN (log missing)", i, s.Time(i), s.Values[i])
		}
	}
	if s.Gaps() != gapEnd-gapStart {
		t.Errorf("Gaps = %d, want %d: only the missing log", s.Gaps(), gapEnd-gapStart)
	}
	want := CSVStats{Rows: 84333, Missing: gapEnd - gapStart}
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	var total float64
	for _, v := range s.Values {
		if !math.IsNaN(v) {
			total += v
		}
	}
	if total != 3461610 {
		t.Errorf("total requests = %v, want 3461610", total)
	}
}

func TestReadCSVNAB(t *testing.T) {
	path := filepath.Join(dataDir(t), "nab", "data", "realKnownCause", "nyc_taxi.csv")
	s, err := ReadCSVFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := utc("2014-07-01T00:00:00Z"); !s.Start.Equal(want) {
		t.Errorf("Start = %v, want %v", s.Start, want)
	}
	if s.Step != 30*time.Minute {
		t.Errorf("Step = %v, want 30m", s.Step)
	}
	// 2014-07-01 to 2015-01-31 every half hour, complete.
	if s.Len() != 10320 || s.Gaps() != 0 {
		t.Errorf("Len, Gaps = %d, %d, want 10320, 0", s.Len(), s.Gaps())
	}
	if s.Values[0] != 10844 || s.Values[s.Len()-1] != 26288 {
		t.Errorf("first, last = %v, %v, want 10844, 26288", s.Values[0], s.Values[s.Len()-1])
	}
}

// fuzzMaxPoints keeps each fuzzed read small; the real limit is tested above.
const fuzzMaxPoints = 1 << 16

func FuzzReadCSV(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		in, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(in), int64(0))
	}
	for _, in := range []string{
		"",
		"timestamp,value\n",
		"timestamp,value\n0,1\n",
		"timestamp,value\n0,1\n0,NaN\n60,\n30,+Inf\n",
		"timestamp,value\n-9223372036,1\n9223372035.999999999,2\n",
		"timestamp,value\n1678-01-01T00:00:00Z,1\n2262-04-11T23:47:16.854775807Z,2\n",
		"timestamp,value\n2024-02-29,1\n2024-03-01 00:00:00.5+14:00,-1\n1709251200.25,-Inf\n",
		"value,timestamp,other\n1,0,\"a\nb\"\n2,1e9,x\n",
		"\uFEFFTimestamp , VALUE\n0,1\n3600,2\n",
	} {
		f.Add(in, int64(0))
		f.Add(in, int64(time.Second))
	}
	f.Add("timestamp,value\n0,1\n", int64(-1))

	f.Fuzz(func(t *testing.T, in string, step int64) {
		opts := &CSVOptions{Step: time.Duration(step)}
		s, stats, err := readCSV(strings.NewReader(in), "fuzz.csv", opts, fuzzMaxPoints)
		if err != nil {
			if s != nil {
				t.Errorf("series and error %v", err)
			}
			// Every failure on well-read input is one the caller can classify.
			for _, sentinel := range []error{ErrSyntax, ErrColumn, ErrNoData, ErrStep, ErrGridTooLong, ErrOptions} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("unclassified error: %v", err)
		}
		if s.Step <= 0 {
			t.Fatalf("Step = %v", s.Step)
		}
		if step > 0 && s.Step != time.Duration(step) {
			t.Fatalf("Step = %v, want %v", s.Step, time.Duration(step))
		}
		if s.Len() < 1 || s.Len() > fuzzMaxPoints {
			t.Fatalf("Len = %d", s.Len())
		}
		if stats.Rows < 1 || stats.Rows != s.Len()-stats.Missing+stats.Duplicates {
			t.Fatalf("stats %+v do not add up for %d points", stats, s.Len())
		}
		if stats.Missing > s.Gaps() || stats.OffGrid > stats.Rows {
			t.Fatalf("stats %+v with %d NaN points", stats, s.Gaps())
		}
	})
}

// FuzzParseTimestamp checks the hand-written fast path for
// "2006-01-02 15:04:05" against time.Parse, and that nothing panics.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{
		"2024-01-01 00:00:00", "2014-04-10 07:15:00.000000", "2024-02-29T23:59:59.999999999",
		"2023-02-29 00:00:00", "2024-04-31 00:00:00", "2024-01-01 24:00:00", "2024-01-01 00:60:00",
		"2024-01-01 00:00:60", "2024-01-01 00:00:00.", "2024-01-01 00:00:00.1234567891", "2024-01-01 00:00:00,5",
		"0000-02-29 00:00:00", "9999-12-31 23:59:59", "2024-01-01 1:00:00.5", "2024-01-01T00:00:00+02:00",
		"2024-01-01", "1700000000.5", "-1.5", "+.5", "1.", "", "yesterday",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseTimestamp(s) // must not panic, whatever s is
		sec, nsec, ok := parseDateTime(s)
		if !ok {
			return
		}
		layout := time.DateTime
		if s[10] == 'T' {
			layout = "2006-01-02T15:04:05"
		}
		want, err := time.Parse(layout, s)
		if err != nil {
			t.Fatalf("parseDateTime(%q) ok, time.Parse: %v", s, err)
		}
		if sec != want.Unix() || nsec != int64(want.Nanosecond()) {
			t.Fatalf("parseDateTime(%q) = %d, %d, time.Parse: %d, %d", s, sec, nsec, want.Unix(), want.Nanosecond())
		}
	})
}

func BenchmarkReadCSVNASA(b *testing.B) {
	in, err := os.ReadFile(nasaPath(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := ReadCSV(bytes.NewReader(in), "nasa.csv", nil)
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 89280 {
			b.Fatalf("Len = %d", s.Len())
		}
	}
}

// minuteCSV is a CSV file of n rows of one-minute load, "timestamp,value",
// timestamps as the NASA trace has them.
func minuteCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("timestamp,value\n")
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		b.WriteString(t.Add(time.Duration(i) * time.Minute).Format(time.DateTime))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(500+200*math.Sin(2*math.Pi*float64(i)/1440), 'f', 2, 64))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkReadCSVMemory reads n rows of one-minute data and reports the
// bytes allocated per row and the peak heap above the input per row
// (sampled; see feedtest.PeakHeap): the Series returned is 8 bytes a row.
func BenchmarkReadCSVMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		in := minuteCSV(n)
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var peak uint64
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				peak = max(peak, feedtest.PeakHeap(func() {
					s, err := ReadCSV(bytes.NewReader(in), "load.csv", nil)
					if err != nil {
						b.Fatal(err)
					}
					if s.Len() != n {
						b.Fatalf("Len = %d, want %d", s.Len(), n)
					}
				}))
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(peak)/float64(n), "peak-B/row")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(n), "alloc-B/row")
		})
	}
}
