// Package prescalev1 is prescale's gRPC API and its REST mapping: the
// messages, the gRPC service and the grpc-gateway handlers generated from
// prescale.proto (run `make generate`), and the OpenAPI document.
package prescalev1
