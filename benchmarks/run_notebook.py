"""Run a source notebook end to end in one run mode and keep what it measured.

    python benchmarks/run_notebook.py week05/lstm_implementation.ipynb --mode full
    python benchmarks/run_notebook.py week05/resnet_implementation.ipynb --mode fast --out /tmp/fast

The notebook runs as a copy in a scratch folder (source/ stays clean), in ``--mode`` full / fast /
grade exactly as a student's or the grader's kernel would. Afterwards the tables and summaries it
wrote (``*.csv``, ``*.json`` in its deliverable folders) are copied to
``benchmarks/results/<device>/<notebook>-<mode>/`` with ``timings.json`` (seconds per cell, the
total) and the cells' errors, if any. Exit status 1 when a cell failed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", help="path under source/, e.g. week05/lstm_implementation.ipynb")
    ap.add_argument("--mode", choices=("full", "fast", "grade"), default="full")
    ap.add_argument("--device", default="cpu", help="folder name of the results (the notebook picks its device)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per cell")
    a = ap.parse_args(argv)

    src = ROOT / "source" / a.notebook
    name = Path(a.notebook).stem
    out = a.out or ROOT / "benchmarks" / "results" / a.device / f"{name}-{a.mode}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-{a.mode}-"))
    shutil.copy(src, work / src.name)
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ.pop("DLCOURSE_MODE", None)
    if a.mode == "grade":
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    elif a.mode == "fast":
        os.environ["DLCOURSE_MODE"] = "fast"
    os.environ.setdefault("MPLBACKEND", "Agg")

    nb = nbformat.read(str(work / src.name), as_version=4)
    client = NotebookClient(nb, timeout=a.timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    cells, errors = [], []
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t = time.perf_counter()
            client.execute_cell(cell, index)
            seconds = time.perf_counter() - t
            cells.append({"cell": cell.get("id"), "seconds": round(seconds, 2)})
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    errors.append({"cell": cell.get("id"), "error": f"{output['ename']}: {output['evalue'][:300]}"})
            print(f"{seconds:8.1f}s  {cell.get('id')}" + ("  ERROR" if errors and errors[-1]["cell"] == cell.get("id") else ""),
                  flush=True)
    total = time.perf_counter() - start

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in sorted(work.rglob("*")):
        if path.suffix in (".csv", ".json") and path.parent != work and ".ipynb_checkpoints" not in path.parts:
            dest = out / path.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    (out / "timings.json").write_text(json.dumps(
        {"notebook": a.notebook, "mode": a.mode, "measured": time.strftime("%Y-%m-%d %H:%M"),
         "total_seconds": round(total, 1), "cpu_count": os.cpu_count(), "errors": errors, "cells": cells}, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    print(f"total {total:.1f}s, {len(errors)} failing cell(s); results in {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
