"""The registry that maps a test cell's grade_id to its hidden check, and the two ways to run one.

A check is ``fn(k, *objects)``: ``k`` is a :class:`~dlcourse_staff.probe.Kernel`, each object a
:class:`~dlcourse_staff.probe.Remote` for a name the test cell passes. The check asks the
kernel for plain results and compares them here; it fails by raising ``CheckFailed``.

* :func:`check` — the one line of a hidden test cell, run in the instructor's own kernel (and
  the mutation harness): the objects are local, the transport is in-process.
* :func:`grade` — what the autograder calls, in its own process, for a test cell of a
  submission: the objects are names in the student's kernel, reached through the probe
  transport. The verdict is computed here and never in the kernel.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from dlcourse.checks import CheckFailed

from ..probe import Kernel, KernelLost, LocalTransport, RemoteError

_CHECKS: dict[str, Callable] = {}
PASSED = "숨겨진 검사 통과 (hidden checks passed)"
NOT_IMPLEMENTED = "아직 구현되지 않았습니다 (NotImplementedError). 해당 셀을 완성하세요."


def register(grade_id: str):
    """Decorator: make ``fn(k, *objects)`` the hidden check of the test cell ``grade_id``."""
    def wrap(fn):
        if grade_id in _CHECKS:
            raise RuntimeError(f"hidden check {grade_id!r} registered twice")
        _CHECKS[grade_id] = fn
        return fn
    return wrap


def registered() -> dict[str, Callable]:
    return dict(_CHECKS)


@dataclass
class Verdict:
    grade_id: str
    passed: bool
    message: str

    @property
    def text(self) -> str:
        return f"[{self.grade_id}] {PASSED}" if self.passed else self.message


def short(text: str, limit: int = 300) -> str:
    """A message cut to ``limit`` characters: a failure never echoes a check's inputs in full."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(grade_id: str, kernel: Kernel, objects: list) -> Verdict:
    """Run the check of ``grade_id``; :class:`KernelLost` (a dead or hung kernel) passes through."""
    fn = _CHECKS.get(grade_id)
    if fn is None:
        return Verdict(grade_id, False, f"알 수 없는 검사 이름입니다: {grade_id!r}")
    try:
        fn(kernel, *objects)
    except CheckFailed as err:
        return Verdict(grade_id, False, short(err, 600))
    except RemoteError as err:
        if err.not_implemented:
            return Verdict(grade_id, False, NOT_IMPLEMENTED)
        return Verdict(grade_id, False, short(f"구현을 실행하는 중 오류가 났습니다: {err.etype}: {err.message}"))
    except KernelLost:
        raise
    except Exception as err:  # noqa: BLE001 - a result of the wrong kind made the comparison fail
        return Verdict(grade_id, False, short(f"구현의 결과를 검사할 수 없습니다: {type(err).__name__}: {err}"))
    finally:
        try:
            kernel.release()
        except (RemoteError, Exception):  # noqa: BLE001
            pass
    return Verdict(grade_id, True, "")


def grade(grade_id: str, names: list[str], transport, *, deadline: float | None = None,
          sources: dict | None = None) -> Verdict:
    """The autograder's call: look the names up in the kernel, then run the check. ``sources``
    are the texts of the submission's solution cells (for checks that read the code)."""
    kernel = Kernel(transport, deadline=deadline, sources=sources)
    objects = []
    for name in names:
        try:
            objects.append(kernel.name(name))
        except RemoteError as err:
            if err.etype == "NameError":
                return Verdict(grade_id, False, f"{name}이(가) 정의되지 않았습니다: 구현 셀을 실행했는지, 이름을 바꾸지 "
                                                f"않았는지 확인하세요 (NameError).")
            return Verdict(grade_id, False, short(f"{name}을(를) 찾는 중 오류가 났습니다: {err.etype}: {err.message}"))
    return run(grade_id, kernel, objects)


def check(grade_id: str, *objects) -> None:
    """The hidden test cell's one line, in the instructor's kernel: run the check in-process on
    the given objects, print the verdict, raise :class:`CheckFailed` when it fails."""
    __tracebackhide__ = True  # IPython hides this frame from tracebacks
    caller = sys._getframe(1).f_globals
    transport = LocalTransport(caller)
    kernel = Kernel(transport)
    remotes = [kernel.wrap(transport.register(obj)) for obj in objects]
    verdict = run(grade_id, kernel, remotes)
    if not verdict.passed:
        raise CheckFailed(verdict.message) from None
    print(verdict.text)
