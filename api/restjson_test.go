package api

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// TestRESTJSONRoundTrip: what restJSON writes, UnmarshalREST reads back
// into the same message, NaN gaps and all.
func TestRESTJSONRoundTrip(t *testing.T) {
	m := &restJSON{&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}}
	in := &prescalev1.Forecast{
		Name: "web", Generation: 1 << 40, Step: durationpb.New(90 * time.Second),
		History: []float64{1, math.NaN(), 3}, Point: []float64{math.Inf(1), 2},
	}
	raw, err := m.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"generation":1099511627776,"history":[1,null,3],"historyStart":null,"model":"","name":"web","notes":[],"point":[null,2],"provision":[],"quantiles":[],"seasons":[],"start":null,"step":"1m30s"}`
	if string(raw) != want {
		t.Errorf("restJSON:\n got %s\nwant %s", raw, want)
	}
	var out prescalev1.Forecast
	if err := UnmarshalREST(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.GetStep().AsDuration() != 90*time.Second || out.GetGeneration() != 1<<40 || !math.IsNaN(out.GetHistory()[1]) || !math.IsNaN(out.GetPoint()[0]) {
		t.Errorf("read back %v", &out)
	}
	out.History[1], out.Point[0] = 0, 0
	in.History[1], in.Point[0] = 0, 0
	if !proto.Equal(in, &out) {
		t.Errorf("read back\n%v\nwant\n%v", &out, in)
	}
	// Past 2^53 a counter stays a string, as a JavaScript number would round it.
	big, err := m.Marshal(&prescalev1.Forecast{Generation: 1<<53 + 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"generation":"9007199254740993"`; !strings.Contains(string(big), want) {
		t.Errorf("%s lacks %s", big, want)
	}
}
