"""nbval executes every source notebook top to bottom in fast mode (a copy, so that the figures
and checkpoints it writes stay out of source/)."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SOURCE_NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_source_notebook_runs_in_fast_mode(rel, tmp_path):
    nb = tmp_path / rel
    nb.parent.mkdir(parents=True)
    shutil.copy(ROOT / "source" / rel, nb)
    env = dict(os.environ, DLCOURSE_MODE="fast", MPLBACKEND="Agg")
    env.pop("NBGRADER_EXECUTION", None)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-cell-timeout=600", "-q",
                           "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=", nb.name],
                          cwd=nb.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(f"\n[{rel}] fast mode under nbval: {seconds:.0f}s")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert (nb.parent / "performance_analysis").exists() or "performance_analysis" not in nb.read_text()
