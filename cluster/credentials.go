package cluster

import (
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// insecureCredentials is plaintext between replicas, the default when
// their gRPC API is served without TLS.
func insecureCredentials() credentials.TransportCredentials { return insecure.NewCredentials() }
