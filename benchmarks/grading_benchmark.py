"""Serial vs parallel grading of the same class: what ``python -m dlcourse_staff grade --workers N``
gains over one worker.

    python benchmarks/grading_benchmark.py                 # 20 submissions, 1 worker vs 2
    python benchmarks/grading_benchmark.py --students 8 --workers 4 --json out.json

Results: benchmarks/results/cpu/grading_benchmark.{json,md} unless --json names another file.

The class is built from week05/resnet_implementation.ipynb as students hand it in: most
submissions are complete, some carry one realistic mistake from the mutant bank
(tests/mutants/), one is the untouched release. Each run grades the same class in a fresh
throw-away course folder (nbgrader autograde with the course's limits and sandbox, feedback,
exports), so both runs do the same work; the two gradebooks must agree score for score.
The CPU seconds that other processes used during each run are printed: the speed-up means
something only when they are near zero.

Every kernel computes on one thread (``OMP_NUM_THREADS=1``): N workers on N cores, no
oversubscription. Other work on the machine skews the figures; the script prints the load.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
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

NOTEBOOK = "week05/resnet_implementation.ipynb"


def make_course(dest: Path) -> Path:
    """A course folder holding one notebook: source, release and the course configuration."""
    for name in ("source", "release"):
        (dest / name / "week05").mkdir(parents=True)
        shutil.copy(ROOT / name / NOTEBOOK, dest / name / NOTEBOOK)
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def make_class(n: int) -> dict:
    """{student: notebook}: complete submissions, one-mistake submissions, one blank."""
    source_nb = notebooks.read(ROOT / "source" / NOTEBOOK)
    release_nb = notebooks.read(ROOT / "release" / NOTEBOOK)
    bank = {b.notebook: b for b in mutation.load_banks(ROOT / "tests" / "mutants")}[NOTEBOOK]
    texts = notebooks.solution_texts(source_nb)
    kinds = []
    for i in range(n):
        if i == n - 1:
            kinds.append(("blank", None))
        elif i % 3 == 1:
            kinds.append(("mistake", bank.mutants[i % len(bank.mutants)]))
        else:
            kinds.append(("complete", None))
    out = {}
    for i, (kind, mutant) in enumerate(kinds):
        if kind == "blank":
            nb = release_nb
        elif mutant is not None:
            nb = notebooks.fill_release(release_nb, source_nb, {mutant.cell: mutant.apply(texts[mutant.cell])})
        else:
            nb = notebooks.fill_release(release_nb, source_nb)
        out[f"s{i + 1:02d}-{kind}"] = nb
    return out


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), to see other work."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(students: dict, workers: int, feedback: bool, keep: Path | None) -> tuple[float, dict, object]:
    tmp = Path(tempfile.mkdtemp(prefix=f"grading-bench-w{workers}-"))
    try:
        root = make_course(tmp / "course")
        c = course.Course(root)
        for student, nb in students.items():
            c.submit(student, "week05", {"resnet_implementation": nb})
        classgrade.prepare_gradebook(root, "week05", course.db_url(root))  # not timed: once per assignment
        start, busy0, ours0 = time.perf_counter(), _busy_seconds(), _children_seconds()
        report = classgrade.grade_class(root, "week05", workers=workers, feedback=feedback,
                                        out=lambda line: print("   " + line, flush=True))
        seconds = time.perf_counter() - start
        busy1, ours = _busy_seconds(), _children_seconds() - ours0
        report.cpu = {"grading": round(ours, 1),
                      "other_processes": None if busy0 is None else round(max(0.0, busy1 - busy0 - ours), 1)}
        scores = {r.student: (r.status, {nb: s["auto"] for nb, s in r.scores.items()}) for r in report.results}
        if keep:
            shutil.copytree(root, keep / f"workers-{workers}", dirs_exist_ok=True)
        return seconds, scores, report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel run (the other has 1)")
    parser.add_argument("--no-feedback", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "cpu" / "grading_benchmark.json",
                        help="write the figures here (and a .md beside it)")
    parser.add_argument("--keep", type=Path, default=None, help="copy both graded courses here")
    args = parser.parse_args(argv)

    students = make_class(args.students)
    print(f"{len(students)} submissions of {NOTEBOOK}; cores: {os.cpu_count()}, "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    figures = {}
    results = {}
    for workers in (1, args.workers):
        print(f"== {workers} worker(s)", flush=True)
        seconds, scores, report = run(students, workers, not args.no_feedback, args.keep)
        results[workers] = scores
        figures[workers] = {"seconds": round(seconds, 1), "per_submission": round(seconds / len(students), 2),
                            "cpu_seconds": report.cpu,
                            "statuses": {s: sum(r.status == s for r in report.results) for s in classgrade.STATUS_ORDER}}
        other = report.cpu["other_processes"]
        print(f"   {seconds:.1f}s, {seconds / len(students):.1f}s per submission; CPU: grading {report.cpu['grading']}s"
              + (f", other processes {other}s ({other / seconds:.2f} cores busy with other work)" if other is not None
                 else ""), flush=True)
    if results[1] != results[args.workers]:
        print("MISMATCH: the runs graded the class differently", file=sys.stderr)
        return 1
    speedup = figures[1]["seconds"] / figures[args.workers]["seconds"]
    summary = {"submissions": len(students), "cores": os.cpu_count(), "serial": figures[1],
               "parallel": {"workers": args.workers, **figures[args.workers]}, "speedup": round(speedup, 2)}
    summary["measured"] = time.strftime("%Y-%m-%d %H:%M")
    print(json.dumps(summary, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    rows = [("1 (serial)", figures[1]), (f"{args.workers} (parallel)", figures[args.workers])]
    md = [f"# Class grading: serial vs parallel ({NOTEBOOK})", "",
          f"{len(students)} submissions (complete, one-mistake and blank), {os.cpu_count()} cores, measured "
          f"{summary['measured']}; real nbgrader autograde + feedback with the course's limits and sandbox, "
          "one thread per kernel. Both runs graded the class identically.", "",
          f"**Speed-up: {speedup:.2f}×** with {args.workers} workers (target ≥ 1.7× for 2 workers on 2 cores).", "",
          "| workers | wall s | s per submission | grading CPU s | other processes' CPU s | statuses |",
          "|---|---|---|---|---|---|"]
    md += [f"| {name} | {f['seconds']} | {f['per_submission']} | {f['cpu_seconds']['grading']} | "
           f"{f['cpu_seconds']['other_processes']} | {', '.join(f'{k}: {v}' for k, v in f['statuses'].items() if v)} |"
           for name, f in rows]
    args.json.with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
