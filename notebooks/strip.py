#!/usr/bin/env python3
"""Strip outputs from Jupyter notebooks, or check that they are stripped.

    python3 notebooks/strip.py [--check] [NOTEBOOK.ipynb ...]   (default: notebooks/*.ipynb)

Stripping empties every code cell's "outputs", sets its "execution_count" to null and drops the
run timestamps nbclient leaves in cell metadata ("execution"); nothing else changes. The file is
written the way Jupyter writes it (indent 1, sorted keys, UTF-8, trailing newline), so stripping a
notebook that Jupyter saved changes only those fields.

With --check nothing is written: each notebook that is not stripped is listed, and the exit status
is 1 if there is one. Standard library only, so it runs before any package is installed.
"""
import argparse
import json
import sys
from pathlib import Path


def strip(nb):
    """Strips nb in place; returns what was found, e.g. ["3 outputs", "2 execution counts"]."""
    outputs = counts = stamps = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            outputs += len(cell["outputs"])
        cell["outputs"] = []
        if cell.get("execution_count") is not None:
            counts += 1
        cell["execution_count"] = None
        if "execution" in cell.get("metadata", {}):
            stamps += 1
            del cell["metadata"]["execution"]
    found = []
    for n, what in ((outputs, "output"), (counts, "execution count"), (stamps, "execution timestamp")):
        if n:
            found.append(f"{n} {what}{'s' if n != 1 else ''}")
    return found


def dumps(nb):
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="list unstripped notebooks and exit 1 if any; write nothing")
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted(Path(__file__).resolve().parent.glob("*.ipynb"))
    dirty = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        found = strip(nb)
        if not found:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: not stripped ({', '.join(found)})", file=sys.stderr)
        else:
            path.write_text(dumps(nb), encoding="utf-8")
            print(f"{path}: stripped {', '.join(found)}")
    if args.check and dirty:
        print(f"strip.py: {dirty} notebook(s) have outputs; run: python3 notebooks/strip.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
