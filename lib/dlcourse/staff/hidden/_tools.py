"""Building blocks of the hidden checks: cases, weight transplant, forward/backward comparison."""
from __future__ import annotations

import copy
from contextlib import contextmanager

import torch
from torch import nn

from ...checks import CheckFailed, assert_close, assert_shape


@contextmanager
def case(label: str):
    """Prefix every failure inside the block with ``label`` (the configuration being checked)."""
    __tracebackhide__ = True
    try:
        yield
    except CheckFailed as err:
        raise CheckFailed(f"{label}: {err}") from None
    except NotImplementedError:
        raise CheckFailed(f"{label}: 아직 구현되지 않았습니다 (NotImplementedError).") from None
    except Exception as err:
        raise CheckFailed(f"{label}: 실행 중 오류 {type(err).__name__}: {err}") from None


def fail(message: str):
    raise CheckFailed(message)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def same_layout(student: nn.Module, ref: nn.Module) -> None:
    """Parameter and buffer names and shapes must match the reference (the docstring's layout)."""
    s, r = student.state_dict(), ref.state_dict()
    missing = [k for k in r if k not in s]
    extra = [k for k in s if k not in r]
    if missing or extra:
        fail("매개변수/버퍼 이름이 기대한 구조와 다릅니다 "
             f"(없음: {missing[:6]}{' …' if len(missing) > 6 else ''}, "
             f"예상 밖: {extra[:6]}{' …' if len(extra) > 6 else ''}). "
             "독스트링에 적힌 속성 이름과 층 구성을 확인하세요.")
    for key, tensor in r.items():
        if tuple(s[key].shape) != tuple(tensor.shape):
            fail(f"{key}의 모양(shape)이 다릅니다: 기대 {tuple(tensor.shape)}, 실제 {tuple(s[key].shape)}.")


@torch.no_grad()
def randomize(module: nn.Module, seed: int) -> None:
    """Give parameters and BatchNorm running statistics seeded, non-trivial values."""
    g = generator(seed)
    for name, p in module.named_parameters():
        if name.endswith("weight") and p.dim() == 1:      # norm scales: keep them near 1
            p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
        else:
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    for name, b in module.named_buffers():
        if name.endswith("running_mean"):
            b.copy_(0.2 * torch.randn(b.shape, generator=g))
        elif name.endswith("running_var"):
            b.copy_(0.5 + torch.rand(b.shape, generator=g))


def compare_modules(student: nn.Module, ref: nn.Module, x: torch.Tensor, *, seed: int,
                    atol: float = 1e-4, rtol: float = 1e-4, call=None) -> None:
    """Transplant the reference's (randomised) weights into the student's module, then compare
    outputs, input gradients, parameter gradients (train and eval mode) and running statistics."""
    same_layout(student, ref)
    randomize(ref, seed)
    student.load_state_dict(ref.state_dict())
    call = call or (lambda m, inp: m(inp))
    for training in (True, False):
        mode = "학습 모드(train)" if training else "평가 모드(eval)"
        s, r = copy.deepcopy(student), copy.deepcopy(ref)
        s.train(training)
        r.train(training)
        xs = x.clone().requires_grad_(True)
        xr = x.clone().requires_grad_(True)
        out_r = call(r, xr)
        out_s = call(s, xs)
        assert_shape(out_s, tuple(out_r.shape), f"{mode} 출력")
        assert_close(out_s, out_r, atol=atol, rtol=rtol, name=f"{mode} 출력")
        weight = torch.randn(out_r.shape, generator=generator(seed + 1))
        (out_r * weight).sum().backward()
        (out_s * weight).sum().backward()
        if xs.grad is None:
            fail(f"{mode}: 입력까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
        assert_close(xs.grad, xr.grad, atol=atol, rtol=rtol, name=f"{mode} 입력에 대한 그래디언트")
        s_params = dict(s.named_parameters())
        for name, p in r.named_parameters():
            g_s = s_params[name].grad
            if p.grad is not None and g_s is None:
                fail(f"{mode}: 매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
            if p.grad is not None:
                assert_close(g_s, p.grad, atol=atol, rtol=rtol, name=f"{mode} {name}의 그래디언트")
        if training:
            s_bufs = dict(s.named_buffers())
            for name, b in r.named_buffers():
                if b.dtype.is_floating_point:
                    assert_close(s_bufs[name], b, atol=atol, rtol=rtol,
                                 name=f"forward 한 번 뒤의 {name} (BatchNorm 통계)")
