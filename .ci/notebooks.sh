#!/usr/bin/env bash
# Execute every notebooks/*.ipynb headless with Debian's /usr/bin/python3 and check that the
# reference data they regenerate (forecast/testdata) is unchanged. Run from anywhere; works on the repo root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)

# 1. Debian packages (apt-get update only when something is missing).
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' notebooks/requirements-debian.txt | grep -v '^$')
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "notebooks.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "notebooks.sh: packages ready after $(( $(date +%s) - start ))s"

# 2. A private kernelspec so that "python3" resolves to Debian's /usr/bin/python3 whatever
#    else (pyenv, ~/.local/share/jupyter) is on this machine; JUPYTER_PATH is searched first.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/jupyter/kernels/python3" "$tmp/out"
cat >"$tmp/jupyter/kernels/python3/kernel.json" <<'JSON'
{"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (Debian)", "language": "python"}
JSON
export JUPYTER_PATH="$tmp/jupyter"
export PYDEVD_DISABLE_FILE_VALIDATION=1      # silence ipykernel's frozen-modules debugger warning
export PRESCALE_REPO="$ROOT"
: "${PRESCALE_DATA:=$ROOT/../shared/data}"
export PRESCALE_DATA

# Snapshot of the generated data, to compare even where it is not tracked by git yet.
cp -a forecast/testdata "$tmp/testdata.before" 2>/dev/null || mkdir -p "$tmp/testdata.before"

# 3. Execute each notebook; the executed copy goes to a temp dir (the kernel's cwd stays notebooks/).
shopt -s nullglob
nbs=(notebooks/*.ipynb)
((${#nbs[@]})) || { echo "notebooks.sh: no notebooks found" >&2; exit 1; }
pass=0
for nb in "${nbs[@]}"; do
  t0=$(date +%s)
  /usr/bin/python3 -m jupyter nbconvert --to notebook --execute \
    --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=600 \
    --output-dir "$tmp/out" "$nb"
  echo "notebooks.sh: $nb executed in $(( $(date +%s) - t0 ))s"
  pass=$((pass + 1))
done

# 4. The notebooks regenerate forecast/testdata: it must not have changed.
if ! diff -r "$tmp/testdata.before" forecast/testdata; then
  echo "notebooks.sh: forecast/testdata changed after re-running the notebooks" >&2
  exit 1
fi
git diff --exit-code -- forecast/testdata
echo "notebooks.sh: done in $(( $(date +%s) - start ))s"
echo "notebooks: ${pass} passed, 0 failed"
