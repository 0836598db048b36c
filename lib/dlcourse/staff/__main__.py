"""Instructor commands: ``python -m dlcourse.staff <command>``.

release        regenerate release/ from source/ (nbgrader generate_assignment, every assignment)
demo           release, then autograde an example class (perfect, blank, partly wrong student),
               write feedback and grades, and print the grade table
report         every autograded check with its verdict on the reference and the stub, and the
               mutants (tests/mutants/) it kills; exits 1 if a check falls short
student-wheel  build the student version of the library (no dlcourse.staff) into dist/
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import course, mutation


def cmd_release(root: Path, only: str | None = None) -> int:
    c = course.Course(root)
    for assignment in [only] if only else c.assignments():
        c.generate(assignment)
        print(f"release/{assignment}: {', '.join(c.notebooks(assignment))}")
    return 0


def cmd_demo(root: Path) -> int:
    c = course.Course(root)
    banks = mutation.load_banks(root / "tests" / "mutants")
    print("== 1. release/ from source/")
    cmd_release(root)
    all_rows = []
    for assignment in c.assignments():
        print(f"== 2. {assignment}: example submissions")
        for student, nbs in course.demo_submissions(root, assignment, banks).items():
            c.submit(student, assignment, nbs)
            print(f"   submitted/{student}/{assignment}")
        print(f"== 3. {assignment}: autograde")
        for student in ("demo-perfect", "demo-blank", "demo-partial"):
            start = time.perf_counter()
            c.autograde(assignment, student)
            print(f"   {student}: {time.perf_counter() - start:.1f}s")
        c.feedback(assignment)
        print(f"   feedback/<student>/{assignment}/*.html")
        rows = c.grade_table(assignment)
        all_rows += [{"assignment": assignment, **r} for r in rows]
        print(f"\n{assignment} grade table (autograded points; written answers wait for a grader):")
        print(course.format_table(rows))
    export = c.export(root / "autograded" / "grades.csv")
    print(f"\nnbgrader export → {export.relative_to(root)}")
    return 0


def cmd_report(root: Path) -> int:
    banks = mutation.load_banks(root / "tests" / "mutants")
    analyses = [mutation.analyse(root, bank) for bank in banks]
    print(mutation.format_report(analyses))
    bad = [c.test_id for a in analyses for c in a.checks.values()
           if not c.reference[0] or c.stub[0] or not c.killed_by]
    survivors = [m for a in analyses for m in a.survivors]
    if bad or survivors:
        print(f"FALLING SHORT: checks {bad}, surviving mutants {survivors}")
        return 1
    n_checks = sum(len(a.checks) for a in analyses)
    n_mutants = sum(len(a.mutants) for a in analyses)
    print(f"OK: {n_checks} checks pass on the reference, fail on the stub; {n_mutants} mutants, all killed.")
    return 0


STAFF_ONLY = "staff"


def build_student_wheel(root: Path, out: Path) -> Path:
    """Wheel of dlcourse without the instructor-only subpackage."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        shutil.copytree(root / "lib", lib, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        shutil.rmtree(lib / "dlcourse" / STAFF_ONLY)
        before = set(out.glob("*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out), str(lib)], check=True)
        built = sorted(set(out.glob("*.whl")) - before) or sorted(out.glob("dlcourse-*.whl"))
    return built[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.staff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["release", "demo", "report", "student-wheel"])
    parser.add_argument("--root", type=Path, default=None, help="course folder (default: found from the cwd)")
    parser.add_argument("--out", type=Path, default=None, help="student-wheel: output folder (default: dist/)")
    parser.add_argument("--assignment", default=None, help="release: only this assignment (e.g. week05)")
    args = parser.parse_args(argv)
    root = (args.root or course.repo_root()).resolve()
    if args.command == "release":
        return cmd_release(root, args.assignment)
    if args.command == "demo":
        return cmd_demo(root)
    if args.command == "report":
        return cmd_report(root)
    wheel = build_student_wheel(root, (args.out or root / "dist").resolve())
    print(f"student wheel: {wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
