# Sourced by the scripts that install Debian packages: apt_install PACKAGE... runs apt-get update
# and install as root (through sudo when needed). When another install holds the package
# manager's lock (unattended-upgrades, a parallel CI step), it waits for it, up to 10 minutes,
# and says so with the holder's PID and command, instead of failing at once.

apt_lock_holders() {
  local lock pid
  for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
    [ -e "$lock" ] || continue
    for pid in /proc/[0-9]*; do
      if ls -l "$pid/fd" 2>/dev/null | grep -q " -> $lock\$"; then
        echo "${pid#/proc/} ($(tr '\0' ' ' <"$pid/cmdline" 2>/dev/null | cut -c1-80))"
      fi
    done
  done | sort -u
}

apt_install() {
  local sudo="" waited=0 holders
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  while holders=$(apt_lock_holders) && [ -n "$holders" ] && [ "$waited" -lt 600 ]; do
    echo "apt: waiting for the package manager's lock, held by: $(echo "$holders" | paste -sd ';')" >&2
    sleep 10
    waited=$((waited + 10))
  done
  echo "apt: installing Debian packages: $*"
  # DPkg::Lock::Timeout: apt itself waits for the lock too, should another install take it now.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
}
