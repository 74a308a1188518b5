#!/usr/bin/env bash
# Regenerates api/prescale/v1 from prescale.proto and prescale_gateway.yaml:
# Go messages, gRPC, grpc-gateway and the OpenAPI document. protoc comes
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

out=api/prescale/v1
if [ "${1:-}" = "--check" ]; then
  out="$bin/check"
  mkdir -p "$out"
fi
src=api/prescale/v1
gw="grpc_api_configuration=$src/prescale_gateway.yaml"
PATH="$bin:$PATH" protoc -I "$src" -I /usr/include \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  --grpc-gateway_out="$out" --grpc-gateway_opt=paths=source_relative,"$gw" \
  --openapiv2_out="$out" --openapiv2_opt="$gw" \
  "$src/prescale.proto"

if [ "${1:-}" = "--check" ]; then
  for f in "$out"/*; do
    if ! cmp -s "$f" "$src/$(basename "$f")"; then
      echo ".ci/generate.sh: $src/$(basename "$f") is not what make generate writes; run make generate" >&2
      diff -u "$src/$(basename "$f")" "$f" | head -20 >&2 || true
      exit 1
    fi
  done
  echo "generated code is up to date"
fi
