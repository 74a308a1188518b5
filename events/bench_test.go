package events

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// BenchmarkLearn learns one name's effect from 14 days of a noisy load at
// steps of 1 second, 10 seconds and 1 minute, with an occurrence a day of
// 4 hours plus an hour of lead and of lag, at a different time each day.
func BenchmarkLearn(b *testing.B) {
	const days = 14
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sb strings.Builder
	sb.WriteString("events:\n")
	for d := range days {
		fmt.Fprintf(&sb, "  - {name: sale, start: \"2026-01-%02dT%02d:00:00\", duration: 4h, lead: 1h, lag: 1h}\n", d+1, (d*7)%18)
	}
	c, err := Parse([]byte(sb.String()), "sales.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []time.Duration{time.Second, 10 * time.Second, time.Minute} {
		rng := rand.New(rand.NewPCG(1, 2))
		values := make([]float64, days*24*time.Hour/step)
		for i := range values {
			values[i] = 100 * (1 + 0.3*(2*rng.Float64()-1))
		}
		b.Run(step.String(), func(b *testing.B) {
			for b.Loop() {
				Learn(c, values, start, step)
			}
		})
	}
}
