"""nbgrader plug-ins of the course.

:class:`ScrubFeedback` runs when feedback is generated: it removes hidden-test regions from the
cells and reduces error tracebacks so that the student sees each check's verdict and Korean
message, but never how the check works or where it lives.
"""
from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HIDDEN_REGION = re.compile(r"^[ \t]*#+ *BEGIN HIDDEN TESTS.*?^[ \t]*#+ *END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
PLACEHOLDER = "# (숨겨진 검사: 내용은 공개되지 않습니다 / hidden checks are not shown)\n"
SECRET_MARKERS = ("dlcourse.staff", "dlcourse/staff", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scrub_source(source: str) -> str:
    return HIDDEN_REGION.sub(PLACEHOLDER, source)


def _is_secret(text: str) -> bool:
    return any(marker in text for marker in SECRET_MARKERS)


def scrub_outputs(outputs, *, graded: bool):
    """Drop secret lines from text outputs; reduce tracebacks to their last line in graded cells."""
    for out in outputs:
        if out.get("output_type") == "error":
            frames = [ANSI.sub("", f) for f in out.get("traceback", [])]
            if graded:
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            else:
                out["traceback"] = [f for f in frames if not _is_secret(f)]
            if _is_secret(str(out.get("evalue", ""))):
                out["evalue"] = "(숨겨진 검사 내부 정보는 표시하지 않습니다)"
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out['evalue']}"]
        elif out.get("output_type") == "stream":
            text = out.get("text", "")
            if _is_secret(text):
                out["text"] = "".join(line for line in text.splitlines(True) if not _is_secret(line))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/") and _is_secret(str(data[mime])):
                    del data[mime]
    return outputs


class ScrubFeedback(Preprocessor):
    """Hide hidden tests and the hidden-check package from generated feedback."""

    enabled = Bool(True, help="nbconvert runs only enabled preprocessors").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        graded = bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
        cell.source = scrub_source(cell.source)
        if cell.cell_type == "code":
            scrub_outputs(cell.get("outputs", []), graded=graded)
        return cell, resources
