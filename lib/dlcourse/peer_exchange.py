"""Peer review rounds in nbgrader's exchange, the student's side (fetch and submit).

A review round that the instructor opens for ``week05`` is released as the assignment
``week05-review``. Its folder in the exchange holds one sub-folder per reviewer,
named by a token that only the instructor and that reviewer can compute: nbgrader's own
``notebook_hash`` of the secret that nbgrader wrote with the reviewer's hand-in of ``week05``
(``submission_secret.txt``, kept in the student's nbgrader cache and in the instructor's
``submitted/``). The round's folder cannot be listed (mode 0711), so a student reaches only the
sub-folder of their own token. The marker file :data:`MARKER` says which assignment the round
reviews.

:class:`FetchAssignment`, :class:`Submit` and :class:`List` are nbgrader's exchange classes that,
for a review round, fetch, submit and list against the reviewer's own sub-folder; every other
assignment goes through nbgrader's code unchanged. ``python -m dlcourse.student setup`` configures
them (``c.ExchangeFactory.fetch_assignment`` / ``submit`` / ``list``), and JupyterLab's Assignment
List uses them.
"""
from __future__ import annotations

import glob
import json
import os

from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.list import ExchangeList
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash

MARKER = "dlcourse-peer-round.json"


def review_token(secret: str, review_assignment: str) -> str:
    """The reviewer's folder name in a round: nbgrader's hash of their hand-in secret."""
    return notebook_hash(secret=secret.strip(), notebook_id=review_assignment)


def round_info(outbound_assignment: str) -> dict | None:
    """The round's marker (``{"reviews": "week05", ...}``), or None when the folder is an ordinary
    assignment. The marker is readable by name although the folder cannot be listed."""
    path = os.path.join(outbound_assignment, MARKER)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def own_folder(exchange, outbound_assignment: str, info: dict, course_id: str | None = None) -> str | None:
    """The reviewer's sub-folder: tried with the secret of every cached hand-in of the reviewed
    assignment, newest first (the instructor collects the newest)."""
    course_id = course_id or exchange.coursedir.course_id
    review = os.path.basename(os.path.normpath(outbound_assignment))
    cache_path = os.path.join(exchange.cache, course_id)
    entries = glob.glob(os.path.join(cache_path, "*+{}+*".format(info["reviews"])))
    entries.sort(key=lambda p: os.path.basename(p).split("+")[2], reverse=True)
    for entry in entries:
        secret_file = os.path.join(entry, "submission_secret.txt")
        if not os.path.isfile(secret_file):
            continue
        with open(secret_file, encoding="utf-8") as fh:
            folder = os.path.join(outbound_assignment, review_token(fh.read(), review))
        if os.path.isdir(folder):
            return folder
    return None


def _not_assigned(exchange, info: dict) -> None:
    exchange.fail(
        "이 동료 리뷰 라운드({})에 배정된 리뷰 노트북을 찾지 못했습니다. 리뷰는 '{}'를 이 컴퓨터의 "
        "Assignment List로 제출한 학생에게 배정됩니다; zip으로 제출했다면 강사에게 리뷰 노트북을 "
        "받으세요.".format(exchange.coursedir.assignment_id, info["reviews"]))


class FetchAssignment(ExchangeFetchAssignment):
    """nbgrader's fetch; for a review round, only the reviewer's own sub-folder."""

    def init_src(self):
        super_src = os.path.join(self.root, self.coursedir.course_id, "outbound", self.coursedir.assignment_id)
        info = round_info(super_src)
        if info is None:
            return super().init_src()
        if not self.authenticator.has_access(self.coursedir.student_id, self.coursedir.course_id):
            self.fail("You do not have access to this course.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.outbound_path = os.path.join(self.course_path, "outbound")
        self.src_path = own_folder(self, super_src, info)
        if self.src_path is None:
            _not_assigned(self, info)


class Submit(ExchangeSubmit):
    """nbgrader's submit; for a review round, the expected notebooks are those of the reviewer's
    own sub-folder (the round's folder itself cannot be listed)."""

    def init_release(self):
        path = os.path.join(self.root, self.coursedir.course_id, "outbound", self.coursedir.assignment_id)
        info = round_info(path)
        if info is None:
            return super().init_release()
        self.release_path = own_folder(self, path, info)
        if self.release_path is None:
            _not_assigned(self, info)


class List(ExchangeList):
    """nbgrader's list; a review round that is released but not fetched yet lists the reviewer's
    own notebooks (the round's folder itself cannot be listed)."""

    def parse_assignments(self):
        assignments = super().parse_assignments()
        if self.inbound or self.cached:
            return assignments
        for info in assignments:
            if info.get("status") != "released":
                continue
            round_ = round_info(info["path"])
            if round_ is None:
                continue
            folder = own_folder(self, info["path"], round_, course_id=info["course_id"])
            info["notebooks"] = [] if folder is None else [
                {"notebook_id": os.path.splitext(name)[0], "path": os.path.abspath(os.path.join(folder, name))}
                for name in sorted(os.listdir(folder)) if name.endswith(".ipynb")]
        return assignments
