#!/usr/bin/env bash
# End-to-end test (make e2e): a real Prometheus, etcd, kube-apiserver and kube-controller-manager on
# loopback, and prescale serve feeding an HPA through external.metrics.k8s.io (test/e2e).
#
# It installs the Debian packages the test runs (etcd-server, prometheus) when missing, builds
# kube-apiserver and kube-controller-manager from test/e2e's own module (k8s.io/kubernetes v1.37.2,
# tracked as tools in its go.mod) and prescale from the repository root, then runs the Go test with
# the binaries' paths in PRESCALE_E2E_*. It starts no process itself: the test starts and stops them.
#
# The control-plane binaries take about 12 minutes to build on 2 cores with a cold Go build cache;
# they are kept in $PRESCALE_E2E_BIN (default test/e2e/bin, gitignored) and rebuilt only when
# test/e2e/go.mod, go.sum or the Go version change (PRESCALE_E2E_REBUILD=1 forces it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOWORK=off # test/e2e is its own module, never part of a workspace with prescale
root=$(pwd)

# Debian packages, one apt-get update for all of them.
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e.sh: installing Debian packages ${missing[*]}"
  source .ci/apt.sh
  apt_install "${missing[@]}"
  # On a host running systemd the packages' postinst start their services (etcd on :2379,
  # prometheus on :9090). We just installed them, so they are ours to stop: the test runs its own.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in etcd prometheus; do
      if systemctl is-enabled --quiet "$unit.service" 2>/dev/null; then
        echo "e2e.sh: stopping and disabling the package's $unit.service (the test runs its own)"
        $SUDO systemctl disable --now "$unit.service" || true
      fi
    done
  fi
fi
bash .ci/prometheus.sh # checks prometheus and promtool, prints the version
echo "e2e.sh: $(etcd --version 2>&1 | head -n1)"

# The control plane, from test/e2e's module.
bin="${PRESCALE_E2E_BIN:-$root/test/e2e/bin}"
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
go version
k8s_version=v1.37.2
ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
key=$( (cat test/e2e/go.mod test/e2e/go.sum; go version; go env GOOS GOARCH CGO_ENABLED GOFLAGS; echo "$ldflags") | sha256sum | cut -c1-16)
t0=$(date +%s)
if [ "${PRESCALE_E2E_REBUILD:-}" != 1 ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] &&
  [ "$(cat "$bin/.key" 2>/dev/null)" = "$key" ]; then
  echo "e2e.sh: kube-apiserver and kube-controller-manager $k8s_version are up to date in $bin"
else
  echo "e2e.sh: building kube-apiserver and kube-controller-manager $k8s_version into $bin (about 12 min on 2 cores with a cold build cache)"
  rm -f "$bin/.key"
  (cd test/e2e && go build -ldflags "$ldflags" -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  echo "$key" >"$bin/.key"
fi
t1=$(date +%s)
echo "e2e.sh: control plane build: $((t1 - t0))s wall"
go build -o "$bin/prescale" ./cmd/prescale
# The Helm chart's installer (Helm's Go SDK, test/helm's module, so that this one does not link it).
(cd test/helm && GOWORK=off go build -o "$bin/" ./cmd/chartinstall)
t2=$(date +%s)
echo "e2e.sh: prescale and chartinstall build: $((t2 - t1))s wall"

export PRESCALE_E2E_PRESCALE="$bin/prescale"
export PRESCALE_E2E_CHARTINSTALL="$bin/chartinstall"
export PRESCALE_E2E_KUBE_APISERVER="$bin/kube-apiserver"
export PRESCALE_E2E_KUBE_CONTROLLER_MANAGER="$bin/kube-controller-manager"
[ -z "${PRESCALE_DATA:-}" ] || export PRESCALE_DATA
cd test/e2e
go vet ./...
go test -count=1 -timeout 40m -v ./...
