// Package demo is the built-in simulated workload, for running prescale
// with no Prometheus: a request rate with a daily cycle (peak in the
// afternoon, trough at night, UTC), quieter weekends, noise and a few
// short spikes a day. The load at a time is a pure function of the seed
// and the time, so a restart sees the same history, and querying up to
// time.Now gives fresh points as the clock moves.
//
// Source serves the query Query ("demo") and its variants "demo:<n>",
// each with its own level, phase, noise and spikes. With the default
// Options the load runs from about 150 (weekend nights) to 650 (weekday
// afternoons), spikes reach 2–3 times that, and a target made for it
// should use:
//
//	query               demo (or demo:<n>)
//	capacityPerReplica  50 (3 to 13 replicas, about 40 in a spike)
//	leadTime            3m, with a margin of 1m
//	step                1m (the default)
//	history             21d (three weeks: two fit the weekly cycle, the third validates it)
//	seasons             1d, 1w
//	maxReplicas         50
package demo
