#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests of the web pages (test/ui), which
# drive it headless through chromedp against the built binary in demo mode.
set -euo pipefail

if command -v chromium >/dev/null; then
  echo "chromium.sh: $(chromium --version 2>/dev/null | head -n1)"
  exit 0
fi

echo "chromium.sh: installing Debian package chromium"
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
# fonts-dejavu-core: the screenshots need a font with the glyphs the pages use (θ, τ, ±, …).
apt_install chromium fonts-dejavu-core

command -v chromium >/dev/null || {
  echo "chromium.sh: chromium still missing after installing the package" >&2
  exit 1
}
echo "chromium.sh: $(chromium --version 2>/dev/null | head -n1)"
