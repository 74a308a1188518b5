// Package synth generates seeded synthetic load traces for the backtest.
// FlashCrowds writes a request rate with a daily cycle, quieter weekends
// and noise, on top of which flash crowds ramp the load up 3 to 6 times
// over 20 to 120 minutes at irregular times, to peaks of 20 to 200
// replicas; it also returns the crowds it placed, so tests and reports
// can mark them. The same Options and Seed always give the same trace.
//
// The values are requests per minute, like the NASA-HTTP trace, so a
// backtest of the default trace should use --capacity 20
// (DefaultCapacity).
package synth
