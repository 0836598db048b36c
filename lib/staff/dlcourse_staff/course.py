"""The course directory and real nbgrader, driven from Python: release, submit, autograde,
feedback, export and the grade table.

Every nbgrader call runs as a subprocess of this interpreter with Jupyter's config, data and
runtime folders kept inside the course folder (``.jupyter/``), never in the user's home.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import notebooks

JUPYTER_DIRS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


def repo_root() -> Path:
    """The repository holding source/ and nbgrader_config.py (found from this file or the cwd)."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "nbgrader_config.py").exists() and (folder / "source").is_dir():
                return folder
    raise FileNotFoundError("nbgrader_config.py와 source/가 있는 과정 폴더를 찾지 못했습니다.")


def db_url(root: Path) -> str:
    """The gradebook: ``DLCOURSE_DB_URL`` (e.g. a shared PostgreSQL) or the course's SQLite file,
    with a busy timeout so that parallel graders wait for each other instead of failing."""
    return os.environ.get("DLCOURSE_DB_URL") or f"sqlite:///{Path(root).resolve() / 'gradebook.db'}?timeout=120"


def jupyter_env(root: Path, base: dict | None = None) -> dict:
    """Environment with Jupyter's folders inside ``root/.jupyter`` and this venv's tools on PATH."""
    env = dict(os.environ if base is None else base)
    for var, sub in JUPYTER_DIRS.items():
        path = Path(root) / ".jupyter" / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.pop("NBGRADER_EXECUTION", None)  # only nbgrader itself sets it, for the student's kernel
    env.pop("DLCOURSE_MODE", None)
    return env


@dataclass
class Course:
    """An nbgrader course folder: ``source/``, ``release/``, ``submitted/``, ``autograded/``, …"""

    root: Path
    # A gradebook other than the course's (e.g. the demo's own); None: DLCOURSE_DB_URL or gradebook.db.
    gradebook: str | None = None

    def __post_init__(self):
        self.root = Path(self.root).resolve()

    # --- nbgrader ----------------------------------------------------------------------------
    def nbgrader(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "nbgrader", *args]
        env = jupyter_env(self.root)
        if self.gradebook:
            env["DLCOURSE_DB_URL"] = self.gradebook  # read by nbgrader_config.py
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
        return proc

    def assignments(self) -> list[str]:
        return sorted(p.name for p in (self.root / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.root / "source" / assignment).glob("*.ipynb"))

    def generate(self, assignment: str) -> None:
        """Regenerate ``release/<assignment>`` from ``source/<assignment>`` and record the
        assignment in this course's gradebook (autograding needs its cells there)."""
        self.nbgrader("generate_assignment", assignment, "--force")

    def release(self, assignment: str) -> None:
        """Regenerate ``release/<assignment>`` only, through a scratch gradebook: nbgrader refuses
        to redefine an assignment that the real gradebook already holds submissions for, and a
        release must not depend on who has been graded."""
        with tempfile.TemporaryDirectory() as scratch:
            self.nbgrader("generate_assignment", assignment, "--force",
                          f"--CourseDirectory.db_url=sqlite:///{Path(scratch) / 'release.db'}")

    def submit(self, student: str, assignment: str, nbs: dict) -> Path:
        """Place a student's notebooks (name → NotebookNode) in ``submitted/<student>/<assignment>``."""
        folder = self.root / "submitted" / student / assignment
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, nb in nbs.items():
            nbformat.write(nb, str(folder / f"{name}.ipynb"))
        (folder / "timestamp.txt").write_text(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
        return folder

    def autograde(self, assignment: str, student: str | None = None, timeout: float | None = None):
        args = ["autograde", assignment, "--force"] + ([f"--student={student}"] if student else [])
        return self.nbgrader(*args, timeout=timeout)

    def feedback(self, assignment: str, student: str | None = None):
        args = ["generate_feedback", assignment, "--force"] + ([f"--student={student}"] if student else [])
        return self.nbgrader(*args)

    def export(self, path: Path) -> Path:
        self.nbgrader("export", f"--to={path}")
        return path

    # --- reading results ---------------------------------------------------------------------
    def db_url(self) -> str:
        return self.gradebook or db_url(self.root)

    def cell_scores(self, assignment: str, student: str) -> dict:
        """{notebook: {grade_id: (score, max_score)}} for one submission (autograded cells only)."""
        from nbgrader.api import Gradebook

        out = {}
        with Gradebook(self.db_url()) as gb:
            submission = gb.find_submission(assignment, student)
            for nb in submission.notebooks:
                out[nb.name] = {g.name: (float(g.score), float(g.max_score))
                                for g in nb.grades if g.cell_type == "code"}
        return out

    def grade_table(self, assignment: str) -> list[dict]:
        """One row per student: autograded score / autograded maximum per notebook, the points
        that still wait for a grader (``manual_pending``, as in the class export) and the total
        so far out of the maximum."""
        from nbgrader.api import Gradebook

        rows = []
        with Gradebook(self.db_url()) as gb:
            for submission in sorted(gb.assignment_submissions(assignment), key=lambda s: s.student.id):
                row = {"student": submission.student.id}
                per = {nb.name: notebook_points(nb) for nb in submission.notebooks}
                for name in sorted(per):
                    row[name] = f"{per[name]['auto']:g}/{per[name]['auto_max']:g}"
                row["manual_pending"] = f"{sum(p['manual_pending'] for p in per.values()):g}"
                row["total"] = f"{sum(p['score'] for p in per.values()):g}/{sum(p['max'] for p in per.values()):g}"
                rows.append(row)
        return rows


def notebook_points(nb) -> dict:
    """Points of one graded notebook (an nbgrader ``SubmittedNotebook``), the one definition the
    demo table and the class exports share: ``score``/``max`` (everything graded so far),
    ``auto``/``auto_max`` (autograded test cells), ``manual_pending`` (points of written answers
    and tasks that a grader has not scored yet; an answer left blank is scored 0 by nbgrader
    itself and is not pending)."""
    auto = [g for g in nb.grades if g.cell_type == "code"]
    return {"score": float(nb.score), "max": float(nb.max_score),
            "auto": sum(float(g.score) for g in auto), "auto_max": sum(float(g.max_score) for g in auto),
            "manual_pending": sum(float(g.max_score) for g in nb.grades if g.needs_manual_grade)}


MANUAL_PENDING_HELP = ("manual_pending = points of written answers and tasks still waiting for a grader "
                       "(blank answers are scored 0 automatically and are not pending)")


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "(no submissions)"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(widths[c]) for c in cols)
    sep = "  ".join("-" * widths[c] for c in cols)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join([line, sep, *body])


def write_csv(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def demo_submissions(root: Path, assignment: str, banks) -> dict:
    """The example class of the demo: a perfect student, a blank one (the release as handed out)
    and a partly wrong one (one mutant from each notebook's bank)."""
    perfect, blank, partial = {}, {}, {}
    by_notebook = {b.notebook: b for b in banks}
    for src in sorted((root / "source" / assignment).glob("*.ipynb")):
        rel = f"{assignment}/{src.name}"
        source_nb = notebooks.read(src)
        release_nb = notebooks.read(root / "release" / rel)
        perfect[src.stem] = notebooks.fill_release(release_nb, source_nb)
        blank[src.stem] = release_nb
        overrides = {}
        if rel in by_notebook:
            bank = by_notebook[rel]
            mutant = bank.get(bank.round_trip)
            overrides = {mutant.cell: mutant.apply(notebooks.solution_texts(source_nb)[mutant.cell])}
        partial[src.stem] = notebooks.fill_release(release_nb, source_nb, overrides, answers=False)
    return {"demo-perfect": perfect, "demo-blank": blank, "demo-partial": partial}
