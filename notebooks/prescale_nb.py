"""Plumbing shared by the notebooks that run the prescale binary: where the repo and the data are,
building and running prescale, and reading the NASA trace with its missing spans marked.

The notebooks import it from their own directory (Jupyter's working directory for a notebook).
Paths come from $PRESCALE_REPO and $PRESCALE_DATA when set (.ci/notebooks.sh exports both), else the
repo is found above the working directory and the data is <repo>/../shared/data.
"""
import atexit
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GO_MODULE = "module github.com/prescale/prescale"

NASA_FILE = "nasa_http/nasa_http_1995_requests_per_minute.csv"
# Spans are half-open [start, end). The data's README says "no rows between 1995-07-28 13:32 and
# 1995-08-01 00:00" (the log is missing) and "the zeros between 1995-08-01 14:52 and 1995-08-03 04:36
# are a server outage (a hurricane): missing data, not zero demand"; both ends are rows with data.
NASA_GAP = (pd.Timestamp("1995-07-28 13:33"), pd.Timestamp("1995-08-01 00:00"))
NASA_OUTAGE = (pd.Timestamp("1995-08-01 14:53"), pd.Timestamp("1995-08-03 04:36"))


def repo_root():
    """The nearest ancestor of $PRESCALE_REPO (else of the cwd) whose go.mod declares prescale's module."""
    start = Path(os.environ.get("PRESCALE_REPO", os.getcwd())).resolve()
    for d in [start, *start.parents]:
        gm = d / "go.mod"
        if gm.is_file() and GO_MODULE in gm.read_text():
            return d
    raise RuntimeError(f"cannot find the prescale repo root above {start}; set PRESCALE_REPO")


def data_dir(repo, required):
    """The data directory holding the file `required` (a path relative to it).

    $PRESCALE_DATA may be relative to the cwd or to the repo root; unset, it is <repo>/../shared/data
    (../../shared/data seen from notebooks/)."""
    env = os.environ.get("PRESCALE_DATA")
    if env:
        cands = [Path(env)] if Path(env).is_absolute() else [Path.cwd() / env, repo / env]
    else:
        cands = [repo.parent / "shared" / "data"]
    for c in cands:
        if (c / required).is_file():
            return c.resolve()
    raise FileNotFoundError(f"{required} not found under any of {[str(c) for c in cands]} (set PRESCALE_DATA)")


def workdir(prefix="prescale-nb-"):
    """A fresh temporary directory, removed when the kernel exits."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def run(args, cwd=None, echo=True):
    """Runs a command and returns its stdout; raises with the command's stderr if it fails.

    The command's stderr (prescale's log) is printed only when it fails, apart from its last lines."""
    args = [str(a) for a in args]
    t0 = time.monotonic()
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {p.returncode} after {took:.1f}s:\n{p.stderr[-4000:]}")
    if echo:
        print(f"$ {' '.join(args)}   ({took:.1f}s)")
    return p.stdout


def build_prescale(repo, dest):
    """go build ./cmd/prescale into dest; returns the binary's path."""
    if shutil.which("go") is None:
        raise RuntimeError("go is not on PATH: the notebook builds the prescale binary itself")
    binary = Path(dest) / "prescale"
    run(["go", "build", "-o", binary, "./cmd/prescale"], cwd=repo)
    return binary


def load_nasa(path):
    """The NASA trace as a float Series on a complete 1-minute grid (index: naive local time, -0400),
    with NaN where the data is missing: the rows of the log gap and the zeros of the outage."""
    raw = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")["requests"].astype(float)
    assert raw.index.is_monotonic_increasing and not raw.index.has_duplicates
    s = raw.reindex(pd.date_range(raw.index[0], raw.index[-1], freq="1min"))
    gap = s.index[s.isna()]
    assert len(gap) and gap[0] == NASA_GAP[0] and gap[-1] == NASA_GAP[1] - pd.Timedelta("1min"), \
        f"unexpected missing rows: {len(gap)} from {gap[0] if len(gap) else None}"
    outage = (s.index >= NASA_OUTAGE[0]) & (s.index < NASA_OUTAGE[1])
    assert (s[outage] == 0).all(), "the outage span is expected to be zeros"
    s[outage] = np.nan
    s.name = "requests"
    return s


def spans(mask):
    """[(start, end)) index spans where the boolean Series mask is true (end = the first index after)."""
    m = mask.to_numpy()
    idx = mask.index
    edges = np.flatnonzero(np.diff(np.r_[0, m.astype(int), 0]))
    step = idx[1] - idx[0]
    return [(idx[a], idx[b - 1] + step) for a, b in zip(edges[::2], edges[1::2])]
