"""Reading the course's nbgrader notebooks: graded parts, solution text, stubs, a fast harness.

Conventions every source notebook follows (tests/test_notebook_style.py enforces them):

* the first code cell is the setup cell, its grade_id ends in ``-setup``;
* an autograded part is a solution cell ``<id>`` followed by its test cell ``<id>-test``;
* a test cell's hidden region is one call: ``hidden.check("<id>-test", <object>)``.
"""
from __future__ import annotations

import contextlib
import io
import linecache
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOLUTION_MARKER = re.compile(r"^[ \t]*#+ *(BEGIN|END) SOLUTION.*\n?", re.M)


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return meta(cell).get("grade_id")


def by_grade_id(nb) -> dict:
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def strip_solution_markers(source: str) -> str:
    """Solution text as a student would type it: the nbgrader markers removed."""
    return SOLUTION_MARKER.sub("", source)


@dataclass(frozen=True)
class Part:
    """One autograded part: the student's solution cell and the test cell that grades it."""

    solution_id: str
    test_id: str
    points: float


def autograded_parts(nb) -> list[Part]:
    cells = by_grade_id(nb)
    parts = []
    for gid, cell in cells.items():
        m = meta(cell)
        if m.get("grade") and cell.cell_type == "code" and gid.endswith("-test"):
            parts.append(Part(gid[: -len("-test")], gid, float(m.get("points", 0))))
    return parts


def setup_cell(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            if not (grade_id(cell) or "").endswith("-setup"):
                raise ValueError("the first code cell must be the setup cell (grade_id ending in '-setup')")
            return cell
    raise ValueError("notebook has no code cell")


HIDDEN = re.compile(r"^[ \t]*#+ *BEGIN HIDDEN TESTS.*?^[ \t]*#+ *END HIDDEN TESTS[^\n]*\n?", re.S | re.M)


def hidden_region(source: str) -> str:
    """The hidden region of a test cell: what the grader runs for it (never its visible checks)."""
    match = HIDDEN.search(source)
    return match.group(0) if match else ""


def harness_program(source_nb, solutions: dict[str, str]) -> list[tuple[str, str, str]]:
    """The cells a grader needs, in notebook order: setup, solution cells of autograded parts
    (text taken from ``solutions``) and the hidden regions of their test cells — as autograding
    runs them: a test cell's visible checks are the student's tool, not part of the grade.
    Returns (grade_id, kind, source)."""
    parts = {p.solution_id: p for p in autograded_parts(source_nb)}
    tests = {p.test_id for p in parts.values()}
    setup = setup_cell(source_nb)
    program = []
    for cell in source_nb.cells:
        gid = grade_id(cell)
        if cell is setup:
            program.append((gid, "setup", cell.source))
        elif gid in parts:
            program.append((gid, "solution", solutions.get(gid, cell.source)))
        elif gid in tests:
            program.append((gid, "test", hidden_region(cell.source)))
    return program


def run_harness(program, *, cwd=None) -> dict[str, tuple[bool, str]]:
    """Execute a harness program in a fresh namespace, as the grader's kernel would, but without
    a kernel and without the notebook's experiments. Returns {test_id: (passed, message)}."""
    namespace: dict = {"__name__": "__main__"}
    results = {}
    old_cwd = os.getcwd()
    sink = io.StringIO()
    try:
        if cwd is not None:
            os.chdir(cwd)
        for gid, kind, source in program:
            filename = f"<cell {gid}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # inspect.getsource
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    exec(compile(source, filename, "exec"), namespace)
            except BaseException as err:  # noqa: BLE001 - a mutant may raise anything, even SystemExit
                if isinstance(err, KeyboardInterrupt):
                    raise
                if kind == "setup":
                    raise RuntimeError(f"setup cell failed: {type(err).__name__}: {err}") from err
                if kind == "test":
                    results[gid] = (False, f"{type(err).__name__}: {err}")
                continue
            if kind == "test":
                results[gid] = (True, "")
    finally:
        os.chdir(old_cwd)
    return results


def solution_texts(nb) -> dict[str, str]:
    """{solution grade_id: source} of the code solution cells of autograded parts."""
    cells = by_grade_id(nb)
    return {p.solution_id: cells[p.solution_id].source for p in autograded_parts(nb) if p.solution_id in cells}


def fill_release(release_nb, source_nb, overrides: dict[str, str] | None = None, *, answers: bool = True):
    """A student's submission: the release notebook with solution cells filled in from the source
    (markers stripped), written answers copied when ``answers``, and ``overrides`` (grade_id →
    source) replacing chosen cells, e.g. with a mutant."""
    overrides = overrides or {}
    src = by_grade_id(source_nb)
    out = nbformat.from_dict(release_nb)
    for cell in out.cells:
        gid = grade_id(cell)
        if not gid or not meta(cell).get("solution"):
            continue
        if gid in overrides:
            cell.source = strip_solution_markers(overrides[gid])
        elif gid in src and (cell.cell_type == "code" or answers):
            cell.source = strip_solution_markers(src[gid].source)
    return out
