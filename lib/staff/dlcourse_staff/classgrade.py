"""Grading a whole class with one command: parallel, limited, with a status for every student.

    python -m dlcourse_staff grade week05 --workers 2

Every ``submitted/<student>/<assignment>/`` folder is graded by real nbgrader
(``autograde`` with :class:`~dlcourse_staff.nbgrader_ext.GradeExecute`: the student's code in a
sandboxed kernel, the hidden checks in the grader, per-cell and per-notebook time limits, a
memory limit) on ``--workers`` long-lived workers (:mod:`dlcourse_staff.gradeworker`: nbgrader
and the checks are imported once per worker, not once per student). Feedback is written for the
class in one batch after grading. Progress is printed with an ETA, and the run ends with one
status per student:

``graded``
    every notebook ran to its end within the limits;
``timed out``
    a cell or a notebook hit its time limit (or ignored the interrupt); the parts that ran keep
    their score, the rest score 0, and the report names the cell;
``failed``
    the grading itself did not finish (the kernel died, nbgrader rejected the notebook, the
    grader process hit its hard limit, …). The reason is reported and the student's scores are
    left *blank* in the exports, never a silent 0.

Re-running is idempotent: a submission whose files (and the assignment's source) have not
changed since a ``graded`` or ``timed out`` run is skipped, a changed or failed one is graded
again, and nbgrader updates its grades in place (``--force`` regrades everyone).

The gradebook is the course's SQLite file by default; workers write to it in parallel through
SQLite's write-ahead log with a busy timeout. With ``--db-url postgresql://…`` (or the
``DLCOURSE_DB_URL`` environment variable) the same command grades into a PostgreSQL gradebook
that graders on several machines share; ``--shard K/N`` splits the class between them, and
without ``--shard`` a Slurm job array (``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``) or a
Kubernetes Indexed Job (``JOB_COMPLETION_INDEX`` with ``DLCOURSE_SHARDS``) picks the shard.

Grading refuses to run where the machine offers no sandbox (Landlock and seccomp) unless it is
given ``unsandboxed=True`` (``--unsandboxed``); every report and export then says so.

The status of every student lives in the gradebook too (table ``dlcourse_grading``), so the
exports — ``autograded/<assignment>_scores.csv`` (per-notebook scores and statuses) and
``autograded/phase_grades.csv`` (the phase grade of seed 001: weekly assignments 70 % +
midterm 30 %; an assignment not held yet is missing, not zero) — can be written by any grader.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import course as course_mod

STATUS_ORDER = {"graded": 0, "timed out": 1, "failed": 2}
FINAL_OK = ("graded", "timed out")

# Phase grade (seed 001, "Phase 2 종합 평가"): weekly assignments 70 %, midterm project 30 %.
# Each notebook counts with its points; practice labs are not part of the phase grade.
PHASE_WEIGHTS = {"weekly": 0.7, "midterm": 0.3}
PHASE_NOTEBOOKS = {
    ("week03", "foundations"): "weekly",
    ("week05", "resnet_implementation"): "weekly",
    ("week05", "lstm_implementation"): "weekly",
    ("week05", "attention_mechanisms"): "weekly",
    ("week06", "self_attention_optimized"): "weekly",
    ("week06", "multihead_analysis"): "weekly",
    ("week07", "positional_encoding_comparison"): "weekly",
    ("week07", "transformer_enc_dec"): "weekly",
    ("week08", "midterm_transformer"): "midterm",
}
# Practice labs (small autograded checks, points for the student's own feedback): left out of the
# phase grade unless the instructor's setting counts them as weekly work — DLCOURSE_PRACTICE_IN_PHASE=1
# in the environment, or `grade`/`grades --practice-in-phase`.
PRACTICE_NOTEBOOKS = {
    ("week06-labs", "01_attention_basics"): "weekly",
    ("week06-labs", "02_self_attention"): "weekly",
    ("week06-labs", "03_positional_encoding"): "weekly",
    ("week06-labs", "04_transformer_block"): "weekly",
    ("week06-labs", "05_sequence_modeling"): "weekly",
    ("week08", "gpt_generation_lab"): "weekly",
}
PRACTICE_SETTING = "DLCOURSE_PRACTICE_IN_PHASE"


def practice_in_phase() -> bool:
    """The instructor's setting: do the practice labs count in the phase grade? (default: no)"""
    return os.environ.get(PRACTICE_SETTING, "").strip().lower() in ("1", "true", "yes", "on")


def phase_notebooks(include_practice: bool | None = None) -> dict:
    """(assignment, notebook) → component of the phase grade; ``None`` reads the setting."""
    if include_practice is None:
        include_practice = practice_in_phase()
    return {**PHASE_NOTEBOOKS, **(PRACTICE_NOTEBOOKS if include_practice else {})}


@dataclass
class Limits:
    """Limits for one submission; ``None`` keeps the course configuration (nbgrader_config.py)."""

    cell_timeout: int | None = None
    check_timeout: int | None = None
    notebook_timeout: int | None = None
    memory_mb: int | None = None
    hard_timeout: float | None = None  # one student's whole grading; default from the others
    unsandboxed: bool = False          # grade without Landlock/seccomp (reported everywhere)

    def settings(self) -> dict:
        """nbgrader configuration overrides (``Class.trait`` → value)."""
        out = {}
        if self.cell_timeout is not None:
            out["Execute.timeout"] = self.cell_timeout
        if self.check_timeout is not None:
            out["GradeExecute.check_timeout"] = self.check_timeout
        if self.notebook_timeout is not None:
            out["GradeExecute.notebook_timeout"] = self.notebook_timeout
        if self.memory_mb is not None:
            out["GradeExecute.memory_limit_mb"] = self.memory_mb
        if self.unsandboxed:
            out["GradeExecute.sandbox"] = False
        return out


@dataclass
class StudentResult:
    student: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    skipped: bool = False
    notebooks: dict = field(default_factory=dict)   # name → GradeExecute's report
    scores: dict = field(default_factory=dict)      # name → {"score", "max", "auto", "auto_max", "manual_pending"}
    log: str = ""

    @property
    def sandbox(self) -> str:
        """How the kernels of this submission were confined (one line per distinct answer)."""
        return "; ".join(sorted({r.get("sandbox", "") for r in self.notebooks.values() if r.get("sandbox")}))


# --------------------------------------------------------------------------------------------
# the gradebook
# --------------------------------------------------------------------------------------------
def _engine(db_url: str):
    from sqlalchemy import create_engine

    if db_url.startswith("sqlite"):
        return create_engine(db_url.split("?", 1)[0], connect_args={"timeout": 120})
    return create_engine(db_url, pool_pre_ping=True)


def _status_table(metadata=None):
    from sqlalchemy import Column, Float, MetaData, String, Table, Text

    metadata = metadata or MetaData()
    return Table(
        "dlcourse_grading", metadata,
        Column("assignment", String(128), primary_key=True),
        Column("student", String(128), primary_key=True),
        Column("status", String(16), nullable=False),
        Column("reason", Text, default=""),
        Column("seconds", Float, default=0.0),
        Column("checksum", String(64), default=""),
        Column("details", Text, default="{}"),
        Column("graded_at", String(32), default=""),
        Column("host", String(128), default=""),
    )


def prepare_gradebook(root: Path, assignment: str, db_url: str) -> None:
    """Make sure the gradebook knows the assignment and has the status table; SQLite gets
    write-ahead logging so that parallel workers do not lock each other out. Graders on several
    machines may call this at the same time: a lost race is retried."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import text

    for attempt in range(4):
        try:
            with Gradebook(db_url, "phase2-dl") as gb:  # first: nbgrader creates its tables and version
                try:
                    gb.find_assignment(assignment)
                    known = True
                except MissingEntry:
                    known = False
            engine = _engine(db_url)
            try:
                if db_url.startswith("sqlite"):
                    with engine.begin() as conn:
                        conn.execute(text("PRAGMA journal_mode=WAL"))
                _status_table().metadata.create_all(engine, checkfirst=True)
            finally:
                engine.dispose()
            if not known:
                # generate_assignment records the assignment, its notebooks and cells in the
                # gradebook; a scratch release folder leaves the committed release/ alone
                with tempfile.TemporaryDirectory() as scratch:
                    _nbgrader(root, db_url, "generate_assignment", assignment, "--force",
                              f"--CourseDirectory.release_directory={scratch}", check=True)
            return
        except Exception:  # noqa: BLE001 - another grader created the same rows first
            if attempt == 3:
                raise
            time.sleep(1 + 2 * attempt)


def load_statuses(db_url: str, assignment: str | None = None) -> dict:
    """{(assignment, student): row dict} from the status table (empty if it does not exist)."""
    from sqlalchemy import inspect, select

    engine = _engine(db_url)
    try:
        if "dlcourse_grading" not in inspect(engine).get_table_names():
            return {}
        table = _status_table()
        query = select(table)
        if assignment:
            query = query.where(table.c.assignment == assignment)
        with engine.connect() as conn:
            return {(r.assignment, r.student): dict(r._mapping) for r in conn.execute(query)}
    finally:
        engine.dispose()


def save_status(db_url: str, assignment: str, result: StudentResult, checksum: str) -> None:
    from sqlalchemy import delete, insert

    table = _status_table()
    details = {"notebooks": result.notebooks, "scores": result.scores}
    row = dict(assignment=assignment, student=result.student, status=result.status, reason=result.reason[:4000],
               seconds=round(result.seconds, 2), checksum=checksum, details=json.dumps(details, ensure_ascii=False),
               graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), host=socket.gethostname())
    engine = _engine(db_url)
    try:
        for attempt in range(5):
            try:
                with engine.begin() as conn:
                    conn.execute(delete(table).where(table.c.assignment == assignment,
                                                     table.c.student == result.student))
                    conn.execute(insert(table).values(**row))
                return
            except Exception:  # noqa: BLE001 - a concurrent grader on PostgreSQL: try again
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
    finally:
        engine.dispose()


def read_scores(db_url: str, assignment: str, student: str) -> dict:
    """{notebook: {"score", "max", "auto", "auto_max", "manual_pending"}} of one submission."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(db_url, "phase2-dl") as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return {}
        for nb in submission.notebooks:
            out[nb.name] = course_mod.notebook_points(nb)
    return out


# --------------------------------------------------------------------------------------------
# running nbgrader
# --------------------------------------------------------------------------------------------
def grading_env(root: Path, db_url: str) -> dict:
    env = course_mod.jupyter_env(root)
    env["DLCOURSE_DB_URL"] = db_url
    # Every kernel computes on one thread: N workers on N cores, no oversubscription.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _nbgrader(root: Path, db_url: str, *args: str, check: bool = False, log=None, timeout=None):
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(cmd, cwd=root, env=grading_env(root, db_url), stdout=log or subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise
    if check and proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{(out or '')[-4000:]}")
    return proc.returncode, out or ""


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


DEMO_PREFIX = "demo-"


def submissions(root: Path, assignment: str) -> list[str]:
    """The students who handed in ``assignment``: ``submitted/<student>/<assignment>/``. The demo's
    example students (``demo-*``) are never part of a real class: the demo works in a course
    folder of its own (``.cache/demo/course``), and any ``demo-*`` folder found here is skipped."""
    folder = root / "submitted"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir() and not p.name.startswith(DEMO_PREFIX))


def demo_leftovers(root: Path) -> list[Path]:
    """``demo-*`` folders that an older demo left in the real course folder."""
    return sorted(p for sub in ("submitted", "autograded", "feedback") if (root / sub).is_dir()
                  for p in (root / sub).iterdir() if p.name.startswith(DEMO_PREFIX))


def submission_checksum(root: Path, assignment: str, student: str) -> str:
    """Hash of the submitted files and of the assignment's source: either changes → regrade."""
    digest = hashlib.sha256()
    for base in (root / "submitted" / student / assignment, root / "source" / assignment):
        for path in sorted(p for p in base.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _failure_reason(log: str) -> str:
    """The useful line of a failed nbgrader run: the last exception, else the last error."""
    lines = [l.strip() for l in log.splitlines() if l.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) and not line.startswith("[") and \
                "NbGraderException" not in head:  # nbgrader's own closing line says "see above"
            return line[:300]
    errors = [l for l in lines if "ERROR" in l and "There was an error" not in l and "Please see" not in l]
    return (errors[-1] if errors else (lines[-1] if lines else "nbgrader failed"))[:300]


class SandboxUnavailable(RuntimeError):
    """Grading was asked for on a machine that cannot confine the students' kernels."""


def require_sandbox(unsandboxed: bool) -> dict:
    """What the machine's sandbox offers; raises :class:`SandboxUnavailable` when it offers none
    and ``unsandboxed`` is not set."""
    from .nbgrader_ext import sandbox_support

    support = sandbox_support()
    if not unsandboxed and not (support["landlock_abi"] >= 1 and support["seccomp"]):
        raise SandboxUnavailable(
            "이 컴퓨터는 학생 커널을 가둘 샌드박스(Landlock, seccomp)를 제공하지 않습니다 "
            f"(Landlock ABI {support['landlock_abi']}). Linux 5.13 이상에서 채점하거나, 위험을 알고 "
            "--unsandboxed로 실행하세요 (모든 보고서와 내보내기에 표시됩니다).")
    return support


def shard_from_env(env=None) -> tuple[int, int] | None:
    """(k, n), 1-based, from a Slurm job array or a Kubernetes Indexed Job; None otherwise."""
    env = os.environ if env is None else env
    if env.get("SLURM_ARRAY_TASK_ID") not in (None, ""):
        task = int(env["SLURM_ARRAY_TASK_ID"])
        first = int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
        count = int(env.get("SLURM_ARRAY_TASK_COUNT") or 0)
        if count < 1:
            raise ValueError("SLURM_ARRAY_TASK_COUNT가 없습니다: sbatch --array로 제출했는지 확인하세요.")
        return task - first + 1, count
    if env.get("JOB_COMPLETION_INDEX") not in (None, ""):
        count = int(env.get("DLCOURSE_SHARDS") or 0)
        if count < 1:
            raise ValueError("Indexed Job에는 DLCOURSE_SHARDS(= completions)를 함께 주어야 합니다.")
        return int(env["JOB_COMPLETION_INDEX"]) + 1, count
    return None


class _Worker:
    """One long-lived :mod:`dlcourse_staff.gradeworker` process and its result pipe."""

    def __init__(self, root: Path, assignment: str, env: dict, settings: dict, log_path: Path):
        read_fd, write_fd = os.pipe()
        cmd = [sys.executable, "-m", "dlcourse_staff.gradeworker", str(root), assignment, "--result-fd", str(write_fd),
               *[arg for key, value in settings.items() for arg in ("--set", f"{key}={json.dumps(value)}")]]
        self.log = open(log_path, "a", encoding="utf-8")
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT, text=True, pass_fds=(write_fd,),
                                     start_new_session=True)
        os.close(write_fd)
        self.results = os.fdopen(read_fd, "r")

    def run(self, job: dict, timeout: float) -> dict | None:
        """Send a job and wait for its result; None when the worker died or ran past ``timeout``."""
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.results], [], [], min(left, 1.0))
            if ready:
                line = self.results.readline()
                if not line:
                    return None          # the worker died
                return json.loads(line)
            if self.proc.poll() is not None:
                return None

    def kill(self) -> None:
        _kill_group(self.proc)
        self.proc.wait()
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.results, self.log):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def run_jobs(root: Path, assignment: str, jobs: list[dict], *, workers: int, env: dict, settings: dict,
             workdir: Path, timeout_of, on_done) -> None:
    """Run ``jobs`` on ``workers`` long-lived workers; ``on_done(job, result_or_None, seconds)``
    is called (from the workers' threads) as each finishes. A worker whose job hangs or dies is
    killed and replaced."""
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)

    def slot(number: int) -> None:
        worker = None
        try:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    worker = _Worker(root, assignment, env, settings, workdir / f"worker-{number}.log")
                start = time.perf_counter()
                result = worker.run(job, timeout_of(job))
                if result is None:
                    try:   # the pipe may close a moment before the process is gone
                        worker.proc.wait(timeout=5)
                        died = True
                    except subprocess.TimeoutExpired:
                        died = False
                    worker.kill()
                    if died:   # not a hang: say why the worker itself stopped (its log's last line)
                        job["worker_error"] = _last_line(workdir / f"worker-{number}.log")
                    worker = None
                on_done(job, result, time.perf_counter() - start)
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=slot, args=(i,), daemon=True) for i in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def student_result(root: Path, db_url: str, assignment: str, student: str, result: dict | None, seconds: float,
                   report_dir: Path, log_path: Path, hard: float, worker_error: str | None = None) -> StudentResult:
    """A student's status from the worker's answer and GradeExecute's per-notebook reports."""
    submitted = sorted(p.stem for p in (root / "submitted" / student / assignment).glob("*.ipynb"))
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    reports = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in report_dir.glob("*.json")}
    out = StudentResult(student, "graded", notebooks=reports, log=text[-20000:], seconds=seconds)
    rc = None if result is None else result.get("rc")
    if rc is None and worker_error is not None:
        out.status = "failed"
        out.reason = f"채점 프로세스가 비정상 종료했습니다 (grader worker died): {worker_error or '원인 불명'}"
    elif rc is None:
        out.status = "failed"
        out.reason = f"채점 프로세스가 제한 시간 {hard:.0f}초를 넘어 중지했습니다 (grader hard limit)"
    elif rc != 0:
        out.status = "failed"
        out.reason = "nbgrader autograde 실패: " + _failure_reason(text)
    else:
        for name, report in sorted(reports.items()):
            if STATUS_ORDER[report["status"]] > STATUS_ORDER[out.status]:
                out.status = report["status"]
            if report["status"] != "graded":
                out.reason += f"{name}: {report['reason']}; "
        out.reason = out.reason.rstrip("; ")
        unknown = [nb for nb in submitted if nb not in reports]
        if unknown:
            out.reason += ("; " if out.reason else "") + f"채점하지 않은 노트북: {', '.join(unknown)}"
        out.scores = read_scores(db_url, assignment, student)
        missing = sorted(set(_gradebook_notebooks(db_url, assignment)) - set(submitted))
        if missing:
            out.reason += ("; " if out.reason else "") + f"제출하지 않은 노트북 (0점): {', '.join(missing)}"
    return out


def _gradebook_notebooks(db_url: str, assignment: str) -> list[str]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, "phase2-dl") as gb:
        try:
            return sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return []


# --------------------------------------------------------------------------------------------
# the class
# --------------------------------------------------------------------------------------------
@dataclass
class ClassReport:
    assignment: str
    results: list[StudentResult]
    seconds: float
    workers: int
    scores_csv: Path | None = None
    phase_csv: Path | None = None

    @property
    def failed(self) -> list[StudentResult]:
        return [r for r in self.results if r.status == "failed"]


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def grade_class(root: Path, assignment: str, *, workers: int = 2, students: list[str] | None = None,
                force: bool = False, feedback: bool = True, limits: Limits | None = None,
                db_url: str | None = None, shard: tuple[int, int] | None = None, export: bool = True,
                out=print) -> ClassReport:
    """Grade every submission of ``assignment`` (see the module docstring)."""
    root = Path(root).resolve()
    limits = limits or Limits()
    require_sandbox(limits.unsandboxed)
    db_url = db_url or course_mod.db_url(root)
    shard = shard or shard_from_env()
    prepare_gradebook(root, assignment, db_url)
    everyone = submissions(root, assignment)
    skipped_demo = [p.name for p in demo_leftovers(root) if p.parent.name == "submitted" and (p / assignment).is_dir()]
    if skipped_demo:
        out(f"참고: submitted/의 데모 학생 {', '.join(skipped_demo)}은(는) 실제 반이 아니므로 채점하지 않습니다 "
            "(make demo는 .cache/demo/course에서 작업합니다; 지워도 됩니다).")
    chosen = [s for s in everyone if students is None or s in students]
    if students:
        unknown = sorted(set(students) - set(everyone))
        if unknown:
            raise FileNotFoundError(f"제출물이 없는 학생: {', '.join(unknown)} (submitted/<student>/{assignment}/)")
    if shard is not None:
        k, n = shard
        if not 1 <= k <= n:
            raise ValueError(f"샤드 {k}/{n}가 올바르지 않습니다 (1 ≤ K ≤ N).")
        chosen = [s for i, s in enumerate(chosen) if i % n == k - 1]
    statuses = load_statuses(db_url, assignment)
    checksums = {s: submission_checksum(root, assignment, s) for s in chosen}
    todo, results = [], []
    for student in chosen:
        row = statuses.get((assignment, student))
        done = (root / "autograded" / student / assignment).is_dir() and \
            (not feedback or (root / "feedback" / student / assignment).is_dir())
        if not force and settled(row, checksums[student], done):
            details = json.loads(row["details"] or "{}")
            results.append(StudentResult(student, row["status"], row["reason"] or "", row["seconds"] or 0.0,
                                         skipped=True, notebooks=details.get("notebooks", {}),
                                         scores=details.get("scores", {})))
        else:
            todo.append(student)
    mode = " — UNSANDBOXED" if limits.unsandboxed else ""
    out(f"{assignment}: {len(chosen)}명 중 {len(todo)}명 채점, {len(results)}명은 바뀐 것이 없어 건너뜀 "
        f"(workers={workers}, gradebook={_safe_url(db_url)}"
        + (f", shard {shard[0]}/{shard[1]}" if shard else "") + f"){mode}")
    start = time.perf_counter()
    lock = threading.Lock()
    n_nb = max([len(list((root / "submitted" / s / assignment).glob("*.ipynb"))) for s in todo] or [1])
    hard = limits.hard_timeout or 120 + 1.5 * max(1, n_nb) * (limits.notebook_timeout or 600)
    with tempfile.TemporaryDirectory(prefix="dlcourse-class-") as tmp:
        workdir = Path(tmp)
        env = grading_env(root, db_url)
        fresh: list[StudentResult] = []

        def graded(job, result, seconds):
            student = job["student"]
            res = student_result(root, db_url, assignment, student, result, seconds, Path(job["report_dir"]),
                                 Path(job["log"]), hard, job.get("worker_error"))
            save_status(db_url, assignment, res, checksums[student])
            with lock:
                fresh.append(res)
                elapsed = time.perf_counter() - start
                eta = elapsed / len(fresh) * (len(todo) - len(fresh))
                out(f"[{len(fresh):>{len(str(len(todo)))}}/{len(todo)}] {student:<20} {res.status:<9} "
                    f"{_score_text(res):>9}  ({res.seconds:.1f}s)  경과 {_fmt_time(elapsed)}, "
                    f"남은 시간 약 {_fmt_time(eta)}" + (f"  — {res.reason[:120]}" if res.reason else ""))

        jobs = [{"op": "grade", "student": s, "report_dir": str(workdir / s), "log": str(workdir / f"{s}.log")}
                for s in todo]
        run_jobs(root, assignment, jobs, workers=workers, env=env, settings=limits.settings(), workdir=workdir,
                 timeout_of=lambda job: hard, on_done=graded)
        if feedback:
            by_student = {r.student: r for r in fresh}
            back = [r.student for r in fresh if r.status != "failed" or r.scores]

            def fed(job, result, seconds):
                if result is None or result.get("rc") != 0:
                    res = by_student[job["student"]]
                    log = Path(job["log"])
                    why = job.get("worker_error") if result is None else \
                        _failure_reason(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else ""
                    with lock:
                        res.status = "failed"
                        res.reason = (res.reason + "; " if res.reason else "") + "피드백 생성 실패" + \
                            (f" ({why})" if why else (" (시간 초과)" if result is None else ""))
                    save_status(db_url, assignment, res, checksums[res.student])

            if back:
                t0 = time.perf_counter()
                run_jobs(root, assignment, [{"op": "feedback", "student": s, "log": str(workdir / f"{s}.feedback.log")}
                                            for s in back], workers=workers, env=env, settings=limits.settings(),
                         workdir=workdir, timeout_of=lambda job: 300, on_done=fed)
                out(f"피드백 {len(back)}명: {_fmt_time(time.perf_counter() - t0)} (feedback/<student>/{assignment}/)")
                from . import peer  # the feedback pages were written again: peer reviews back in

                try:
                    pages = peer.reattach_feedback(root, assignment, db_url)
                except Exception as err:  # noqa: BLE001 - grading stands; the reviews can be re-attached
                    out(f"동료 리뷰를 피드백에 다시 붙이지 못했습니다 ({type(err).__name__}: {err}); "
                        f"`python -m dlcourse_staff peer-review collect {assignment}`로 다시 붙이세요.")
                else:
                    if pages:
                        out(f"동료 리뷰를 피드백 {len(pages)}쪽에 다시 붙였습니다.")
        results += fresh
    results.sort(key=lambda r: r.student)
    report = ClassReport(assignment, results, time.perf_counter() - start, workers)
    if export:
        report.scores_csv = export_scores(root, assignment, db_url, root / "autograded" / f"{assignment}_scores.csv")
        report.phase_csv = export_phase(root, db_url, root / "autograded" / "phase_grades.csv")
    return report


def settled(row: dict | None, checksum: str, outputs_exist: bool) -> bool:
    """Whether a submission's last grading stands: it finished (graded or timed out — a failed
    grading is always tried again), nothing was handed in or changed since, and its outputs
    are still there."""
    return bool(row) and row["status"] in FINAL_OK and row["checksum"] == checksum and outputs_exist


def _safe_url(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def _score_text(result: StudentResult) -> str:
    if result.status == "failed" or not result.scores:
        return "—"
    auto = sum(s["auto"] for s in result.scores.values())
    auto_max = sum(s["auto_max"] for s in result.scores.values())
    return f"{auto:g}/{auto_max:g}"


def format_summary(report: ClassReport) -> str:
    rows = []
    for r in report.results:
        notes = []
        if r.skipped:
            notes.append("변경 없음, 이전 결과")
        if "UNSANDBOXED" in r.sandbox:
            notes.append("샌드박스 없이 채점 (UNSANDBOXED)")
        if r.reason:
            notes.append(r.reason)
        rows.append({"student": r.student, "status": r.status, "autograded": _score_text(r),
                     "seconds": f"{r.seconds:.1f}", "notes": " | ".join(notes)[:300]})
    counts = {s: sum(r.status == s for r in report.results) for s in STATUS_ORDER}
    graded = [r for r in report.results if not r.skipped]
    per = (report.seconds / len(graded)) if graded else 0.0
    head = (f"{report.assignment}: {len(report.results)}명 — " + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f" | {_fmt_time(report.seconds)} (workers={report.workers}, 제출물당 {per:.1f}s)")
    return head + "\n" + course_mod.format_table(rows)


# --------------------------------------------------------------------------------------------
# exports
# --------------------------------------------------------------------------------------------
def _all_scores(db_url: str) -> tuple[dict, dict, dict]:
    """(notebooks, students, scores): {assignment: {notebook: max}}, {student ids},
    {(assignment, student): {notebook: score dict}} from the gradebook."""
    from nbgrader.api import Gradebook

    notebooks, scores = {}, {}
    with Gradebook(db_url, "phase2-dl") as gb:
        students = {s.id for s in gb.students if not s.id.startswith(DEMO_PREFIX)}
        for assignment in gb.assignments:
            notebooks[assignment.name] = {nb.name: float(nb.max_score) for nb in assignment.notebooks}
            for submission in gb.assignment_submissions(assignment.name):
                if submission.student.id.startswith(DEMO_PREFIX):
                    continue  # an older demo's example student, never part of the class
                per = {nb.name: course_mod.notebook_points(nb) for nb in submission.notebooks}
                scores[(assignment.name, submission.student.id)] = per
    return notebooks, students, scores


def export_scores(root: Path, assignment: str, db_url: str, path: Path) -> Path:
    """One row per student: status, each notebook's score (blank when grading failed), the
    autograded and pending manual points, how the kernels were sandboxed, and the reason."""
    notebooks, students, scores = _all_scores(db_url)
    names = sorted(notebooks.get(assignment, {}))
    statuses = load_statuses(db_url, assignment)
    who = sorted({s for (a, s) in scores if a == assignment} | {s for (_, s) in statuses if not s.startswith(DEMO_PREFIX)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "status", *[f"{nb} ({notebooks[assignment][nb]:g})" for nb in names],
                         "autograded", "autograded_max", "manual_pending", "total", "max", "sandbox", "reason"])
        for student in who:
            row = statuses.get((assignment, student))
            status = row["status"] if row else ("graded" if (assignment, student) in scores else "not graded")
            per = scores.get((assignment, student), {})
            details = json.loads(row["details"]) if row and row["details"] else {}
            sandbox = "; ".join(sorted({r.get("sandbox", "") for r in details.get("notebooks", {}).values()
                                        if r.get("sandbox")}))
            blank = status == "failed" or not per
            cells = ["" if blank or nb not in per else f"{per[nb]['score']:g}" for nb in names]
            sums = ["", "", "", "", ""] if blank else [
                f"{sum(p['auto'] for p in per.values()):g}", f"{sum(p['auto_max'] for p in per.values()):g}",
                f"{sum(p['manual_pending'] for p in per.values()):g}", f"{sum(p['score'] for p in per.values()):g}",
                f"{sum(notebooks[assignment].values()):g}"]
            writer.writerow([student, status, *cells, *sums, sandbox, row["reason"] if row else ""])
    return path


def phase_grades(notebooks: dict, students: set, scores: dict, statuses: dict,
                 include_practice: bool | None = None) -> list[dict]:
    """The phase grade of every student (see :data:`PHASE_WEIGHTS`); the practice labs count only
    with ``include_practice`` (``None``: the setting, see :func:`practice_in_phase`).

    A notebook is *held* when its assignment is in the gradebook with at least one submission;
    one not held is left out of both the score and the maximum (missing, not zero). A student
    without a submission of a held assignment scores 0 on it. A failed grading leaves the
    phase grade blank until it is resolved; pending manual points make it provisional."""
    counted = phase_notebooks(include_practice)
    held = {a for (a, _) in scores}
    components = {c: [(a, nb) for (a, nb), comp in counted.items()
                      if comp == c and a in held and nb in notebooks.get(a, {})] for c in PHASE_WEIGHTS}
    assignments = sorted({a for (a, _) in counted})
    rows = []
    for student in sorted(students | {s for (_, s) in scores}):
        row = {"student": student}
        notes, failed, pending = [], False, 0.0
        for assignment in assignments:
            pairs = [(a, nb) for c in components.values() for (a, nb) in c if a == assignment]
            if not pairs:
                row[assignment] = ""
                continue
            status = statuses.get((assignment, student), {}).get("status")
            per = scores.get((assignment, student))
            if status == "failed":
                failed = True
                row[assignment] = "실패"
                notes.append(f"{assignment} 채점 실패")
                continue
            got = sum((per or {}).get(nb, {}).get("score", 0.0) for _, nb in pairs)
            top = sum(notebooks[a][nb] for a, nb in pairs)
            pending += sum((per or {}).get(nb, {}).get("manual_pending", 0.0) for _, nb in pairs)
            if per is None:
                notes.append(f"{assignment} 미제출 (0점)")
            row[assignment] = f"{100 * got / top:.1f}" if top else ""
        total, weight = 0.0, 0.0
        for component, pairs in components.items():
            if not pairs:
                row[component] = ""
                notes.append(f"{'중간 프로젝트' if component == 'midterm' else '주별 과제'} 미실시 (제외)")
                continue
            got = sum(scores.get((a, student), {}).get(nb, {}).get("score", 0.0) for a, nb in pairs)
            top = sum(notebooks[a][nb] for a, nb in pairs)
            pct = 100 * got / top if top else 0.0
            row[component] = f"{pct:.1f}"
            total += PHASE_WEIGHTS[component] * pct
            weight += PHASE_WEIGHTS[component]
        if failed or not weight:
            row["phase"] = ""
        else:
            row["phase"] = f"{total / weight:.1f}"
        provisional = bool(pending) or any(not c for c in components.values())
        if pending:
            notes.append(f"수동 채점 대기 {pending:g}점")
        row["provisional"] = "yes" if provisional and row["phase"] else ""
        row["notes"] = "; ".join(notes)
        rows.append(row)
    return rows


def export_phase(root: Path, db_url: str, path: Path, include_practice: bool | None = None) -> Path:
    from . import peer

    notebooks, students, scores = _all_scores(db_url)
    # peer review rounds with a weight above 0 blend the peer score into the reviewed notebooks
    scores = peer.apply_adjustments(scores, notebooks, peer.phase_adjustments(db_url))
    statuses = load_statuses(db_url)
    rows = phase_grades(notebooks, students, scores, statuses, include_practice)
    cols = ["student", *sorted({a for (a, _) in phase_notebooks(include_practice)}), "weekly", "midterm", "phase",
            "provisional", "notes"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in cols})
    return path
