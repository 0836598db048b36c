"""Shared test setup: Jupyter stays inside the project, data and caches point at their settings."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

for var, sub in {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
                 "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib"}.items():
    os.environ[var] = str(ROOT / ".jupyter" / sub)
    (ROOT / ".jupyter" / sub).mkdir(parents=True, exist_ok=True)
os.environ.setdefault("MPLBACKEND", "Agg")
# Two pytest workers and the kernels they start share the cores: one thread each, or OpenMP's
# spinning threads oversubscribe the CPU and everything slows down many times over.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if "DLCOURSE_DATA_ROOT" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["DLCOURSE_DATA_ROOT"] = str(ROOT.parent / "shared" / "data")
os.environ.setdefault("DLCOURSE_CACHE_DIR", str(ROOT / ".cache" / "dlcourse"))
for var in ("NBGRADER_EXECUTION", "DLCOURSE_MODE", "DLCOURSE_DB_URL"):
    os.environ.pop(var, None)

SOURCE_NOTEBOOKS = sorted(p.relative_to(ROOT / "source").as_posix() for p in (ROOT / "source").glob("*/*.ipynb"))
ASSIGNMENTS = sorted({nb.split("/")[0] for nb in SOURCE_NOTEBOOKS})


def data_root() -> Path:
    return Path(os.environ.get("DLCOURSE_DATA_ROOT", Path.home() / "dlcourse_data"))


@pytest.fixture
def needs_cifar():
    root = data_root()
    if not ((root / "cifar10" / "cifar10-jpg.tar.gz").exists() or (root / "cifar10" / "cifar-10-batches-py").exists()):
        pytest.skip(f"CIFAR-10 is not under the data root {root} (set DLCOURSE_DATA_ROOT)")
    return root


@pytest.fixture
def needs_multi30k():
    from dlcourse.data.multi30k import MULTI30K_FILES

    root = data_root()
    names = [f"{f}.{lang}.gz" for f in MULTI30K_FILES.values() for lang in ("en", "de")]
    missing = [n for n in names if not (root / "multi30k" / n).exists()]
    if missing:
        pytest.skip(f"Multi30k is not under the data root {root} (missing {missing[0]}; set DLCOURSE_DATA_ROOT)")
    return root


def copy_course(dest: Path, notebooks: list[str] | None = None) -> Path:
    """A throw-away course folder: source/, release/, the config and the mutant bank.
    ``notebooks`` (e.g. ``["week05/resnet_implementation.ipynb"]``) keeps only those notebooks."""
    dest.mkdir(parents=True, exist_ok=True)
    def notebooks_only(folder, names):
        # assignment folders keep their notebooks; what a run wrote next to them stays behind
        depth = len(Path(folder).relative_to(ROOT).parts)
        return [n for n in names if n == ".ipynb_checkpoints" or (depth >= 2 and (Path(folder) / n).is_dir())]

    for name in ("source", "release"):
        shutil.copytree(ROOT / name, dest / name, ignore=notebooks_only)
    if notebooks is not None:
        for name in ("source", "release"):
            for nb in (dest / name).glob("*/*.ipynb"):
                if nb.relative_to(dest / name).as_posix() not in notebooks:
                    nb.unlink()
            for folder in (dest / name).iterdir():
                if folder.is_dir() and not any(folder.glob("*.ipynb")):
                    shutil.rmtree(folder)
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    (dest / "tests").mkdir(exist_ok=True)
    shutil.copytree(ROOT / "tests" / "mutants", dest / "tests" / "mutants")
    return dest


def run_benchmark(name: str, *args: str) -> int:
    """main(args) of benchmarks/<name>.py, in this process; the thread count it sets is restored."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    try:
        return script.main(list(args))
    finally:
        torch.set_num_threads(threads)


def solution_lines(source_nb) -> set[str]:
    """Distinctive lines a student could only get from the solutions or hidden tests."""
    import re

    from dlcourse_staff import notebooks

    lines = set()
    for cell in source_nb.cells:
        m = notebooks.meta(cell)
        if m.get("solution") and m.get("grade") is False and cell.cell_type == "code":
            region = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            lines |= {l.strip() for r in region for l in r.splitlines() if len(l.strip()) > 25}
        elif m.get("solution") and cell.cell_type == "markdown":
            lines |= {l.strip() for l in cell.source.splitlines() if len(l.strip()) > 25}
    return lines
