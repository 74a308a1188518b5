package api_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/prescale/prescale/api"
	"github.com/prescale/prescale/models"
)

// TestRecommendationProtoCollapse checks that a recommendation held
// through a collapse of the load says so in the API: since when, and from
// what load, besides won and the reason.
func TestRecommendationProtoCollapse(t *testing.T) {
	since := time.Date(2021, 8, 5, 23, 31, 0, 0, time.UTC)
	r := &models.Recommendation{
		Target: "tweets", Time: since.Add(2 * time.Minute), Replicas: 11, Won: models.WonHeld,
		Reason:        "the load fell under a tenth of the 2552 before it",
		CollapseSince: since, CollapseFrom: 2552,
	}
	p := api.RecommendationProto(r)
	if !p.GetCollapseSince().AsTime().Equal(since) || p.GetCollapseFrom() != 2552 || p.GetWon() != models.WonHeld {
		t.Fatalf("proto %v: want collapse since %v from 2552, held", p, since)
	}
	b, err := protojson.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"collapseSince":"2021-08-05T23:31:00Z"`) || !strings.Contains(s, `"collapseFrom":2552`) {
		t.Errorf("JSON %s lacks the collapse", s)
	}
	// Without a collapse the fields are absent.
	p = api.RecommendationProto(&models.Recommendation{Target: "tweets", Replicas: 3, Won: models.WonForecast})
	if p.CollapseSince != nil || p.CollapseFrom != 0 {
		t.Errorf("no collapse, got since %v from %v", p.CollapseSince, p.CollapseFrom)
	}
}
