"""Grading a whole class with ``python -m dlcourse_staff grade``, proven against the adversarial
bank (tests/adversarial/): the whole bank and a perfect student are graded once, in parallel,
with short limits, in a throw-away course that holds week05/resnet_implementation.ipynb only.

Each case must end with its expected status, lose exactly its expected parts, show its message,
and leave everyone else alone; feedback must never show the hidden checks, the reference code or
frames of the hidden-check package; a re-run must change nothing.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from adversarial import bank
from conftest import ROOT, copy_course, data_root
from dlcourse_staff import classgrade, course, notebooks

pytestmark = pytest.mark.slow


def require_cifar():
    # the notebook trains on CIFAR-10 even in grade mode
    root = data_root()
    if not ((root / "cifar10" / "cifar10-jpg.tar.gz").exists() or (root / "cifar10" / "cifar-10-batches-py").exists()):
        pytest.skip(f"CIFAR-10 is not under the data root {root} (set DLCOURSE_DATA_ROOT)")

ASSIGNMENT = "week05"
NB_NAME = "resnet_implementation"
NOTEBOOK_PATH = f"{ASSIGNMENT}/{NB_NAME}.ipynb"
# Short limits keep the bank fast; the longest legitimate cell of the notebook in grade mode
# takes ~4 s on a busy CPU, so 20 s per cell leaves room while an endless cell costs 20 s.
LIMITS = classgrade.Limits(cell_timeout=20, notebook_timeout=240, memory_mb=3072)
STAFF = ROOT / "lib" / "dlcourse" / "staff"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_cifar()
    root = copy_course(tmp_path_factory.mktemp("class"), [bank.NOTEBOOK])
    for case in bank.CASES:  # the files as they are: one of them is not even JSON
        folder = root / "submitted" / case / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(bank.HERE / f"{case}.ipynb", folder / f"{NB_NAME}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-02 09:00:00 UTC")
    before = {p: p.stat().st_mtime for p in (root / "source").rglob("*")}
    progress: list[str] = []
    report = classgrade.grade_class(root, ASSIGNMENT, workers=2, limits=LIMITS, out=progress.append)
    print("\n" + classgrade.format_summary(report))
    return dict(root=root, report=report, results={r.student: r for r in report.results}, progress=progress,
                db_url=course.db_url(root), source_before=before)


def _cell_scores(graded, student) -> dict:
    return course.Course(graded["root"]).cell_scores(ASSIGNMENT, student)[NB_NAME]


def _feedback_text(graded, student) -> str:
    path = graded["root"] / "feedback" / student / ASSIGNMENT / f"{NB_NAME}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", list(bank.CASES))
def test_case_ends_as_expected(graded, case):
    expected = bank.CASES[case]
    result = graded["results"][case]
    assert result.status == expected["status"], f"{case}: {result.status} ({result.reason})"
    scores = _cell_scores(graded, case)
    lost = {gid for gid, (score, top) in scores.items() if score < top}
    assert lost == expected["lost"], f"{case}: lost {sorted(lost)}, expected {sorted(expected['lost'])}"
    assert sum(s for s, _ in scores.values()) == 10 - bank.lost_points(case)
    zeroed = {gid for report in result.notebooks.values() for gid in report["zeroed"]}
    assert zeroed == expected.get("integrity", set()), f"{case}: integrity zeroed {sorted(zeroed)}"
    flags = {f["what"] for f in result.flags}
    assert expected.get("flags", set()) <= flags, f"{case}: flags {sorted(flags)}"
    if "message" in expected:
        where, text = expected["message"]
        haystack = result.reason if where == "reason" else _feedback_text(graded, case)
        assert text in haystack, f"{case}: {text!r} not in the {where}"


def test_control_student_is_untouched_by_the_others(graded):
    result = graded["results"]["perfect"]
    assert result.status == "graded" and not result.reason
    assert not result.integrity and not result.flags, (result.integrity, result.flags)
    assert all(score == top for score, top in _cell_scores(graded, "perfect").values())


def test_progress_shows_every_student_with_an_eta(graded):
    lines = [l for l in graded["progress"] if l.startswith("[")]
    assert len(lines) == len(bank.CASES)
    assert all("남은 시간" in l for l in lines)
    assert re.search(rf"\[\s*{len(bank.CASES)}/{len(bank.CASES)}\]", lines[-1])


def test_failed_grading_is_never_a_silent_zero(graded):
    path = graded["report"].scores_csv
    with open(path, newline="", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(bank.CASES)
    score_col = next(k for k in rows["perfect"] if k.startswith(NB_NAME))
    for case, expected in bank.CASES.items():
        row = rows[case]
        assert row["status"] == expected["status"]
        if expected["status"] == "failed":
            assert row[score_col] == "" and row["autograded"] == "", f"{case}: a failed grading shows a score"
            assert row["reason"], f"{case}: a failed grading without a reason"
        else:
            assert float(row["autograded"]) == 10 - bank.lost_points(case)
    assert rows["untouched_stub"]["autograded"] == "0"
    assert "gradebook" in rows["gradebook_and_outside"]["integrity"]
    with open(graded["report"].phase_csv, newline="", encoding="utf-8") as fh:
        phase = {r["student"]: r for r in csv.DictReader(fh)}
    assert phase["os_exit"]["phase"] == "" and "실패" in phase["os_exit"]["notes"]
    assert phase["untouched_stub"]["phase"] == "0.0"
    assert float(phase["perfect"]["phase"]) > 0 and phase["perfect"]["week06"] == ""


def _secret_lines() -> set[str]:
    lines = set()
    for path in list((STAFF / "hidden").glob("*.py")) + list((STAFF / "solutions").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("#", '"""', "def ", "class ", "from ", "import ")):
                lines.add(line)
    return lines


def test_feedback_never_leaks_hidden_checks_or_reference(graded):
    secrets = _secret_lines()
    assert len(secrets) > 50
    for case in bank.CASES:
        path = graded["root"] / "feedback" / case / ASSIGNMENT / f"{NB_NAME}.html"
        if not path.exists():  # nbgrader could not read this one: nothing to give back
            assert case == "not_a_notebook"
            continue
        text = _feedback_text(graded, case)
        own = "\n".join(c.source for c in notebooks.read(bank.HERE / f"{case}.ipynb").cells)
        for marker in ("BEGIN HIDDEN", "END HIDDEN", "hidden.check(", str(STAFF), "staff/dlcourse_staff/", "_registry"):
            assert marker not in text, f"feedback of {case} shows {marker!r}"
        if "dlcourse_staff" not in own:
            assert "dlcourse_staff" not in text, f"feedback of {case} names the hidden-check package"
        leaked = [line for line in secrets if line in text and line not in own]
        assert not leaked, f"feedback of {case} shows hidden-check or reference lines: {leaked[:3]}"
        assert "hidden checks are not shown" in text  # the placeholder of every hidden region


def test_feedback_shows_each_verdict_and_its_korean_message(graded):
    text = _feedback_text(graded, "hardcoded_outputs")
    assert "숨겨진 검사 통과" in text                                  # a part that passed says so
    assert re.search(r"CheckFailed: BasicBlock\(in_planes=\d+, planes=\d+, stride=\d\): .*[가-힣]", text)
    text = _feedback_text(graded, "monkeypatch")
    assert "IntegrityViolation" in text and "무결성 위반" in text
    assert "torch.allclose" not in text.split("IntegrityViolation", 1)[1][:400]  # no detail of the guard


def test_nothing_written_outside_and_gradebook_intact(graded):
    root = graded["root"]
    assert not list(root.rglob("pwned.txt")) and not list(Path("/tmp").glob("dlcourse-pwned.txt"))
    assert {p: p.stat().st_mtime for p in (root / "source").rglob("*")} == graded["source_before"]
    db = sqlite3.connect(root / "gradebook.db")
    try:
        worst = db.execute("SELECT MAX(auto_score) FROM grade").fetchone()[0]
    finally:
        db.close()
    assert worst <= 2, "a submission rewrote the gradebook"


def test_no_kernel_outlives_the_grading(graded):
    root = str(graded["root"])
    alive = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if ("sandbox.py" in cmd or "nbgrader" in cmd) and cwd.startswith(root):
            alive.append(cmd)
    assert not alive, alive


def test_rerun_changes_nothing_then_regrades_only_what_changed(graded):
    root, db_url = graded["root"], graded["db_url"]

    def snapshot():
        db = sqlite3.connect(root / "gradebook.db")
        try:
            return sorted(db.execute(
                "SELECT s.id, g.cell_id, g.auto_score FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id "
                "JOIN submitted_assignment a ON n.assignment_id = a.id JOIN student s ON a.student_id = s.id").fetchall())
        finally:
            db.close()

    before = snapshot()
    lines: list[str] = []
    # (a failed grading is always tried again; test_class_grading_units checks that choice)
    settled = [c for c, e in bank.CASES.items() if e["status"] != "failed"]
    again = classgrade.grade_class(root, ASSIGNMENT, workers=2, limits=LIMITS, out=lines.append, students=settled)
    assert all(r.skipped for r in again.results), [r.student for r in again.results if not r.skipped]
    assert {r.student: r.status for r in again.results} == {c: bank.CASES[c]["status"] for c in settled}
    after = snapshot()
    assert after == before, "a re-run changed or duplicated grades"
    # a student hands in again: only that submission is graded again, its grades replaced
    perfect = notebooks.read(bank.HERE / "perfect.ipynb")
    course.Course(root).submit("untouched_stub", ASSIGNMENT, {NB_NAME: perfect})
    third = classgrade.grade_class(root, ASSIGNMENT, workers=2, limits=LIMITS, out=lines.append,
                                   students=["untouched_stub", "perfect"])
    regraded = {r.student for r in third.results if not r.skipped}
    assert regraded == {"untouched_stub"}
    assert all(score == top for score, top in _cell_scores(graded, "untouched_stub").values())
    assert len(snapshot()) == len(before)
    statuses = classgrade.load_statuses(db_url, ASSIGNMENT)
    assert len(statuses) == len(bank.CASES) and statuses[(ASSIGNMENT, "untouched_stub")]["status"] == "graded"
    assert json.loads(statuses[(ASSIGNMENT, "os_exit")]["details"])["notebooks"][NB_NAME]["status"] == "failed"


def test_release_regenerates_while_the_gradebook_holds_submissions(graded):
    # With submissions in its gradebook, nbgrader's generate_assignment refuses a changed
    # assignment (here: a notebook added) and deletes release/<assignment> on the way out;
    # `release` goes through a scratch gradebook instead.
    root = graded["root"]
    added = root / "source" / ASSIGNMENT / "lstm_implementation.ipynb"
    released = root / "release" / NOTEBOOK_PATH
    before = released.read_bytes()
    shutil.copy(ROOT / "source" / ASSIGNMENT / added.name, added)
    try:
        course.Course(root).release(ASSIGNMENT)
        assert released.read_bytes() == before
        assert (root / "release" / ASSIGNMENT / added.name).exists()
    finally:
        added.unlink()
        (root / "release" / ASSIGNMENT / added.name).unlink(missing_ok=True)
    assert classgrade.load_statuses(graded["db_url"], ASSIGNMENT), "the course gradebook lost its grades"
