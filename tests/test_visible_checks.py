"""No visible check warns on correct code: every test cell's visible part (the ``with dl.part(…)``
block above the hidden region) runs on the reference solution with warnings as errors, and prints
nothing to stderr (which ``nbgrader validate`` would count as a failure)."""
from __future__ import annotations

import os
import re
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, SOURCE_NOTEBOOKS
from dlcourse import validation
from dlcourse_staff import notebooks

pytestmark = pytest.mark.slow

GRADED = [rel for rel in SOURCE_NOTEBOOKS if notebooks.autograded_parts(notebooks.read(ROOT / "source" / rel))]
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*", re.S | re.M)


def visible_part(source: str) -> str:
    return HIDDEN.sub("", source).rstrip() + "\n"


def strict(source: str) -> str:
    """The visible part with every warning raised as an error."""
    body = textwrap.indent(visible_part(source), "    ")
    return ("import warnings as _warnings\n"
            "with _warnings.catch_warnings():\n"
            "    _warnings.simplefilter('error')\n" + body)


@pytest.mark.parametrize("rel", GRADED)
def test_visible_checks_pass_the_reference_without_warnings(rel, tmp_path, monkeypatch):
    nb = notebooks.read(ROOT / "source" / rel)
    last = validation.last_test_index(nb)
    cells, tests = [], []
    for index, cell in enumerate(nb.cells[: last + 1]):
        if cell.cell_type != "code":
            continue
        cell = nbformat.from_dict(cell)
        cell.outputs, cell.execution_count = [], None
        if validation.is_test_cell(cell):
            cell.source = strict(cell.source)
            tests.append(len(cells))
        cells.append(cell)
    run = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")   # grade mode: tiny budgets, as Validate runs it
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "nb").mkdir()
    NotebookClient(run, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path / "nb")}}).execute()
    problems = []
    for index in tests:
        cell = run.cells[index]
        gid = notebooks.grade_id(cell)
        for out in cell.outputs:
            if out.output_type == "error":
                problems.append(f"{gid}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                problems.append(f"{gid}: stderr {out.text[:300]!r}")
        if not any(out.output_type == "stream" and "통과" in out.get("text", "") for out in cell.outputs):
            problems.append(f"{gid}: no pass line")
    assert not problems, "\n".join(problems)
    assert os.environ.get("NBGRADER_EXECUTION") == "validate"
