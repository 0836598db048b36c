"""The same grading command against a PostgreSQL gradebook: the test starts a real server
(Debian's ``postgresql``: initdb into a temporary folder, listening on 127.0.0.1 only, on a free
port, stopped at the end) and two graders — as if on two machines — grade in parallel into the one
shared gradebook: the real command (``python -m dlcourse_staff grade``), one finding its shard in a
Slurm job array's environment, the other in a Kubernetes Indexed Job's."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

from adversarial import bank
from conftest import copy_course
from dlcourse_staff import classgrade, course, notebooks

pytestmark = pytest.mark.slow


STUDENTS = ["perfect", "untouched_stub", "monkeypatch", "os_exit"]
LIMITS = classgrade.Limits(cell_timeout=20, notebook_timeout=240, memory_mb=3072)


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server not installed (Debian: apt-get install postgresql; .ci/run does it)")
    psycopg = pytest.importorskip("psycopg")
    base = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    data, log = base / "data", base / "server.log"
    preexec = None
    if os.geteuid() == 0:  # the server refuses to run as root: use the postgres (or nobody) account
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            account = pwd.getpwnam("nobody")
        os.chown(base, account.pw_uid, account.pw_gid)

        def preexec():
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*cmd):
        subprocess.run(cmd, check=True, env=env, preexec_fn=preexec, cwd=base, capture_output=True, timeout=120)

    port = _free_port()
    run(initdb, "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8", "--no-locale")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    try:
        conn = psycopg.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres", autocommit=True)
        with conn:
            conn.execute("CREATE DATABASE gradebook")
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        try:
            run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


def test_two_graders_share_one_postgres_gradebook(postgres, tmp_path):
    root = copy_course(tmp_path / "course", [bank.NOTEBOOK])
    c = course.Course(root)
    for student in STUDENTS:
        c.submit(student, "week05", {"resnet_implementation": notebooks.read(bank.HERE / f"{student}.ipynb")})
    classgrade.prepare_gradebook(root, "week05", postgres)
    shards = {"slurm": {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "2"},
              "k8s": {"JOB_COMPLETION_INDEX": "1", "DLCOURSE_SHARDS": "2"}}
    procs = {}
    for name, extra in shards.items():
        env = {**course.jupyter_env(root), **extra, "DLCOURSE_DB_URL": postgres}
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dlcourse_staff", "grade", "week05", "--root", str(root), "--workers", "1",
             "--cell-timeout", "20", "--notebook-timeout", "240", "--memory-mb", "3072", "--no-feedback"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {name: p.communicate(timeout=900)[0] for name, p in procs.items()}
    assert "shard 1/2" in outputs["slurm"] and "shard 2/2" in outputs["k8s"], outputs
    assert not (root / "gradebook.db").exists(), "graded into SQLite instead of PostgreSQL"
    statuses = classgrade.load_statuses(postgres, "week05")
    assert sorted(s for (_, s) in statuses) == sorted(STUDENTS)  # each student by exactly one grader
    assert {s: row["status"] for (_, s), row in statuses.items()} == {s: bank.CASES[s]["status"] for s in STUDENTS}, (
        {s: row["reason"] for (_, s), row in statuses.items()}, outputs)
    hosts = {row["student"]: row["host"] for row in statuses.values()}
    assert all(hosts.values())

    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        auto = {}
        for submission in gb.assignment_submissions("week05"):
            nb = submission.notebooks[0]
            auto[submission.student.id] = sum(float(g.score) for g in nb.grades if g.cell_type == "code")
        assert len(gb.assignment_submissions("week05")) == len(STUDENTS)
    assert auto == {s: 10 - bank.lost_points(s) for s in STUDENTS}

    again = classgrade.grade_class(root, "week05", workers=2, limits=LIMITS, db_url=postgres, feedback=False,
                                   students=["perfect", "untouched_stub", "monkeypatch"], out=lambda line: None)
    assert all(r.skipped for r in again.results)
    scores = again.scores_csv.read_text(encoding="utf-8")
    assert "os_exit,failed,," in scores and "perfect,graded,10," in scores
    assert "untouched_stub" in again.phase_csv.read_text(encoding="utf-8")
