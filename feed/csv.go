package feed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors from the CSV reader. They come wrapped with the file name and, where
// one line is at fault, its number ("load.csv:17: ..."), so test for them
// with errors.Is.
var (
	// ErrSyntax is a malformed CSV record, timestamp or value.
	ErrSyntax = errors.New("feed: syntax error")
	// ErrColumn is a time or value column that the header does not have, or
	// a value column that cannot be chosen without CSVOptions.Column.
	ErrColumn = errors.New("feed: column not found")
	// ErrNoData is an empty file or a header with no rows under it.
	ErrNoData = errors.New("feed: no data rows")
	// ErrStep is a file whose step cannot be inferred, having a single
	// distinct timestamp (or none less than 292 years apart), when no
	// CSVOptions.Step was given.
	ErrStep = errors.New("feed: cannot infer step")
	// ErrGridTooLong is a grid of more than MaxCSVPoints points, nearly
	// always a mistyped timestamp years away from the others.
	ErrGridTooLong = errors.New("feed: grid too long")
	// ErrOptions is a CSVOptions that fails Validate.
	ErrOptions = errors.New("feed: invalid options")
)

// MaxCSVPoints bounds the grid ReadCSV builds. Ten million points is 19
// years of minutes; a longer grid comes from a typo, and refusing it with
// the offending line beats allocating gigabytes of NaN.
const MaxCSVPoints = 10_000_000

// CSVOptions says which columns of a CSV file hold the load history and how
// far apart its grid points are. A nil *CSVOptions means the zero value.
type CSVOptions struct {
	// Column names the value column. Empty means the only column besides
	// the time column or, when there are several, the one named "value"
	// (the NAB convention).
	Column string
	// Step is the grid spacing. Zero infers it from the timestamps; set it
	// for a file too short or too irregular for inference to be trusted.
	Step time.Duration
	// TimeColumn names the timestamp column. Empty means "timestamp".
	TimeColumn string
}

// Validate reports options that cannot describe any file.
func (o *CSVOptions) Validate() error {
	if o == nil {
		return nil
	}
	if o.Step < 0 {
		return fmt.Errorf("%w: negative Step %v", ErrOptions, o.Step)
	}
	if col := strings.TrimSpace(o.Column); col != "" && strings.EqualFold(col, o.timeColumn()) {
		return fmt.Errorf("%w: Column and TimeColumn are both %q", ErrOptions, col)
	}
	return nil
}

func (o *CSVOptions) timeColumn() string {
	if name := strings.TrimSpace(o.TimeColumn); name != "" {
		return name
	}
	return "timestamp"
}

// CSVStats says how ReadCSVStats turned rows into a grid, so that a caller
// can report what was repaired ("merged 3 duplicate rows") instead of
// accepting it silently.
type CSVStats struct {
	// Rows is the number of data rows, not counting the header.
	Rows int
	// Duplicates counts rows averaged into a grid point that an earlier
	// row already filled: repeated timestamps and off-grid timestamps that
	// round to the same point.
	Duplicates int
	// OffGrid counts rows whose timestamp was not on the grid and was
	// rounded to the nearest grid point.
	OffGrid int
	// Missing counts grid points no row fell on; they are NaN. Series.Gaps
	// also counts the points whose rows had an empty or NaN value.
	Missing int
	// Reordered is true if the rows were not in time order and were sorted.
	Reordered bool
}

// ReadCSV reads a load history from CSV and places it on a regular grid.
// The name is used in error messages and as Series.Name.
//
// The first record is the header. The time column (CSVOptions.TimeColumn)
// and the value column (CSVOptions.Column) are found by name, ignoring case
// and surrounding space.
//
// A timestamp is detected per value as one of:
//   - RFC 3339, with or without fractional seconds:
//     "2024-01-02T15:04:05Z", "2024-01-02T15:04:05.250+02:00";
//   - "2006-01-02 15:04:05", with or without fractional seconds (NAB's
//     "2014-04-10 07:15:00.000000");
//   - either of those with a space or a "T" between date and time, and with
//     or without a zone; a timestamp without a zone is UTC;
//   - a date, "2006-01-02", meaning midnight UTC;
//   - Unix seconds, integer or decimal: "1700000000", "1700000000.25".
//
// A value is a float. An empty value or "NaN" is a gap. "Inf", "+Inf",
// "-Inf" and negative values are kept as they are: deciding what they mean
// is the forecaster's job, not the reader's.
//
// A timestamp or value that does not parse, or a record with the wrong
// number of fields, is an error that names the file and line
// (`load.csv:17: parse timestamp "2024-13-01": month out of range`) and
// matches ErrSyntax.
//
// The rows are then placed on a grid:
//   - Rows out of time order are sorted by time (stably), not rejected.
//   - Step is CSVOptions.Step or, if zero, the most common positive
//     difference between consecutive distinct timestamps (on a tie, the
//     smaller). A single distinct timestamp gives ErrStep.
//   - Start is the earliest timestamp, in UTC. A row at time t goes to grid
//     point round((t-Start)/Step); exactly halfway rounds up.
//   - Rows that land on the same grid point (repeated timestamps, or
//     off-grid ones rounding together) are averaged. NaN values are left
//     out of the mean unless every such row is NaN.
//   - Grid points no row lands on are NaN.
//   - A grid of more than MaxCSVPoints points is ErrGridTooLong, naming the
//     line of the timestamp that stretched it.
//
// ReadCSVStats does the same and also reports how many rows were merged,
// rounded or reordered.
func ReadCSV(r io.Reader, name string, opts *CSVOptions) (*Series, error) {
	s, _, err := readCSV(r, name, opts, MaxCSVPoints)
	return s, err
}

// ReadCSVStats is ReadCSV that also says what it repaired on the way.
func ReadCSVStats(r io.Reader, name string, opts *CSVOptions) (*Series, CSVStats, error) {
	return readCSV(r, name, opts, MaxCSVPoints)
}

// ReadCSVFile reads the CSV file at path as ReadCSV does, with the path as
// the name.
func ReadCSVFile(path string, opts *CSVOptions) (*Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCSV(f, path, opts)
}

// csvRow is one data row, kept until the step is known.
type csvRow struct {
	t int64 // Unix nanoseconds
	v float64
}

// endLines remembers the lines of the rows that will sort first and last,
// the only ones a grid error needs, so that rows need not carry a line.
type endLines struct {
	first, last   int
	firstT, lastT int64
}

// add notes a row. With a stable sort, the first row is the earliest
// timestamp's first occurrence and the last the latest's last occurrence.
func (e *endLines) add(t int64, line int) {
	if e.first == 0 || t < e.firstT {
		e.first, e.firstT = line, t
	}
	if e.last == 0 || t >= e.lastT {
		e.last, e.lastT = line, t
	}
}

func compareRows(a, b csvRow) int {
	switch {
	case a.t < b.t:
		return -1
	case a.t > b.t:
		return 1
	}
	return 0
}

// readCSV is ReadCSVStats with the grid limit as a parameter, so that the
// fuzz test can keep its allocations small.
func readCSV(r io.Reader, name string, opts *CSVOptions, maxPoints int) (*Series, CSVStats, error) {
	var stats CSVStats
	if err := opts.Validate(); err != nil {
		return nil, stats, err
	}
	var o CSVOptions
	if opts != nil {
		o = *opts
	}

	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, stats, &lineError{file: name, kind: ErrNoData, msg: "empty file, want a header row and data rows"}
	}
	if err != nil {
		return nil, stats, readError(name, err)
	}
	headerLine, _ := cr.FieldPos(0)
	header = slices.Clone(header) // the next Read reuses the slice
	timeIdx, valueIdx, err := findColumns(header, &o)
	if err != nil {
		return nil, stats, &lineError{file: name, line: headerLine, kind: ErrColumn, msg: err.Error()}
	}

	rows, ends, err := readRows(cr, name, timeIdx, valueIdx)
	if err != nil {
		return nil, stats, err
	}
	if len(rows) == 0 {
		return nil, stats, &lineError{file: name, line: headerLine, kind: ErrNoData, msg: "header but no data rows"}
	}
	stats.Rows = len(rows)

	if !slices.IsSortedFunc(rows, compareRows) {
		stats.Reordered = true
		slices.SortStableFunc(rows, compareRows)
	}
	step := int64(o.Step)
	if step == 0 {
		if step, err = inferStep(rows); err != nil {
			return nil, stats, &lineError{file: name, kind: ErrStep, msg: err.Error()}
		}
	}
	start := rows[0].t
	last, _ := gridIndex(rows[len(rows)-1].t, start, step)
	if last >= uint64(maxPoints) {
		return nil, stats, tooLong(name, rows, ends, step, last, maxPoints)
	}

	values := placeRows(rows, start, step, last, &stats)
	return &Series{
		Name:   name,
		Start:  time.Unix(0, start).UTC(),
		Step:   time.Duration(step),
		Values: values,
	}, stats, nil
}

// readRows reads the data rows: the time and value of each, and the lines
// they came from.
func readRows(cr *csv.Reader, name string, timeIdx, valueIdx int) ([]csvRow, endLines, error) {
	var (
		rows []csvRow
		ends endLines
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, ends, nil
		}
		if err != nil {
			return nil, ends, readError(name, err)
		}
		line, _ := cr.FieldPos(timeIdx)
		raw := rec[timeIdx]
		t, err := parseTimestamp(strings.TrimSpace(raw))
		if err != nil {
			return nil, ends, &lineError{file: name, line: line, kind: ErrSyntax,
				msg: fmt.Sprintf("parse timestamp %q: %v", raw, err), err: err}
		}
		raw = rec[valueIdx]
		v, err := parseValue(strings.TrimSpace(raw))
		if err != nil {
			line, _ := cr.FieldPos(valueIdx)
			return nil, ends, &lineError{file: name, line: line, kind: ErrSyntax,
				msg: fmt.Sprintf("parse value %q: %v", raw, err), err: err}
		}
		if len(rows) == cap(rows) {
			// Doubling: append grows large slices by only 1.25x, which
			// allocates five times the final size on the way up.
			rows = slices.Grow(rows, max(len(rows), 1024))
		}
		rows = append(rows, csvRow{t: t, v: v})
		ends.add(t, line)
	}
}

// placeRows puts the sorted rows on the grid of step from start, through
// index last: rows sharing a grid point are averaged, points without a row
// are NaN. stats counts the rows off the grid, the duplicates and the
// missing points.
func placeRows(rows []csvRow, start, step int64, last uint64, stats *CSVStats) []float64 {
	values := make([]float64, last+1)
	for i := range values {
		values[i] = math.NaN()
	}
	// Rows are sorted, so rows sharing a grid point are adjacent: merge
	// them in one pass, keeping a running sum of the non-NaN values.
	var (
		cur    = uint64(math.MaxUint64)
		sum    float64
		finite int // non-NaN rows at cur
		filled int // grid points with at least one row
	)
	for _, row := range rows {
		idx, exact := gridIndex(row.t, start, step)
		if !exact {
			stats.OffGrid++
		}
		if idx != cur {
			cur, sum, finite = idx, 0, 0
			filled++
		} else {
			stats.Duplicates++
		}
		if !math.IsNaN(row.v) {
			sum += row.v
			finite++
			values[idx] = sum / float64(finite)
		}
	}
	stats.Missing = len(values) - filled
	return values
}

// findColumns returns the indexes of the time and value columns of header.
func findColumns(header []string, o *CSVOptions) (timeIdx, valueIdx int, err error) {
	if len(header) > 0 {
		// Spreadsheets often save CSV with a byte order mark.
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	timeName := o.timeColumn()
	if timeIdx, err = findColumn(header, timeName); err != nil {
		return 0, 0, err
	}
	if timeIdx < 0 {
		return 0, 0, fmt.Errorf("no column %q; the columns are %s", timeName, quoteList(header))
	}
	if name := strings.TrimSpace(o.Column); name != "" {
		if valueIdx, err = findColumn(header, name); err != nil {
			return 0, 0, err
		}
		if valueIdx < 0 {
			return 0, 0, fmt.Errorf("no column %q; the columns are %s", name, quoteList(header))
		}
		return timeIdx, valueIdx, nil
	}
	if len(header) == 2 {
		return timeIdx, 1 - timeIdx, nil
	}
	if valueIdx, err = findColumn(header, "value"); err != nil {
		return 0, 0, err
	}
	if valueIdx < 0 {
		return 0, 0, fmt.Errorf("no value column among %s; set CSVOptions.Column", quoteList(header))
	}
	return timeIdx, valueIdx, nil
}

// findColumn returns the index of the column called name, or -1. A name
// that appears twice is an error: picking one would be a guess.
func findColumn(header []string, name string) (int, error) {
	found := -1
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), name) {
			if found >= 0 {
				return 0, fmt.Errorf("column %q appears twice, in columns %d and %d", name, found+1, i+1)
			}
			found = i
		}
	}
	return found, nil
}

func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	return b.String()
}

// Timestamps are kept as int64 Unix nanoseconds, which cover the years
// 1678 to 2262; these bounds on the seconds keep seconds*1e9+nanoseconds
// from overflowing.
const (
	minUnixSeconds = math.MinInt64 / 1_000_000_000
	maxUnixSeconds = math.MaxInt64/1_000_000_000 - 1
)

const timeRange = "out of range: years 1678 to 2262 only"

// parseTimestamp returns s as Unix nanoseconds. Its errors are reasons, to
// be prefixed with the file, line and value.
func parseTimestamp(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if isDecimal(s) {
		return parseUnix(s)
	}
	if sec, nsec, ok := parseDateTime(s); ok {
		if sec < minUnixSeconds || sec > maxUnixSeconds {
			return 0, errors.New(timeRange)
		}
		return sec*1e9 + nsec, nil
	}
	var layout string
	switch {
	case len(s) == len(time.DateOnly):
		layout = time.DateOnly
	case len(s) > 10 && (s[10] == 'T' || s[10] == ' '):
		// All four layouts also accept fractional seconds.
		zoned := hasZone(s[11:])
		switch {
		case s[10] == 'T' && zoned:
			layout = time.RFC3339
		case s[10] == 'T':
			layout = "2006-01-02T15:04:05"
		case zoned:
			layout = "2006-01-02 15:04:05Z07:00"
		default:
			layout = time.DateTime
		}
	default:
		return 0, errors.New(`unknown format, want RFC 3339, "2006-01-02 15:04:05" or Unix seconds`)
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			return 0, errors.New(strings.TrimPrefix(pe.Message, ": "))
		}
		return 0, fmt.Errorf("does not match %q", layout)
	}
	sec := t.Unix()
	if sec < minUnixSeconds || sec > maxUnixSeconds {
		return 0, errors.New(timeRange)
	}
	return sec*1e9 + int64(t.Nanosecond()), nil
}

// hasZone reports whether the time part of a timestamp ends in a zone.
func hasZone(clock string) bool {
	for i := 0; i < len(clock); i++ {
		if c := clock[i]; c == 'Z' || c == 'z' || c == '+' || c == '-' {
			return true
		}
	}
	return false
}

// parseDateTime is a fast path for the zoneless "2006-01-02 15:04:05" (or
// with a "T"), with optional fractional seconds, as UTC: time.Parse was
// most of the reading time. It returns ok false for anything else,
// including fields out of range, leaving time.Parse to say what is wrong.
func parseDateTime(s string) (sec, nsec int64, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	year, ok1 := atoiDigits(s[0:4])
	month, ok2 := atoiDigits(s[5:7])
	day, ok3 := atoiDigits(s[8:10])
	hour, ok4 := atoiDigits(s[11:13])
	minute, ok5 := atoiDigits(s[14:16])
	second, ok6 := atoiDigits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	if frac := s[19:]; frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return 0, 0, false
		}
		digits := frac[1:]
		if !allDigits(digits) {
			return 0, 0, false
		}
		for i := range 9 { // digits past nanoseconds are dropped
			nsec *= 10
			if i < len(digits) {
				nsec += int64(digits[i] - '0')
			}
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	return t.Unix(), nsec, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiDigits parses a short run of ASCII digits, without a sign.
func atoiDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isDecimal reports whether s is [+-]digits[.digits], the only shape taken
// as Unix seconds: a date like "2024-01-02" must not parse as a number.
func isDecimal(s string) bool {
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
		case c == '.' && dot < 0 && i > 0:
			dot = i
		default:
			return false
		}
	}
	return s != "" && dot != len(s)-1
}

// parseUnix parses a string that passed isDecimal without going through
// float64, whose 53 bits would round today's timestamps to about 0.2µs.
func parseUnix(s string) (int64, error) {
	neg := s[0] == '-'
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec > maxUnixSeconds {
		return 0, errors.New(timeRange)
	}
	var nsec int64
	for i := range 9 { // digits past nanoseconds are dropped
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	t := sec*1e9 + nsec
	if neg {
		t = -t
	}
	return t, nil
}

// parseValue parses a load value; empty means a gap.
func parseValue(s string) (float64, error) {
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return 0, ne.Err // the caller already quotes the value
		}
		return 0, err
	}
	return v, nil
}

// gridIndex returns the grid point nearest to t and whether t is exactly on
// it. Unsigned arithmetic keeps t-start exact over the whole int64 range.
func gridIndex(t, start, step int64) (idx uint64, exact bool) {
	d, s := uint64(t-start), uint64(step)
	idx, rem := d/s, d%s
	if rem >= s-rem {
		idx++
	}
	return idx, rem == 0
}

// inferStep returns the most common positive difference between consecutive
// timestamps of sorted rows, the smaller one on a tie.
func inferStep(rows []csvRow) (int64, error) {
	counts := make(map[int64]int)
	// Most files have long runs of one difference; counting a run before
	// touching the map keeps the map out of the inner loop.
	var run, runLen int64
	flush := func() {
		if runLen > 0 {
			counts[run] += int(runLen)
		}
	}
	farApart := false
	for i := 1; i < len(rows); i++ {
		d := uint64(rows[i].t - rows[i-1].t)
		if d == 0 {
			continue // a duplicate
		}
		if d > math.MaxInt64 {
			farApart = true // no time.Duration reaches across
			continue
		}
		if int64(d) == run {
			runLen++
			continue
		}
		flush()
		run, runLen = int64(d), 1
	}
	flush()
	if len(counts) == 0 {
		if farApart {
			return 0, errors.New("cannot infer the step: consecutive timestamps are over 292 years apart; set CSVOptions.Step")
		}
		return 0, errors.New("cannot infer the step from a single distinct timestamp; set CSVOptions.Step")
	}
	var best int64
	bestCount := 0
	for d, c := range counts {
		if c > bestCount || (c == bestCount && d < best) {
			best, bestCount = d, c
		}
	}
	return best, nil
}

// tooLong blames the timestamp at whichever end of the sorted rows is
// farther from the median: a typo sits alone, years away from the rest.
func tooLong(name string, rows []csvRow, ends endLines, step int64, last uint64, maxPoints int) error {
	first, median, end := rows[0].t, rows[(len(rows)-1)/2].t, rows[len(rows)-1].t
	culprit, culpritLine, other, otherLine, otherEnd := end, ends.last, first, ends.first, "first"
	if uint64(median-first) > uint64(end-median) {
		culprit, culpritLine, other, otherLine, otherEnd = first, ends.first, end, ends.last, "last"
	}
	return &lineError{file: name, line: culpritLine, kind: ErrGridTooLong, msg: fmt.Sprintf(
		"timestamp %s is too far from the %s one, %s (line %d): a %v grid would have %d points, more than %d",
		formatNanos(culprit), otherEnd, formatNanos(other), otherLine, time.Duration(step), last+1, maxPoints)}
}

func formatNanos(t int64) string {
	return time.Unix(0, t).UTC().Format(time.RFC3339Nano)
}

// readError reports a failure of the CSV layer: a *csv.ParseError becomes an
// ErrSyntax at its line, and anything else (an I/O error) is wrapped as is.
func readError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &lineError{file: name, line: pe.Line, kind: ErrSyntax, msg: pe.Err.Error(), err: pe.Err}
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// lineError is a failure in a file, at one line when line > 0. Its message
// leads with "file:line:" so that editors and terminals can jump to it, and
// it matches its sentinel (kind) under errors.Is without repeating the
// sentinel's text in the message.
type lineError struct {
	file string
	line int
	kind error
	msg  string
	err  error // the underlying cause, if any
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

func (e *lineError) Is(target error) bool { return target == e.kind }

func (e *lineError) Unwrap() error { return e.err }
