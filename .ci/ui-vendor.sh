#!/usr/bin/env bash
# Vendor uPlot, the chart library of the web pages, from npm into api/ui/vendor (committed; the
# binary embeds it, so nothing is fetched at run time or in CI). `make ui` runs it; change the
# version here, run it, and commit the result.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VERSION=1.6.32
# The integrity npm publishes for uplot@1.6.32 (npm view uplot@1.6.32 dist.integrity).
INTEGRITY=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$VERSION" >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$tmp/uplot-$VERSION.tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "ui-vendor.sh: uplot-$VERSION.tgz has integrity $got, want $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tmp/uplot-$VERSION.tgz" -C "$tmp"
mkdir -p api/ui/vendor
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" api/ui/vendor/
cp "$tmp/package/LICENSE" api/ui/vendor/uPlot.LICENSE
echo "ui-vendor.sh: uPlot $VERSION in api/ui/vendor"
