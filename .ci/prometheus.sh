#!/usr/bin/env bash
# Make sure Debian's prometheus (2.42: the prometheus and promtool binaries) is installed for the
# integration tests in feed/prometheus. Tests start their own servers (feed/prometheus/promtest) on
# free loopback ports with temporary data directories; they never use the package's system service.
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "prometheus.sh: $(prometheus --version 2>&1 | head -n1)"
  exit 0
fi

echo "prometheus.sh: installing Debian package prometheus"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
apt_install prometheus

# On a host running systemd the package's postinst enables and starts prometheus.service on :9090
# (in containers, policy-rc.d usually forbids it). We just installed it, so it is ours to stop:
# the tests do not need it, and it would scrape and write to /var/lib/prometheus for nothing.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null &&
  systemctl is-enabled --quiet prometheus.service 2>/dev/null; then
  echo "prometheus.sh: stopping and disabling the package's prometheus.service (tests run their own)"
  $SUDO systemctl disable --now prometheus.service || true
fi

command -v prometheus >/dev/null && command -v promtool >/dev/null || {
  echo "prometheus.sh: prometheus or promtool still missing after installing the package" >&2
  exit 1
}
echo "prometheus.sh: $(prometheus --version 2>&1 | head -n1)"
