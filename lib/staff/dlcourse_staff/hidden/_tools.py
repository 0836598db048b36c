"""Building blocks of the hidden checks: cases, weight transplant, forward/backward comparison.

Everything here runs in the grader. The student's objects are :class:`~dlcourse_staff.probe.Remote`
handles; what comes back from the kernel is plain data that is compared with the reference
computed here.
"""
from __future__ import annotations

import ast
import copy
import math
from contextlib import contextmanager

import torch
from torch import nn

from dlcourse.checks import CheckFailed, assert_close, assert_shape

from ..probe import Kernel, Remote, RemoteError, flatten, meta
from ._registry import NOT_IMPLEMENTED, short

__all__ = ["call_label", "case", "fail", "generator", "same_layout", "randomize", "compare_module", "compare_call",
           "output_weights", "is_tensor", "expect_tensor", "expect_float", "meta", "flatten", "source_loops"]


def call_label(name: str, kwargs: dict) -> str:
    """``name(k1=v1, k2=v2)``: a case label that shows the call it checks."""
    return name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@contextmanager
def case(label: str):
    """Prefix every failure inside the block with ``label`` (the configuration being checked)."""
    __tracebackhide__ = True
    try:
        yield
    except CheckFailed as err:
        raise CheckFailed(f"{label}: {err}") from None
    except RemoteError as err:
        if err.not_implemented:
            raise CheckFailed(f"{label}: {NOT_IMPLEMENTED}") from None
        if err.graph:
            raise CheckFailed(f"{label}: {err.message}") from None
        raise CheckFailed(short(f"{label}: 실행 중 오류 {err.etype}: {err.message}")) from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, RuntimeError) as err:
        # a result of the wrong kind (not a tuple, a tensor of another shape, …)
        raise CheckFailed(short(f"{label}: 돌려준 값을 검사할 수 없습니다 ({type(err).__name__}: {err})")) from None


def fail(message: str):
    raise CheckFailed(message)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


def expect_tensor(x, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        fail(f"{what}은(는) torch.Tensor여야 합니다 (받은 타입: {_type_name(x)}).")
    return x


def expect_float(x, what: str) -> float:
    """A Python number (int or float, not a tensor and not a NumPy scalar)."""
    if type(x) not in (int, float):
        fail(f"{what}은(는) 파이썬 실수(float)여야 합니다 (받은 타입: {_type_name(x)}; 텐서라면 .item()을 쓰세요).")
    if not math.isfinite(x):
        fail(f"{what}이(가) 유한한 값이 아닙니다 (받은 값: {x!r}).")
    return float(x)


def _type_name(x) -> str:
    if isinstance(x, Remote):
        return x.cls
    if isinstance(x, torch.Tensor):
        return "Tensor"
    return type(x).__name__ if not hasattr(x, "dtype") or not hasattr(x, "value") else f"numpy.{x.dtype}"


def same_layout(layout: dict, ref: nn.Module) -> None:
    """Parameter and buffer names and shapes must match the reference (the docstring's layout)."""
    r = ref.state_dict()
    missing = [k for k in r if k not in layout]
    extra = [k for k in layout if k not in r]
    if missing or extra:
        fail("매개변수/버퍼 이름이 기대한 구조와 다릅니다 "
             f"(없음: {missing[:6]}{' …' if len(missing) > 6 else ''}, "
             f"예상 밖: {extra[:6]}{' …' if len(extra) > 6 else ''}). "
             "독스트링에 적힌 속성 이름과 층 구성을 확인하세요.")
    for key, tensor in r.items():
        if tuple(layout[key][0]) != tuple(tensor.shape):
            fail(f"{key}의 모양(shape)이 다릅니다: 기대 {tuple(tensor.shape)}, 실제 {tuple(layout[key][0])}.")


@torch.no_grad()
def randomize(module: nn.Module, seed: int) -> None:
    """Give parameters and BatchNorm running statistics seeded, non-trivial values."""
    g = generator(seed)
    for name, p in module.named_parameters():
        if name.endswith("weight") and p.dim() == 1:      # norm scales: keep them near 1
            p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        else:
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / fan_in ** 0.5)
    for name, b in module.named_buffers():
        if name.endswith("running_mean"):
            b.copy_(0.2 * torch.randn(b.shape, generator=g))
        elif name.endswith("running_var"):
            b.copy_(0.5 + torch.rand(b.shape, generator=g))


def output_weights(out, seed: int) -> list[torch.Tensor]:
    """Seeded random weights, one per floating-point tensor of ``out`` (flattened in order)."""
    g = generator(seed)
    return [torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)
            for t in flatten(out) if t.dtype.is_floating_point]


def _float_leaves(value) -> list[torch.Tensor]:
    return [t for t in flatten(value) if t.dtype.is_floating_point]


def _check_backward(res: dict, mode: str) -> None:
    status = res.get("backward")
    if status == "no-graph":
        fail(f"{mode}출력이 입력에 대한 그래디언트를 갖지 않습니다 (계산 그래프가 끊겼습니다: detach, .item(), "
             "numpy 변환, torch.no_grad 등을 확인하세요).")
    if status == "shape":
        fail(f"{mode}출력의 모양이 달라 그래디언트를 비교할 수 없습니다.")


def compare_module(k: Kernel, student: Remote, ref: nn.Module, inputs: tuple, *, seed: int,
                   atol: float = 1e-4, rtol: float = 1e-4, method: str | None = None, kwargs: dict | None = None,
                   modes=(True, False), buffers: bool = True, load: bool = True) -> None:
    """Transplant the reference's (randomised) weights into the student's module, then compare,
    in train and in eval mode: outputs, gradients with respect to the float inputs and to every
    parameter, and (train mode) the buffers after the forward (BatchNorm statistics). Each mode
    is one request to the kernel, on a copy of the student's module."""
    if load:
        same_layout(student.layout(), ref)
        randomize(ref, seed)
        student.load_state(ref.state_dict())
    kwargs = kwargs or {}
    for training in modes:
        mode = "학습 모드(train)" if training else "평가 모드(eval)"
        r = copy.deepcopy(ref).train(training)
        xr = [x.detach().clone().requires_grad_(x.dtype.is_floating_point) if isinstance(x, torch.Tensor) else x
              for x in inputs]
        out_r = (getattr(r, method) if method else r)(*xr, **kwargs)
        weights = output_weights(out_r, seed + 1)
        res = student.kernel.request("fb", target=student, method=method, args=list(inputs), kwargs=kwargs,
                                     train=training, copy=True, weights=weights, buffers=training and buffers)
        out_s = student._wrap(res["out"])
        want, got = _float_leaves(out_r), _float_leaves(out_s)
        if len(got) != len(want):
            fail(f"{mode}: 출력 텐서가 {len(want)}개여야 하는데 {len(got)}개입니다.")
        for i, (g_, w_) in enumerate(zip(got, want)):
            name = f"{mode} 출력" + (f" {i}" if len(want) > 1 else "")
            assert_shape(g_, tuple(w_.shape), name)
            assert_close(g_, w_, atol=atol, rtol=rtol, name=name)
        _check_backward(res, f"{mode}: ")
        sum((o * w).sum() for o, w in zip(want, weights)).backward()
        for i, (x, g_x) in enumerate(zip(xr, res["input_grads"])):
            if isinstance(x, torch.Tensor) and x.grad is not None:
                if g_x is None:
                    fail(f"{mode}: 입력까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
                assert_close(g_x, x.grad, atol=atol, rtol=rtol, name=f"{mode} 입력 {i}에 대한 그래디언트")
        s_grads = res.get("param_grads", {})
        for name, p in r.named_parameters():
            if p.grad is not None:
                if s_grads.get(name) is None:
                    fail(f"{mode}: 매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
                assert_close(s_grads[name], p.grad, atol=atol, rtol=rtol, name=f"{mode} {name}의 그래디언트")
        if training and buffers:
            s_bufs = res.get("buffers", {})
            for name, b in r.named_buffers():
                if b.dtype.is_floating_point and name in s_bufs:
                    assert_close(s_bufs[name], b, atol=atol, rtol=rtol,
                                 name=f"forward 한 번 뒤의 {name} (BatchNorm 통계)")


def compare_call(k: Kernel, fn: Remote, ref_fn, args: tuple, *, seed: int, names=None, atol: float = 1e-5,
                 rtol: float = 1e-4, kwargs: dict | None = None, grads: bool = True, what: str = "출력"):
    """Call the student's function and the reference on the same arguments; compare the outputs
    and (``grads``) the gradients of a seeded weighted sum with respect to every float tensor
    argument, in one request. Returns the student's output (data)."""
    kwargs = kwargs or {}
    xr = [x.detach().clone().requires_grad_(grads and x.dtype.is_floating_point) if isinstance(x, torch.Tensor)
          else x for x in args]
    out_r = ref_fn(*xr, **kwargs)
    weights = output_weights(out_r, seed) if grads else None
    res = k.request("fb", target=fn, args=list(args), kwargs=kwargs, weights=weights)
    out_s = fn._wrap(res["out"])
    want, got = flatten(out_r), flatten(out_s)
    if len(got) != len(want):
        fail(f"{what}: 텐서 {len(want)}개를 돌려줘야 하는데 {len(got)}개입니다.")
    for i, (g_, w_) in enumerate(zip(got, want)):
        name = what + (f" {i}" if len(want) > 1 else "")
        assert_shape(g_, tuple(w_.shape), name)
        assert_close(g_.double(), w_.detach().double(), atol=atol, rtol=rtol, name=name)
    if grads:
        _check_backward(res, "")
        fl = _float_leaves(out_r)
        sum((o * w).sum() for o, w in zip(fl, weights)).backward()
        names = names or [f"입력 {i}" for i in range(len(args))]
        for x, g_x, name in zip(xr, res["input_grads"], names):
            if isinstance(x, torch.Tensor) and x.grad is not None:
                if g_x is None:
                    fail(f"{name}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
                assert_close(g_x.double(), x.grad.double(), atol=atol, rtol=rtol, name=f"{name}에 대한 그래디언트")
    return out_s


def source_loops(source: str, function: str) -> list[str]:
    """The Python loops (``for``/``while``, comprehensions) in the body of ``function`` in the
    student's cell text: the grader reads the text it graded, which no code can change."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            for inner in ast.walk(node):
                if isinstance(inner, (ast.For, ast.While, ast.AsyncFor)):
                    found.append(f"줄 {inner.lineno}: {type(inner).__name__.lower()}")
                elif isinstance(inner, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
                    found.append(f"줄 {inner.lineno}: comprehension")
    return found
