# syntax=docker/dockerfile:1
#
# The prescale image: one static binary on distroless, running as non-root.
#
#   docker build -t ghcr.io/prescale/prescale:0.1.0 \
#     --build-arg VERSION=$(git describe --tags --match 'v[0-9]*' | sed 's/^v//') \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg CREATED=$(git log -1 --format=%cI) .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .
#
# deploy/README.md explains how to run it in a cluster.

# The builder runs on the build machine's platform and cross-compiles (no CGO), so a
# multi-platform build needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change reuses the downloaded modules.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=0.1.0-dev
ARG REVISION
ARG CREATED
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} \
      -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.BuildDate=${CREATED}" \
      -o /out/prescale ./cmd/prescale

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0-dev
ARG REVISION
ARG CREATED
LABEL org.opencontainers.image.title="prescale" \
      org.opencontainers.image.description="Predictive autoscaler for Kubernetes: forecasts load and recommends replicas ahead of demand" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/prescale/prescale" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/prescale /prescale
USER 65532:65532
# 8080: REST, /metrics, /healthz, /readyz. 9000: gRPC and KEDA's external scaler.
# 6443: the Kubernetes external metrics API (serve --external-metrics).
EXPOSE 8080 9000 6443
ENTRYPOINT ["/prescale"]
CMD ["serve"]
