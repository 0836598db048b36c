"""Peer code review rounds (동료 코드 리뷰): anonymous, through nbgrader's exchange.

    python -m dlcourse_staff peer-review open week05 --reviewers 2 --seed 7
    python -m dlcourse_staff peer-review collect week05

``open`` (after the assignment's deadline, once ``nbgrader collect week05`` has brought the
hand-ins into ``submitted/``):

* assigns every submission to ``k`` other students who handed in (:func:`assign`): nobody
  reviews themselves, every submission gets exactly ``k`` reviews, no pair reviews each other
  both ways unless the class is too small for that (then as few such pairs as possible), the
  same seed gives the same round;
* stores the round in the gradebook database, in tables of its own (``dlcourse_peer_rounds``,
  ``dlcourse_peer_reviews``; SQLite or PostgreSQL, as grading). A round once stored is never
  reassigned: running ``open`` again delivers the same notebooks again and names the students
  who handed in after the round was opened;
* writes one review notebook per (reviewer, reviewee) (:func:`review_notebook`): the reviewee's
  implementation cells only (the solution cells of the autograded parts: no written answers, no
  test cells and so no hidden-test outcome), anonymised (:class:`Scrubber`: the class's names,
  ids and e-mails, absolute paths; the notebook and cell metadata are new, nothing of the
  submission's is copied), the Korean rubric (가독성, 효율성, 재사용성 and one concrete improvement
  with the code it refers to) and a score field per criterion;
* releases them as the assignment ``<assignment>-review`` through nbgrader's exchange, one
  sub-folder per reviewer named by a token only that reviewer can compute
  (:mod:`dlcourse.peer_exchange`). Reviewers who handed in without the exchange (zip) have no
  token: their notebooks are packed as ``peer/by-hand/<reviewer>_<assignment>-review.zip``.

``collect``:

* ``nbgrader collect <assignment>-review --update`` (the newest hand-in of each reviewer wins);
* reads every assigned review; reports missing and late reviews by name; flags reviews whose
  comments are empty, the rubric's placeholder, copied from another review or just pasted code
  (:func:`quality_flags`);
* appends the reviews, anonymised (리뷰어 1, 2, …), to each author's feedback page
  (``feedback/<author>/<assignment>/<notebook>.html``; ``nbgrader release_feedback`` sends it);
  ``grade`` keeps them when it writes the feedback again;
* exports ``autograded/<assignment>_peer_reviews.csv`` (one row per review: reviewer, reviewee,
  scores, quality) and ``autograded/<assignment>_peer_summary.csv`` (per student: peer score,
  its weight, reviews done, participation points).

Grading: the round's ``weight`` (``--weight``, default 0: reviews are for learning) is the share
of the reviewed notebooks' points that the mean peer score replaces in the phase grade
(:func:`phase_adjustments`, used by ``classgrade.export_phase``); an author without a review
keeps their graded score. Participation points (``--participation``, default 1 per round) go
into the summary export: each assigned review handed in without an empty/copied flag earns
``participation / k``.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import html
import json
import os
import random
import re
import shutil
import stat
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from . import classgrade, course as course_mod, notebooks

CRITERIA = (("readability", "가독성 (readability)"), ("efficiency", "효율성 (efficiency)"),
            ("reuse", "재사용성 (reuse)"))
COMMENT_FIELDS = ("readability", "efficiency", "reuse", "improvement")
PLACEHOLDER = "여기에 쓰세요 (write here)"
SCORE_RANGE = (1, 5)
QUALITY_OK = "ok"
BLOCKING_FLAGS = ("empty", "copy")  # a review with either earns no participation points
BEGIN, END = "<!-- dlcourse-peer-review:begin -->", "<!-- dlcourse-peer-review:end -->"


class PeerReviewError(ValueError):
    """A round that cannot be opened or collected as asked (the message is Korean)."""


def review_name(assignment: str) -> str:
    return f"{assignment}-review"


# --------------------------------------------------------------------------------------------
# who reviews whom
# --------------------------------------------------------------------------------------------
def assign(students, k: int, seed: int) -> dict[str, list[str]]:
    """{reviewer: [reviewee, …]} with ``k`` reviewees each.

    The students are shuffled by ``seed``; reviewer at position i reviews positions i + o for
    ``k`` distinct offsets o in 1..n-1 (mod n), so every student reviews k others and is reviewed
    by k others, never by themselves. Two offsets o and n-o make a mutual pair; the offsets are
    drawn one from each pair {o, n-o} while k ≤ (n-1)/2, which avoids mutual pairs altogether,
    and beyond that the unavoidable minimum n·(2k-n+1)/2 of them is reached."""
    students = sorted(set(students))
    n = len(students)
    if n < 2:
        raise PeerReviewError(f"동료 리뷰에는 제출한 학생이 2명 이상 있어야 합니다 (지금 {n}명).")
    if not isinstance(k, int) or k < 1:
        raise PeerReviewError(f"리뷰어 수(--reviewers)는 1 이상의 정수여야 합니다 (받은 값: {k!r}).")
    if k >= n:
        raise PeerReviewError(
            f"리뷰어 수 k={k}는 제출한 학생 수 n={n}보다 작아야 합니다 (자기 자신은 리뷰하지 않으므로 "
            f"k ≤ {n - 1}).")
    rng = random.Random(f"dlcourse-peer:{seed}")
    order = students[:]
    rng.shuffle(order)
    classes = list(range(1, (n - 1) // 2 + 1))  # offset pairs {o, n-o} with o < n-o
    if k <= len(classes):
        offsets = [o if rng.random() < 0.5 else n - o for o in rng.sample(classes, k)]
    else:
        offsets = list(range(1, k + 1))
        rng.shuffle(offsets)
    return {order[i]: [order[(i + o) % n] for o in offsets] for i in range(n)}


def mutual_pairs(assignment: dict[str, list[str]]) -> int:
    edges = {(r, e) for r, es in assignment.items() for e in es}
    return sum(1 for (r, e) in edges if (e, r) in edges) // 2


def min_mutual_pairs(n: int, k: int) -> int:
    return max(0, n * k - n * (n - 1) // 2)


# --------------------------------------------------------------------------------------------
# anonymity
# --------------------------------------------------------------------------------------------
PATH = re.compile(
    r"(?:file://)?(?:(?<![\w)\]}.])/(?:[^\s/'\"`<>()\[\]{},;]+/)+[^\s/'\"`<>()\[\]{},;]*"  # /home/x/…
    r"|~[/\\][^\s'\"`<>()\[\]{},;]*"                                                            # ~/…
    r"|(?<![\w])[A-Za-z]:\\[^\s'\"`<>()\[\]{},;]*)")                                            # C:\Users\…
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


class Scrubber:
    """Removes the class's identities from text: every student's id, name (both orders, with and
    without a space, given and family name alone) and e-mail, any e-mail address and any absolute
    path. ASCII identifiers are matched case-insensitively between non-alphanumerics; Korean
    names anywhere (particles attach to them)."""

    def __init__(self, people: list[dict]):
        terms = set()
        for person in people:
            first, last = (person.get("first_name") or "").strip(), (person.get("last_name") or "").strip()
            sid, email = (person.get("id") or "").strip(), (person.get("email") or "").strip()
            for term in (sid, email, email.split("@")[0] if email else "", first, last,
                         f"{first} {last}", f"{last} {first}", f"{first}{last}", f"{last}{first}",
                         sid.replace("_", " "), sid.replace("_", ""), sid.replace("_", ".")):
                term = term.strip()
                if len(term) >= (2 if HANGUL.search(term) else 3) or term == sid and term:
                    terms.add(term)
        self.terms = sorted(terms, key=len, reverse=True)
        parts = []
        for term in self.terms:
            escaped = re.escape(term).replace(r"\ ", r"[\s_.\-]*")
            parts.append(escaped if HANGUL.search(term) else rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])")
        self.pattern = re.compile("|".join(parts), re.I) if parts else None

    def __call__(self, text: str) -> str:
        text = EMAIL.sub("[이메일]", text)
        text = PATH.sub("[경로]", text)
        if self.pattern is not None:
            text = self.pattern.sub("[익명]", text)
        return text


def class_people(root: Path, db_url: str, students=()) -> list[dict]:
    """Everyone whose name must not appear: the gradebook's students (nbgrader's roster, with the
    names and e-mails imported by ``nbgrader db student import``) and every hand-in folder."""
    from nbgrader.api import Gradebook

    people = {}
    with Gradebook(db_url, "phase2-dl") as gb:
        for s in gb.students:
            people[s.id] = {"id": s.id, "first_name": s.first_name, "last_name": s.last_name, "email": s.email}
    submitted = Path(root) / "submitted"
    for sid in [*(p.name for p in submitted.iterdir() if p.is_dir())] if submitted.is_dir() else []:
        people.setdefault(sid, {"id": sid})
    for sid in students:
        people.setdefault(sid, {"id": sid})
    return list(people.values())


def display_name(person: dict) -> str:
    name = f"{person.get('last_name') or ''}{person.get('first_name') or ''}".strip()
    return f"{person['id']} ({name})" if name else person["id"]


# --------------------------------------------------------------------------------------------
# the review notebook
# --------------------------------------------------------------------------------------------
def implementation_cells(source_nb) -> list[str]:
    """grade_ids of the implementation cells: the code solution cells of the autograded parts."""
    parts = {p.solution_id for p in notebooks.autograded_parts(source_nb)}
    return [notebooks.grade_id(c) for c in source_nb.cells
            if c.cell_type == "code" and notebooks.grade_id(c) in parts]


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _outputs_text(cell, scrub) -> str:
    """The text a cell printed (streams, plain results, the error's last line), anonymised; figures
    and rich outputs are left out (they may show anything)."""
    out, dropped = [], 0
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data") and "text/plain" in o.get("data", {}):
            if set(o["data"]) - {"text/plain"}:
                dropped += 1
            else:
                out.append(o["data"]["text/plain"])
        elif o.get("output_type") == "error":
            out.append(f"{o.get('ename', '')}: {o.get('evalue', '')}")
        else:
            dropped += 1
    text = scrub("".join(t if t.endswith("\n") else t + "\n" for t in out))
    if len(text) > 3000:
        text = text[:3000] + "\n… (출력이 길어 줄였습니다)\n"
    return text + ("(그림·표 출력은 생략했습니다)\n" if dropped else "")


def _md(source: str, role: str, **extra) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata = {"dlcourse_peer": {"role": role, **extra}}
    if role != "comment":
        cell.metadata.update({"editable": False, "deletable": False})
    return cell


RUBRIC = f"""## 평가 기준 (rubric)

코드 품질 채점과 같은 세 기준입니다. 각 기준에 1–5점을 주고 (5 = 매우 좋음, 3 = 보통, 1 = 많이 고쳐야 함),
아래 칸마다 **그렇게 본 이유를 코드와 함께** 쓰세요. 모르는 사람이 쓴 코드라고 생각하고, 친절하고 구체적으로 쓰세요.

| 기준 | 5점이면 | 1점이면 |
|---|---|---|
| **{CRITERIA[0][1]}** | 이름만 보고 역할을 알 수 있고, 주석은 '왜'를 설명하며, 한 셀이 한 가지 일을 한다 | 한 글자 변수, 설명 없는 상수, 주석과 다른 코드 |
| **{CRITERIA[1][1]}** | 텐서 연산을 한 번에 한다(벡터화, vectorization), 불필요한 복사·`.item()`·파이썬 반복문이 없다 | 원소마다 도는 반복문, 같은 계산의 반복, GPU↔CPU 왕복 |
| **{CRITERIA[2][1]}** | 매개변수로 크기·설정을 받고, 공통 부분을 함수·모듈로 묶어 다시 쓴다 | 크기를 코드에 박아 넣음, 복사해 붙인 블록 |

**개선 제안 (improvement)은 적어도 하나** 꼭 쓰세요: 고칠 코드를 ```` ```python ```` 블록으로 그대로 인용하고,
어떻게 바꾸면 좋은지(가능하면 고친 코드)와 그 이유를 쓰세요.
"""

SCORE_CELL = """# 점수 (1–5의 정수): 가독성 (readability), 효율성 (efficiency), 재사용성 (reuse)
scores = {"readability": None, "efficiency": None, "reuse": None}
"""


def review_notebook(assignment: str, slot: int, sections: list[tuple[str, list[tuple[str, str]]]],
                    due: str) -> nbformat.NotebookNode:
    """A review notebook: the header, the reviewee's code (``sections``: [(notebook title,
    [(code, outputs text), …]), …], already anonymised), the rubric, the score field and the
    comment fields. Its metadata are new (only the kernel and the round's slot)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"},
                   "dlcourse_peer": {"review": review_name(assignment), "slot": slot}}
    cells = [_md(
        f"# 동료 코드 리뷰 (peer code review): {assignment} — 리뷰 {slot}\n\n"
        f"아래는 같은 반 학생 한 명이 {assignment}에서 구현한 셀입니다. 누구의 코드인지는 알려 주지 않으며, "
        "이름·ID·경로는 지웠습니다 (익명, anonymous). 여러분의 리뷰도 작성자에게 익명으로 전달됩니다.\n\n"
        f"- 마감: **{due}** (늦게 낸 리뷰는 강사에게 '늦음'으로 표시됩니다)\n"
        "- 코드를 실행할 필요는 없습니다. 읽고 평가한 뒤 맨 아래의 점수 칸과 의견 칸을 채우세요.\n"
        "- 다 쓰면 JupyterLab의 **Assignment List**에서 이 과제를 **Submit** 하세요. 다시 제출하면 마지막 제출이 남습니다.",
        "header")]
    for title, cells_ in sections:
        cells.append(_md(f"## {title}", "code"))
        for i, (code, output) in enumerate(cells_, 1):
            text = f"### 구현 셀 {i}\n\n{_fence(code, 'python')}"
            if output.strip():
                text += f"\n\n출력 (output):\n\n{_fence(output)}"
            cells.append(_md(text, "code"))
    cells.append(_md(RUBRIC, "rubric"))
    score = nbformat.v4.new_code_cell(SCORE_CELL)
    score.metadata = {"dlcourse_peer": {"role": "scores"}, "deletable": False}
    cells.append(score)
    prompts = {
        "readability": f"### {CRITERIA[0][1]}: 점수의 이유 (코드를 인용해서)",
        "efficiency": f"### {CRITERIA[1][1]}: 점수의 이유 (코드를 인용해서)",
        "reuse": f"### {CRITERIA[2][1]}: 점수의 이유 (코드를 인용해서)",
        "improvement": "### 개선 제안 (improvement): 고칠 코드를 코드 블록으로 인용하고, 어떻게 바꿀지와 그 이유",
    }
    for name in COMMENT_FIELDS:
        cells.append(_md(prompts[name], "prompt"))
        cells.append(_md(PLACEHOLDER, "comment", field=name))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"peer-{i:03d}"
    return nb


def reviewee_sections(root: Path, assignment: str, reviewee: str, chosen: list[str], scrub) -> list:
    """[(notebook title, [(code, outputs), …])] of one submission, anonymised."""
    sections = []
    for name in chosen:
        source_nb = notebooks.read(root / "source" / assignment / f"{name}.ipynb")
        path = root / "submitted" / reviewee / assignment / f"{name}.ipynb"
        submitted = notebooks.by_grade_id(notebooks.read(path)) if path.exists() else {}
        cells = []
        for gid in implementation_cells(source_nb):
            cell = submitted.get(gid)
            if cell is None:
                cells.append(("# (이 셀이 제출물에 없습니다)", ""))
            else:
                cells.append((scrub(cell.source), _outputs_text(cell, scrub)))
        sections.append((f"{name}.ipynb", cells))
    return sections


# --------------------------------------------------------------------------------------------
# the gradebook tables
# --------------------------------------------------------------------------------------------
def _tables():
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

    md = MetaData()
    rounds = Table(
        "dlcourse_peer_rounds", md,
        Column("assignment", String(128), primary_key=True),
        Column("seed", Integer, nullable=False),
        Column("reviewers", Integer, nullable=False),
        Column("notebooks", Text, default="[]"),
        Column("opened_at", String(40), default=""),
        Column("due", String(40), default=""),
        Column("weight", Float, default=0.0),
        Column("participation", Float, default=1.0),
        Column("collected_at", String(40), default=""),
    )
    reviews = Table(
        "dlcourse_peer_reviews", md,
        Column("assignment", String(128), primary_key=True),
        Column("reviewer", String(128), primary_key=True),
        Column("slot", Integer, primary_key=True),
        Column("reviewee", String(128), nullable=False),
        Column("token", String(64), default=""),
        Column("status", String(16), default="assigned"),  # assigned, handed in, late, missing
        Column("handed_in_at", String(40), default=""),
        Column("scores", Text, default="{}"),
        Column("comments", Text, default="{}"),             # anonymised
        Column("quality", String(128), default=""),
    )
    return md, rounds, reviews


def _engine(db_url: str):
    from sqlalchemy import inspect

    md, _, _ = _tables()
    engine = classgrade._engine(db_url)
    if not {"dlcourse_peer_rounds", "dlcourse_peer_reviews"} <= set(inspect(engine).get_table_names()):
        md.create_all(engine, checkfirst=True)
    return engine


def load_round(db_url: str, assignment: str) -> tuple[dict | None, list[dict]]:
    from sqlalchemy import select

    _, rounds, reviews = _tables()
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(rounds).where(rounds.c.assignment == assignment)).first()
            rows = conn.execute(select(reviews).where(reviews.c.assignment == assignment)
                                .order_by(reviews.c.reviewer, reviews.c.slot)).all()
        return (dict(row._mapping) if row else None), [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def _store_round(db_url: str, round_row: dict, review_rows: list[dict]) -> bool:
    """Insert a new round; False (and nothing written) when the assignment already has one."""
    from sqlalchemy import insert, select
    from sqlalchemy.exc import IntegrityError

    _, rounds, reviews = _tables()
    engine = _engine(db_url)
    try:
        with engine.begin() as conn:
            if conn.execute(select(rounds.c.assignment).where(rounds.c.assignment == round_row["assignment"])).first():
                return False
            conn.execute(insert(rounds).values(**round_row))
            conn.execute(insert(reviews), review_rows)
        return True
    except IntegrityError:  # another instructor's open stored the round first: theirs stands
        return False
    finally:
        engine.dispose()


def _update(db_url: str, assignment: str, review_rows: list[dict], round_values: dict) -> None:
    from sqlalchemy import update

    _, rounds, reviews = _tables()
    engine = _engine(db_url)
    try:
        with engine.begin() as conn:
            for row in review_rows:
                conn.execute(update(reviews).where(reviews.c.assignment == assignment,
                                                   reviews.c.reviewer == row["reviewer"],
                                                   reviews.c.slot == row["slot"])
                             .values(**{k: row[k] for k in ("status", "handed_in_at", "scores", "comments", "quality")}))
            if round_values:
                conn.execute(update(rounds).where(rounds.c.assignment == assignment).values(**round_values))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# open
# --------------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_time(text: str) -> datetime:
    from nbgrader.utils import parse_utc

    value = parse_utc(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass
class OpenReport:
    assignment: str
    reviewers: dict           # reviewer → [reviewee, …]
    started_before: bool      # the round existed: nothing reassigned
    by_hand: list = field(default_factory=list)   # reviewers without an exchange token
    newcomers: list = field(default_factory=list)  # handed in after the round was opened
    due: str = ""
    seed: int = 0
    k: int = 0


def open_round(root: Path, assignment: str, *, reviewers: int = 2, seed: int = 0, db_url: str | None = None,
               notebooks_: list[str] | None = None, due: str | None = None, weight: float = 0.0,
               participation: float = 1.0, release: bool = True) -> OpenReport:
    """Open (or deliver again) the review round of ``assignment`` (see the module docstring)."""
    root = Path(root).resolve()
    db_url = db_url or course_mod.db_url(root)
    if not (root / "source" / assignment).is_dir():
        raise PeerReviewError(f"과제 {assignment!r}의 source/{assignment}/가 없습니다.")
    if not 0.0 <= weight <= 1.0:
        raise PeerReviewError(f"동료 점수 비중(--weight)은 0과 1 사이여야 합니다 (받은 값: {weight}).")
    students = classgrade.submissions(root, assignment)
    existing, rows = load_round(db_url, assignment)
    if existing is None:
        available = sorted(p.stem for p in (root / "source" / assignment).glob("*.ipynb"))
        chosen = notebooks_ or available
        unknown = sorted(set(chosen) - set(available))
        if unknown:
            raise PeerReviewError(f"{assignment}에 없는 노트북: {', '.join(unknown)} (있는 것: {', '.join(available)})")
        if len(students) < 2:
            raise PeerReviewError(
                f"submitted/에 {assignment}를 제출한 학생이 {len(students)}명입니다; 동료 리뷰에는 2명 이상이 필요합니다. "
                f"교환 폴더로 받았다면 먼저 `nbgrader collect {assignment} --update`를 실행하세요.")
        plan = assign(students, reviewers, seed)
        opened = _now()
        due_text = due or (opened + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S UTC")
        try:
            _parse_time(due_text)  # a readable deadline or an error now
        except (ValueError, OverflowError) as err:
            raise PeerReviewError(f"마감(--due)을 읽지 못했습니다 (받은 값: {due_text!r}); "
                                  "예: '2026-12-16 23:59:00 UTC'.") from err
        rows = []
        for reviewer in sorted(plan):
            token = ""
            secret = root / "submitted" / reviewer / assignment / "submission_secret.txt"
            if secret.is_file():
                from dlcourse.peer_exchange import review_token

                token = review_token(secret.read_text(encoding="utf-8"), review_name(assignment))
            for slot, reviewee in enumerate(plan[reviewer], 1):
                rows.append(dict(assignment=assignment, reviewer=reviewer, slot=slot, reviewee=reviewee, token=token,
                                 status="assigned", handed_in_at="", scores="{}", comments="{}", quality=""))
        round_row = dict(assignment=assignment, seed=seed, reviewers=reviewers, notebooks=json.dumps(chosen),
                         opened_at=opened.isoformat(timespec="seconds"), due=due_text, weight=weight,
                         participation=participation, collected_at="")
        started_before = not _store_round(db_url, round_row, rows)
        existing, rows = load_round(db_url, assignment)  # a concurrent open may have won: use the stored round
    else:
        started_before = True
    plan: dict[str, list[str]] = {}
    for row in rows:
        plan.setdefault(row["reviewer"], []).append(row["reviewee"])
    report = OpenReport(assignment, plan, started_before, due=existing["due"],
                        newcomers=sorted(set(students) - set(plan)), seed=existing["seed"],
                        k=existing["reviewers"])
    if release:
        report.by_hand = deliver(root, assignment, existing, rows, db_url)
    return report


def build_review_notebooks(root: Path, assignment: str, round_row: dict, rows: list[dict],
                           db_url: str) -> dict[str, dict[int, nbformat.NotebookNode]]:
    """{reviewer: {slot: review notebook}} of a round."""
    chosen = json.loads(round_row["notebooks"])
    scrub = Scrubber(class_people(root, db_url, [r["reviewer"] for r in rows]))
    out: dict[str, dict[int, nbformat.NotebookNode]] = {}
    for row in rows:
        sections = reviewee_sections(root, assignment, row["reviewee"], chosen, scrub)
        out.setdefault(row["reviewer"], {})[row["slot"]] = review_notebook(assignment, row["slot"], sections,
                                                                          round_row["due"])
    return out


def deliver(root: Path, assignment: str, round_row: dict, rows: list[dict], db_url: str) -> list[str]:
    """Write the review notebooks and release them through the exchange; returns the reviewers
    whose notebooks are packed for hand-over instead (no exchange token)."""
    review = review_name(assignment)
    built = build_review_notebooks(root, assignment, round_row, rows, db_url)
    staging = root / "peer" / "release"
    if (staging / review).exists():
        shutil.rmtree(staging / review)
    (staging / review).mkdir(parents=True)
    (staging / review / "dlcourse-peer-round.json").write_text(json.dumps({"reviews": assignment}), encoding="utf-8")
    by_hand_dir = root / "peer" / "by-hand"
    by_hand = []
    for reviewer in sorted({r["reviewer"] for r in rows}):
        mine = [r for r in rows if r["reviewer"] == reviewer]
        folder = staging / review / (mine[0]["token"] or f"by-hand-{reviewer}")
        folder.mkdir()
        for slot, nb in built[reviewer].items():
            nbformat.write(nb, str(folder / f"review_{slot}.ipynb"))
        if not mine[0]["token"]:
            by_hand_dir.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(by_hand_dir / f"{reviewer}_{review}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for nb in sorted(folder.glob("*.ipynb")):
                    zf.write(nb, f"{review}/{nb.name}")
            shutil.rmtree(folder)
            by_hand.append(reviewer)
    c = course_mod.Course(root, gradebook=db_url)
    c.nbgrader("release_assignment", review, "--force",
               f"--CourseDirectory.release_directory={staging.relative_to(root)}")
    outbound = exchange_root(c) / "phase2-dl" / "outbound" / review
    if not outbound.is_dir():
        raise PeerReviewError(f"릴리스한 리뷰 폴더를 교환 폴더에서 찾지 못했습니다: {outbound} "
                              "(nbgrader_config.py의 Exchange.root와 DLCOURSE_EXCHANGE가 같은 곳을 가리키는지 확인하세요).")
    os.chmod(outbound, stat.S_IRWXU | stat.S_IXGRP | stat.S_IXOTH)  # 0711: reachable by token, not listable
    return by_hand


def exchange_root(c: course_mod.Course) -> Path:
    return Path(os.environ.get("DLCOURSE_EXCHANGE") or c.root / "exchange")


# --------------------------------------------------------------------------------------------
# collect
# --------------------------------------------------------------------------------------------
def read_review(path: Path) -> tuple[dict, dict]:
    """(scores, comments) of a handed-in review notebook. Scores come from the score cell's
    dictionary (read, never run); comments from the comment cells (by their metadata, else by
    their order after the prompts)."""
    nb = notebooks.read(path)
    scores, comments = {}, {}
    for cell in nb.cells:
        role = cell.get("metadata", {}).get("dlcourse_peer", {})
        if cell.cell_type == "code" and (role.get("role") == "scores" or "scores" in cell.source):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "scores" for t in node.targets):
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    if isinstance(value, dict):
                        scores = value
        elif cell.cell_type == "markdown" and role.get("role") == "comment" and role.get("field") in COMMENT_FIELDS:
            comments[role["field"]] = cell.source
    clean = {}
    for key, _ in CRITERIA:
        value = scores.get(key)
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            value = float(value)  # "4" counts as 4
        if isinstance(value, (int, float)) and not isinstance(value, bool) and SCORE_RANGE[0] <= value <= SCORE_RANGE[1]:
            clean[key] = float(value)
    return clean, comments


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip().lower()


def _own_words(text: str) -> str:
    """A comment without its quoted code (fenced blocks and inline code)."""
    text = re.sub(r"(`{3,}).*?\1", " ", text or "", flags=re.S)
    return re.sub(r"`[^`]*`", " ", text)


def quality_flags(scores: dict, comments: dict, reviewee_code: str, others: list[str]) -> list[str]:
    """Why a review falls short: ``empty`` (no comment written), ``copy`` (a comment of at least
    15 characters equal to one in ``others`` — another review's, or another field of this one —
    or comments that are pasted code with hardly a word of one's own), ``short`` (fewer than 20
    characters of one's own words in all), ``no improvement``, ``no code`` (the improvement quotes
    none of the reviewee's code), ``no scores``. ``empty`` and ``copy`` cost the participation
    points; the others are for the instructor's eye."""
    flags = []
    written = {k: v for k, v in comments.items() if _normal(v) and _normal(v) != _normal(PLACEHOLDER)}
    own = sum(len(_normal(_own_words(v))) for v in written.values())
    if not written:
        flags.append("empty")
    else:
        other = {_normal(o) for o in others if len(_normal(o)) >= 15}
        duplicated = any(_normal(v) in other for v in written.values() if len(_normal(v)) >= 15)
        pasted = own < 10 and any("`" in v for v in written.values())
        if duplicated or pasted:
            flags.append("copy")
        elif own < 20:
            flags.append("short")
    improvement = written.get("improvement", "")
    if not improvement:
        flags.append("no improvement")
    else:
        quoted = re.findall(r"(`{1,})(.+?)\1", improvement, flags=re.S)
        code = _normal(reviewee_code)
        lines = [l for _, q in quoted for l in (x.strip() for x in q.splitlines()) if len(l) >= 4
                 and not l.startswith(("python", "```"))]
        if not any(_normal(l) in code for l in lines):
            flags.append("no code")
    if len(scores) < len(CRITERIA):
        flags.append("no scores")
    return flags


@dataclass
class CollectReport:
    assignment: str
    rows: list
    missing: list            # "reviewer (name)" strings
    late: list
    reviews_csv: Path | None = None
    summary_csv: Path | None = None
    feedback_pages: list = field(default_factory=list)


def collect_round(root: Path, assignment: str, *, db_url: str | None = None, weight: float | None = None,
                  participation: float | None = None, fetch: bool = True, now: datetime | None = None) -> CollectReport:
    """Collect the reviews of ``assignment``'s round (see the module docstring)."""
    root = Path(root).resolve()
    db_url = db_url or course_mod.db_url(root)
    round_row, rows = load_round(db_url, assignment)
    if round_row is None:
        raise PeerReviewError(f"{assignment}의 동료 리뷰 라운드가 없습니다. 먼저 "
                              f"`python -m dlcourse_staff peer-review open {assignment}`를 실행하세요.")
    if weight is not None and not 0.0 <= weight <= 1.0:
        raise PeerReviewError(f"동료 점수 비중(--weight)은 0과 1 사이여야 합니다 (받은 값: {weight}).")
    review = review_name(assignment)
    c = course_mod.Course(root, gradebook=db_url)
    if fetch:
        c.nbgrader("collect", review, "--update")
    people = {p["id"]: p for p in class_people(root, db_url, [r["reviewer"] for r in rows])}
    scrub = Scrubber(list(people.values()))
    due = _parse_time(round_row["due"])
    now = now or _now()
    chosen = json.loads(round_row["notebooks"])
    code_of = {}
    parsed = {}
    for row in rows:
        path = root / "submitted" / row["reviewer"] / review / f"review_{row['slot']}.ipynb"
        if not path.is_file():
            row.update(status="missing", handed_in_at="", scores="{}", comments="{}", quality="")
            continue
        stamp_file = path.parent / "timestamp.txt"
        stamp = stamp_file.read_text(encoding="utf-8").strip() if stamp_file.is_file() else ""
        when = _parse_time(stamp) if stamp else datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        scores, comments = read_review(path)
        comments = {k: scrub(v) for k, v in comments.items()}
        parsed[(row["reviewer"], row["slot"])] = (scores, comments)
        row.update(status="late" if when > due else "handed in", handed_in_at=when.isoformat(timespec="seconds"),
                   scores=json.dumps(scores), comments=json.dumps(comments, ensure_ascii=False))
    for row in rows:
        if (row["reviewer"], row["slot"]) not in parsed:
            continue
        scores, comments = parsed[(row["reviewer"], row["slot"])]
        if row["reviewee"] not in code_of:
            code_of[row["reviewee"]] = "\n".join(code for _, cells in reviewee_sections(
                root, assignment, row["reviewee"], chosen, scrub) for code, _ in cells)
        others = [t for key, (_, cm) in parsed.items() if key != (row["reviewer"], row["slot"]) for t in cm.values()]
        others += [v for f, v in comments.items() for g, w in comments.items() if f < g and _normal(v) == _normal(w)]
        flags = quality_flags(scores, comments, code_of[row["reviewee"]], others)
        row["quality"] = ", ".join(flags) if flags else QUALITY_OK
    values = {"collected_at": now.isoformat(timespec="seconds")}
    if weight is not None:
        values["weight"] = weight
    if participation is not None:
        values["participation"] = participation
    _update(db_url, assignment, rows, values)
    round_row.update(values)
    missing = [f"{display_name(people.get(r['reviewer'], {'id': r['reviewer']}))}: 리뷰 {r['slot']}"
               for r in rows if r["status"] == "missing"]
    late = [f"{display_name(people.get(r['reviewer'], {'id': r['reviewer']}))}: 리뷰 {r['slot']} ({r['handed_in_at']})"
            for r in rows if r["status"] == "late"]
    report = CollectReport(assignment, rows, missing, late)
    report.feedback_pages = attach_feedback(root, assignment, round_row, rows)
    out = root / "autograded"
    report.reviews_csv = export_reviews(rows, out / f"{assignment}_peer_reviews.csv")
    report.summary_csv = export_summary(round_row, rows, out / f"{assignment}_peer_summary.csv")
    return report


# --------------------------------------------------------------------------------------------
# feedback and exports
# --------------------------------------------------------------------------------------------
def _label_order(rows: list[dict], author: str) -> list[dict]:
    """The reviews an author received, in an order that does not follow the reviewers' names."""
    mine = [r for r in rows if r["reviewee"] == author and r["status"] in ("handed in", "late")]
    return sorted(mine, key=lambda r: hashlib.sha256(f"{r['reviewer']}:{r['slot']}:{author}".encode()).hexdigest())


def render_comment(text: str) -> str:
    """A review comment as HTML: fenced code as ``<pre>``, inline code as ``<code>``, the rest
    escaped text with its line breaks (no HTML of the reviewer's passes through)."""
    out = []
    for i, piece in enumerate(re.split(r"(`{3,}[^\n]*\n.*?`{3,})", text, flags=re.S)):
        if i % 2:
            code = re.sub(r"^`{3,}[^\n]*\n|`{3,}$", "", piece)
            out.append(f"<pre><code>{html.escape(code.rstrip())}</code></pre>")
        elif piece.strip():
            escaped = html.escape(piece.strip())
            escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
            out.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def feedback_section(assignment: str, reviews: list[dict]) -> str:
    """The HTML appended to the author's feedback: every review, anonymised, labelled 리뷰어 1, 2, …"""
    parts = [BEGIN, '<section class="dlcourse-peer-review" style="margin:2em auto;max-width:60em">',
             f"<h2>동료 코드 리뷰 (peer code review): {html.escape(assignment)}</h2>",
             "<p>같은 반 학생들이 여러분의 구현 셀을 익명으로 읽고 남긴 리뷰입니다. 점수는 1–5점이며, "
             "성적에 들어가는지는 강사가 정합니다.</p>"]
    if not reviews:
        parts.append("<p>아직 도착한 리뷰가 없습니다.</p>")
    names = dict(CRITERIA, improvement="개선 제안 (improvement)")
    for i, row in enumerate(reviews, 1):
        scores = json.loads(row["scores"] or "{}")
        comments = json.loads(row["comments"] or "{}")
        score_text = ", ".join(f"{names[k]} {scores[k]:g}" for k, _ in CRITERIA if k in scores) or "점수 없음"
        parts.append(f"<h3>리뷰어 {i}</h3><p><b>점수</b>: {html.escape(score_text)}</p>")
        for key in COMMENT_FIELDS:
            text = comments.get(key, "")
            if not _normal(text) or _normal(text) == _normal(PLACEHOLDER):
                continue
            body = render_comment(text)
            parts.append(f"<h4>{html.escape(names[key])}</h4>{body}")
    parts += ["</section>", END]
    return "\n".join(parts)


def attach_feedback(root: Path, assignment: str, round_row: dict, rows: list[dict]) -> list[Path]:
    """Append (or replace) the peer-review section in each author's feedback page of the first
    reviewed notebook. Without a page yet (not graded), a page of its own is written under the
    same name, with nbgrader's timestamp and secret so that ``release_feedback`` sends it; run
    ``collect`` again after ``grade`` (``grade`` re-attaches stored reviews by itself)."""
    chosen = json.loads(round_row["notebooks"])
    if not chosen:
        return []
    pages = []
    for author in sorted({r["reviewee"] for r in rows}):
        folder = root / "feedback" / author / assignment
        page = folder / f"{chosen[0]}.html"
        section = feedback_section(assignment, _label_order(rows, author))
        if page.is_file():
            text = page.read_text(encoding="utf-8")
            text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), "", text, flags=re.S)
            text = text.replace("</body>", section + "\n</body>", 1) if "</body>" in text else text + section
        else:
            folder.mkdir(parents=True, exist_ok=True)
            text = ("<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">"
                    f"<title>{html.escape(assignment)} — 동료 리뷰</title></head><body>\n{section}\n</body></html>\n")
            for name in ("timestamp.txt", "submission_secret.txt"):
                src = root / "submitted" / author / assignment / name
                if src.is_file() and not (folder / name).exists():
                    shutil.copy(src, folder / name)
        page.write_text(text, encoding="utf-8")
        pages.append(page)
    return pages


def reattach_feedback(root: Path, assignment: str, db_url: str) -> list[Path]:
    """After ``grade`` wrote the feedback pages again: put the stored reviews back in."""
    from sqlalchemy import inspect

    engine = classgrade._engine(db_url)
    try:
        if "dlcourse_peer_rounds" not in inspect(engine).get_table_names():
            return []  # no round was ever opened in this gradebook
    finally:
        engine.dispose()
    round_row, rows = load_round(db_url, assignment)
    if round_row is None or not round_row.get("collected_at"):
        return []
    return attach_feedback(Path(root), assignment, round_row, rows)


def export_reviews(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reviewer", "reviewee", "review", "status", *[k for k, _ in CRITERIA], "mean",
                         "quality", "handed_in_at"])
        for row in sorted(rows, key=lambda r: (r["reviewer"], r["slot"])):
            scores = json.loads(row["scores"] or "{}")
            values = [scores.get(k) for k, _ in CRITERIA]
            mean = (sum(v for v in values if v is not None) / len([v for v in values if v is not None])
                    if any(v is not None for v in values) else None)
            writer.writerow([row["reviewer"], row["reviewee"], row["slot"], row["status"],
                             *["" if v is None else f"{v:g}" for v in values], "" if mean is None else f"{mean:.2f}",
                             row["quality"], row["handed_in_at"]])
    return path


def peer_scores(rows: list[dict]) -> dict[str, float]:
    """{author: mean peer score as a fraction (mean of the criteria's scores / 5)} over the
    reviews received that carry scores; an author without one is absent."""
    got: dict[str, list[float]] = {}
    for row in rows:
        if row["status"] not in ("handed in", "late"):
            continue
        scores = json.loads(row["scores"] or "{}")
        if scores:
            got.setdefault(row["reviewee"], []).append(sum(scores.values()) / len(scores) / SCORE_RANGE[1])
    return {a: sum(v) / len(v) for a, v in got.items()}


def participation(round_row: dict, rows: list[dict]) -> dict[str, tuple[float, int, int]]:
    """{reviewer: (points, reviews done, reviews assigned)}: participation / k per assigned review
    handed in without an ``empty`` or ``copy`` flag (late ones count; they are reported)."""
    out = {}
    k = round_row["reviewers"] or 1
    for reviewer in sorted({r["reviewer"] for r in rows}):
        mine = [r for r in rows if r["reviewer"] == reviewer]
        done = [r for r in mine if r["status"] in ("handed in", "late")
                and not any(f in (r["quality"] or "").split(", ") for f in BLOCKING_FLAGS)]
        out[reviewer] = (round_row["participation"] * len(done) / k, len(done), len(mine))
    return out


def export_summary(round_row: dict, rows: list[dict], path: Path) -> Path:
    scores = peer_scores(rows)
    parts = participation(round_row, rows)
    received = {}
    for row in rows:
        if row["status"] in ("handed in", "late"):
            received[row["reviewee"]] = received.get(row["reviewee"], 0) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "reviews_received", "peer_score_pct", "peer_weight", "reviews_done",
                         "reviews_assigned", "missing", "late", "participation_points", "participation_max"])
        for student in sorted(set(parts) | {r["reviewee"] for r in rows}):
            pts, done, assigned = parts.get(student, (0.0, 0, 0))
            mine = [r for r in rows if r["reviewer"] == student]
            writer.writerow([student, received.get(student, 0),
                             f"{100 * scores[student]:.1f}" if student in scores else "",
                             f"{round_row['weight']:g}", done, assigned,
                             sum(r["status"] == "missing" for r in mine), sum(r["status"] == "late" for r in mine),
                             f"{pts:g}", f"{round_row['participation']:g}"])
    return path


def phase_adjustments(db_url: str) -> dict:
    """{(assignment, student): (weight, fraction, [notebooks])} for the collected rounds whose
    weight is above 0 and the authors who received a scored review; empty where there is none."""
    from sqlalchemy import inspect, select

    engine = classgrade._engine(db_url)
    try:
        if "dlcourse_peer_rounds" not in inspect(engine).get_table_names():
            return {}
        _, rounds, _ = _tables()
        with engine.connect() as conn:
            names = [r.assignment for r in conn.execute(select(rounds)) if r.weight and r.collected_at]
    finally:
        engine.dispose()
    out = {}
    for assignment in names:
        round_row, rows = load_round(db_url, assignment)
        for author, fraction in peer_scores(rows).items():
            out[(assignment, author)] = (float(round_row["weight"]), fraction, json.loads(round_row["notebooks"]))
    return out


def apply_adjustments(scores: dict, notebooks_max: dict, adjustments: dict) -> dict:
    """``scores`` ({(assignment, student): {notebook: {"score", …}}}) with each reviewed
    notebook's score blended: (1 - w) · graded + w · max · peer fraction."""
    out = {key: {nb: dict(p) for nb, p in per.items()} for key, per in scores.items()}
    for (assignment, student), (w, fraction, names) in adjustments.items():
        per = out.get((assignment, student))
        if per is None:
            continue
        for nb in names:
            if nb in per and nb in notebooks_max.get(assignment, {}):
                per[nb]["score"] = (1 - w) * per[nb]["score"] + w * notebooks_max[assignment][nb] * fraction
    return out


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------
def format_open(report: OpenReport, root: Path) -> str:
    lines = []
    if report.started_before:
        lines.append(f"{report.assignment}: 이미 시작된 라운드입니다 — 배정을 바꾸지 않고 같은 리뷰 노트북을 다시 보냈습니다 "
                     f"(저장된 라운드: k={report.k}, seed={report.seed}, 마감 {report.due}; 이번에 준 --reviewers, "
                     "--seed, --notebook, --due는 쓰지 않았습니다).")
    else:
        lines.append(f"{report.assignment}: 동료 리뷰 라운드를 열었습니다 — {len(report.reviewers)}명, "
                     f"한 사람당 리뷰 {len(next(iter(report.reviewers.values())))}개, 마감 {report.due}.")
    lines.append(f"   교환 폴더(exchange)로 배포: {review_name(report.assignment)} (학생: Assignment List → Fetch)")
    if report.by_hand:
        lines.append(f"   exchange 없이(zip으로) 제출한 학생 {len(report.by_hand)}명: peer/by-hand/<학생>_"
                     f"{review_name(report.assignment)}.zip을 직접 전달하세요: {', '.join(report.by_hand)}")
    if report.newcomers:
        lines.append(f"   라운드를 연 뒤 제출한 학생(배정되지 않음): {', '.join(report.newcomers)}")
    return "\n".join(lines)


def format_collect(report: CollectReport, root: Path) -> str:
    rows = report.rows
    done = [r for r in rows if r["status"] in ("handed in", "late")]
    lines = [f"{report.assignment}: 리뷰 {len(done)}/{len(rows)}개 도착 (늦음 {len(report.late)}, 없음 {len(report.missing)})"]
    if report.missing:
        lines.append("   제출하지 않은 리뷰: " + "; ".join(report.missing))
    if report.late:
        lines.append("   늦게 낸 리뷰: " + "; ".join(report.late))
    flagged = [r for r in done if r["quality"] != QUALITY_OK]
    if flagged:
        lines.append("   품질 표시(quality): " + "; ".join(f"{r['reviewer']} 리뷰 {r['slot']}: {r['quality']}" for r in flagged))
    lines.append(f"   피드백 {len(report.feedback_pages)}쪽에 리뷰를 덧붙였습니다 "
                 f"(학생에게 보내기: nbgrader release_feedback {report.assignment})")
    for path in (report.reviews_csv, report.summary_csv):
        lines.append(f"→ {path.relative_to(root) if path.is_relative_to(root) else path}")
    return "\n".join(lines)


def main(argv, root: Path) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dlcourse_staff peer-review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["open", "collect"])
    parser.add_argument("assignment")
    parser.add_argument("--reviewers", "-k", type=int, default=2, help="open: reviews per submission (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="open: the assignment's seed (default 0)")
    parser.add_argument("--notebook", action="append", help="open: review only this notebook (repeatable; default all)")
    parser.add_argument("--due", default=None, help="open: the reviews' deadline, e.g. '2026-12-09 23:59:00 UTC' "
                        "(default: a week after opening)")
    parser.add_argument("--weight", type=float, default=None,
                        help="share of the reviewed notebooks' points that the peer score replaces (default 0)")
    parser.add_argument("--participation", type=float, default=None,
                        help="participation points for doing all of one's reviews (default 1)")
    parser.add_argument("--db-url", default=None, help="gradebook URL (default: DLCOURSE_DB_URL or gradebook.db)")
    args = parser.parse_args(argv)
    try:
        if args.action == "open":
            report = open_round(root, args.assignment, reviewers=args.reviewers, seed=args.seed, db_url=args.db_url,
                                notebooks_=args.notebook, due=args.due,
                                weight=0.0 if args.weight is None else args.weight,
                                participation=1.0 if args.participation is None else args.participation)
            print(format_open(report, root))
        else:
            report = collect_round(root, args.assignment, db_url=args.db_url, weight=args.weight,
                                   participation=args.participation)
            print(format_collect(report, root))
            db_url = args.db_url or course_mod.db_url(root)
            phase = classgrade.export_phase(root, db_url, root / "autograded" / "phase_grades.csv")
            print(f"→ {phase.relative_to(root)}")
    except PeerReviewError as err:
        print(f"peer-review: {err}", file=sys.stderr)
        return 2
    return 0

