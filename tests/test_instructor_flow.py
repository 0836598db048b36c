"""The instructor's side of hand-in and grading, without running a class: the demo works in a
course folder of its own and ``grade`` never takes its example students; formgrader opens on the
demo's gradebook; "manual points pending" and the total mean the same in the demo table and the
class export; a student's zip hand-in is what ``nbgrader zip_collect`` ingests."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_course
from dlcourse import student
from dlcourse_staff import __main__ as cli
from dlcourse_staff import classgrade, course

RESNET = "week05/resnet_implementation.ipynb"


def _hand_in(root: Path, who: str, assignment: str = "week05") -> Path:
    folder = root / "submitted" / who / assignment
    folder.mkdir(parents=True)
    (folder / "resnet_implementation.ipynb").write_text("{}")
    return folder


def test_grade_never_takes_demo_students(tmp_path):
    _hand_in(tmp_path, "alice")
    _hand_in(tmp_path, "demo-perfect")
    _hand_in(tmp_path, "bob", "week06")
    assert classgrade.submissions(tmp_path, "week05") == ["alice"]
    assert classgrade.submissions(tmp_path, "week06") == ["bob"]
    assert [p.name for p in classgrade.demo_leftovers(tmp_path)] == ["demo-perfect"]


def test_demo_works_in_a_course_folder_of_its_own(tmp_path):
    root = copy_course(tmp_path / "course", [RESNET])
    _hand_in(root, "alice")
    demo = cli.demo_course(root)
    assert demo == root / ".cache" / "demo" / "course"
    assert (demo / "source" / RESNET).exists() and (demo / "nbgrader_config.py").exists()
    (demo / "submitted" / "demo-perfect" / "week05").mkdir(parents=True)
    again = cli.demo_course(root)   # new on every run: nothing of the last demo stays
    assert again == demo and not (demo / "submitted").exists()
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["alice"]


def test_formgrader_opens_on_the_demo_class(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, cwd, env: calls.append((cmd, cwd, env)) or 0)
    assert cli.cmd_formgrader(tmp_path, demo=True) == 2 and not calls
    assert "make demo" in capsys.readouterr().err
    demo = tmp_path / ".cache" / "demo" / "course"
    demo.mkdir(parents=True)
    (demo / "gradebook.db").touch()
    assert cli.cmd_formgrader(tmp_path, demo=True, port=8999) == 0
    cmd, cwd, env = calls[-1]
    assert cwd == demo and f"--ServerApp.root_dir={demo}" in cmd and "--ServerApp.default_url=/formgrader" in cmd
    assert "--ServerApp.port=8999" in cmd
    assert env["DLCOURSE_DB_URL"] == f"sqlite:///{demo / 'gradebook.db'}"
    monkeypatch.delenv("DLCOURSE_DB_URL", raising=False)
    assert cli.cmd_formgrader(tmp_path, demo=False) == 0
    cmd, cwd, env = calls[-1]
    assert cwd == tmp_path and f"--ServerApp.root_dir={tmp_path}" in cmd and "DLCOURSE_DB_URL" not in env


def _gradebook(url: str) -> None:
    """week05 with one notebook: a 3-point code test, a 2-point written answer and a 1-point one;
    alice's code passed, her first answer waits for a grader, the second she left blank (nbgrader
    scores a blank answer 0 and does not ask for a grader); bob is graded by hand in full."""
    from nbgrader.api import Gradebook

    with Gradebook(url, "phase2-dl") as gb:
        gb.add_assignment("week05")
        gb.add_notebook("resnet_implementation", "week05")
        gb.add_grade_cell("w05-test", "resnet_implementation", "week05", max_score=3, cell_type="code")
        gb.add_grade_cell("w05-q1", "resnet_implementation", "week05", max_score=2, cell_type="markdown")
        gb.add_grade_cell("w05-q2", "resnet_implementation", "week05", max_score=1, cell_type="markdown")
        for who in ("alice", "bob"):
            gb.add_student(who)
            gb.add_submission("week05", who)
        scores = {("alice", "w05-test"): (3, False), ("alice", "w05-q1"): (None, True),
                  ("alice", "w05-q2"): (0, False),
                  ("bob", "w05-test"): (0, False), ("bob", "w05-q1"): (2, False), ("bob", "w05-q2"): (1, False)}
        for (who, cell), (score, manual) in scores.items():
            grade = gb.find_grade(cell, "resnet_implementation", "week05", who)
            grade.auto_score, grade.needs_manual_grade = score, manual
        gb.db.commit()


def test_manual_pending_and_total_agree_in_demo_table_and_class_export(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", course.jupyter_env(tmp_path)["PATH"])  # a new gradebook runs alembic
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _gradebook(url)
    table = {r["student"]: r for r in course.Course(tmp_path, gradebook=url).grade_table("week05")}
    path = classgrade.export_scores(tmp_path, "week05", url, tmp_path / "scores.csv")
    export = {r["student"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}
    assert table["alice"]["manual_pending"] == export["alice"]["manual_pending"] == "2"
    assert table["bob"]["manual_pending"] == export["bob"]["manual_pending"] == "0"
    assert table["alice"]["total"] == "3/6" and export["alice"]["total"] == "3" and export["alice"]["max"] == "6"
    assert table["bob"]["total"] == "3/6" and export["bob"]["total"] == "3"
    assert table["alice"]["resnet_implementation"] == "3/3" and table["bob"]["resnet_implementation"] == "0/3"


def test_student_zip_is_what_zip_collect_ingests(tmp_path):
    root = copy_course(tmp_path / "course", [RESNET])
    work = tmp_path / "student"
    (work / "week05").mkdir(parents=True)
    (work / "week05" / "resnet_implementation.ipynb").write_bytes((root / "release" / RESNET).read_bytes())
    assert student.main(["zip", "week05", "--student", "kim01", "--folder", str(work)]) == 0
    made = work / "kim01_week05.zip"
    with pytest.raises(ValueError, match="학생 ID"):
        student.zip_assignment(work, "week05", "kim 01")
    archive = root / "downloaded" / "week05" / "archive"
    archive.mkdir(parents=True)
    (archive / made.name).write_bytes(made.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "zip_collect", "week05"], cwd=root,
                          env=course.jupyter_env(root), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = root / "submitted" / "kim01" / "week05" / "resnet_implementation.ipynb"
    assert collected.read_bytes() == (root / "release" / RESNET).read_bytes()


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_has_a_section_per_audience():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    students = _section(readme, "## 학생 (Students")
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in students)
    assert hangul > 0.3 * sum(ch.isalpha() for ch in students), "the students' section is in Korean"
    for step in ("pip install", "DLCOURSE_DATA_ROOT", "Fetch", "Validate", "Submit", "dlcourse.student zip",
                 "실행 시간", "CPU", "GPU"):
        assert step in students, step
    assert "make lab" not in students and "release/" not in students, "students get the bundle, not the repository"
    instructors = _section(readme, "## Instructors")
    for step in ("make student-bundle", "release_assignment", "nbgrader collect", "zip_collect", "make grade",
                 "make formgrader", "make formgrader-demo", "release_feedback", "make demo",
                 "Expected run times", "한국어 요약"):
        assert step in instructors, step
    # every make target the README names exists, and no reference leaves the repository
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", readme))
    assert named and named <= targets, named - targets
    assert "COURSE_SPEC" not in readme and "../shared/COURSE" not in readme
    for path in re.findall(r"`((?:benchmarks|tests|lib|syllabus)/[^`*<>\s]+)`", readme):
        assert (ROOT / path).exists(), path
