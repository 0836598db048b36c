"""Real nbgrader over the whole course, graded once per test session (one shared class).

One throw-away copy of the course holds every notebook. For every assignment it is released with
``generate_assignment`` and a class hands in:

* ``src`` (the instructor's notebooks), ``perfect`` (the release with the reference typed in),
  ``blank`` (the release as handed out) and ``mutant`` (one wrong part per notebook, from the
  mutant bank);
* every attack family of tests/adversarial/families.py, all at once, in two forms:
  ``all-blank`` (the release plus the attacks) and ``all-mutant`` (one wrong part plus the attacks),
  in every notebook;
* every family on its own in both forms, each family in a different notebook (rotating);
* week05 only: the infrastructure bank of tests/adversarial/bank.py (hangs, exits, memory bombs,
  deleted test cells, not a notebook, …).

The class is graded with ``python -m dlcourse_staff grade``'s code path (long-lived workers, the
sandboxed kernel, the checks in the grader) and every test below reads the result.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest

from adversarial import bank, families
from conftest import ASSIGNMENTS, ROOT, copy_course, solution_lines
from dlcourse_staff import classgrade, course, mutation, notebooks

pytestmark = pytest.mark.slow

BANKS = {b.notebook: b for b in mutation.load_banks(ROOT / "tests" / "mutants")}
NOTEBOOKS = sorted(p.relative_to(ROOT / "source").as_posix() for p in (ROOT / "source").glob("*/*.ipynb")
                   if notebooks.autograded_parts(notebooks.read(p)))
# Student cells get 20 s (an endless loop costs little); a check gets the course's own budget.
LIMITS = classgrade.Limits(cell_timeout=20, check_timeout=60, notebook_timeout=400, memory_mb=3072)
# DLCOURSE_TEST_ASSIGNMENTS=week06,week07 grades only those (while working on them)
ONLY = [a for a in os.environ.get("DLCOURSE_TEST_ASSIGNMENTS", "").split(",") if a]
ASSIGNMENTS = [a for a in ASSIGNMENTS if not ONLY or a in ONLY]
STAFF = ROOT / "lib" / "staff" / "dlcourse_staff"
LEAKS = ("dlcourse_staff", "staff/dlcourse_staff", "hidden.check", "BEGIN HIDDEN", "END HIDDEN", "BEGIN SOLUTION",
         "END SOLUTION", "_registry", "solutions")
FAMILY_NAMES = sorted(families.FAMILIES)
# each family on its own goes to one notebook, rotating through the course
FAMILY_HOME = {name: NOTEBOOKS[i % len(NOTEBOOKS)] for i, name in enumerate(FAMILY_NAMES)}


def _attacked(nb, code: str):
    """``nb`` with an attack cell right after its setup cell."""
    nb = nbformat.from_dict(nb)
    index = next(i for i, c in enumerate(nb.cells) if notebooks.grade_id(c) and notebooks.grade_id(c).endswith("-setup"))
    cell = nbformat.v4.new_code_cell("# (student's own cell)\n" + code)
    cell.id = "student-attack"
    nb.cells.insert(index + 1, cell)
    return nb


def _mutated(rel, source_nb, release_nb):
    m = BANKS[rel].get(BANKS[rel].round_trip)
    overrides = {m.cell: m.apply(notebooks.solution_texts(source_nb)[m.cell])}
    return notebooks.fill_release(release_nb, source_nb, overrides, answers=False), {f"{m.cell}-test"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("course"))
    c = course.Course(root)
    expected: dict = {}          # (student, notebook rel) → set of lost test ids
    by_assignment: dict = {}
    for assignment in ASSIGNMENTS:
        c.generate(assignment)
        subs: dict[str, dict] = {}
        for src in sorted((root / "source" / assignment).glob("*.ipynb")):
            rel = f"{assignment}/{src.name}"
            source_nb, release_nb = notebooks.read(src), notebooks.read(root / "release" / rel)
            parts = {p.test_id for p in notebooks.autograded_parts(source_nb)}
            stem = src.stem

            def add(student, nb, lost):
                subs.setdefault(student, {})[stem] = nb
                expected[(student, rel)] = lost

            add("src", source_nb, set())
            add("perfect", notebooks.fill_release(release_nb, source_nb), set())
            add("blank", release_nb, parts)
            if rel in BANKS:
                wrong, lost = _mutated(rel, source_nb, release_nb)
                add("mutant", wrong, lost)
                add("all-mutant", _attacked(wrong, families.all_families_code()), lost)
                add("all-blank", _attacked(release_nb, families.all_families_code()), parts)
                for name in FAMILY_NAMES:
                    if FAMILY_HOME[name] == rel:
                        code = families.FAMILIES[name]["code"]
                        add(f"{name}-blank", _attacked(release_nb, code), parts)
                        add(f"{name}-mutant", _attacked(wrong, code), lost)
        for student, nbs in subs.items():
            c.submit(student, assignment, nbs)
        if assignment == bank.NOTEBOOK.split("/")[0]:
            for case in bank.CASES:  # the files as they are: one of them is not even JSON
                folder = root / "submitted" / f"infra-{case}" / assignment
                folder.mkdir(parents=True)
                shutil.copy(bank.HERE / f"{case}.ipynb", folder / Path(bank.NOTEBOOK).name)
                (folder / "timestamp.txt").write_text("2026-11-02 09:00:00 UTC")
        before = {p: p.stat().st_mtime for p in (root / "source").rglob("*")}
        progress: list[str] = []
        start = time.perf_counter()
        report = classgrade.grade_class(root, assignment, workers=2, limits=LIMITS, out=progress.append)
        print(f"\n{classgrade.format_summary(report)}\n[{assignment}] {time.perf_counter() - start:.0f}s")
        by_assignment[assignment] = dict(report=report, results={r.student: r for r in report.results},
                                         progress=progress, source_before=before)
    return dict(root=root, course=c, expected=expected, assignments=by_assignment, db_url=course.db_url(root))


def _scores(graded, assignment, student) -> dict:
    return graded["course"].cell_scores(assignment, student)


def _feedback_text(graded, assignment, student, stem) -> str:
    path = graded["root"] / "feedback" / student / assignment / f"{stem}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


# --- the round trip: release, reference, blank, one mutant ------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_what_nbgrader_generates(graded, assignment):
    for fresh in sorted((graded["root"] / "release" / assignment).glob("*.ipynb")):
        committed = ROOT / "release" / assignment / fresh.name
        assert committed.exists(), f"release/{assignment}/{fresh.name} is not committed: run `make release`"
        assert nbformat.read(str(fresh), 4) == nbformat.read(str(committed), 4), \
            f"release/{assignment}/{fresh.name} is out of date: run `make release`"


def _expected_students(graded, assignment):
    return sorted({s for (s, rel) in graded["expected"] if rel.startswith(assignment + "/")})


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_submission_loses_exactly_what_it_should(graded, assignment):
    """Reference and perfect: every point; blank: none; one mutant, with or without attacks: exactly
    its part; every attack family, alone or all together: nothing it did not earn."""
    problems = []
    for student in _expected_students(graded, assignment):
        result = graded["assignments"][assignment]["results"][student]
        if result.status != "graded":
            problems.append(f"{student}: {result.status} ({result.reason[:200]})")
            continue
        for nb, cells in _scores(graded, assignment, student).items():
            rel = f"{assignment}/{nb}.ipynb"
            if (student, rel) not in graded["expected"]:
                continue
            lost = {gid for gid, (score, top) in cells.items() if score < top}
            want = graded["expected"][(student, rel)]
            if lost != want:
                problems.append(f"{student}/{nb}: lost {sorted(lost)}, expected {sorted(want)}")
    assert not problems, "\n".join(problems)


def test_every_family_ran_in_both_forms_somewhere(graded):
    if ONLY:
        pytest.skip("only some assignments were graded (DLCOURSE_TEST_ASSIGNMENTS)")
    seen = {s for (s, _) in graded["expected"]}
    for name in FAMILY_NAMES:
        assert f"{name}-blank" in seen and f"{name}-mutant" in seen, name
    assert {"all-blank", "all-mutant"} <= seen


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_verdicts_but_no_secrets(graded, assignment):
    root = graded["root"]
    sources = {p.stem: notebooks.read(p) for p in (root / "source" / assignment).glob("*.ipynb")}
    secrets = _secret_lines()
    for student in _expected_students(graded, assignment):
        for path in (root / "feedback" / student / assignment).glob("*.html"):
            text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
            handed_in = root / "submitted" / student / assignment / f"{path.stem}.ipynb"
            own = "\n".join(c.source for c in notebooks.read(handed_in).cells if not notebooks.meta(c).get("grade"))
            for marker in LEAKS:
                if student == "src" and "SOLUTION" in marker:
                    continue  # that student handed in the instructor's notebook, markers and all
                if marker in own:
                    continue  # the student's own cells may say anything (an attack names the package)
                assert marker not in text, f"feedback {student}/{path.name} shows {marker!r}"
            if student != "src":
                for line in solution_lines(sources[path.stem]):
                    if student in ("perfect", "mutant") or student.endswith("-mutant"):
                        break  # they typed the reference in
                    assert line not in text or line in own, f"feedback {student}/{path.name} shows solution text {line!r}"
            public = "\n".join(c.source for c in notebooks.read(root / "release" / assignment / f"{path.stem}.ipynb").cells)
            leaked = [line for line in secrets if line in text and line not in public and line not in own]  # stub docstrings and own cells are not leaks
            assert not leaked, f"feedback {student}/{path.name} shows hidden-check or reference lines: {leaked[:3]}"
            assert str(STAFF) not in text
            assert str(root) not in text and str(ROOT) not in text, f"feedback {student}/{path.name} shows a path"
            assert "ajax/libs/mathjax" not in path.read_text(encoding="utf-8"), "feedback loads MathJax from a CDN"
    blank = next((root / "feedback" / "blank" / assignment).glob("*.html")).read_text(encoding="utf-8")
    assert "CheckFailed" in blank and "아직 구현되지 않았습니다" in blank


def test_export_has_every_student_and_the_sandbox(graded):
    for assignment, data in graded["assignments"].items():
        with open(data["report"].scores_csv, newline="", encoding="utf-8") as fh:
            rows = {r["student"]: r for r in csv.DictReader(fh)}
        assert set(_expected_students(graded, assignment)) <= set(rows)
        assert float(rows["blank"]["autograded"]) == 0
        assert all("Landlock ABI" in r["sandbox"] for r in rows.values() if r["status"] != "failed"), \
            {s: r["sandbox"] for s, r in rows.items()}


# --- the infrastructure bank (week05/resnet_implementation) -----------------------------------------
INFRA = bank.NOTEBOOK.split("/")[0]
NB_NAME = Path(bank.NOTEBOOK).stem


@pytest.mark.parametrize("case", list(bank.CASES))
def test_infrastructure_case_ends_as_expected(graded, case):
    expected = bank.CASES[case]
    result = graded["assignments"][INFRA]["results"][f"infra-{case}"]
    assert result.status == expected["status"], f"{case}: {result.status} ({result.reason})"
    scores = _scores(graded, INFRA, f"infra-{case}")[NB_NAME]
    lost = {gid for gid, (score, top) in scores.items() if score < top}
    assert lost == expected["lost"], f"{case}: lost {sorted(lost)}, expected {sorted(expected['lost'])}"
    assert sum(s for s, _ in scores.values()) == 10 - bank.lost_points(case)
    if "message" in expected:
        where, text = expected["message"]
        haystack = result.reason if where == "reason" else _feedback_text(graded, INFRA, f"infra-{case}", NB_NAME)
        assert text in haystack, f"{case}: {text!r} not in the {where}"


def test_failure_messages_never_echo_the_checks_inputs(graded):
    text = _feedback_text(graded, INFRA, "infra-echoed_inputs", NB_NAME)
    verdict = text.split("CheckFailed", 1)[1][:2000]
    assert "input was" in verdict                      # the student's message, shortened
    numbers = re.findall(r"-?\d+\.\d+", verdict)
    assert len(numbers) < 40, f"the verdict shows {len(numbers)} numbers of the input"


def test_perfect_students_are_untouched_by_the_others(graded):
    for assignment, data in graded["assignments"].items():
        result = data["results"]["perfect"]
        assert result.status == "graded" and not result.reason, result.reason
        assert all(score == top for cells in _scores(graded, assignment, "perfect").values()
                   for score, top in cells.values())


def test_progress_shows_every_student_with_an_eta(graded):
    data = graded["assignments"][INFRA]
    lines = [l for l in data["progress"] if l.startswith("[")]
    assert len(lines) == len(data["results"])
    assert all("남은 시간" in l for l in lines)


def test_failed_grading_is_never_a_silent_zero(graded):
    path = graded["assignments"][INFRA]["report"].scores_csv
    with open(path, newline="", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    score_col = next(k for k in rows["perfect"] if k.startswith(NB_NAME))
    for case, expected in bank.CASES.items():
        row = rows[f"infra-{case}"]
        assert row["status"] == expected["status"]
        if expected["status"] == "failed":
            assert row[score_col] == "" and row["autograded"] == "", f"{case}: a failed grading shows a score"
            assert row["reason"], f"{case}: a failed grading without a reason"
    with open(graded["assignments"][INFRA]["report"].phase_csv, newline="", encoding="utf-8") as fh:
        phase = {r["student"]: r for r in csv.DictReader(fh)}
    assert phase["infra-os_exit"]["phase"] == "" and "실패" in phase["infra-os_exit"]["notes"]
    assert float(phase["perfect"]["phase"]) > 0


def _secret_lines() -> set[str]:
    """Lines of the hidden checks and the reference that students never see: a line that the committed
    release shows anyway (a stub's docstring, its input checks) is public, not a secret."""
    public = "\n".join(c.source for p in (ROOT / "release").glob("*/*.ipynb") for c in notebooks.read(p).cells)
    lines = set()
    for path in list((STAFF / "hidden").glob("*.py")) + list((STAFF / "solutions").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("#", '"""', "def ", "class ", "from ", "import ")) \
                    and line not in public:
                lines.add(line)
    return lines




def test_nothing_written_outside_and_gradebook_intact(graded):
    root = graded["root"]
    assert not list(root.rglob("pwned.txt")) and not list(Path("/tmp").glob("dlcourse-pwned.txt"))
    for data in graded["assignments"].values():
        assert {p: p.stat().st_mtime for p in (root / "source").rglob("*")} == data["source_before"]
    db = sqlite3.connect(root / "gradebook.db")
    try:
        # no grade above its cell's points
        worst = db.execute("SELECT MAX(g.auto_score - c.max_score) FROM grade g "
                           "JOIN grade_cells c ON g.cell_id = c.id").fetchone()[0]
    finally:
        db.close()
    assert worst <= 0, "a submission rewrote the gradebook"


def test_no_kernel_outlives_the_grading(graded):
    root = str(graded["root"])
    alive = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if ("sandbox.py" in cmd or "gradeworker" in cmd) and (cwd.startswith(root) or "dlcourse-grade-" in cwd):
            alive.append(cmd)
    assert not alive, alive


def test_adversarial_table(graded):
    """Case, expected, got — printed, and written to $DLCOURSE_ADVERSARIAL_TABLE when set. (Before the
    re-run test below, which hands in new work for some students.)"""
    rows = ["| case | notebook | expected | got | status |", "|---|---|---|---|---|"]

    def fmt(parts):
        return "nothing" if not parts else ("all parts" if parts == "all" else ", ".join(sorted(p.replace("-test", "")
                                                                                          for p in parts)))

    for (student, rel), want in sorted(graded["expected"].items()):
        if student in ("src", "perfect", "blank", "mutant"):
            continue
        assignment, stem = rel.split("/")[0], Path(rel).stem
        result = graded["assignments"][assignment]["results"][student]
        cells = _scores(graded, assignment, student).get(stem, {})
        lost = {gid for gid, (score, top) in cells.items() if score < top}
        everything = set(cells)
        rows.append(f"| {student} | {rel} | {fmt('all' if want == everything else want)} lost | "
                    f"{fmt('all' if lost == everything else lost)} lost | {result.status} |")
    if INFRA in graded["assignments"]:
        for case, expected in bank.CASES.items():
            result = graded["assignments"][INFRA]["results"][f"infra-{case}"]
            cells = _scores(graded, INFRA, f"infra-{case}").get(NB_NAME, {})
            lost = {gid for gid, (score, top) in cells.items() if score < top}
            rows.append(f"| infra: {case} | {bank.NOTEBOOK} | {fmt(expected['lost'])} lost, {expected['status']} | "
                        f"{fmt(lost)} lost | {result.status} |")
    table = "\n".join(rows) + "\n"
    print("\n" + table)
    if os.environ.get("DLCOURSE_ADVERSARIAL_TABLE"):
        Path(os.environ["DLCOURSE_ADVERSARIAL_TABLE"]).write_text(table, encoding="utf-8")
    assert len(rows) > 2


def test_rerun_changes_nothing_then_regrades_only_what_changed(graded):
    root, db_url = graded["root"], graded["db_url"]

    def snapshot():
        db = sqlite3.connect(root / "gradebook.db")
        try:
            return sorted(db.execute(
                "SELECT s.id, g.cell_id, g.auto_score FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id "
                "JOIN submitted_assignment a ON n.assignment_id = a.id JOIN student s ON a.student_id = s.id").fetchall())
        finally:
            db.close()

    before = snapshot()
    lines: list[str] = []
    settled = ["infra-" + c for c, e in bank.CASES.items() if e["status"] != "failed"][:4] + ["perfect", "blank"]
    again = classgrade.grade_class(root, INFRA, workers=2, limits=LIMITS, out=lines.append, students=settled)
    assert all(r.skipped for r in again.results), [r.student for r in again.results if not r.skipped]
    assert snapshot() == before, "a re-run changed or duplicated grades"
    perfect = notebooks.read(root / "autograded" / "perfect" / INFRA / f"{NB_NAME}.ipynb")
    course.Course(root).submit("infra-untouched_stub", INFRA, {NB_NAME: perfect})
    third = classgrade.grade_class(root, INFRA, workers=2, limits=LIMITS, out=lines.append,
                                   students=["infra-untouched_stub", "perfect"])
    assert {r.student for r in third.results if not r.skipped} == {"infra-untouched_stub"}
    assert all(score == top for score, top in _scores(graded, INFRA, "infra-untouched_stub")[NB_NAME].values())
    statuses = classgrade.load_statuses(db_url, INFRA)
    assert statuses[(INFRA, "infra-untouched_stub")]["status"] == "graded"
    assert json.loads(statuses[(INFRA, "infra-os_exit")]["details"])["notebooks"][NB_NAME]["status"] == "failed"


def test_release_regenerates_while_the_gradebook_holds_submissions(graded):
    # With submissions in its gradebook, nbgrader's generate_assignment refuses a changed
    # assignment (here: a notebook removed) and deletes release/<assignment> on the way out;
    # `release` goes through a scratch gradebook instead.
    root = graded["root"]
    released = root / "release" / bank.NOTEBOOK
    before = released.read_bytes()
    extra = root / "source" / INFRA / "extra_notebook.ipynb"
    shutil.copy(root / "source" / bank.NOTEBOOK, extra)
    try:
        course.Course(root).release(INFRA)
        assert released.read_bytes() == before
        assert (root / "release" / INFRA / extra.name).exists()
    finally:
        extra.unlink()
        (root / "release" / INFRA / extra.name).unlink(missing_ok=True)
    assert classgrade.load_statuses(graded["db_url"], INFRA), "the course gradebook lost its grades"

