// Package api serves prescale's forecasts and recommendations over gRPC,
// REST, the KEDA external scaler protocol and the Kubernetes external
// metrics API.
package api
