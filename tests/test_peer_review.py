"""Peer code review rounds (dlcourse_staff.peer, dlcourse.peer_exchange).

* the assignment of reviewers, as a pure function, for class sizes 2–200;
* anonymity of the review notebooks, with names planted in code comments, outputs, paths and
  notebook/cell metadata;
* robustness: a reviewer who never hands in, ``open`` run again, quality flags, late reviews,
  the phase grade with and without a peer weight;
* one real round end to end: six students on the week-5 demo submissions, hand-ins through
  nbgrader's exchange (the students' side with the configuration `dlcourse.student setup`
  writes, as JupyterLab's Assignment List runs it), open, reviews, a double hand-in, collect,
  feedback released and fetched.
"""
from __future__ import annotations

import csv
import json
import os
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, copy_course
from test_class_grading_postgres import postgres  # noqa: F401 (fixture: a throw-away PostgreSQL server)
from dlcourse_staff import classgrade, course, mutation, notebooks, peer

WEEK05 = ["week05/resnet_implementation.ipynb", "week05/lstm_implementation.ipynb",
          "week05/attention_mechanisms.ipynb"]


# --------------------------------------------------------------------------------------------
# the assignment
# --------------------------------------------------------------------------------------------
def _check_assignment(students, plan, k):
    n = len(students)
    assert set(plan) == set(students)
    received = {s: 0 for s in students}
    for reviewer, reviewees in plan.items():
        assert len(reviewees) == k and len(set(reviewees)) == k, (n, k, reviewer, reviewees)
        assert reviewer not in reviewees, f"self-review n={n} k={k}"
        for e in reviewees:
            received[e] += 1
    assert set(received.values()) == {k}, f"n={n} k={k}: reviews received {sorted(set(received.values()))}"
    expected = 0 if 2 * k <= n - 1 else peer.min_mutual_pairs(n, k)
    assert peer.mutual_pairs(plan) == expected, (n, k)


def test_assignment_every_class_size_2_to_200():
    for n in range(2, 201):
        students = [f"s{i:03d}" for i in range(n)]
        ks = {1, 2, 3, (n - 1) // 2, (n - 1) // 2 + 1, n - 1} if n <= 40 or n % 20 == 0 else {1, 2, 3, (n - 1) // 2}
        for k in sorted(x for x in ks if 1 <= x < n):
            _check_assignment(students, peer.assign(students, k, seed=n), k)


def test_mutual_pairs_are_counted_and_the_minimum_is_tight():
    # the counter sees a mutual pair, and beyond (n-1)/2 reviewers some are unavoidable
    assert peer.mutual_pairs({"a": ["b"], "b": ["a"]}) == 1
    assert peer.mutual_pairs({"a": ["b"], "b": ["c"], "c": ["a"]}) == 0
    assert peer.min_mutual_pairs(4, 2) == 2 and peer.min_mutual_pairs(5, 2) == 0
    plan = peer.assign(["a", "b"], 1, seed=0)
    assert plan == {"a": ["b"], "b": ["a"]}


def test_assignment_is_deterministic_by_seed_and_order_free():
    students = [f"st{i}" for i in range(30)]
    a = peer.assign(students, 3, seed=11)
    assert a == peer.assign(list(reversed(students)), 3, seed=11)
    assert a != peer.assign(students, 3, seed=12)
    assert len({json.dumps(peer.assign(students, 3, seed=s), sort_keys=True) for s in range(10)}) == 10


def test_open_without_hand_ins_says_to_collect_first_and_the_command_refuses_k_too_large(tmp_path, capsys):
    from dlcourse_staff.__main__ import main as staff_main

    root = copy_course(tmp_path / "course", WEEK05[1:2])
    db_url = f"sqlite:///{tmp_path / 'g.db'}"
    with pytest.raises(peer.PeerReviewError, match="nbgrader collect week05"):
        peer.open_round(root, "week05", db_url=db_url, release=False)
    release = notebooks.read(root / "release" / "week05" / "lstm_implementation.ipynb")
    for sid in ("a_student", "b_student", "c_student"):
        course.Course(root).submit(sid, "week05", {"lstm_implementation": release})
    assert staff_main(["peer-review", "open", "week05", "--reviewers", "3", "--root", str(root),
                       "--db-url", db_url]) == 2
    err = capsys.readouterr().err
    assert "k=3" in err and "n=3" in err and "k ≤ 2" in err
    assert peer.load_round(db_url, "week05") == (None, [])  # nothing stored
    with pytest.raises(peer.PeerReviewError, match="마감"):
        peer.open_round(root, "week05", reviewers=1, db_url=db_url, release=False, due="next friday-ish")
    assert peer.load_round(db_url, "week05") == (None, [])


@pytest.mark.parametrize("n,k", [(2, 2), (3, 3), (5, 7), (1, 1), (4, 0)])
def test_assignment_refuses_clearly(n, k):
    with pytest.raises(peer.PeerReviewError) as err:
        peer.assign([f"s{i}" for i in range(n)], k, seed=0)
    message = str(err.value)
    if n >= 2 and k >= 1:
        assert f"k={k}" in message and f"n={n}" in message and "작아야" in message
    else:
        assert "2명 이상" in message or "1 이상" in message


# --------------------------------------------------------------------------------------------
# a small class without the exchange (notebooks placed in submitted/)
# --------------------------------------------------------------------------------------------
PEOPLE = [("kim_minsu", "민수", "김", "minsu.kim@uni.example.kr"),
          ("lee_jiwoo", "Jiwoo", "Lee", "jiwoo@uni.example.kr"),
          ("park_seoyeon", "서연", "박", "sy.park@uni.example.kr"),
          ("choi_hyunwoo", "Hyunwoo", "Choi", "hw.choi@uni.example.kr"),
          ("jung_yuna", "유나", "정", "yuna.jung@uni.example.kr"),
          ("kang_doyun", "Doyun", "Kang", "doyun.kang@uni.example.kr")]


def identifiers(person) -> list[str]:
    sid, first, last, email = person
    return [sid, email, email.split("@")[0], f"{last}{first}", f"{first} {last}", f"{last} {first}"]


def add_students(db_url: str, people=PEOPLE) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "phase2-dl") as gb:
        for sid, first, last, email in people:
            gb.update_or_create_student(sid, first_name=first, last_name=last, email=email)


def plant(nb, person, *, answers=True):
    """A submission that names its author everywhere: code comments, outputs, paths, metadata; a
    written answer and a test cell output that must not reach a reviewer."""
    sid, first, last, email = person
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata["authors"] = [{"name": f"{first} {last}"}]
    nb.metadata["dlcourse_student"] = {"id": sid, "email": email, "home": f"/home/{sid}"}
    impl = set(peer.implementation_cells(nb))
    first_impl = True
    for cell in nb.cells:
        gid = notebooks.grade_id(cell)
        cell.metadata["tags"] = [sid, f"{last}{first}"]
        if gid in impl:
            cell.source = (f"# 작성자 (author): {last}{first} ({sid}, {email})\n"
                           f"# data: /home/{sid}/dl/week05/data.csv, C:\\Users\\{sid}\\notes.txt\n" + cell.source)
            if first_impl:
                cell.source += f"\nLOG_PATH = '/home/{sid}/logs/run.txt'  # {first} {last}\n"
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                       text=f"saved to /home/{sid}/runs/ckpt.pt by {sid}\n"),
                                nbformat.v4.new_output("execute_result", data={"text/plain": f"'{last}{first}'"},
                                                       execution_count=3)]
                first_impl = False
        elif cell.cell_type == "markdown" and notebooks.meta(cell).get("solution") and answers:
            cell.source = f"WRITTEN-ANSWER-{sid}: 잔차 연결은 그래디언트를 보존합니다."
        elif notebooks.meta(cell).get("grade") and cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"HIDDEN-OUTCOME-{sid} 통과\n")]
    return nb


@pytest.fixture(scope="module")
def demo_notebooks():
    """The week-5 demo class's notebooks (perfect, blank, partly wrong), from the repository."""
    banks = mutation.load_banks(ROOT / "tests" / "mutants")
    return course.demo_submissions(ROOT, "week05", banks)


def small_class(tmp_path: Path, demo_notebooks, people=PEOPLE, lstm_only=True, db_url=None):
    root = copy_course(tmp_path / "course", WEEK05)
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    add_students(db_url, people)
    kinds = ["demo-perfect", "demo-partial", "demo-blank"]
    for i, person in enumerate(people):
        nbs = demo_notebooks[kinds[i % 3]]
        nbs = {name: plant(nb, person) for name, nb in nbs.items() if not lstm_only or name == "lstm_implementation"}
        course.Course(root).submit(person[0], "week05", nbs)
    return root, db_url


def all_identifiers(people=PEOPLE):
    return [t for p in people for t in identifiers(p)]


def test_review_notebooks_are_anonymous_and_hold_only_implementation_cells(tmp_path, demo_notebooks):
    root, db_url = small_class(tmp_path, demo_notebooks)
    report = peer.open_round(root, "week05", reviewers=2, seed=3, db_url=db_url,
                             notebooks_=["lstm_implementation"], release=False)
    round_row, rows = peer.load_round(db_url, "week05")
    built = peer.build_review_notebooks(root, "week05", round_row, rows, db_url)
    assert set(built) == {p[0] for p in PEOPLE} and all(set(v) == {1, 2} for v in built.values())
    source = notebooks.read(root / "source" / "week05" / "lstm_implementation.ipynb")
    impl = peer.implementation_cells(source)
    assert len(impl) == 6
    for reviewer, per in built.items():
        for slot, nb in per.items():
            text = json.dumps(nb, ensure_ascii=False)
            for term in all_identifiers():
                assert term.lower() not in text.lower(), (reviewer, slot, term)
            assert "/home/" not in text and "C:\\\\Users" not in text and "@uni" not in text
            assert "WRITTEN-ANSWER" not in text and "HIDDEN-OUTCOME" not in text and "공개 검사" not in text
            assert "[경로]" in text and "[익명]" in text  # the planted names were there and were removed
            assert text.count("### 구현 셀") == len(impl)
            assert set(nb.metadata) == {"kernelspec", "language_info", "dlcourse_peer"}
            assert all(set(c.metadata) <= {"dlcourse_peer", "editable", "deletable"} for c in nb.cells)
            reviewee = next(r["reviewee"] for r in rows if r["reviewer"] == reviewer and r["slot"] == slot)
            # the reviewee's own code is what the reviewer reads (its first solution line)
            code = notebooks.by_grade_id(notebooks.read(root / "submitted" / reviewee / "week05" /
                                                          "lstm_implementation.ipynb"))[impl[0]].source
            assert code.splitlines()[2] in text.replace("\\n", "\n").replace('\\"', '"')
            # rubric and score fields
            assert all(word in text for word in ("가독성", "효율성", "재사용성", "개선 제안"))
            assert sum(1 for c in nb.cells if c.metadata.get("dlcourse_peer", {}).get("role") == "comment") == 4
    assert not report.started_before


def test_scrubber_keeps_code_and_removes_identities():
    scrub = peer.Scrubber([{"id": "kim_minsu", "first_name": "민수", "last_name": "김", "email": "ms@x.kr"},
                           {"id": "lee_jiwoo", "first_name": "Jiwoo", "last_name": "Lee"}])
    code = "h = x / 2\nratio = a/b/c\nself.conv(x)  # JIWOO lee, 김민수가 씀, /srv/data/kim_minsu/x.npy, ~/a.py\n"
    out = scrub(code)
    assert out.startswith("h = x / 2\nratio = a/b/c\nself.conv(x)")
    for term in ("JIWOO", "lee", "김민수", "kim_minsu", "/srv", "~/a.py"):
        assert term not in out
    assert "가 씀" in out  # the particle stays, the name goes


def fill(path: Path, scores: dict | None, comments: dict) -> None:
    nb = notebooks.read(path)
    for cell in nb.cells:
        role = cell.metadata.get("dlcourse_peer", {})
        if role.get("role") == "scores" and scores is not None:
            cell.source = f"scores = {scores!r}\n"
        if role.get("role") == "comment" and role.get("field") in comments:
            cell.source = comments[role["field"]]
    nbformat.write(nb, str(path))


GOOD = {"readability": "변수 이름 `h_prev`와 `c_prev`가 역할을 잘 드러냅니다. 주석이 게이트 순서를 설명해 줍니다.",
        "efficiency": "네 게이트를 한 번의 행렬 곱으로 계산해서 좋습니다.",
        "reuse": "hidden_size를 인자로 받아 재사용하기 쉽습니다.",
        "improvement": "다음 줄은\n\n```python\n{line}\n```\n\n`torch.chunk`로 나누면 더 읽기 쉽습니다."}


def review_files(root, rows, reviewer):
    base = root / "submitted" / reviewer / "week05-review"
    base.mkdir(parents=True, exist_ok=True)
    return base


def test_robustness_missing_reviewer_rerun_open_late_and_quality(tmp_path, demo_notebooks):
    root, db_url = small_class(tmp_path, demo_notebooks)
    first = peer.open_round(root, "week05", reviewers=2, seed=5, db_url=db_url, release=False,
                            notebooks_=["lstm_implementation"], due="2030-01-01 00:00:00 UTC")
    # a student who hands in after the round started does not change it, nor does a new seed or k
    extra = ("yoon_seojun", "서준", "윤", "sj@uni.example.kr")
    add_students(db_url, [extra])
    course.Course(root).submit(extra[0], "week05", {"lstm_implementation": plant(
        demo_notebooks["demo-perfect"]["lstm_implementation"], extra)})
    again = peer.open_round(root, "week05", reviewers=3, seed=99, db_url=db_url, release=False)
    assert again.started_before and again.reviewers == first.reviewers and again.newcomers == ["yoon_seojun"]
    assert "이미 시작된 라운드" in peer.format_open(again, root) and "k=2, seed=5" in peer.format_open(again, root)

    round_row, rows = peer.load_round(db_url, "week05")
    built = peer.build_review_notebooks(root, "week05", round_row, rows, db_url)
    reviewers = sorted(built)
    missing_one, late_one, copier, empty_one = reviewers[0], reviewers[1], reviewers[2], reviewers[3]
    stamps = {"on time": "2029-12-31 10:00:00.000000 UTC", "late": "2030-01-02 09:00:00.000000 UTC"}
    source = notebooks.read(root / "source" / "week05" / "lstm_implementation.ipynb")
    impl = peer.implementation_cells(source)
    for reviewer in reviewers[1:]:
        folder = review_files(root, rows, reviewer)
        (folder / "timestamp.txt").write_text(stamps["late" if reviewer == late_one else "on time"])
        for slot, nb in built[reviewer].items():
            path = folder / f"review_{slot}.ipynb"
            nbformat.write(nb, str(path))
            reviewee = next(r["reviewee"] for r in rows if r["reviewer"] == reviewer and r["slot"] == slot)
            line = notebooks.by_grade_id(notebooks.read(root / "submitted" / reviewee / "week05" /
                                                         "lstm_implementation.ipynb"))[impl[0]].source.splitlines()[3]
            if reviewer == empty_one:
                fill(path, None, {})
            elif reviewer == copier:
                fill(path, {"readability": 3, "efficiency": 3, "reuse": 3},
                     {"readability": "좋은 코드입니다. 전체적으로 잘 작성되었습니다.",
                      "improvement": "좋은 코드입니다. 전체적으로 잘 작성되었습니다."})
            else:
                comments = {k: v.format(line=line) + f" (의견 {reviewer.upper()[::-1]}-{slot})" for k, v in GOOD.items()}
                fill(path, {"readability": 4, "efficiency": 5, "reuse": 3}, comments)
    report = peer.collect_round(root, "week05", db_url=db_url, fetch=False)
    by = {(r["reviewer"], r["slot"]): r for r in report.rows}
    people = {p[0]: p for p in PEOPLE}
    # the missing reviewer is reported by id and name, and blocks nothing
    assert all(by[(missing_one, s)]["status"] == "missing" for s in (1, 2))
    assert any(missing_one in m and f"{people[missing_one][2]}{people[missing_one][1]}" in m for m in report.missing)
    assert all(by[(late_one, s)]["status"] == "late" for s in (1, 2)) and len(report.late) == 2
    assert all(by[(copier, s)]["quality"].startswith("copy") for s in (1, 2))
    assert all("empty" in by[(empty_one, s)]["quality"] and "no scores" in by[(empty_one, s)]["quality"]
               for s in (1, 2))
    good = [r for r in report.rows if r["reviewer"] not in (missing_one, copier, empty_one)]
    assert good and all(r["quality"] == "ok" for r in good), [(r["reviewer"], r["quality"]) for r in good]
    # exports
    table = list(csv.DictReader(open(report.reviews_csv, encoding="utf-8")))
    assert len(table) == 12 and {r["reviewer"] for r in table} == set(reviewers)
    ok_row = next(r for r in table if r["reviewer"] == good[0]["reviewer"])
    assert (ok_row["readability"], ok_row["efficiency"], ok_row["reuse"], ok_row["mean"]) == ("4", "5", "3", "4.00")
    summary = {r["student"]: r for r in csv.DictReader(open(report.summary_csv, encoding="utf-8"))}
    assert summary[missing_one]["participation_points"] == "0" and summary[missing_one]["missing"] == "2"
    assert summary[copier]["participation_points"] == "0" and summary[empty_one]["participation_points"] == "0"
    assert summary[late_one]["participation_points"] == "1" and summary[late_one]["late"] == "2"
    assert summary[good[0]["reviewer"]]["peer_weight"] == "0"
    # feedback: every author gets the reviews, anonymised, none of the class's names
    for author in reviewers:
        page = (root / "feedback" / author / "week05" / "lstm_implementation.html").read_text(encoding="utf-8")
        assert "동료 코드 리뷰" in page
        received = [r for r in report.rows if r["reviewee"] == author and r["status"] != "missing"]
        assert page.count("<h3>리뷰어 ") == len(received)
        for term in all_identifiers():
            assert term.lower() not in page.lower(), (author, term)
    # collect again: the section is replaced, not doubled
    peer.collect_round(root, "week05", db_url=db_url, fetch=False)
    path = root / "feedback" / reviewers[1] / "week05" / "lstm_implementation.html"
    assert path.read_text(encoding="utf-8").count(peer.BEGIN) == 1
    # grading writes the feedback page anew; the stored reviews go back in, before </body>
    path.write_text("<html><body><h1>GRADED-PAGE</h1></body></html>", encoding="utf-8")
    assert path in peer.reattach_feedback(root, "week05", db_url)
    page = path.read_text(encoding="utf-8")
    assert page.index("GRADED-PAGE") < page.index(peer.BEGIN) < page.index("</body>") and page.count(peer.BEGIN) == 1
    # a gradebook without any round: nothing attached, no table created
    from sqlalchemy import create_engine, inspect

    other = f"sqlite:///{tmp_path / 'other.db'}"
    add_students(other, PEOPLE[:1])
    assert peer.reattach_feedback(root, "week05", other) == []
    assert not any(t.startswith("dlcourse_peer") for t in inspect(create_engine(other)).get_table_names())


def test_quality_flags_two_sided():
    code = "gates = self.linear(x)\ni, f, g, o = gates.split(self.hidden_size, dim=1)\n"
    full = {"readability": "이름이 분명합니다.", "efficiency": "한 번의 행렬 곱입니다.", "reuse": "인자로 크기를 받습니다.",
            "improvement": "```python\ni, f, g, o = gates.split(self.hidden_size, dim=1)\n```\n`chunk(4)`가 더 짧습니다."}
    assert peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4}, full, code, []) == []
    assert "no code" in peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4},
                                           {**full, "improvement": "```python\nx = y + 1\n```\n더 짧게 쓰세요."}, code, [])
    assert peer.quality_flags({}, {k: peer.PLACEHOLDER for k in full}, code, [])[:2] == ["empty", "no improvement"]
    pasted = {"improvement": "```python\n" + code + "```"}
    assert "copy" in peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4}, pasted, code, [])
    short = {"readability": "좋아요, 읽기 쉬워요", "improvement": "`gates.split(self.hidden_size, dim=1)` 굿"}
    assert peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4}, short, code, []) == ["short"]
    long_text = "게이트를 한 번의 행렬 곱으로 계산하는 점이 효율적입니다."
    assert "copy" in peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4},
                                        {**full, "efficiency": long_text}, code, [long_text])
    assert "copy" not in peer.quality_flags({"readability": 4, "efficiency": 4, "reuse": 4},
                                            {**full, "efficiency": long_text}, code, ["전혀 다른 내용의 긴 의견입니다, 정말로."])
    assert peer.quality_flags({"readability": 4, "efficiency": 9}, full, code, []) == ["no scores"]


def test_phase_grade_with_and_without_peer_weight():
    notebooks_max = {"week05": {"lstm_implementation": 40.0, "resnet_implementation": 40.0}}
    scores = {("week05", "a"): {"lstm_implementation": {"score": 30.0}, "resnet_implementation": {"score": 20.0}},
              ("week05", "b"): {"lstm_implementation": {"score": 10.0}, "resnet_implementation": {"score": 40.0}}}
    assert peer.apply_adjustments(scores, notebooks_max, {}) == scores
    adjusted = peer.apply_adjustments(scores, notebooks_max, {("week05", "a"): (0.25, 0.8, ["lstm_implementation"])})
    assert adjusted[("week05", "a")]["lstm_implementation"]["score"] == pytest.approx(0.75 * 30 + 0.25 * 40 * 0.8)
    assert adjusted[("week05", "a")]["resnet_implementation"]["score"] == 20.0  # not reviewed: unchanged
    assert adjusted[("week05", "b")] == scores[("week05", "b")]             # no review received: unchanged
    assert scores[("week05", "a")]["lstm_implementation"]["score"] == 30.0   # the input is left alone


@pytest.mark.filterwarnings("ignore:Object of type:sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
def test_phase_adjustments_follow_the_round_weight(tmp_path, demo_notebooks):
    root, db_url = small_class(tmp_path, demo_notebooks, people=PEOPLE[:3])
    peer.open_round(root, "week05", reviewers=1, seed=1, db_url=db_url, release=False,
                    notebooks_=["lstm_implementation"])
    round_row, rows = peer.load_round(db_url, "week05")
    built = peer.build_review_notebooks(root, "week05", round_row, rows, db_url)
    for reviewer, per in built.items():
        folder = review_files(root, rows, reviewer)
        nbformat.write(per[1], str(folder / "review_1.ipynb"))
        fill(folder / "review_1.ipynb", {"readability": 5, "efficiency": 4, "reuse": 3}, {"readability": "좋습니다"})
    # a graded week05 in the gradebook: 30 of 40 points on the reviewed notebook for everyone
    from nbgrader.api import Gradebook

    with Gradebook(db_url, "phase2-dl") as gb:
        gb.add_assignment("week05")
        gb.add_notebook("lstm_implementation", "week05")
        gb.add_grade_cell("w05-lstm-all", "lstm_implementation", "week05", max_score=40, cell_type="code")
        for sid, *_ in PEOPLE[:3]:
            gb.add_submission("week05", sid)
            grade = gb.find_grade("w05-lstm-all", "lstm_implementation", "week05", sid)
            grade.auto_score = 30
        gb.db.commit()

    def phase_week05():
        path = classgrade.export_phase(root, db_url, root / "autograded" / "phase_grades.csv")
        return {r["student"]: (r["week05"], r["weekly"]) for r in csv.DictReader(open(path, encoding="utf-8"))}

    before = phase_week05()
    assert before == {sid: ("75.0", "75.0") for sid, *_ in PEOPLE[:3]}
    peer.collect_round(root, "week05", db_url=db_url, fetch=False)
    assert peer.phase_adjustments(db_url) == {}  # weight 0 (the default): the phase grade is untouched
    assert phase_week05() == before
    peer.collect_round(root, "week05", db_url=db_url, fetch=False, weight=0.2)
    adj = peer.phase_adjustments(db_url)
    assert set(adj) == {("week05", p[0]) for p in PEOPLE[:3]}
    assert all(v == (0.2, pytest.approx(0.8), ["lstm_implementation"]) for v in adj.values())
    # (1 - 0.2) · 30 + 0.2 · 40 · 0.8 = 30.4 of 40 points
    assert phase_week05() == {sid: ("76.0", "76.0") for sid, *_ in PEOPLE[:3]}
    with pytest.raises(peer.PeerReviewError, match="0과 1 사이"):
        peer.collect_round(root, "week05", db_url=db_url, fetch=False, weight=1.5)


# --------------------------------------------------------------------------------------------
# end to end through nbgrader's exchange
# --------------------------------------------------------------------------------------------
def student_exchange(action: str, config_dir: Path, home: Path, student: str, assignment: str):
    """What JupyterLab's Assignment List does for a student (fetch, submit, fetch feedback): the
    exchange classes of the student's own nbgrader configuration (the one that
    `python -m dlcourse.student setup` writes), for that student."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(config_dir)).load_config()
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.root = str(home)
    cfg.Exchange.assignment_dir = str(home)
    cfg.Exchange.cache = str(home / ".nbgrader_cache")
    factory = ExchangeFactory(config=cfg)
    cls = {"fetch": factory.FetchAssignment, "submit": factory.Submit, "feedback": factory.FetchFeedback,
           "list": factory.List}[action]
    return cls(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg), config=cfg).start()


@pytest.mark.slow
def test_end_to_end_six_students_through_the_exchange(tmp_path, demo_notebooks, monkeypatch, capsys):
    from dlcourse import student as student_setup
    from dlcourse_staff.__main__ import main as staff_main

    monkeypatch.delenv("DLCOURSE_EXCHANGE", raising=False)
    root = copy_course(tmp_path / "course", WEEK05)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    add_students(db_url)
    instructor = course.Course(root, gradebook=db_url)
    exchange = root / "exchange"
    config_dir = tmp_path / "student-config"
    student_setup.write_config(config_dir, str(exchange))
    assert "dlcourse.peer_exchange.FetchAssignment" in (config_dir / "nbgrader_config.py").read_text()

    # week 5: released, handed in by six students through the exchange, collected
    instructor.nbgrader("release_assignment", "week05", "--force")
    kinds = ["demo-perfect", "demo-partial", "demo-blank"]
    homes = {}
    for i, person in enumerate(PEOPLE):
        sid = person[0]
        homes[sid] = home = tmp_path / "home" / sid
        student_exchange("fetch", config_dir, home, sid, "week05")
        for name, nb in demo_notebooks[kinds[i % 3]].items():
            nbformat.write(plant(nb, person), str(home / "week05" / f"{name}.ipynb"))
        student_exchange("submit", config_dir, home, sid, "week05")
    instructor.nbgrader("collect", "week05", "--update")
    assert all((root / "submitted" / p[0] / "week05" / "submission_secret.txt").is_file() for p in PEOPLE)

    # the instructor opens the round
    assert staff_main(["peer-review", "open", "week05", "--reviewers", "2", "--seed", "42", "--notebook",
                       "lstm_implementation", "--root", str(root), "--db-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "동료 리뷰 라운드를 열었습니다" in out and "6명" in out
    outbound = exchange / "phase2-dl" / "outbound" / "week05-review"
    assert outbound.stat().st_mode & 0o777 == 0o711
    folders = sorted(p.name for p in outbound.iterdir() if p.is_dir())
    assert len(folders) == 6 and all(re.fullmatch(r"[0-9a-f]{32}", f) for f in folders)
    for path in outbound.rglob("*"):
        for term in all_identifiers():
            assert term.lower() not in str(path.relative_to(exchange)).lower()
    if os.geteuid() == 0 and Path("/usr/bin/python3").exists():
        # another account (nobody) cannot list the round's folder but reaches a folder by its token
        import pwd
        import shutil
        import subprocess
        import tempfile

        nobody = pwd.getpwnam("nobody")
        public = Path(tempfile.mkdtemp(prefix="dlcourse-peer-"))
        try:
            public.chmod(0o755)
            shutil.copytree(outbound, public / "round")  # modes kept (0711 on the round's folder)
            script = ("import os, sys\nr = sys.argv[1]\n"
                      "try:\n    os.listdir(r); print('listed')\nexcept PermissionError:\n    print('denied')\n"
                      "print(open(os.path.join(r, 'dlcourse-peer-round.json')).read())\n"
                      "print(sorted(os.listdir(os.path.join(r, sys.argv[2]))))\n")

            def as_nobody():
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)

            proc = subprocess.run(["/usr/bin/python3", "-c", script, str(public / "round"), folders[0]],
                                  preexec_fn=as_nobody, capture_output=True, text=True, timeout=60)
            assert proc.stdout.splitlines() == ["denied", '{"reviews": "week05"}',
                                                "['review_1.ipynb', 'review_2.ipynb']"], proc.stdout + proc.stderr
        finally:
            shutil.rmtree(public, ignore_errors=True)
    _, rows = peer.load_round(db_url, "week05")
    plan = {}
    for r in rows:
        plan.setdefault(r["reviewer"], []).append(r["reviewee"])
    _check_assignment([p[0] for p in PEOPLE], plan, 2)

    # students fetch their own review notebooks (and only theirs), write and hand in
    source = notebooks.read(root / "source" / "week05" / "lstm_implementation.ipynb")
    impl = peer.implementation_cells(source)
    never, twice, copier = PEOPLE[0][0], PEOPLE[1][0], PEOPLE[2][0]
    for person in PEOPLE:
        sid = person[0]
        home = homes[sid]
        listed = {a["assignment_id"]: a for a in student_exchange("list", config_dir, home, sid, "")}
        assert [n["notebook_id"] for n in listed["week05-review"]["notebooks"]] == ["review_1", "review_2"]
        assert listed["week05-review"]["status"] == "released" and listed["week05"]["status"] == "fetched"
        student_exchange("fetch", config_dir, home, sid, "week05-review")
        got = sorted(p.name for p in (home / "week05-review").iterdir())
        assert got == ["review_1.ipynb", "review_2.ipynb"], got
        for slot in (1, 2):
            text = (home / "week05-review" / f"review_{slot}.ipynb").read_text(encoding="utf-8")
            for term in all_identifiers():
                assert term.lower() not in text.lower(), (sid, slot, term)
            reviewee = next(r["reviewee"] for r in rows if r["reviewer"] == sid and r["slot"] == slot)
            marker = f"# data: [경로], [경로]"
            assert marker in text  # the reviewee's planted path was there and is gone
            line = notebooks.by_grade_id(notebooks.read(root / "submitted" / reviewee / "week05" /
                                                         "lstm_implementation.ipynb"))[impl[0]].source.splitlines()[3]
            assert line in json.loads(text)["cells"][2]["source"] or line in text.replace("\\n", "\n").replace('\\"', '"')
        if sid == never:
            continue
        for slot in (1, 2):
            path = home / "week05-review" / f"review_{slot}.ipynb"
            reviewee = next(r["reviewee"] for r in rows if r["reviewer"] == sid and r["slot"] == slot)
            line = notebooks.by_grade_id(notebooks.read(root / "submitted" / reviewee / "week05" /
                                                         "lstm_implementation.ipynb"))[impl[0]].source.splitlines()[3]
            if sid == copier:
                fill(path, {"readability": 2, "efficiency": 2, "reuse": 2},
                     {"readability": "잘했어요 잘했어요 잘했어요 잘했어요", "improvement": "잘했어요 잘했어요 잘했어요 잘했어요"})
            elif sid == twice:
                fill(path, {"readability": 1, "efficiency": 1, "reuse": 1}, {"readability": "FIRST-DRAFT 초안입니다"})
            else:
                fill(path, {"readability": 4, "efficiency": 5, "reuse": 3},
                     {k: v.format(line=line) + f" (의견 {sid.upper()[::-1]}-{slot})" for k, v in GOOD.items()})
        student_exchange("submit", config_dir, home, sid, "week05-review")
        if sid == twice:  # a second hand-in: the last one counts
            for slot in (1, 2):
                reviewee = next(r["reviewee"] for r in rows if r["reviewer"] == sid and r["slot"] == slot)
                line = notebooks.by_grade_id(notebooks.read(root / "submitted" / reviewee / "week05" /
                                                             "lstm_implementation.ipynb"))[impl[0]].source.splitlines()[3]
                fill(home / "week05-review" / f"review_{slot}.ipynb", {"readability": 5, "efficiency": 4, "reuse": 4},
                     {k: v.format(line=line) + f" (최종 {slot})" for k, v in GOOD.items()})
            student_exchange("submit", config_dir, home, sid, "week05-review")

    # a student without a hand-in of week05 (no secret) gets nothing, and nobody can list the round
    stranger = tmp_path / "home" / "stranger"
    from nbgrader.exchange import ExchangeError

    with pytest.raises(ExchangeError, match="배정된 리뷰 노트북을 찾지 못했습니다"):
        student_exchange("fetch", config_dir, stranger, "stranger", "week05-review")
    assert not (stranger / "week05-review").exists()

    # running open again reassigns nothing
    assert staff_main(["peer-review", "open", "week05", "--reviewers", "3", "--seed", "1",
                       "--root", str(root), "--db-url", db_url]) == 0
    assert "이미 시작된 라운드" in capsys.readouterr().out
    assert peer.load_round(db_url, "week05")[1] == rows

    # collect
    assert staff_main(["peer-review", "collect", "week05", "--root", str(root), "--db-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "제출하지 않은 리뷰" in out and never in out and "김민수" in out
    assert "리뷰 10/12개 도착 (늦음 0, 없음 2)" in out
    assert f"품질 표시(quality): {copier} 리뷰 1: copy, no code; {copier} 리뷰 2: copy, no code\n" in out, out
    assert "→ autograded/phase_grades.csv" in out
    table = list(csv.DictReader(open(root / "autograded" / "week05_peer_reviews.csv", encoding="utf-8")))
    assert len(table) == 12
    mine = [r for r in table if r["reviewer"] == twice]
    assert all((r["readability"], r["efficiency"], r["reuse"]) == ("5", "4", "4") and r["quality"] == "ok"
               for r in mine), mine
    assert all(r["status"] == "missing" for r in table if r["reviewer"] == never)
    assert all("copy" in r["quality"] for r in table if r["reviewer"] == copier)
    summary = {r["student"]: r for r in csv.DictReader(open(root / "autograded" / "week05_peer_summary.csv",
                                                            encoding="utf-8"))}
    assert summary[never]["participation_points"] == "0" and summary[twice]["participation_points"] == "1"
    assert (root / "autograded" / "phase_grades.csv").is_file()

    # feedback: released through the exchange, fetched by an author, shows the reviews anonymised
    instructor.nbgrader("release_feedback", "week05")
    author = next(r["reviewee"] for r in rows if r["reviewer"] == twice)
    student_exchange("feedback", config_dir, homes[author], author, "week05")
    pages = list((homes[author] / "week05" / "feedback").rglob("lstm_implementation.html"))
    assert len(pages) == 1
    page = pages[0].read_text(encoding="utf-8")
    assert "동료 코드 리뷰" in page and "최종" in page and "FIRST-DRAFT" not in page
    received = [r for r in rows if r["reviewee"] == author and r["reviewer"] != never]
    assert page.count("<h3>리뷰어 ") == len(received)
    for term in all_identifiers():
        assert term.lower() not in page.lower(), term


def test_reviewers_without_the_exchange_get_a_zip_to_hand_over(tmp_path, demo_notebooks, monkeypatch):
    """Hand-ins placed in submitted/ (zip_collect) carry no exchange secret: their review
    notebooks are packed for the instructor to hand over, and the exchange folder holds none."""
    monkeypatch.delenv("DLCOURSE_EXCHANGE", raising=False)
    root, db_url = small_class(tmp_path, demo_notebooks, people=PEOPLE[:3])
    report = peer.open_round(root, "week05", reviewers=1, seed=2, db_url=db_url, notebooks_=["lstm_implementation"])
    assert sorted(report.by_hand) == sorted(p[0] for p in PEOPLE[:3])
    assert "peer/by-hand" in peer.format_open(report, root)
    outbound = root / "exchange" / "phase2-dl" / "outbound" / "week05-review"
    assert sorted(p.name for p in outbound.iterdir()) == ["dlcourse-peer-round.json"]
    for sid in report.by_hand:
        with zipfile.ZipFile(root / "peer" / "by-hand" / f"{sid}_week05-review.zip") as zf:
            assert zf.namelist() == ["week05-review/review_1.ipynb"]
            text = zf.read("week05-review/review_1.ipynb").decode("utf-8")
        for term in all_identifiers(PEOPLE[:3]):
            assert term.lower() not in text.lower()


@pytest.mark.slow
def test_round_in_a_postgres_gradebook(postgres, tmp_path, demo_notebooks):  # noqa: F811
    """The same round tables in PostgreSQL: open, open again, collect, the phase adjustment."""
    root, db_url = small_class(tmp_path, demo_notebooks, people=PEOPLE[:4], db_url=postgres)
    first = peer.open_round(root, "week05", reviewers=2, seed=8, db_url=db_url, release=False,
                            notebooks_=["lstm_implementation"], weight=0.5)
    assert not first.started_before and not (root / "gradebook.db").exists()
    again = peer.open_round(root, "week05", reviewers=1, seed=9, db_url=db_url, release=False)
    assert again.started_before and again.reviewers == first.reviewers
    _check_assignment([p[0] for p in PEOPLE[:4]], first.reviewers, 2)
    round_row, rows = peer.load_round(db_url, "week05")
    built = peer.build_review_notebooks(root, "week05", round_row, rows, db_url)
    reviewer = sorted(built)[0]
    folder = review_files(root, rows, reviewer)
    for slot, nb in built[reviewer].items():
        nbformat.write(nb, str(folder / f"review_{slot}.ipynb"))
        fill(folder / f"review_{slot}.ipynb", {"readability": 5, "efficiency": 5, "reuse": 5},
             {"readability": f"리뷰 {slot}: 이름이 역할을 잘 보여 줍니다."})
    report = peer.collect_round(root, "week05", db_url=db_url, fetch=False)
    assert len(report.missing) == 6 and sum(r["status"] == "handed in" for r in report.rows) == 2
    adj = peer.phase_adjustments(db_url)
    assert set(adj) == {("week05", r["reviewee"]) for r in rows if r["reviewer"] == reviewer}
    assert all(v[:2] == (0.5, 1.0) for v in adj.values())
