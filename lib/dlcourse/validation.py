"""What ``nbgrader validate`` and JupyterLab's Validate button say, for this course.

Stock nbgrader prints "VALIDATION FAILED ON N CELL(S)" followed by the whole source of every
failing cell, cut at 90 columns, with English messages. For a student that says little: which
*part* is unfinished? This module, installed from ``nbgrader_config.py`` (the course's and the
student bundle's: ``install(c)``), makes validation

* run only what grading runs: the code cells up to the last autograded test cell (the
  experiments after it are not executed, so validation takes seconds, not a training run);
* name every unfinished or failing part by its heading, in Korean: a test cell by the title of
  its ``dl.part("…")`` block, a written answer by its question ("질문 3.1", "분석 2.A", …);
* show the failure as the student's line and the Korean message (no cut lines, no helper frames);
* say, in Korean, what passing means: the visible checks pass; the hidden checks decide the score.

nbgrader builds its ``Validator`` directly (no class to configure), so :func:`install` adapts
that class in the process that loads the configuration; nbgrader is pinned (requirements.txt) and
the tests run real ``nbgrader validate`` on blank, partial and complete notebooks. Nothing here
imports torch: nbgrader's processes stay light.
"""
from __future__ import annotations

import re
import textwrap

PART_CALL = re.compile(r"""dl\.part\(\s*(['"])(.+?)\1""")
HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*$", re.M)
BOLD_LABEL = re.compile(r"^\*\*(.+?)\*\*", re.S)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ARROW = re.compile(r"^\s*-+>\s*\d+")
WIDTH = 100

FAILED_HEAD = ("검증 실패 (VALIDATION FAILED): 아직 끝나지 않았거나 공개 검사를 통과하지 못한 부분이 {num_failed}개 "
               "있습니다. 이대로 제출하면 만점을 받을 수 없습니다.")
PASSED_HEAD = ("검증 통과 (Success): 모든 구현 부분이 공개 검사(visible check)를 통과했고 서술형 답도 모두 썼습니다. "
               "점수는 채점 때 숨겨진 검사(hidden check)와 채점자가 정합니다.")
CHANGED_HEAD = ("잠긴 셀 {num_changed}개의 내용이 바뀌었습니다 (THE CONTENTS OF {num_changed} TEST CELL(S) HAVE CHANGED). "
                "채점 때는 원래 셀로 되돌려지므로 지금 통과해도 채점에서 통과한다는 보장이 없습니다. 바꾼 셀을 원래대로 되돌리세요.")
TYPE_CHANGED_HEAD = ("셀 {num_changed}개의 종류(코드/마크다운)가 바뀌었습니다 (THE TYPES OF {num_changed} CELL(S) HAVE "
                     "CHANGED). 원래 종류로 되돌리세요.")
NO_ANSWER = "아직 답을 쓰지 않았습니다 (no answer yet): 이 칸에 답을 쓰세요."
NOT_RUN = "실행되지 않았습니다: 이 셀은 오류 없이 끝까지 실행되어야 합니다."


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    m = _meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def last_test_index(nb) -> int:
    """Index of the last autograded test cell (-1 when there is none)."""
    last = -1
    for index, cell in enumerate(nb.cells):
        if is_test_cell(cell):
            last = index
    return last


def part_labels(nb) -> dict:
    """{cell index: label} of every graded cell: a test cell's ``dl.part`` title (or the heading
    above it), a written answer's question ("질문 3.1 (2점)") or the heading above it."""
    labels, heading, previous_md = {}, None, None
    for index, cell in enumerate(nb.cells):
        source = cell.get("source", "")
        m = _meta(cell)
        if m.get("grade") or m.get("task"):
            label = None
            if cell.get("cell_type") == "code":
                found = PART_CALL.search(source)
                label = found.group(2) if found else heading
            else:
                bold = BOLD_LABEL.match((previous_md or "").strip())
                label = bold.group(1).strip().rstrip(".") if bold else heading
            labels[index] = label or m.get("grade_id", f"셀 {index}")
        if cell.get("cell_type") == "markdown" and not m.get("solution"):
            previous_md = source
            found = HEADING.findall(source)
            if found:
                heading = found[-1]
    return labels


def _wrap(text: str, indent: str = "    ") -> str:
    out = []
    for line in text.splitlines() or [""]:
        out += textwrap.wrap(line, WIDTH - len(indent), subsequent_indent="  ", break_long_words=True,
                             replace_whitespace=False, drop_whitespace=False) or [""]
    return "\n".join(indent + line for line in out)


def explain_error(cell) -> str:
    """The failure of a graded cell as a student should read it: for a code cell the frames of
    the student's own cell (``Cell In[…]`` with its arrow line) and the exception with its notes;
    for a written answer, that it is missing."""
    if cell.get("cell_type") != "code":
        return NO_ANSWER
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            lines = [ANSI.sub("", line) for frame in out.get("traceback", []) for line in frame.splitlines()]
            frames, current = [], None   # the student's own frames: "Cell In[…]" and its arrow line
            for line in lines:
                if line.startswith(("Cell In[", "Input In [")):
                    current = [line]
                    frames.append(current)
                elif line.startswith("File "):
                    current = None
                elif current is not None and ARROW.match(line) and len(current) == 1:
                    current.append("  " + line.strip())
            starts = [i for i, line in enumerate(lines) if line.startswith(f"{out.get('ename')}:")]
            text = "\n".join(lines[starts[-1]:]) if starts else f"{out.get('ename')}: {out.get('evalue')}"
            where = ["위치 (where): " + "\n".join(f) for f in frames[-2:]]
            parts.append("\n".join([text, *where]))
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            parts.append("경고나 오류 출력(stderr)이 있습니다:\n" + ANSI.sub("", out.get("text", "")).strip()[-1500:])
    return "\n".join(parts) or NOT_RUN


# --------------------------------------------------------------------------------------------
# nbgrader's Validator, adapted
# --------------------------------------------------------------------------------------------
def _preprocess(self, nb):
    """Run what grading runs: the code cells after the last autograded test cell are set aside
    while the notebook executes and put back afterwards, untouched."""
    last = last_test_index(nb)
    aside = {i: c for i, c in enumerate(nb.cells) if i > last >= 0 and c.get("cell_type") == "code"}
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in aside]
    try:
        nb = _ORIGINAL["_preprocess"](self, nb)
    finally:
        cells = list(nb.cells)
        for i in sorted(aside):
            cells.insert(i, aside[i])
        nb.cells = cells
    return nb


def _validate(self, filename):
    import os

    from nbformat import current_nbformat, read as read_nb
    from nbconvert.filters import ansi2html
    from nbgrader import utils

    self.log.info("Validating '{}'".format(os.path.abspath(filename)))
    with utils.chdir(os.path.dirname(filename)):
        nb = read_nb(os.path.basename(filename), as_version=current_nbformat)
    labels = part_labels(nb)
    by_id = {id(c): i for i, c in enumerate(nb.cells)}
    type_changed = self._get_type_changed_cells(nb)
    if type_changed:
        return {"type_changed": [{"source": labels.get(by_id[id(c)], c.source.strip()), "old_type": c.cell_type,
                                  "new_type": c.metadata.nbgrader.cell_type} for c in type_changed]}
    with utils.chdir(os.path.dirname(filename)):
        nb = self._preprocess(nb)
    by_id = {id(c): i for i, c in enumerate(nb.cells)}

    def label(cell):
        index = by_id.get(id(cell))
        points = _meta(cell).get("points")
        name = labels.get(index) or cell.source.strip()[:200]
        return f"{name} — {points:g}점" if isinstance(points, (int, float)) and "점" not in name else name

    changed, passed, failed = self._get_changed_cells(nb), self._get_passed_cells(nb), self._get_failed_cells(nb)
    if not self.ignore_checksums and changed:
        return {"changed": [{"source": c.source.strip()} for c in changed]}
    if self.invert:
        return {"passed": [{"source": label(c)} for c in passed]} if passed else {}
    if failed:
        return {"failed": [{"source": label(c), "error": ansi2html(explain_error(c)), "raw_error": explain_error(c)}
                           for c in failed]}
    return {}


def _validate_and_print(self, filename):
    results = self.validate(filename)
    write, rule = self.stream.write, "=" * min(self.width, WIDTH)
    if results.get("type_changed"):
        write(textwrap.fill(self.type_changed_warning.format(num_changed=len(results["type_changed"])), WIDTH) + "\n")
        for item in results["type_changed"]:
            write(f"\n{rule}\n{item['old_type']} → {item['new_type']}:\n{_wrap(item['source'])}\n")
    elif not self.ignore_checksums and results.get("changed"):
        write(textwrap.fill(self.changed_warning.format(num_changed=len(results["changed"])), WIDTH) + "\n")
        for item in results["changed"]:
            write(f"\n{rule}\n바뀐 셀 (changed cell):\n{_wrap(item['source'])}\n")
    elif self.invert:
        write(f"통과한 셀 {len(results.get('passed', []))}개 (NOTEBOOK PASSED ON {len(results.get('passed', []))} CELL(S))\n")
        for item in results.get("passed", []):
            write(f"  ✓ {item['source']}\n")
    elif results.get("failed"):
        write(textwrap.fill(self.failed_warning.format(num_failed=len(results["failed"])), WIDTH) + "\n")
        for item in results["failed"]:
            write(f"\n{rule}\n✗ {item['source']}\n{_wrap(item['raw_error'])}\n")
        write("\n")
    else:
        write(textwrap.fill(PASSED_HEAD, WIDTH) + "\n")


_ORIGINAL: dict = {}


def install(c=None) -> None:
    """Adapt nbgrader's Validator (see the module docstring); with a config ``c``, also set its
    Korean headlines. Safe to call more than once."""
    from nbgrader.validator import Validator

    if not _ORIGINAL:
        _ORIGINAL["_preprocess"] = Validator._preprocess
        Validator._preprocess = _preprocess
        Validator.validate = _validate
        Validator.validate_and_print = _validate_and_print
    if c is not None:
        c.Validator.failed_warning = FAILED_HEAD
        c.Validator.changed_warning = CHANGED_HEAD
        c.Validator.type_changed_warning = TYPE_CHANGED_HEAD
