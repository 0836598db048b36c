"""Instructor commands: ``python -m dlcourse_staff <command>``.

release        regenerate release/ from source/ (nbgrader generate_assignment, every assignment)
demo           release, then, in a course folder of its own (.cache/demo/course), autograde an
               example class (perfect, blank, partly wrong student), write feedback and grades,
               and print the grade table; the real class (submitted/, gradebook) is never touched
formgrader     JupyterLab on formgrader for manual grading (--demo: on the demo class)
student-bundle what an instructor hands out: release notebooks, student wheel, requirements,
               nbgrader config (exchange, Validate), Korean README (dist/student-bundle/ + .zip)
report         every autograded check with its verdict on the reference and the stub, and the
               mutants (tests/mutants/) it kills; exits 1 if a check falls short
student-wheel  build the student version of the library (no dlcourse_staff) into dist/
grade A        autograde every submission of assignment A on --workers long-lived workers (the
               student's code in a sandboxed kernel, the hidden checks in the grader; limits,
               progress with ETA, a status per student), write feedback and the exports
               autograded/A_scores.csv and autograded/phase_grades.csv; exits 1 if a grading failed,
               2 if this machine has no sandbox and --unsandboxed was not given
grades         write the exports again from the gradebook (no grading)
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import classgrade, course, mutation


def cmd_release(root: Path, only: str | None = None) -> int:
    c = course.Course(root)
    for assignment in [only] if only else c.assignments():
        c.release(assignment)
        print(f"release/{assignment}: {', '.join(c.notebooks(assignment))}")
    return 0


def demo_course(root: Path) -> Path:
    """The demo's own course folder, ``.cache/demo/course``: made new on every run from the
    course's ``source/`` and ``nbgrader_config.py``, with its own gradebook, ``submitted/``,
    ``autograded/`` and ``feedback/``. The real course folder is never written by the demo."""
    demo = root / ".cache" / "demo" / "course"
    if demo.exists():
        shutil.rmtree(demo)
    demo.mkdir(parents=True)
    shutil.copytree(root / "source", demo / "source",
                    ignore=lambda folder, names: [n for n in names if (Path(folder) / n).is_dir()
                                                  and Path(folder) != root / "source"])
    shutil.copy(root / "nbgrader_config.py", demo / "nbgrader_config.py")
    return demo


def cmd_demo(root: Path, only: str | None = None) -> int:
    banks = mutation.load_banks(root / "tests" / "mutants")
    print("== 1. release/ from source/")
    cmd_release(root, only)
    demo = demo_course(root)
    # Its own gradebook, named explicitly: a DLCOURSE_DB_URL of the real class is never used.
    c = course.Course(demo, gradebook=f"sqlite:///{demo / 'gradebook.db'}")
    print(f"== 2. the demo class, in a course folder of its own: {demo.relative_to(root)}/")
    leftovers = classgrade.demo_leftovers(root)
    for path in leftovers:  # what the demo of earlier versions left in the real course folder
        shutil.rmtree(path, ignore_errors=True)
    if leftovers:
        print(f"   removed {len(leftovers)} demo-* folders an older demo left in submitted/, autograded/, feedback/")
    assignments = [only] if only else c.assignments()
    for assignment in assignments:
        c.generate(assignment)
        for student, nbs in course.demo_submissions(root, assignment, banks).items():
            c.submit(student, assignment, nbs)
        print(f"== 3. {assignment}: autograde demo-perfect, demo-blank, demo-partial")
        for student in ("demo-perfect", "demo-blank", "demo-partial"):
            start = time.perf_counter()
            c.autograde(assignment, student)
            print(f"   {student}: {time.perf_counter() - start:.1f}s")
        c.feedback(assignment)
        print(f"   feedback → {(demo / 'feedback').relative_to(root)}/<student>/{assignment}/*.html")
        print(f"\n{assignment} grade table (autograded points per notebook; {course.MANUAL_PENDING_HELP}):")
        print(course.format_table(c.grade_table(assignment)))
        export = classgrade.export_scores(demo, assignment, c.db_url(), demo / "autograded" / f"{assignment}_scores.csv")
        print(f"class export (same columns as `grade`) → {export.relative_to(root)}")
    export = c.export(demo / "autograded" / "grades.csv")
    print(f"\nnbgrader export → {export.relative_to(root)}")
    print("manual grading of the demo class in formgrader: make formgrader-demo "
          "(python -m dlcourse_staff formgrader --demo)")
    return 0


def formgrader_command(folder: Path, port: int | None = None, open_browser: bool = True) -> list[str]:
    """JupyterLab on ``folder`` (a course folder: its nbgrader_config.py names the gradebook) that
    opens on nbgrader's formgrader."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}",
           "--ServerApp.default_url=/formgrader"]
    if port:
        cmd.append(f"--ServerApp.port={port}")
    if not open_browser:
        cmd.append("--ServerApp.open_browser=False")
    return cmd


def cmd_formgrader(root: Path, demo: bool, port: int | None = None) -> int:
    """Manual grading (written answers, code quality, extra credit) and feedback in formgrader."""
    folder = root / ".cache" / "demo" / "course" if demo else root
    if demo and not (folder / "gradebook.db").exists():
        print("formgrader --demo: 데모 반이 아직 없습니다. 먼저 `make demo`를 실행하세요.", file=sys.stderr)
        return 2
    env = course.jupyter_env(folder)
    if demo:
        env["DLCOURSE_DB_URL"] = f"sqlite:///{folder / 'gradebook.db'}"
    print(f"formgrader on {folder} (gradebook: {env.get('DLCOURSE_DB_URL') or course.db_url(folder)})")
    return subprocess.call(formgrader_command(folder, port), cwd=folder, env=env)


def cmd_report(root: Path) -> int:
    banks = mutation.load_banks(root / "tests" / "mutants")
    analyses = [mutation.analyse(root, bank) for bank in banks]
    print(mutation.format_report(analyses))
    bad = [c.test_id for a in analyses for c in a.checks.values()
           if not c.reference[0] or c.stub[0] or not c.killed_by]
    survivors = [m for a in analyses for m in a.survivors]
    rejected = [v for a in analyses for v in a.rejected_variants]
    if bad or survivors or rejected:
        print(f"FALLING SHORT: checks {bad}, surviving mutants {survivors}, rejected correct variants {rejected}")
        return 1
    n_checks = sum(len(a.checks) for a in analyses)
    n_mutants = sum(len(a.mutants) for a in analyses)
    n_variants = sum(len(a.variants) for a in analyses)
    print(f"OK: {n_checks} checks pass on the reference, fail on the stub; {n_mutants} mutants, all killed; "
          f"{n_variants} correct variants, all accepted.")
    return 0


def cmd_grade(root: Path, args) -> int:
    if not args.target:
        print("grade: 과제 이름을 주세요 (e.g. python -m dlcourse_staff grade week05)", file=sys.stderr)
        return 2
    shard = None
    if args.shard:
        k, n = (int(x) for x in args.shard.split("/"))
        shard = (k, n)
    limits = classgrade.Limits(cell_timeout=args.cell_timeout, check_timeout=args.check_timeout,
                               notebook_timeout=args.notebook_timeout,
                               memory_mb=args.memory_mb, unsandboxed=args.unsandboxed)
    try:
        report = classgrade.grade_class(root, args.target, workers=args.workers, students=args.student or None,
                                        force=args.force, feedback=not args.no_feedback, limits=limits,
                                        db_url=args.db_url, shard=shard)
    except (FileNotFoundError, ValueError, classgrade.SandboxUnavailable) as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    print()
    print(classgrade.format_summary(report))
    for path in (report.scores_csv, report.phase_csv):
        if path:
            print(f"→ {path.relative_to(root) if path.is_relative_to(root) else path}")
    return 1 if report.failed else 0


def cmd_grades(root: Path, args) -> int:
    db_url = args.db_url or course.db_url(root)
    assignments = [args.target] if args.target else sorted({a for (a, _) in classgrade.load_statuses(db_url)})
    for assignment in assignments:
        print(f"→ {classgrade.export_scores(root, assignment, db_url, root / 'autograded' / f'{assignment}_scores.csv')}")
    print(f"→ {classgrade.export_phase(root, db_url, root / 'autograded' / 'phase_grades.csv')}")
    return 0


def build_student_wheel(root: Path, out: Path) -> Path:
    """Wheel of the student package ``dlcourse`` (lib/); the instructor package lives in
    lib/staff/ and is a distribution of its own, so the student wheel simply leaves it out."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        shutil.copytree(root / "lib", lib, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "staff"))
        before = set(out.glob("*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out), str(lib)], check=True)
        built = sorted(set(out.glob("*.whl")) - before) or sorted(out.glob("dlcourse-*.whl"))
    return built[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse_staff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "demo", "report", "student-wheel", "student-bundle", "grade",
                                            "grades", "formgrader"])
    parser.add_argument("target", nargs="?", default=None, help="grade/grades: the assignment (e.g. week05)")
    grading = parser.add_argument_group("grade")
    grading.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    grading.add_argument("--student", action="append", help="only this student (repeatable)")
    grading.add_argument("--force", action="store_true", help="regrade submissions that did not change")
    grading.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    grading.add_argument("--db-url", default=None, help="gradebook URL (default: DLCOURSE_DB_URL or gradebook.db)")
    grading.add_argument("--shard", default=None, help="K/N: grade every N-th student from the K-th (several machines); "
                         "default: SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX with DLCOURSE_SHARDS")
    grading.add_argument("--unsandboxed", action="store_true",
                         help="grade even where Landlock/seccomp are unavailable (reported in every export)")
    grading.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py)")
    grading.add_argument("--check-timeout", type=int, default=None, help="seconds per hidden check (probes included)")
    grading.add_argument("--notebook-timeout", type=int, default=None, help="seconds per notebook")
    grading.add_argument("--memory-mb", type=int, default=None, help="memory limit of a student's kernel")
    parser.add_argument("--root", type=Path, default=None, help="course folder (default: found from the cwd)")
    parser.add_argument("--out", type=Path, default=None, help="student-wheel: output folder (default: dist/)")
    parser.add_argument("--assignment", default=None, help="release/demo: only this assignment (e.g. week05)")
    parser.add_argument("--with-data", type=Path, default=None, help="student-bundle: copy this data folder in")
    parser.add_argument("--demo", action="store_true", help="formgrader: open the demo class")
    parser.add_argument("--port", type=int, default=None, help="formgrader: server port")
    parser.add_argument("--exchange", default=None, help="student-bundle: the exchange folder students use "
                        "(default: /srv/nbgrader/exchange)")
    args = parser.parse_args(argv)
    root = (args.root or course.repo_root()).resolve()
    if args.command == "release":
        return cmd_release(root, args.assignment)
    if args.command == "demo":
        return cmd_demo(root, args.assignment)
    if args.command == "formgrader":
        return cmd_formgrader(root, args.demo, args.port)
    if args.command == "student-bundle":
        from . import bundle

        out = bundle.build(root, (args.out or root / "dist").resolve(), exchange=args.exchange, data=args.with_data)
        print(f"student bundle: {out}/ and {out}.zip")
        return 0
    if args.command == "report":
        return cmd_report(root)
    if args.command == "grade":
        return cmd_grade(root, args)
    if args.command == "grades":
        return cmd_grades(root, args)
    wheel = build_student_wheel(root, (args.out or root / "dist").resolve())
    print(f"student wheel: {wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
