"""Check helpers used by visible checks in the notebooks (and by the hidden ones).

Every helper fails by raising :class:`CheckFailed` (an ``AssertionError``) whose message, in
Korean, names what was checked, what was expected and what came out. Input-validation helpers
(``require_*``) raise ``ValueError`` instead: they guard library functions against bad input.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch


class CheckFailed(AssertionError):
    """A check did not pass; the message says what differs."""


def _as_tensor(x) -> torch.Tensor:
    """A tensor of ``x``; Python numbers and lists become float64, not torch's default float32."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (float, list, tuple)) or (isinstance(x, int) and not isinstance(x, bool)):
        return torch.as_tensor(x, dtype=torch.float64)
    return torch.as_tensor(x)


def _fmt_shape(shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"


class part:
    """Name the graded part that a block of visible checks belongs to: every failure inside says
    which part it is (``nbgrader validate`` lists the failing parts by these titles).

        with dl.part("1.1 기본 잔차 블록 (BasicBlock)"):
            dl.assert_shape(BasicBlock(16, 16)(x), (2, 16, 8, 8))

    The traceback keeps the student's lines and hides this helper's frames (``__tracebackhide__``,
    which IPython honours), so a failure reads as the line that failed and the Korean message.
    """

    def __init__(self, title: str):
        self.title = title

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        __tracebackhide__ = True
        if err is None:
            return False
        if isinstance(err, CheckFailed):
            if not str(err).startswith(f"[{self.title}]"):
                err.args = (f"[{self.title}] {err}",)
            return False  # re-raised as it is, with the student's frames
        if isinstance(err, NotImplementedError):
            raise CheckFailed(f"[{self.title}] 아직 구현되지 않았습니다 (NotImplementedError): "
                              "이 부분의 구현 셀을 완성하세요.").with_traceback(tb) from None
        if isinstance(err, Exception):
            err.add_note(f"[{self.title}] 공개 검사 중에 난 오류입니다 (error while running the visible checks).")
        return False


def assert_true(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    __tracebackhide__ = True  # students see their line, not the helper's
    if not condition:
        raise CheckFailed(message)


def assert_shape(tensor, expected: Sequence[int | None], name: str = "출력") -> None:
    """Check ``tensor.shape``; ``None`` in ``expected`` matches any size."""
    __tracebackhide__ = True  # students see their line, not the helper's
    if not isinstance(tensor, torch.Tensor):
        raise CheckFailed(f"{name}은(는) torch.Tensor여야 합니다 (받은 타입: {type(tensor).__name__}).")
    shape = tuple(tensor.shape)
    ok = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not ok:
        raise CheckFailed(
            f"{name}의 모양(shape)이 다릅니다: 기대 {_fmt_shape(expected)}, 실제 {_fmt_shape(shape)}."
        )


def assert_close(actual, expected, *, atol: float = 1e-5, rtol: float = 1e-4, name: str = "값") -> None:
    """Element-wise closeness with a message giving the worst element and its index."""
    __tracebackhide__ = True  # students see their line, not the helper's
    actual_t = _as_tensor(actual)
    expected_t = _as_tensor(expected)
    if actual_t.shape != expected_t.shape:
        raise CheckFailed(
            f"{name}의 모양(shape)이 다릅니다: 기대 {_fmt_shape(expected_t.shape)}, "
            f"실제 {_fmt_shape(actual_t.shape)}."
        )
    a = actual_t.detach().to("cpu", torch.float64)
    e = expected_t.detach().to("cpu", torch.float64)
    if a.numel() == 0:
        return
    bad_nan = torch.isnan(a) & ~torch.isnan(e)
    if bad_nan.any():
        idx = tuple(int(i) for i in torch.nonzero(bad_nan)[0])
        raise CheckFailed(f"{name}에 NaN이 있습니다 (첫 위치 {idx}).")
    err = (a - e).abs()
    tol = atol + rtol * e.abs()
    over = torch.nan_to_num(err - tol, nan=0.0)
    if (over > 0).any():
        flat = int(torch.argmax(over))
        idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape))
        n_bad = int((over > 0).sum())
        raise CheckFailed(
            f"{name}이(가) 기대값과 다릅니다: {n_bad}/{a.numel()}개 원소가 허용 오차를 넘습니다. "
            f"가장 큰 차이는 위치 {idx}에서 실제 {a[idx].item():.6g}, 기대 {e[idx].item():.6g} "
            f"(허용 오차 atol={atol:g}, rtol={rtol:g})."
        )


def numeric_gradient(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central-difference gradient of the scalar ``fn(x)`` with respect to ``x`` (float64)."""
    x = x.detach().to(torch.float64).clone()
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        plus = float(fn(x))
        flat[i] = old - eps
        minus = float(fn(x))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                    eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4, name: str = "그래디언트") -> None:
    """Compare autograd's gradient of the scalar ``fn(x)`` with a numeric one, in float64."""
    __tracebackhide__ = True
    x64 = x.detach().to(torch.float64).clone().requires_grad_(True)
    out = fn(x64)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise CheckFailed(f"{name}: fn은 스칼라 텐서를 돌려줘야 합니다.")
    (auto,) = torch.autograd.grad(out, x64)
    with torch.no_grad():
        num = numeric_gradient(fn, x64, eps)
    assert_close(auto, num, atol=atol, rtol=rtol, name=f"{name} (자동 미분 vs 수치 미분)")


def count_parameters(module: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# --- input validation for library functions (ValueError, not CheckFailed) ---------------------

def require_ndim(x, ndim: int, name: str, layout: str = "") -> None:
    """Raise ``ValueError`` unless ``x`` is a tensor with ``ndim`` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}은(는) torch.Tensor여야 합니다 (받은 타입: {type(x).__name__}).")
    if x.dim() != ndim:
        hint = f" {layout}" if layout else ""
        raise ValueError(
            f"{name}은(는) {ndim}차원 텐서{hint}여야 합니다 (받은 모양(shape): {_fmt_shape(x.shape)})."
        )


def require_positive_int(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}은(는) 양의 정수여야 합니다 (받은 값: {value!r}).")


def require_choice(value, choices: Sequence, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}은(는) {options} 중 하나여야 합니다 (받은 값: {value!r}).")
