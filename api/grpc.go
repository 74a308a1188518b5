package api

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	prescalev1 "github.com/prescale/prescale/api/prescale/v1"
)

// NewGRPCServer returns a gRPC server with prescale's service, KEDA's
// external scaler (when keda is non-nil), the standard health service
// (report through hs) and server reflection. A panic in a handler is
// logged and answered with Internal instead of crashing the process; a
// message larger than MaxRequestBytes is refused (ResourceExhausted).
func NewGRPCServer(srv *Server, keda *KEDAScaler, hs *health.Server, log *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	recoverUnary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic in gRPC handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
	recoverStream := func(s any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in gRPC stream handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(s, ss)
	}
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(recoverUnary),
		grpc.ChainStreamInterceptor(recoverStream),
	}, opts...)
	// Bounds first, so that the caller's options can change them.
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(MaxRequestBytes)}, opts...)
	g := grpc.NewServer(opts...)
	prescalev1.RegisterPrescaleServiceServer(g, srv)
	if keda != nil {
		externalscaler.RegisterExternalScalerServer(g, keda)
	}
	if hs != nil {
		healthpb.RegisterHealthServer(g, hs)
	}
	reflection.Register(g)
	return g
}
