#!/usr/bin/env bash
# Regenerates api/prescale/v1 from prescale.proto and prescale_gateway.yaml:
# Go messages, gRPC, grpc-gateway and the OpenAPI document; and
# api/prescale/peer/v1 (Go messages and gRPC) from peer.proto. protoc comes
# from Debian's protobuf-compiler and the well-known types it imports
# (google/protobuf/timestamp.proto) from libprotobuf-dev, both installed
# when missing; the plugins are
# pinned as tools in go.mod and built here. With --check, fails when the
# committed files differ from what the generator writes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v protoc >/dev/null || [ ! -f /usr/include/google/protobuf/timestamp.proto ]; then
  echo ".ci/generate.sh: installing protobuf-compiler and libprotobuf-dev" >&2
  source .ci/apt.sh
  apt_install protobuf-compiler libprotobuf-dev
fi

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
for tool in google.golang.org/protobuf/cmd/protoc-gen-go \
            google.golang.org/grpc/cmd/protoc-gen-go-grpc \
            github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
            github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2; do
  go build -o "$bin/" "$tool"
done

# The public API (api/prescale/v1) and the replicas' own (api/prescale/peer/v1,
# no REST mapping and no OpenAPI document).
src=api/prescale/v1
peer=api/prescale/peer/v1
out=$src
peerOut=$peer
if [ "${1:-}" = "--check" ]; then
  out="$bin/check"
  peerOut="$bin/check-peer"
  mkdir -p "$out" "$peerOut"
fi
gw="grpc_api_configuration=$src/prescale_gateway.yaml"
PATH="$bin:$PATH" protoc -I "$src" -I /usr/include \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  --grpc-gateway_out="$out" --grpc-gateway_opt=paths=source_relative,"$gw" \
  --openapiv2_out="$out" --openapiv2_opt="$gw" \
  "$src/prescale.proto"
PATH="$bin:$PATH" protoc -I "$peer" \
  --go_out="$peerOut" --go_opt=paths=source_relative \
  --go-grpc_out="$peerOut" --go-grpc_opt=paths=source_relative \
  "$peer/peer.proto"

if [ "${1:-}" = "--check" ]; then
  for pair in "$out:$src" "$peerOut:$peer"; do
    got=${pair%%:*} want=${pair#*:}
    for f in "$got"/*; do
      if ! cmp -s "$f" "$want/$(basename "$f")"; then
        echo ".ci/generate.sh: $want/$(basename "$f") is not what make generate writes; run make generate" >&2
        diff -u "$want/$(basename "$f")" "$f" | head -20 >&2 || true
        exit 1
      fi
    done
  done
  echo "generated code is up to date"
fi
