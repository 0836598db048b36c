"""Real nbgrader, in a throw-away copy of the course: release/ is what generate_assignment makes;
the source notebook earns every autograded point, the release none, and a submission with one
mutant loses exactly that part's points; feedback never shows hidden checks or solutions."""
import csv
import re
import time

import nbformat
import pytest

from conftest import ASSIGNMENTS, ROOT, copy_course
from dlcourse_staff import course, mutation, notebooks

BANKS = {b.notebook: b for b in mutation.load_banks(ROOT / "tests" / "mutants")}
LEAKS = ("dlcourse_staff", "staff/dlcourse_staff", "hidden.check", "BEGIN HIDDEN", "END HIDDEN", "BEGIN SOLUTION",
         "END SOLUTION", "_registry", "solutions")


def solution_lines(source_nb):
    """Distinctive lines a student could only get from the solutions or hidden tests."""
    lines = set()
    for cell in source_nb.cells:
        m = notebooks.meta(cell)
        if m.get("solution") and m.get("grade") is False and cell.cell_type == "code":
            region = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            lines |= {l.strip() for r in region for l in r.splitlines() if len(l.strip()) > 25}
        elif m.get("solution") and cell.cell_type == "markdown":
            lines |= {l.strip() for l in cell.source.splitlines() if len(l.strip()) > 25}
    return lines


@pytest.mark.parametrize("rel", sorted(p.relative_to(ROOT / "release").as_posix()
                                       for p in (ROOT / "release").glob("*/*.ipynb")))
def test_release_leaks_nothing(rel):
    text = (ROOT / "release" / rel).read_text(encoding="utf-8")
    for marker in LEAKS:
        assert marker not in text, f"release/{rel} contains {marker!r}"
    released = nbformat.reads(text, as_version=4)
    released_text = "\n".join(c.source for c in released.cells)
    for line in solution_lines(notebooks.read(ROOT / "source" / rel)):
        assert line not in released_text, f"release/{rel} contains solution text: {line!r}"


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    """Release, submit four students, autograde, feedback, export — once per assignment."""
    assignment = request.param
    root = copy_course(tmp_path_factory.mktemp(f"course-{assignment}"))
    c = course.Course(root)
    c.generate(assignment)
    subs = {"src": {}, "blank": {}, "perfect": {}, "mutant": {}}
    expected_loss = {}
    for src in sorted((root / "source" / assignment).glob("*.ipynb")):
        rel = f"{assignment}/{src.name}"
        source_nb, release_nb = notebooks.read(src), notebooks.read(root / "release" / rel)
        subs["src"][src.stem] = source_nb
        subs["blank"][src.stem] = release_nb
        subs["perfect"][src.stem] = notebooks.fill_release(release_nb, source_nb)
        overrides = {}
        if rel in BANKS:
            m = BANKS[rel].get(BANKS[rel].round_trip)
            overrides = {m.cell: m.apply(notebooks.solution_texts(source_nb)[m.cell])}
            expected_loss[src.stem] = {f"{m.cell}-test"}
        subs["mutant"][src.stem] = notebooks.fill_release(release_nb, source_nb, overrides, answers=False)
    for student, nbs in subs.items():
        c.submit(student, assignment, nbs)
    start = time.perf_counter()
    c.autograde(assignment)
    seconds = (time.perf_counter() - start) / len(subs)
    print(f"\n[{assignment}] autograde: {seconds:.1f}s per submission ({len(subs)} submissions)")
    c.feedback(assignment)
    export = c.export(root / "grades.csv")
    return dict(assignment=assignment, root=root, course=c, expected_loss=expected_loss, export=export)


@pytest.mark.slow
def test_committed_release_is_what_nbgrader_generates(graded):
    for fresh in sorted((graded["root"] / "release" / graded["assignment"]).glob("*.ipynb")):
        committed = ROOT / "release" / graded["assignment"] / fresh.name
        assert committed.exists(), f"release/{graded['assignment']}/{fresh.name} is not committed: run `make release`"
        assert nbformat.read(str(fresh), 4) == nbformat.read(str(committed), 4), \
            f"release/{graded['assignment']}/{fresh.name} is out of date: run `make release`"


def _scores(graded, student):
    return graded["course"].cell_scores(graded["assignment"], student)


@pytest.mark.slow
@pytest.mark.parametrize("student", ["src", "perfect"])
def test_reference_earns_every_autograded_point(graded, student):
    for nb, cells in _scores(graded, student).items():
        assert cells, f"{nb}: no autograded cells"
        for gid, (score, max_score) in cells.items():
            assert score == max_score, f"{student}/{nb}: {gid} scored {score}/{max_score}"


@pytest.mark.slow
def test_release_earns_nothing(graded):
    for nb, cells in _scores(graded, "blank").items():
        for gid, (score, _) in cells.items():
            assert score == 0, f"blank/{nb}: {gid} scored {score}"


@pytest.mark.slow
def test_one_mutant_loses_exactly_its_part(graded):
    for nb, cells in _scores(graded, "mutant").items():
        lost = {gid for gid, (score, max_score) in cells.items() if score < max_score}
        assert lost == graded["expected_loss"].get(nb, set()), f"mutant/{nb}: lost points in {sorted(lost)}"


@pytest.mark.slow
def test_feedback_shows_verdicts_but_no_secrets(graded):
    root, assignment = graded["root"], graded["assignment"]
    sources = {p.stem: notebooks.read(p) for p in (root / "source" / assignment).glob("*.ipynb")}
    for student in ("src", "blank", "perfect", "mutant"):
        for html in (root / "feedback" / student / assignment).glob("*.html"):
            text = html.read_text(encoding="utf-8")
            for marker in LEAKS:
                if student == "src" and "SOLUTION" in marker:
                    continue  # that student submitted the instructor's notebook, markers and all
                assert marker not in text, f"feedback {student}/{html.name} shows {marker!r}"
            if student in ("blank", "mutant"):
                for line in solution_lines(sources[html.stem]):
                    assert line not in text, f"feedback {student}/{html.name} shows solution text {line!r}"
    blank = next((root / "feedback" / "blank" / assignment).glob("*.html")).read_text(encoding="utf-8")
    assert "CheckFailed" in blank and "아직 구현되지 않았습니다" in blank


@pytest.mark.slow
def test_export_has_every_student(graded):
    with open(graded["export"], newline="", encoding="utf-8") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == graded["assignment"]}
    assert set(rows) == {"src", "blank", "perfect", "mutant"}
    assert float(rows["blank"]["score"]) == 0
    assert float(rows["src"]["score"]) > float(rows["mutant"]["score"]) > 0
