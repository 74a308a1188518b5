package feed_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prescale/prescale/feed"
)

func TestReadM4(t *testing.T) {
	in := "\"V1\",\"V2\",\"V3\",\"V4\"\n\"H1\",\"1\",\"2\",\"3\"\n\"H2\",\"4\",\"\",\"6\"\n\"H3\",\"7\",\"\",\"\"\n"
	got, err := feed.ReadM4(strings.NewReader(in), "m4.csv", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "H1" || len(got[0].Values) != 3 || got[0].Step != time.Hour {
		t.Fatalf("got %+v", got)
	}
	if v := got[1].Values; len(v) != 3 || !math.IsNaN(v[1]) || v[2] != 6 {
		t.Errorf("interior empty cell: got %v, want [4 NaN 6]", v)
	}
	if v := got[2].Values; len(v) != 1 || v[0] != 7 {
		t.Errorf("trailing padding: got %v, want [7]", v)
	}
}

func TestReadM4Errors(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"bad value", "V1,V2\nH1,abc\n", "m4.csv:2:", feed.ErrSyntax},
		{"infinite", "V1,V2\nH1,Inf\n", "m4.csv:2:", feed.ErrSyntax},
		{"id only", "V1,V2\nH1\n", "m4.csv:2:", feed.ErrSyntax},
		{"header only", "V1,V2\n", "m4.csv", feed.ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := feed.ReadM4(strings.NewReader(tt.in), "m4.csv", time.Hour)
			if !errors.Is(err, tt.err) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %v starting %q", err, tt.err, tt.want)
			}
		})
	}
}
