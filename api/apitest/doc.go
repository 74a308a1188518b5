// Package apitest has a hand-written fake of api.Backend for the unit
// tests of the API servers: targets in memory, with the recommendations,
// forecasts, anomalies and errors the test sets.
package apitest
