"""The released notebooks carry no solution, hidden check or instructor-package text. (That
release/ is what generate_assignment makes, and the real grading round trip, are in
tests/test_grading.py, which grades the whole course once.)"""

import nbformat
import pytest

from conftest import ROOT, solution_lines
from dlcourse_staff import notebooks

LEAKS = ("dlcourse_staff", "staff/dlcourse_staff", "hidden.check", "BEGIN HIDDEN", "END HIDDEN", "BEGIN SOLUTION",
         "END SOLUTION", "_registry", "solutions")




@pytest.mark.parametrize("rel", sorted(p.relative_to(ROOT / "release").as_posix()
                                       for p in (ROOT / "release").glob("*/*.ipynb")))
def test_release_leaks_nothing(rel):
    text = (ROOT / "release" / rel).read_text(encoding="utf-8")
    for marker in LEAKS:
        assert marker not in text, f"release/{rel} contains {marker!r}"
    released = nbformat.reads(text, as_version=4)
    released_text = "\n".join(c.source for c in released.cells)
    for line in solution_lines(notebooks.read(ROOT / "source" / rel)):
        assert line not in released_text, f"release/{rel} contains solution text: {line!r}"
