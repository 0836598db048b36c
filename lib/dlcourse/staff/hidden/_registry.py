"""The registry that maps a test cell's grade_id to its hidden check."""
from __future__ import annotations

from typing import Callable

from ...checks import CheckFailed

_CHECKS: dict[str, Callable] = {}


def register(grade_id: str):
    """Decorator: make ``fn`` the hidden check of the test cell ``grade_id``."""
    def wrap(fn):
        if grade_id in _CHECKS:
            raise RuntimeError(f"hidden check {grade_id!r} registered twice")
        _CHECKS[grade_id] = fn
        return fn
    return wrap


def registered() -> dict[str, Callable]:
    return dict(_CHECKS)


def check(grade_id: str, *objects) -> None:
    """Run the hidden check of ``grade_id`` on the student's objects.

    Any failure surfaces as one :class:`CheckFailed` whose Korean message names the case; the
    check's own source and frames stay out of the student's traceback.
    """
    __tracebackhide__ = True  # IPython hides this frame from tracebacks
    try:
        fn = _CHECKS[grade_id]
    except KeyError:
        raise CheckFailed(f"알 수 없는 검사 이름입니다: {grade_id!r}") from None
    try:
        fn(*objects)
    except CheckFailed as err:
        raise CheckFailed(str(err)) from None
    except NotImplementedError:
        raise CheckFailed("아직 구현되지 않았습니다 (NotImplementedError). 해당 셀을 완성하세요.") from None
    except Exception as err:  # the student's code crashed inside the check
        raise CheckFailed(f"구현을 실행하는 중 오류가 났습니다: {type(err).__name__}: {err}") from None
    print(f"[{grade_id}] 숨겨진 검사 통과 (hidden checks passed)")
