// Package apitest has a hand-written fake of api.Backend for the unit
// tests of the API servers: targets in memory, with the recommendations,
// forecasts, anomalies and errors the test sets. RunConformance is the
// Backend contract that the fake and the real registry both pass. For the
// external metrics API server it also has a client certificate authority
// and a kubeconfig that needs no cluster.
package apitest
