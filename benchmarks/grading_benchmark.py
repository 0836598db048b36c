"""How fast the course grades a class, against what an instructor would otherwise run — in one run,
on the same submissions.

    python benchmarks/grading_benchmark.py                       # 12 submissions of week05/resnet
    python benchmarks/grading_benchmark.py --students 20 --notebook week06/self_attention_optimized.ipynb

Results: benchmarks/results/cpu/grading_benchmark.{json,md} unless --json names another file.

The class is built from one notebook as students hand it in: most submissions complete, some with
one realistic mistake from the mutant bank (tests/mutants/), one untouched release. Each run grades
it in a fresh throw-away course folder:

1. **this course, serial** — ``python -m dlcourse_staff grade --workers 1``: a long-lived worker,
   the student's code in a sandboxed kernel (only the cells up to the last test), the checks in the
   grader, the next kernel started while the current notebook is graded, feedback in one batch;
2. **this course, parallel** — the same with ``--workers 2``;
3. **stock nbgrader** — ``nbgrader autograde`` then ``nbgrader generate_feedback`` with nbgrader's
   own preprocessors (whole notebook executed in grade mode, hidden checks run in the kernel,
   graceful kernel shutdown), all students in one nbgrader process;
4. **bare execution** — ``jupyter nbconvert --execute`` of each submission in grade mode
   (``NBGRADER_EXECUTION=autograde``): the floor of running the notebook at all, no grading.

Reported per notebook per student: the median grading time of (1) (from the workers' per-student
times, feedback excluded) and the wall time per submission of every run (feedback included where
the run writes it). Stock nbgrader and this course must give the same scores. Every kernel computes
on one thread; the load average before each run is printed, because other work skews the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DLCOURSE_CACHE_DIR", str(ROOT / ".cache" / "dlcourse"))
if "DLCOURSE_DATA_ROOT" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["DLCOURSE_DATA_ROOT"] = str(ROOT.parent / "shared" / "data")
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
for var in ("NBGRADER_EXECUTION", "DLCOURSE_MODE", "DLCOURSE_DB_URL"):
    os.environ.pop(var, None)

from dlcourse_staff import classgrade, course, mutation, notebooks  # noqa: E402

STOCK_CONFIG = '''c = get_config()
import os
c.CourseDirectory.course_id = "phase2-dl"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
c.Execute.timeout = 60
'''


def make_course(dest: Path, rel: str, config: str | None = None) -> Path:
    for name in ("source", "release"):
        (dest / name / Path(rel).parent).mkdir(parents=True)
        shutil.copy(ROOT / name / rel, dest / name / rel)
    if config is None:
        shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    else:
        (dest / "nbgrader_config.py").write_text(config)
    return dest


def make_class(rel: str, n: int) -> dict:
    """{student: notebook}: complete submissions, one-mistake submissions, one blank."""
    source_nb = notebooks.read(ROOT / "source" / rel)
    release_nb = notebooks.read(ROOT / "release" / rel)
    bank = {b.notebook: b for b in mutation.load_banks(ROOT / "tests" / "mutants")}[rel]
    texts = notebooks.solution_texts(source_nb)
    out = {}
    for i in range(n):
        if i == n - 1:
            out[f"s{i + 1:02d}-blank"] = release_nb
        elif i % 3 == 1:
            m = bank.mutants[i % len(bank.mutants)]
            out[f"s{i + 1:02d}-mistake"] = notebooks.fill_release(release_nb, source_nb, {m.cell: m.apply(texts[m.cell])})
        else:
            out[f"s{i + 1:02d}-complete"] = notebooks.fill_release(release_nb, source_nb)
    return out


def submit(root: Path, rel: str, students: dict) -> None:
    c = course.Course(root)
    for student, nb in students.items():
        c.submit(student, rel.split("/")[0], {Path(rel).stem: nb})


def run_ours(rel: str, students: dict, workers: int) -> dict:
    assignment = rel.split("/")[0]
    with tempfile.TemporaryDirectory(prefix=f"grading-bench-w{workers}-") as tmp:
        root = make_course(Path(tmp) / "course", rel)
        submit(root, rel, students)
        classgrade.prepare_gradebook(root, assignment, course.db_url(root))  # once per assignment, not timed
        load = os.getloadavg()[0]
        start = time.perf_counter()
        report = classgrade.grade_class(root, assignment, workers=workers, out=lambda line: print("   " + line, flush=True))
        seconds = time.perf_counter() - start
        per = [r.seconds for r in report.results]
        phases = [nb.get("phases", {}) for r in report.results for nb in r.notebooks.values()]
        scores = {r.student: sum(s["auto"] for s in r.scores.values()) for r in report.results}
        return {"seconds": round(seconds, 1), "per_submission": round(seconds / len(students), 2),
                "median_grading": round(statistics.median(per), 2), "max_grading": round(max(per), 2),
                "warm_kernels": sum(bool(p.get("warm")) for p in phases),
                "kernel_start_median": round(statistics.median([p.get("kernel_start", 0) for p in phases]), 2),
                "load_before": round(load, 2), "scores": scores,
                "statuses": {s: sum(r.status == s for r in report.results) for s in classgrade.STATUS_ORDER}}


def run_stock(rel: str, students: dict) -> dict:
    assignment = rel.split("/")[0]
    with tempfile.TemporaryDirectory(prefix="grading-bench-stock-") as tmp:
        root = make_course(Path(tmp) / "course", rel, STOCK_CONFIG)
        c = course.Course(root)
        c.nbgrader("generate_assignment", assignment, "--force")
        submit(root, rel, students)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        c.nbgrader("autograde", assignment, "--force")
        graded = time.perf_counter() - start
        c.nbgrader("generate_feedback", assignment, "--force")
        seconds = time.perf_counter() - start
        scores = {s: sum(v[0] for nb in c.cell_scores(assignment, s).values() for v in nb.values()) for s in students}
        return {"seconds": round(seconds, 1), "per_submission": round(seconds / len(students), 2),
                "autograde_per_submission": round(graded / len(students), 2), "load_before": round(load, 2),
                "scores": scores}


def run_bare(rel: str, students: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="grading-bench-bare-") as tmp:
        folder = Path(tmp)
        env = course.jupyter_env(ROOT)
        env["NBGRADER_EXECUTION"] = "autograde"
        load = os.getloadavg()[0]
        start = time.perf_counter()
        for student, nb in students.items():
            path = folder / f"{student}.ipynb"
            notebooks.nbformat.write(nb, str(path))
            subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                            "--allow-errors", "--ExecutePreprocessor.timeout=60", "--output", path.name, str(path)],
                           cwd=folder, env=env, capture_output=True, check=False)
        seconds = time.perf_counter() - start
        return {"seconds": round(seconds, 1), "per_submission": round(seconds / len(students), 2),
                "load_before": round(load, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--notebook", default="week05/resnet_implementation.ipynb")
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel run")
    parser.add_argument("--skip", action="append", default=[], choices=["parallel", "stock", "bare"])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "cpu" / "grading_benchmark.json")
    args = parser.parse_args(argv)

    rel = args.notebook
    students = make_class(rel, args.students)
    print(f"{len(students)} submissions of {rel}; cores: {os.cpu_count()}", flush=True)
    runs = {}
    print("== this course, 1 worker", flush=True)
    runs["ours_serial"] = run_ours(rel, students, 1)
    if "parallel" not in args.skip:
        print(f"== this course, {args.workers} workers", flush=True)
        runs["ours_parallel"] = run_ours(rel, students, args.workers)
    if "stock" not in args.skip:
        print("== stock nbgrader", flush=True)
        runs["stock_nbgrader"] = run_stock(rel, students)
    if "bare" not in args.skip:
        print("== bare nbconvert --execute (grade mode)", flush=True)
        runs["bare_execute"] = run_bare(rel, students)
    ours = runs["ours_serial"]
    summary = {"notebook": rel, "submissions": len(students), "cores": os.cpu_count(),
               "measured": time.strftime("%Y-%m-%d %H:%M"), "runs": runs}
    if "stock_nbgrader" in runs:
        stock = runs["stock_nbgrader"]
        summary["same_scores_as_stock"] = stock["scores"] == ours["scores"]
        summary["speedup_vs_stock"] = round(stock["per_submission"] / ours["per_submission"], 2)
        summary["speedup_vs_stock_median"] = round(stock["autograde_per_submission"] / ours["median_grading"], 2)
    if "ours_parallel" in runs:
        summary["parallel_speedup"] = round(ours["seconds"] / runs["ours_parallel"]["seconds"], 2)
    for run in runs.values():
        run.pop("scores", None)
    print(json.dumps(summary, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    md = [f"# Class grading speed ({rel})", "",
          f"{len(students)} submissions (complete, one-mistake, blank), {os.cpu_count()} cores, measured "
          f"{summary['measured']}, one thread per kernel; every run in the same script run on the same "
          "submissions (`python benchmarks/grading_benchmark.py`).", "",
          f"- **Median grading time per notebook per student (this course, serial): {ours['median_grading']} s** "
          "(target ≤ 6 s)."]
    if "speedup_vs_stock" in summary:
        md.append(f"- **{summary['speedup_vs_stock']}× faster than stock nbgrader** per submission, feedback included "
                  f"(target ≥ 3×); {summary['speedup_vs_stock_median']}× on grading alone (stock's autograde per "
                  f"submission vs our median). Same scores as stock nbgrader: {summary['same_scores_as_stock']}.")
    if "parallel_speedup" in summary:
        md.append(f"- {args.workers} workers: {summary['parallel_speedup']}× the serial run's wall time.")
    md += ["", "| run | wall s | s per submission | notes |", "|---|---|---|---|"]
    for name, run in runs.items():
        notes = {k: v for k, v in run.items() if k not in ("seconds", "per_submission")}
        md.append(f"| {name} | {run['seconds']} | {run['per_submission']} | "
                  + ", ".join(f"{k}: {v}" for k, v in notes.items()) + " |")
    args.json.with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0 if summary.get("same_scores_as_stock", True) else 1


if __name__ == "__main__":
    sys.exit(main())
