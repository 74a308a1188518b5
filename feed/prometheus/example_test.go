package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prescale/prescale/feed/prometheus"
)

func ExampleClient_Range() {
	// A stand-in for Prometheus that answers every range query with three
	// points, the middle one missing.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[
			{"metric":{"job":"web"},"values":[[1714521600,"120"],[1714521720,"90"]]}]}}`)
	}))
	defer srv.Close()

	c, err := prometheus.New(srv.URL, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	start := time.Unix(1714521600, 0)
	s, err := c.Range(context.Background(), `sum(rate(http_requests_total{job="web"}[5m]))`, start, start.Add(2*time.Minute), time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, v := range s.Values {
		fmt.Println(s.Time(i).UTC().Format("15:04"), v)
	}
	// Output:
	// 00:00 120
	// 00:01 NaN
	// 00:02 90
}

func ExampleClient_Range_noData() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	}))
	defer srv.Close()

	c, _ := prometheus.New(srv.URL, nil)
	defer c.Close()
	start := time.Unix(1714521600, 0)
	_, err := c.Range(context.Background(), `up{job="gone"}`, start, start.Add(time.Hour), time.Minute)
	fmt.Println(err)
	fmt.Println(errors.Is(err, prometheus.ErrNoData))
	// Output:
	// query range "up{job=\"gone\"}" [2024-05-01T00:00:00Z, 2024-05-01T01:00:00Z] step 1m0s: prometheus: no data: the query matched no series in the range
	// true
}
