#!/usr/bin/env bash
# Execute every notebooks/*.ipynb headless with Debian's /usr/bin/python3 and check that the
# reference data they regenerate (forecast/testdata) is unchanged. Run from anywhere; works on the repo root.
#
#   bash .ci/notebooks.sh                       # all notebooks (make notebooks)
#   bash .ci/notebooks.sh notebooks/X.ipynb ... # only these
#
# Notebooks are committed without outputs: the script fails first if one has outputs
# (strip them with python3 notebooks/strip.py). Executed copies go to a temp dir, or to
# $NOTEBOOKS_OUT when set (to look at the plots). Per-cell timeout: $NOTEBOOKS_TIMEOUT seconds (900).
# The backtest and forecast notebooks build ./cmd/prescale themselves: go must be on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nbs=()
for a in "$@"; do nbs+=("$(realpath -e "$a")"); done   # named notebooks, relative to the caller's cwd
cd "$ROOT"
start=$(date +%s)

# 0. The notebooks to run, and go to build prescale with.
if ((${#nbs[@]} == 0)); then shopt -s nullglob; nbs=(notebooks/*.ipynb); shopt -u nullglob; fi
((${#nbs[@]})) || { echo "notebooks.sh: no notebooks found" >&2; exit 1; }
command -v go >/dev/null || { echo "notebooks.sh: go is not on PATH (the notebooks build ./cmd/prescale)" >&2; exit 1; }

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
  source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
  apt_install "${missing[@]}"
fi
echo "notebooks.sh: packages ready after $(( $(date +%s) - start ))s"

# Outputs are stripped in git (a stdlib-only check with Debian's python3, installed above).
/usr/bin/python3 notebooks/strip.py --check notebooks/*.ipynb

# 2. A private kernelspec so that "python3" resolves to Debian's /usr/bin/python3 whatever
#    else (pyenv, ~/.local/share/jupyter) is on this machine; JUPYTER_PATH is searched first.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="${NOTEBOOKS_OUT:-$tmp/out}"
mkdir -p "$tmp/jupyter/kernels/python3" "$out"
cat >"$tmp/jupyter/kernels/python3/kernel.json" <<'JSON'
{"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (Debian)", "language": "python"}
JSON
export JUPYTER_PATH="$tmp/jupyter"
export PYDEVD_DISABLE_FILE_VALIDATION=1      # silence ipykernel's frozen-modules debugger warning
export PYTHONDONTWRITEBYTECODE=1             # no notebooks/__pycache__ from importing prescale_nb.py
export PRESCALE_REPO="$ROOT"
: "${PRESCALE_DATA:=$ROOT/../shared/data}"
export PRESCALE_DATA

# Snapshot of the generated data, to compare even where it is not tracked by git yet.
cp -a forecast/testdata "$tmp/testdata.before" 2>/dev/null || mkdir -p "$tmp/testdata.before"

# 3. Execute each notebook; the executed copy goes to $out (the kernel's cwd stays notebooks/).
pass=0
times=()
for nb in "${nbs[@]}"; do
  t0=$(date +%s)
  /usr/bin/python3 -m jupyter nbconvert --to notebook --execute \
    --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout="${NOTEBOOKS_TIMEOUT:-900}" \
    --output-dir "$out" "$nb"
  times+=("$(basename "$nb") $(( $(date +%s) - t0 ))s")
  echo "notebooks.sh: $nb executed in $(( $(date +%s) - t0 ))s"
  pass=$((pass + 1))
done

# 4. The notebooks regenerate forecast/testdata: it must not have changed.
if ! diff -r "$tmp/testdata.before" forecast/testdata; then
  echo "notebooks.sh: forecast/testdata changed after re-running the notebooks" >&2
  exit 1
fi
git diff --exit-code -- forecast/testdata
echo "notebooks.sh: done in $(( $(date +%s) - start ))s (${times[*]})"
echo "notebooks: ${pass} passed, 0 failed"
