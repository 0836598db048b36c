"""Fast checks of the class-grading pieces that need no notebook run: the phase grade, when a
submission is graded again, the guard's attribution and repairs, and the OS sandbox."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types

import pytest

from conftest import ROOT
from dlcourse_staff import classgrade, sandbox

NB = {"week05": {"resnet_implementation": 25.0, "lstm_implementation": 25.0},
      "week06-labs": {"01_attention_basics": 10.0}}


def _score(score, top=25.0, pending=0.0):
    return {"score": score, "max": top, "auto": score, "auto_max": top, "manual_pending": pending}


def _phase(notebooks, scores, statuses=None, students=None):
    rows = classgrade.phase_grades(notebooks, set(students or []), scores, statuses or {})
    return {r["student"]: r for r in rows}


def test_phase_grade_counts_what_was_held_and_only_that():
    scores = {("week05", "ana"): {"resnet_implementation": _score(20), "lstm_implementation": _score(15)},
              ("week06-labs", "ana"): {"01_attention_basics": _score(10, 10)}}
    row = _phase(NB, scores, students=["ana", "bo"])["ana"]
    assert row["week05"] == "70.0" and row["weekly"] == "70.0"
    assert row["week06"] == "" and row["midterm"] == ""       # not held: missing, not zero
    assert row["phase"] == "70.0" and row["provisional"] == "yes"
    assert "중간 프로젝트 미실시" in row["notes"]
    bo = _phase(NB, scores, students=["ana", "bo"])["bo"]      # held but not handed in: zero
    assert bo["week05"] == "0.0" and bo["phase"] == "0.0" and "미제출" in bo["notes"]


def test_phase_grade_weighs_weekly_70_and_midterm_30():
    notebooks = {**NB, "week08": {"midterm_transformer": 100.0}}
    scores = {("week05", "ana"): {"resnet_implementation": _score(25), "lstm_implementation": _score(10)},
              ("week08", "ana"): {"midterm_transformer": _score(80, 100)}}
    row = _phase(notebooks, scores)["ana"]
    assert row["weekly"] == "70.0" and row["midterm"] == "80.0"
    assert row["phase"] == f"{0.7 * 70 + 0.3 * 80:.1f}" and row["provisional"] == ""


def test_phase_grade_is_blank_while_a_grading_failed_and_provisional_while_manual_points_wait():
    scores = {("week05", "ana"): {"resnet_implementation": _score(5), "lstm_implementation": _score(5)},
              ("week05", "cy"): {"resnet_implementation": _score(10, pending=15), "lstm_implementation": _score(25)}}
    statuses = {("week05", "ana"): {"status": "failed"}, ("week05", "cy"): {"status": "graded"}}
    rows = _phase(NB, scores, statuses)
    assert rows["ana"]["phase"] == "" and "채점 실패" in rows["ana"]["notes"]
    assert rows["cy"]["phase"] == "70.0" and rows["cy"]["provisional"] == "yes"
    assert "수동 채점 대기 15점" in rows["cy"]["notes"]


def test_a_grading_stands_only_if_it_finished_and_nothing_changed():
    row = {"status": "graded", "checksum": "abc"}
    assert classgrade.settled(row, "abc", True)
    assert classgrade.settled({**row, "status": "timed out"}, "abc", True)
    assert not classgrade.settled({**row, "status": "failed"}, "abc", True)   # always tried again
    assert not classgrade.settled(row, "abd", True)                            # handed in again
    assert not classgrade.settled(row, "abc", False)                           # outputs deleted
    assert not classgrade.settled(None, "abc", True)


def test_checksum_follows_the_submission(tmp_path):
    sub = tmp_path / "submitted" / "ana" / "week05"
    sub.mkdir(parents=True)
    (tmp_path / "source" / "week05").mkdir(parents=True)
    (sub / "a.ipynb").write_text("{}")
    first = classgrade.submission_checksum(tmp_path, "week05", "ana")
    assert first == classgrade.submission_checksum(tmp_path, "week05", "ana")
    (sub / "a.ipynb").write_text('{"x": 1}')
    assert classgrade.submission_checksum(tmp_path, "week05", "ana") != first


def test_failure_reason_is_the_exception_not_the_boilerplate():
    log = ("[AutogradeApp | ERROR] There was an error processing assignment: x\n"
           "Traceback (most recent call last):\n  File \"a.py\", line 1\n"
           "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: 'oops'\n"
           "[AutogradeApp | ERROR] Please see the the above traceback for details\n"
           "nbgrader.converters.base.NbGraderException: Please see the the above traceback for details\n")
    assert classgrade._failure_reason(log).startswith("nbformat.reader.NotJSONError")
    assert classgrade._safe_url("postgresql://grader:secret@db:5432/gb") == "postgresql://grader:***@db:5432/gb"


# --- the guard, without installing it (an audit hook cannot be removed from this process) -----
@pytest.fixture
def guard(tmp_path):
    fd = os.open(tmp_path / "guard.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    policy = {"staff_dir": str(ROOT / "lib" / "dlcourse" / "staff"), "library_roots": [str(ROOT / "lib" / "dlcourse")],
              "write_roots": [str(tmp_path / "work")], "secrets": [[str(tmp_path / "gb.db"), "gradebook"]],
              "read_ok": [str(tmp_path / "work")], "trusted": ["x = 1"]}
    g = sandbox.Guard(policy, fd)
    g.cell_dir = str(tmp_path / "cells") + os.sep
    yield g
    os.close(fd)


def test_guard_tells_student_code_from_libraries_and_staff(guard):
    assert guard.classify(math.__file__ if hasattr(math, "__file__") else json.__file__) == sandbox.LIBRARY
    assert guard.classify(str(ROOT / "lib" / "dlcourse" / "staff" / "hidden" / "_registry.py")) == sandbox.STAFF
    assert guard.classify(str(ROOT / "lib" / "dlcourse" / "checks.py")) == sandbox.LIBRARY
    assert guard.classify("<string>") == sandbox.STUDENT
    assert guard.classify(__file__) == sandbox.STUDENT  # a file outside the installed libraries
    assert guard.secret(os.path.realpath(str(ROOT / "lib" / "dlcourse" / "staff" / "solutions"))) == "reference"
    assert guard.secret(str(guard.secrets[0][0])) == "gradebook"
    assert guard.secret(os.path.realpath(guard.write_roots[0] + "/x.py")) is None


def test_guard_knows_who_made_a_replacement(guard):
    import functools

    assert guard.made_by_student(lambda *a, **k: True)             # defined here: not a library
    assert not guard.made_by_student(math.floor) and not guard.made_by_student(json.dumps)
    assert guard.made_by_student("".format)                         # accepts anything, returns quietly
    assert guard.made_by_student(functools.partial(lambda: None))
    assert not guard.made_by_student(functools.partial(print, end=""))
    assert guard.made_by_student(type("Fake", (), {"__module__": "__main__"}))


def test_snapshot_undoes_what_student_code_replaced(guard):
    mod = types.ModuleType("dlcourse._guard_probe")
    mod.check = json.dumps
    mod.helper = math.floor
    sys.modules[mod.__name__] = mod
    try:
        snap = sandbox._Snapshot(guard.made_by_student)
        mod.check = lambda *a, **k: None          # a patch from "student" code
        mod.helper = math.ceil                    # a library replacing its own function
        mod.extra = lambda: 1                     # additions are harmless
        changed = snap.verify_and_restore(strict=False)
        assert changed == ["dlcourse._guard_probe.check"]
        assert mod.check is json.dumps and mod.helper is math.ceil
        del mod.helper                            # a deletion counts after a student cell only
        assert snap.verify_and_restore(strict=True) == ["dlcourse._guard_probe.helper"]
        assert mod.helper is math.ceil
    finally:
        sys.modules.pop(mod.__name__, None)


def test_os_sandbox_limits_memory_and_writes(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    probe = tmp_path / "probe_sandbox.py"
    probe.write_text(
        "import os, sys\n"
        "res = {}\n"
        "try:\n    open(sys.argv[1], 'w').write('x'); res['outside'] = 'written'\n"
        "except OSError as e:\n    res['outside'] = type(e).__name__\n"
        "open(os.path.join(sys.argv[2], 'ok.txt'), 'w').write('x'); res['inside'] = 'written'\n"
        "try:\n    b = bytearray(900 * 2**20); res['memory'] = 'allocated'\n"
        "except MemoryError:\n    res['memory'] = 'MemoryError'\n"
        "print(res)\n")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"log": str(tmp_path / "log"), "memory_bytes": 600 * 2**20, "landlock": True,
                                  "guard": False, "write_roots": [str(work)]}))
    out = subprocess.run([sys.executable, str(ROOT / "lib" / "dlcourse" / "staff" / "sandbox.py"), str(policy), "--",
                          "-m", "probe_sandbox", str(tmp_path / "outside.txt"), str(work)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    result = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own probe's dict
    assert result["memory"] == "MemoryError" and result["inside"] == "written"
    notes = (tmp_path / "log").read_text()
    if "landlock ABI" in notes:
        assert result["outside"] == "PermissionError" and not (tmp_path / "outside.txt").exists()
    else:
        pytest.skip(f"no Landlock on this kernel: {notes.strip()}")


def test_guard_allows_stack_traces_and_devnull_but_not_peeking(guard, tmp_path):
    hidden = str(ROOT / "lib" / "dlcourse" / "staff" / "hidden" / "_registry.py")
    ns: dict = {}
    # a student's function that opens a file (as linecache does for traceback.format_stack(),
    # which torch.manual_seed records), called back by a hidden check
    exec(compile("def student_open(g, path, writing=False):\n"
                 "    g._check_paths('open', [path], writing=writing, depth=1)\n", "<student cell>", "exec"), ns)
    exec(compile("def hidden_check(fn, g, path):\n    fn(g, path)\n", hidden, "exec"), ns)
    ns["hidden_check"](ns["student_open"], guard, hidden)        # source of running code: allowed
    ns["student_open"](guard, os.devnull, True)                   # libraries silence output there
    with pytest.raises(sandbox._Blocked):                         # the hidden checks, read on purpose
        ns["student_open"](guard, str(ROOT / "lib" / "dlcourse" / "staff" / "hidden" / "w05_resnet.py"))
    with pytest.raises(sandbox._Blocked):
        ns["student_open"](guard, str(tmp_path / "outside.txt"), True)
