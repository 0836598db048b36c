"""Fast checks of the class-grading pieces that need no notebook run: the phase grade, when a
submission is graded again, shards from a job scheduler, reading a test cell's hidden call, what
autograding runs and keeps, and the OS sandbox (Landlock + seccomp) around a student's process."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import types

import pytest

import nbformat

from conftest import ROOT
from dlcourse_staff import classgrade, nbgrader_ext, sandbox

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


def test_shard_comes_from_slurm_or_an_indexed_job():
    assert classgrade.shard_from_env({}) is None
    assert classgrade.shard_from_env({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}) == (1, 4)
    assert classgrade.shard_from_env({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5",
                                      "SLURM_ARRAY_TASK_COUNT": "3"}) == (3, 3)
    assert classgrade.shard_from_env({"JOB_COMPLETION_INDEX": "2", "DLCOURSE_SHARDS": "3"}) == (3, 3)
    with pytest.raises(ValueError, match="DLCOURSE_SHARDS"):
        classgrade.shard_from_env({"JOB_COMPLETION_INDEX": "0"})
    with pytest.raises(ValueError, match="SLURM_ARRAY_TASK_COUNT"):
        classgrade.shard_from_env({"SLURM_ARRAY_TASK_ID": "1"})


def test_hidden_call_is_read_not_run():
    cell = ('x = 1\n### BEGIN HIDDEN TESTS\nfrom dlcourse_staff import hidden; '
            'hidden.check("w05-cam-test", class_activation_map, Other)\n### END HIDDEN TESTS\n')
    assert nbgrader_ext.parse_hidden(cell) == ("w05-cam-test", ["class_activation_map", "Other"])
    assert nbgrader_ext.parse_hidden("print(1)") is None
    assert nbgrader_ext.parse_hidden("### BEGIN HIDDEN TESTS\nhidden.check(name, X)\n### END HIDDEN TESTS\n") is None
    assert nbgrader_ext.parse_hidden("### BEGIN HIDDEN TESTS\nhidden.check('a', x.y)\n### END HIDDEN TESTS\n") is None


def _graded_nb():
    cells = [nbformat.v4.new_code_cell("import dlcourse as dl"), nbformat.v4.new_code_cell("def f(): ..."),
             nbformat.v4.new_code_cell('### BEGIN HIDDEN TESTS\nhidden.check("w05-f-test", f)\n### END HIDDEN TESTS\n'),
             nbformat.v4.new_code_cell("plot()")]
    cells[2].metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "w05-f-test", "points": 1}
    for c in cells:
        c.outputs = [nbformat.v4.new_output("stream", text="old\n")]
    return nbformat.v4.new_notebook(cells=cells)


def test_only_cells_up_to_the_last_test_run_and_the_rest_keep_the_students_outputs():
    nb = _graded_nb()
    plan = nbgrader_ext.Plan.of(nb)
    assert plan.last == 2 and plan.tests == {2: ("w05-f-test", ["f"])}
    assert [plan.runs(i) for i in range(4)] == [True, True, True, False]
    nb.cells[3].outputs.append(nbformat.v4.new_output("stream", text="x" * 5_000_000))
    nb, _ = nbgrader_ext.ClearGradedOutputs().preprocess(nb, {})
    assert [len(c.outputs) for c in nb.cells[:3]] == [0, 0, 0]
    assert nb.cells[3].outputs[0]["text"] == "old\n"
    assert "omitted" in nb.cells[3].outputs[1]["text"]


# --- the OS sandbox, on a real process --------------------------------------------------------
def _sandboxed(tmp_path, code: str, **extra) -> tuple[dict, dict]:
    """Run ``code`` (which fills a dict ``res``) under sandbox.py; returns (res, applied)."""
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    (tmp / "probe_sandbox.py").write_text("res = {}\n" + code + "\nprint(repr(res))\n")
    secret = tmp_path / "secret"
    secret.mkdir(exist_ok=True)
    (secret / "answers.txt").write_text("42")
    policy = {"dir": str(tmp_path), "report": str(tmp / "applied.json"), "memory_bytes": 600 * 2 ** 20,
              "landlock": True, "seccomp": True, "require": False,
              "read_roots": [p for p in ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/dev") if os.path.exists(p)]
              + sorted({sys.base_prefix, sys.prefix, os.path.dirname(os.__file__)}),
              "write_roots": [str(work), str(tmp)], "read_files": [], "preload": [], **extra}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    out = subprocess.run([sys.executable, str(ROOT / "lib" / "staff" / "dlcourse_staff" / "sandbox.py"),
                          str(tmp_path / "policy.json"), "--", "-m", "probe_sandbox"],
                         capture_output=True, text=True, timeout=120, cwd=work,
                         env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp), "HOME": str(tmp),
                              "TMPDIR": str(tmp), "SECRET_TOKEN": "hunter2"})
    assert out.returncode == 0, out.stderr[-3000:]
    return eval(out.stdout.strip().splitlines()[-1]), json.loads((tmp / "applied.json").read_text())  # noqa: S307


ATTEMPTS = r"""
import os, signal, socket, subprocess, sys
def attempt(name, fn):
    try:
        fn(); res[name] = "allowed"
    except BaseException as err:
        res[name] = type(err).__name__
secret = os.path.join(os.path.dirname(os.getcwd()), "secret", "answers.txt")
attempt("read_secret", lambda: open(secret).read())
attempt("list_parent", lambda: os.listdir(os.path.dirname(os.getcwd())))
attempt("write_inside", lambda: open("ok.txt", "w").write("x"))
attempt("write_outside", lambda: open(os.path.join(os.path.dirname(os.getcwd()), "pwned.txt"), "w").write("x"))
attempt("fork", lambda: os.fork() or os._exit(0))
attempt("subprocess", lambda: subprocess.run(["true"]))
attempt("tcp", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("parent_environ", lambda: open(f"/proc/{os.getppid()}/environ").read())
attempt("parent_memory", lambda: open(f"/proc/{os.getppid()}/mem", "rb").read(1))
attempt("signal_parent", lambda: os.kill(os.getppid(), 0))
attempt("memory", lambda: bytearray(900 * 2**20))
import threading
t = threading.Thread(target=lambda: res.__setitem__("thread", "ran")); t.start(); t.join()
"""


def test_os_sandbox_confines_the_students_process(tmp_path):
    support = nbgrader_ext.sandbox_support()
    if support["landlock_abi"] < 1:
        pytest.skip(f"no Landlock on this kernel (ABI {support['landlock_abi']})")
    res, applied = _sandboxed(tmp_path, ATTEMPTS)
    assert applied["problems"] == [], applied
    assert res["write_inside"] == "allowed" and res["thread"] == "ran"
    for name in ("read_secret", "list_parent", "write_outside", "fork", "subprocess", "parent_environ",
                 "parent_memory"):
        assert res[name] == "PermissionError", (name, res[name])
    assert res["memory"] == "MemoryError"
    if support["tcp"]:
        assert res["tcp"] == "PermissionError"
    if support["signals"]:
        assert res["signal_parent"] == "PermissionError"
    assert not (tmp_path / "pwned.txt").exists()
    assert "Landlock ABI" in nbgrader_ext.sandbox_summary(applied, True)


def test_required_sandbox_that_cannot_be_applied_refuses_to_start(tmp_path):
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    tmp.mkdir()
    policy = {"dir": str(tmp_path), "report": str(tmp / "applied.json"), "landlock": True, "seccomp": True,
              "require": True, "read_roots": ["/nonexistent-only"], "write_roots": [str(tmp)], "read_files": []}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    # an unreadable read root is skipped, so force a failure by asking for an impossible rule set:
    # no Landlock at all is simulated with a machine name the launcher does not know
    code = ("import sys, runpy, platform; platform.machine = lambda: 'vax'; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "lib" / "staff" / "dlcourse_staff" / "sandbox.py"),
                          str(tmp_path / "policy.json"), "--", "-m", "json.tool"], capture_output=True, text=True,
                         timeout=60, cwd=work)
    assert out.returncode == sandbox.REFUSED, (out.returncode, out.stderr)
    assert "sandbox could not be applied" in out.stderr
    assert nbgrader_ext.sandbox_summary(None, False).startswith("UNSANDBOXED")


def test_a_worker_that_dies_says_why_and_a_hang_says_its_limit(tmp_path):
    # a course whose config cannot load: every worker dies at start; the reason is its last log line
    (tmp_path / "nbgrader_config.py").write_text("raise RuntimeError('config-broken-42')\n", encoding="utf-8")
    done = []
    classgrade.run_jobs(tmp_path, "week05", [{"op": "grade", "student": "s1"}], workers=1, env=dict(os.environ),
                        settings={}, workdir=tmp_path, timeout_of=lambda job: 60,
                        on_done=lambda job, result, seconds: done.append((job, result)))
    (job, result), = done
    assert result is None and "config-broken-42" in job["worker_error"]
    died = classgrade.student_result(tmp_path, "", "week05", "s1", None, 1.0, tmp_path / "r", tmp_path / "none.log",
                                     480, job["worker_error"])
    assert died.status == "failed" and "config-broken-42" in died.reason and "480" not in died.reason
    hung = classgrade.student_result(tmp_path, "", "week05", "s1", None, 1.0, tmp_path / "r", tmp_path / "none.log", 480)
    assert hung.status == "failed" and "480" in hung.reason
