"""Render the week-6 labs' figures headless, in the lab sheet's run order (`make labs`).

    python -m dlcourse_staff.labs                 # full mode, every lab 01–05
    python -m dlcourse_staff.labs --mode fast 01 03

Each notebook of ``source/week06-labs/`` is executed by a Jupyter kernel (Agg backend) in its own
folder, so its figures land in ``source/week06-labs/outputs/`` (ignored by git) exactly as a student's
run writes them next to the notebook; the notebook file itself is not changed. Prints the seconds
per lab and the figures each wrote; exit status 1 when a lab failed or a figure the sheet names is
missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LABS = ROOT / "source" / "week06-labs"

# The figures the lab sheet names, per lab (W06-LAB).
FIGURES = {
    "01": ["01_attention_weights.png", "01_scaling_effect.png", "01_longer_sequence.png"],
    "02": ["02_self_attention_components.png", "02_multi_head_attention.png", "02_rnn_vs_attention.png"],
    "03": ["03_positional_encoding_sinusoidal.png", "03_encoding_comparison.png", "03_relative_position.png",
           "03_position_effect.png"],
    "04": ["04_transformer_dataflow.png", "04_attention_patterns.png", "04_residual_effect.png"],
    "05": ["05_sample_sequences.png", "05_attention_patterns.png", "05_performance_comparison.png",
           "05_multihead_analysis.png", "05_position_importance.png"],
}


def run(notebook: Path, mode: str, timeout: int) -> float:
    import nbformat
    from nbclient import NotebookClient

    os.environ["MPLBACKEND"] = "Agg"
    os.environ.pop("NBGRADER_EXECUTION", None)
    if mode == "full":
        os.environ.pop("DLCOURSE_MODE", None)
    else:
        os.environ["DLCOURSE_MODE"] = mode
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labs", nargs="*", help="lab numbers (01 … 05); default: all")
    ap.add_argument("--mode", choices=("full", "fast"), default="full")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    a = ap.parse_args(argv)
    wanted = a.labs or sorted(FIGURES)
    failed = False
    for number in wanted:
        found = sorted(LABS.glob(f"{number}_*.ipynb"))
        if not found:
            print(f"{number}: no notebook in {LABS}")
            failed = True
            continue
        out = LABS / "outputs"
        for name in FIGURES.get(number, []):
            (out / name).unlink(missing_ok=True)
        try:
            seconds = run(found[0], a.mode, a.timeout)
        except Exception as err:  # noqa: BLE001 - report and go on with the next lab
            print(f"{found[0].name}: FAILED ({type(err).__name__}: {str(err)[-400:]})")
            failed = True
            continue
        missing = [n for n in FIGURES.get(number, []) if not (out / n).exists()]
        print(f"{found[0].name}: {seconds:.0f}s ({a.mode} mode) → {out.relative_to(ROOT)}/"
              + (f"  MISSING {missing}" if missing else f"  {len(FIGURES.get(number, []))} figures"))
        failed |= bool(missing)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
