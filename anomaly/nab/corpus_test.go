package nab

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const (
	goodA = "timestamp,value\n" +
		"2014-04-01 00:00:00,1\n" +
		"2014-04-01 00:05:00,2\n" +
		"2014-04-01 00:10:00,3\n" +
		"2014-04-01 00:15:00,4\n" +
		"2014-04-01 00:10:00,5\n" + // repeated, as around a DST change
		"2014-04-01 00:20:00,6\n"
	goodB = "timestamp,value\n" +
		"2015-01-01 00:00:00,1.5\n" +
		"2015-01-01 01:00:00,-2e3\n"
	goodLabels = `{
    "g1/b.csv": [],
    "g0/a.csv": [
        ["2014-04-01 00:05:00.000000", "2014-04-01 00:10:00.000000"],
        ["2014-04-01 00:15:00.000000", "2014-04-01 00:20:00.000000"]
    ]
}`
)

// corpusFS builds a NAB-like tree; a value of "" removes the file.
func corpusFS(edits map[string]string) fstest.MapFS {
	files := map[string]string{
		"data/g0/a.csv":                goodA,
		"data/g1/b.csv":                goodB,
		"data/README.md":               "not a data file",
		"labels/combined_windows.json": goodLabels,
	}
	for k, v := range edits {
		files[k] = v
	}
	fsys := fstest.MapFS{}
	for k, v := range files {
		if v != "" {
			fsys[k] = &fstest.MapFile{Data: []byte(v)}
		}
	}
	return fsys
}

func TestLoadCorpus(t *testing.T) {
	files, err := LoadCorpus(corpusFS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "g0/a.csv" || files[1].Name != "g1/b.csv" {
		t.Fatalf("files %v, want g0/a.csv and g1/b.csv in that order", files)
	}
	a := files[0]
	if a.Rows() != 6 || len(a.Timestamps) != 6 || a.Values[5] != 6 {
		t.Errorf("a.csv: %d rows, %d timestamps, values %v", a.Rows(), len(a.Timestamps), a.Values)
	}
	if want := time.Date(2014, 4, 1, 0, 15, 0, 0, time.UTC); !a.Timestamps[3].Equal(want) {
		t.Errorf("a.csv row 3 at %v, want %v", a.Timestamps[3], want)
	}
	// The window ending at the repeated 00:10 ends at its first row.
	if want := []Window{{1, 2}, {3, 5}}; len(a.Windows) != 2 || a.Windows[0] != want[0] || a.Windows[1] != want[1] {
		t.Errorf("a.csv windows %v, want %v", a.Windows, want)
	}
	if b := files[1]; len(b.Windows) != 0 || b.Values[1] != -2000 {
		t.Errorf("b.csv: windows %v, values %v", b.Windows, b.Values)
	}
}

func TestLoadCorpusErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edits   map[string]string
		want    error  // nil: only check the message
		mention string // must appear in the error
	}{
		{"no labels", map[string]string{"labels/combined_windows.json": ""}, fs.ErrNotExist, "read labels"},
		{"no data dir", map[string]string{"data/g0/a.csv": "", "data/g1/b.csv": "", "data/README.md": ""}, fs.ErrNotExist, "list data"},
		{"empty file", map[string]string{"data/g1/b.csv": "\n"}, ErrFormat, "data/g1/b.csv: empty file"},
		{"wrong header", map[string]string{"data/g1/b.csv": "time,value\n2015-01-01 00:00:00,1\n"}, ErrFormat, "data/g1/b.csv:1: header"},
		{"bad value", map[string]string{"data/g1/b.csv": "timestamp,value\n2015-01-01 00:00:00,1\n2015-01-01 01:00:00,x\n"}, nil, "data/g1/b.csv:3: value"},
		{"NaN value", map[string]string{"data/g1/b.csv": "timestamp,value\n2015-01-01 00:00:00,NaN\n"}, ErrFormat, "data/g1/b.csv:2: value"},
		{"bad timestamp", map[string]string{"data/g1/b.csv": "timestamp,value\n2015-01-01 00:00:00,1\n2015-13-01 01:00:00,2\n"}, nil, "data/g1/b.csv:3: timestamp"},
		{"extra field", map[string]string{"data/g1/b.csv": "timestamp,value\n2015-01-01 00:00:00,1,2\n"}, nil, "data/g1/b.csv: record on line 2"},
		{"malformed labels", map[string]string{"labels/combined_windows.json": "{\n\"g0/a.csv\": [\n,\n]}"}, nil, "labels/combined_windows.json:3"},
		{"labels of the wrong type", map[string]string{"labels/combined_windows.json": "{\n\"g0/a.csv\": 7}"}, nil, "labels/combined_windows.json:2"},
		{"window with three timestamps", map[string]string{"labels/combined_windows.json": `{"g1/b.csv": [], "g0/a.csv": [["2014-04-01 00:05:00", "2014-04-01 00:10:00", "2014-04-01 00:15:00"]]}`}, ErrFormat, "g0/a.csv window 0 has 3"},
		{"unparsable window timestamp", map[string]string{"labels/combined_windows.json": `{"g1/b.csv": [], "g0/a.csv": [["yesterday", "2014-04-01 00:10:00"]]}`}, nil, "g0/a.csv window 0"},
		{"window timestamp not in file", map[string]string{"labels/combined_windows.json": `{"g1/b.csv": [], "g0/a.csv": [["2014-04-01 00:06:00", "2014-04-01 00:10:00"]]}`}, ErrWindow, "g0/a.csv: window 0: timestamp 2014-04-01 00:06:00 not in the file"},
		{"reversed window", map[string]string{"labels/combined_windows.json": `{"g1/b.csv": [], "g0/a.csv": [["2014-04-01 00:15:00", "2014-04-01 00:05:00"]]}`}, ErrWindow, "g0/a.csv: window 0"},
		{"windows out of order", map[string]string{"labels/combined_windows.json": `{"g1/b.csv": [], "g0/a.csv": [["2014-04-01 00:15:00", "2014-04-01 00:20:00"], ["2014-04-01 00:00:00", "2014-04-01 00:05:00"]]}`}, ErrWindow, "g0/a.csv: window 1"},
		{"data file without labels", map[string]string{"labels/combined_windows.json": `{"g0/a.csv": []}`}, ErrFormat, "no entry for g1/b.csv"},
		{"labels without data file", map[string]string{"labels/combined_windows.json": `{"g0/a.csv": [], "g1/b.csv": [], "g2/c.csv": []}`}, ErrFormat, "g2/c.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCorpus(corpusFS(tc.edits))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestLoadProfiles(t *testing.T) {
	const good = `{
"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
"reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
"reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}}
}`
	got, err := loadProfiles(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := Profiles()
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("profile %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	for _, tc := range []struct {
		name, json string
		want       error
	}{
		{"not an object", `[]`, ErrFormat},
		{"no cost matrix", `{"x": {}}`, ErrFormat},
		{"missing weight", `{"x": {"CostMatrix": {"tpWeight": 1, "fpWeight": 1}}}`, ErrFormat},
		{"negative weight", `{"x": {"CostMatrix": {"tpWeight": 1, "fpWeight": -1, "fnWeight": 1}}}`, ErrProfile},
		{"truncated", `{"x": {"CostMatrix": {"tpWeight": 1, "fpWeight": 1, "fnWeight": 1}}`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadProfiles(strings.NewReader(tc.json))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseData(f *testing.F) {
	f.Add(goodA)
	f.Add(goodB)
	f.Add("timestamp,value\n")
	f.Add("timestamp,value\n2015-01-01 00:00:00,\"1\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := parseData(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(file.Timestamps) != len(file.Values) {
			t.Errorf("%d timestamps, %d values", len(file.Timestamps), len(file.Values))
		}
	})
}
