"""Hidden checks of week07/positional_encoding_comparison.ipynb.

Every check calls the student's objects in the kernel on seeded inputs whose sizes, positions and
settings differ from the visible checks (non-contiguous and shifted positions, odd head counts,
float64 and float16, one position, no position) and compares what comes back with the reference
computed here. The T5 bias is graded with the grader's bucket function bound in the kernel
(an oracle), so a wrong bucket function costs only its own part; per-position NLL is graded
on a stand-in language model (dlcourse.probe_parts.ProbeLM).
"""
from __future__ import annotations

import math

import torch

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..probe import RemoteError
from ..solutions import w07_pe as ref
from ._registry import register
from ._tools import case, expect_tensor, fail, flatten, generator, meta, output_weights

PARAMS_HINT = "독스트링에 적힌 속성 이름과 층 구성을 확인하세요."


# --- helpers -----------------------------------------------------------------------------------------
def _positions_text(p: torch.Tensor) -> str:
    vals = p.tolist()
    return str(vals) if len(vals) <= 6 else f"[{vals[0]}, {vals[1]}, …, {vals[-1]}] ({len(vals)}개)"


def _no_params(student, name: str) -> None:
    params = student.params()
    assert_true(not params, f"{name}에는 학습되는 매개변수가 없어야 합니다 (찾은 매개변수: {sorted(params)[:4]}).")


def _load_params(student, reference: torch.nn.Module, seed: int) -> None:
    """The student's parameters must have the docstring's names and shapes; then the reference's
    randomised values are copied in (extra buffers, e.g. caches, are allowed)."""
    got = student.params()
    want = dict(reference.named_parameters())
    missing = [n for n in want if n not in got]
    extra = [n for n in got if n not in want]
    if missing or extra:
        fail(f"매개변수 이름이 기대한 구조와 다릅니다 (없음: {missing[:4]}, 예상 밖: {extra[:4]}). {PARAMS_HINT}")
    for name, p in want.items():
        if tuple(got[name].shape) != tuple(p.shape):
            fail(f"{name}의 모양(shape)이 다릅니다: 기대 {tuple(p.shape)}, 실제 {tuple(got[name].shape)}.")
    g = generator(seed)
    with torch.no_grad():
        for p in want.values():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    student.load_state({n: p.detach() for n, p in want.items()}, strict=False)


def _compare(k, target, ref_fn, args, *, method=None, seed=0, atol=1e-5, rtol=1e-4, what="출력",
             grad_args=(), params_of=None, ref_module=None, dtype=True):
    """Call the student's ``target`` (or its ``method``) and ``ref_fn`` on the same arguments and
    compare every output tensor (shape, dtype, values), the arguments after the call (unchanged),
    and, when ``grad_args`` (indices of float arguments) or ``params_of`` are given, the gradients
    of a seeded weighted sum with respect to those arguments and to the parameters."""
    want_grads = bool(grad_args) or ref_module is not None
    xr = [a.detach().clone().requires_grad_(i in grad_args) if isinstance(a, torch.Tensor) else a
          for i, a in enumerate(args)]
    if ref_module is not None:
        ref_module.zero_grad(set_to_none=True)
    out_r = ref_fn(*xr)
    sent = [k.leaf(a) if i in grad_args else a for i, a in enumerate(args)]
    res = target.invoke(*sent, method=method, return_args=True, copy=params_of is not None)
    want, got = flatten(out_r), flatten(res.value)
    if len(got) != len(want):
        fail(f"{what}: 텐서 {len(want)}개를 돌려줘야 하는데 {len(got)}개입니다.")
    for i, (g_, w_) in enumerate(zip(got, want)):
        name = what + (f" {i + 1}번째" if len(want) > 1 else "")
        expect_tensor(g_, name)
        assert_shape(g_, tuple(w_.shape), name)
        if dtype and g_.dtype != w_.dtype:
            fail(f"{name}의 dtype이 {str(g_.dtype).replace('torch.', '')}입니다: "
                 f"{str(w_.dtype).replace('torch.', '')}이어야 합니다.")
        if not g_.dtype.is_floating_point and w_.dtype.is_floating_point:
            fail(f"{name}은(는) 실수 텐서여야 합니다.")
        assert_close(g_.double(), w_.detach().double(), atol=atol, rtol=rtol, name=name)
    for i, (a, after) in enumerate(zip(args, res.args or [])):
        if isinstance(a, torch.Tensor) and i not in grad_args and isinstance(after, torch.Tensor):
            assert_true(torch.equal(after, a), f"입력 {i + 1}번째 텐서가 바뀌었습니다: 입력을 제자리에서(in place) 바꾸지 마세요.")
    if not want_grads:
        return res
    fl = [t for t in want if t.dtype.is_floating_point]
    weights = output_weights(fl, seed)
    sum((o * w).sum() for o, w in zip(fl, weights)).backward()
    k.backward(res.out, weights)
    for i in grad_args:
        g_x = sent[i].grad()
        if g_x is None:
            fail(f"{what}에서 입력 {i + 1}번째 텐서까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
        assert_close(g_x.double(), xr[i].grad.double(), atol=atol, rtol=rtol, name=f"입력 {i + 1}번째 텐서에 대한 그래디언트")
    if ref_module is not None:
        s_grads = res.target.grads()
        for name, p in ref_module.named_parameters():
            if p.grad is not None:
                if s_grads.get(name) is None:
                    fail(f"매개변수 {name}에 그래디언트가 없습니다 (계산에 쓰이지 않았습니다).")
                assert_close(s_grads[name].double(), p.grad.double(), atol=atol, rtol=rtol, name=f"{name}의 그래디언트")
    return res


def _expect_value_error(call, label: str, hint: str) -> None:
    try:
        call()
    except RemoteError as err:
        if err.not_implemented:
            raise
        if err.etype != "ValueError":
            fail(f"{label}: ValueError가 나야 하는데 {err.etype}가 났습니다. {hint}")
        return
    fail(f"{label}: 오류 없이 값이 나왔습니다. ValueError를 내야 합니다. {hint}")


# --- 1.1 sinusoidal -------------------------------------------------------------------------------------
def _sin_tol(positions: torch.Tensor) -> float:
    # float32 phases lose about 1e-7 of |position| (different but correct formulas round differently)
    return 2e-5 + 4e-7 * float(positions.abs().max()) if positions.numel() else 1e-5


def _sinusoidal64(positions, d_model, base):
    # the float64 truth, returned as float32 like the contract
    i = torch.arange(d_model // 2, dtype=torch.float64)
    angles = positions.double()[:, None] * base ** (-2.0 * i / d_model)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(len(positions), d_model).float()


SIN_CASES = [
    (torch.arange(11), 8, 10000.0),
    (torch.tensor([0, 5, 100, 1023]), 6, 10000.0),      # d_model not a power of two, far positions
    (torch.arange(3, 40, 4), 12, 100.0),                  # another base, strided positions
    (torch.arange(7), 2, 10000.0),                        # one pair
    (torch.tensor([2.5, -3.0, 0.25]), 4, 10000.0),        # floating and negative positions
    (torch.arange(0), 4, 10000.0),                        # no position
]


@register("w07-pe-sinusoidal-test")
def sinusoidal(k, sinusoidal_encoding, SinusoidalPE) -> None:
    for positions, d, base in SIN_CASES:
        with case(f"sinusoidal_encoding(positions={_positions_text(positions)}, d_model={d}, base={base:g})"):
            _compare(k, sinusoidal_encoding, lambda p, d_, b: _sinusoidal64(p, d_, b), (positions, d, base),
                     atol=_sin_tol(positions), rtol=0.0, what="PE")
    with case("sinusoidal_encoding 끝부분: 가장 긴 파장의 짝"):
        pe = expect_tensor(sinusoidal_encoding.call(torch.tensor([0, 1]), 16), "PE")
        # the last pair has w = base^(-14/16): a wrong i or a concatenated layout shows here
        assert_close(pe.double(), _sinusoidal64(torch.tensor([0, 1]), 16, 10000.0).double(), atol=1e-6,
                     name="d_model=16의 PE (짝 i의 주파수 w_i = base^(-2i/d))")

    for d, base, shape, positions, dtype in [
        (10, 10000.0, (3, 6, 10), torch.arange(4, 10), torch.float32),   # shifted positions
        (6, 500.0, (1, 5, 6), torch.tensor([0, 2, 3, 7, 40]), torch.float32),
        (8, 10000.0, (2, 4, 8), torch.arange(4), torch.float64),         # float64 stays float64
    ]:
        label = (f"SinusoidalPE(d_model={d}, base={base:g}).embed(x {shape} {str(dtype).replace('torch.', '')}, "
                 f"positions={_positions_text(positions)})")
        with case(label):
            pe = SinusoidalPE(d, base=base)
            _no_params(pe, "SinusoidalPE")
            x = torch.randn(*shape, generator=generator(d + shape[0]), dtype=dtype)
            want = lambda x_, p_: x_ + _sinusoidal64(p_, d, base).to(x_.dtype)  # noqa: E731
            _compare(k, pe, want, (x, positions), method="embed", grad_args=(0,), seed=d, atol=_sin_tol(positions) + 1e-6,
                     rtol=1e-5)
    with case("SinusoidalPE(8).embed(x float16, positions 0…63)"):
        pe = SinusoidalPE(8)
        x = torch.randn(2, 64, 8, generator=generator(17)).half()
        _compare(k, pe, lambda x_, p_: (x_.float() + _sinusoidal64(p_, 8, 10000.0)).half(), (x, torch.arange(64)),
                 method="embed", atol=4e-3, rtol=2e-3)
    with case("SinusoidalPE의 qkv와 bias (아무것도 바꾸지 않음)"):
        pe = SinusoidalPE(4)
        q, kk, v = (torch.randn(1, 2, 3, 4, generator=generator(20 + i)) for i in range(3))
        out = pe.method("qkv", q, kk, v, torch.arange(3))
        assert_true(isinstance(out, (tuple, list)) and len(out) == 3 and all(
            isinstance(o, torch.Tensor) and torch.equal(o, w) for o, w in zip(out, (q, kk, v))),
            "SinusoidalPE.qkv는 q, k, v를 그대로 돌려줘야 합니다 (절대 위치 인코딩은 embed에서만 더합니다).")
        assert_true(pe.method("bias", torch.arange(3)) is None, "SinusoidalPE.bias는 None이어야 합니다.")


# --- 1.2 learned ----------------------------------------------------------------------------------------
@register("w07-pe-learned-test")
def learned(k, LearnedPE) -> None:
    for max_len, d, shape, positions in [
        (12, 5, (3, 6, 5), torch.arange(3, 9)),            # not starting at 0
        (7, 4, (2, 7, 4), torch.arange(7)),                # every row, the last one included
        (30, 3, (1, 4, 3), torch.tensor([29, 0, 11, 11])), # any order, repeated
    ]:
        with case(f"LearnedPE(max_len={max_len}, d_model={d}).embed(x {shape}, positions={_positions_text(positions)})"):
            pe = LearnedPE(max_len, d)
            assert_true(pe.getattr("max_len", None) == max_len,
                        f"max_len 속성은 {max_len}이어야 합니다 (받은 값: {pe.getattr('max_len', None)!r}).")
            reference = ref.LearnedPE(max_len, d)
            _load_params(pe, reference, seed=max_len)
            x = torch.randn(*shape, generator=generator(max_len + d))
            _compare(k, pe, reference.embed, (x, positions), method="embed", grad_args=(0,), seed=max_len,
                     params_of=pe, ref_module=reference)
    with case("LearnedPE(max_len=8, d_model=4).embed(x, positions 0…8): 위치 8은 없음"):
        pe = LearnedPE(8, 4)
        x = torch.randn(1, 9, 4, generator=generator(40))
        _expect_value_error(lambda: pe.method("embed", x, torch.arange(9)), "max_len 이상의 위치",
                            "학습된 임베딩에는 max_len 이상의 위치에 해당하는 벡터가 없습니다 (잘라 내거나 돌려쓰지 마세요).")
        _expect_value_error(lambda: pe.method("embed", x[:, :1], torch.tensor([20])), "위치 20 (max_len=8)",
                            "max_len보다 큰 위치도 ValueError여야 합니다.")


# --- 1.3 buckets ------------------------------------------------------------------------------------------
def _buckets64(rel, bidirectional, num_buckets, max_distance):
    """The reference buckets and, where the exact (real-number) value of the logarithmic formula is an
    integer, the other bucket that correct float32 code may land in."""
    n = rel.long()
    base = torch.zeros_like(n)
    nb = num_buckets
    if bidirectional:
        nb //= 2
        base = base + (n > 0).long() * nb
        n = n.abs()
    else:
        n = (-n).clamp(min=0)
    max_exact = nb // 2
    value = torch.log(n.double().clamp(min=1) / max_exact) / math.log(max_distance / max_exact) * (nb - max_exact)
    large = (max_exact + value.floor().long()).clamp(max=nb - 1)
    near = (value - value.round()).abs() < 1e-6                    # exactly on a boundary
    other = (max_exact + value.round().long() - 1).clamp(max=nb - 1)
    small = n < max_exact
    best = base + torch.where(small, n, large)
    alt = base + torch.where(small, n, torch.where(near, other, large))
    return best, alt


BUCKET_CASES = [
    (True, 32, 128), (False, 32, 128),   # T5's settings, both directions
    (True, 10, 30), (False, 12, 40),     # other counts and distances
    (True, 7, 20),                       # an odd count
    (False, 6, 9),
]


@register("w07-pe-bucket-test")
def bucket(k, relative_position_bucket) -> None:
    rel = torch.arange(-300, 301)
    for bidirectional, nb, md in BUCKET_CASES:
        label = (f"relative_position_bucket(-300…300, bidirectional={bidirectional}, num_buckets={nb}, "
                 f"max_distance={md})")
        with case(label):
            res = relative_position_bucket.invoke(rel, kwargs=dict(bidirectional=bidirectional, num_buckets=nb,
                                                                   max_distance=md), return_args=True)
            out = expect_tensor(res.value, "버킷")
            assert_shape(out, tuple(rel.shape), "버킷")
            assert_true(not out.dtype.is_floating_point and out.dtype != torch.bool,
                        f"버킷은 정수 텐서(int64)여야 합니다 (받은 dtype: {str(out.dtype).replace('torch.', '')}).")
            assert_true(torch.equal(res.args[0], rel), "relative_position이 바뀌었습니다: 입력을 제자리에서 바꾸지 마세요.")
            best, alt = _buckets64(rel, bidirectional, nb, md)
            out = out.long()
            wrong = ~((out == best) | (out == alt))
            if wrong.any():
                i = int(torch.nonzero(wrong)[0])
                lo, hi = int(out.min()), int(out.max())
                fail(f"상대 위치 {int(rel[i])}의 버킷이 {int(out[i])}입니다 (기대 {int(best[i])}). 틀린 위치 {int(wrong.sum())}/{len(rel)}개, "
                     f"받은 버킷 범위 {lo}…{hi} (기대 0…{nb - 1}). 방향(key − query의 부호), 정확 구간의 경계, 로그 구간의 내림과 상한을 확인하세요.")
    with case("relative_position_bucket((T, T) 행렬, 기본 설정), 모양 유지"):
        pos = torch.tensor([0, 3, 9, 40, 200, 201])
        rel2 = pos[None, :] - pos[:, None]
        out = expect_tensor(relative_position_bucket.call(rel2), "버킷")
        assert_shape(out, (6, 6), "버킷")
        best, alt = _buckets64(rel2, True, 32, 128)
        assert_true(bool(((out.long() == best) | (out.long() == alt)).all()),
                    "(T, T) 입력의 버킷이 기대값과 다릅니다 (기본값 bidirectional=True, num_buckets=32, max_distance=128).")


# --- 1.4 T5 bias ------------------------------------------------------------------------------------------
@register("w07-pe-t5-test")
def t5(k, T5RelativeBias) -> None:
    cases = [
        (3, dict(num_buckets=10, max_distance=20, bidirectional=False), torch.tensor([0, 2, 5, 9, 30, 31])),
        (2, dict(num_buckets=12, max_distance=16, bidirectional=True), torch.arange(9)),
        (4, {}, torch.arange(100, 140)),                      # defaults: 32 buckets, 128, causal
        (5, dict(num_buckets=8, max_distance=10, bidirectional=True), torch.tensor([7])),  # one position
    ]
    with k.oracles(relative_position_bucket=ref.relative_position_bucket):
        for i, (heads, kw, positions) in enumerate(cases):
            settings = ", ".join(f"{n}={v}" for n, v in kw.items()) or "기본 설정"
            with case(f"T5RelativeBias({heads}, {settings}).bias(positions={_positions_text(positions)})"):
                pe = T5RelativeBias(heads, **kw)
                reference = ref.T5RelativeBias(heads, **kw)
                _load_params(pe, reference, seed=60 + i)
                _compare(k, pe, reference.bias, (positions,), method="bias", seed=70 + i, params_of=pe,
                         ref_module=reference, atol=1e-6, what="bias")
        with case("T5RelativeBias(3)의 embed와 qkv (아무것도 바꾸지 않음)"):
            pe = T5RelativeBias(3)
            x = torch.randn(2, 4, 6, generator=generator(80))
            out = expect_tensor(pe.method("embed", x, torch.arange(4)), "embed 출력")
            assert_true(torch.equal(out, x), "T5RelativeBias.embed는 x를 그대로 돌려줘야 합니다 (상대 편향은 점수에만 더합니다).")
            q = torch.randn(1, 3, 4, 2, generator=generator(81))
            out = pe.method("qkv", q, q, q, torch.arange(4))
            assert_true(isinstance(out, (tuple, list)) and len(out) == 3 and all(
                isinstance(o, torch.Tensor) and torch.equal(o, q) for o in out),
                "T5RelativeBias.qkv는 q, k, v를 그대로 돌려줘야 합니다.")


# --- 1.5 RoPE ----------------------------------------------------------------------------------------------
def _rope64(x, positions, head_dim, base):
    i = torch.arange(head_dim // 2, dtype=torch.float64)
    angles = positions.double()[:, None] * base ** (-2.0 * i / head_dim)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., 0::2].double(), x[..., 1::2].double()
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


def _rope_tol(positions) -> float:
    return 2e-5 + 1.5e-6 * float(positions.abs().max())


@register("w07-pe-rope-test")
def rope(k, RotaryPE) -> None:
    with case("RotaryPE(8): 회전 뒤 q·k는 위치의 차이에만 달려 있어야 합니다"):
        pe = RotaryPE(8)
        _no_params(pe, "RotaryPE")
        q = torch.randn(1, 1, 5, 8, generator=generator(90), dtype=torch.float64)
        kk = torch.randn(1, 1, 5, 8, generator=generator(91), dtype=torch.float64)
        pos = torch.tensor([0, 1, 4, 9, 20])
        scores = []
        for shift in (0, 37):
            rq = expect_tensor(pe.method("rotate", q, pos + shift), "rotate(q)")
            rk = expect_tensor(pe.method("rotate", kk, pos + shift), "rotate(k)")
            assert_shape(rq, tuple(q.shape), "rotate(q)")
            scores.append(rq.double() @ rk.double().transpose(-1, -2))
        assert_close(scores[1], scores[0], atol=1e-6, rtol=1e-6,
                     name="모든 위치를 37만큼 옮긴 뒤의 점수 rotate(q, m)·rotate(k, n) (회전 방향과 각도가 q, k에 같아야 합니다)")
        norms = expect_tensor(pe.method("rotate", q, pos + 5), "rotate(q)").double().norm(dim=-1)
        assert_close(norms, q.norm(dim=-1), atol=1e-6, name="회전 뒤 벡터의 길이 (회전은 길이를 바꾸지 않습니다)")

    hint = "짝 (2i, 2i+1), 각도 위치·θ_i, θ_i = base^(-2i/head_dim), 회전 방향(독스트링의 식)을 확인하세요"
    for head_dim, base, shape, positions in [
        (8, 10000.0, (2, 3, 7, 8), torch.arange(7)),
        (6, 10000.0, (1, 2, 5, 6), torch.tensor([3, 10, 11, 40, 1000])),   # head_dim not a power of two, far positions
        (4, 100.0, (2, 1, 4, 4), torch.tensor([0, 1, 2, 3])),             # another base
        (2, 10000.0, (3, 6, 2), torch.arange(6)),                          # one pair, 3-d input
    ]:
        label = f"RotaryPE({head_dim}, base={base:g}).rotate(x {shape}, positions={_positions_text(positions)})"
        with case(label + f" — {hint}"):
            pe = RotaryPE(head_dim, base=base)
            x = torch.randn(*shape, generator=generator(head_dim * 10 + shape[0]))
            _compare(k, pe, lambda x_, p_: _rope64(x_, p_, head_dim, base).float(), (x, positions), method="rotate",
                     grad_args=(0,), seed=head_dim, atol=_rope_tol(positions), rtol=1e-5, what="rotate 출력")
    with case("RotaryPE(8).qkv(q, k, v, positions): q와 k만 회전하고 v는 그대로"):
        pe = RotaryPE(8)
        q, kk, v = (torch.randn(2, 2, 6, 8, generator=generator(100 + i)) for i in range(3))
        pos = torch.arange(2, 8)
        want = lambda q_, k_, v_, p_: (_rope64(q_, p_, 8, 1e4).float(), _rope64(k_, p_, 8, 1e4).float(), v_ * 1.0)  # noqa: E731
        _compare(k, pe, want, (q, kk, v, pos), method="qkv", grad_args=(0, 1, 2), seed=110, atol=1e-5, rtol=1e-5,
                 what="qkv 출력 (q, k, v)")
    with case("RotaryPE(8).rotate(x float64)"):
        pe = RotaryPE(8)
        x = torch.randn(1, 2, 5, 8, generator=generator(120), dtype=torch.float64)
        pos = torch.arange(5)
        _compare(k, pe, lambda x_, p_: _rope64(x_, p_, 8, 1e4), (x, pos), method="rotate", atol=1e-6, rtol=1e-6,
                 what="rotate 출력 (float64)")
    with case("RotaryPE(16).rotate(x float16, positions 0…199)"):
        pe = RotaryPE(16)
        x = torch.randn(1, 200, 16, generator=generator(121)).half()
        pos = torch.arange(200)
        _compare(k, pe, lambda x_, p_: _rope64(x_.float(), p_, 16, 1e4).half(), (x, pos), method="rotate",
                 atol=8e-3, rtol=4e-3, what="rotate 출력 (float16; 각도는 float32 이상으로 계산)")
    with case("RotaryPE(4)의 embed와 bias (아무것도 바꾸지 않음)"):
        pe = RotaryPE(4)
        x = torch.randn(2, 3, 4, generator=generator(130))
        out = expect_tensor(pe.method("embed", x, torch.arange(3)), "embed 출력")
        assert_true(torch.equal(out, x), "RotaryPE.embed는 x를 그대로 돌려줘야 합니다 (회전은 qkv에서만 합니다).")
        assert_true(pe.method("bias", torch.arange(3)) is None, "RotaryPE.bias는 None이어야 합니다.")


# --- 1.6 ALiBi ---------------------------------------------------------------------------------------------
@register("w07-pe-alibi-test")
def alibi(k, alibi_slopes, ALiBiBias) -> None:
    for heads in (1, 2, 4, 8, 16, 3, 5, 6, 12):
        with case(f"alibi_slopes({heads})"):
            out = expect_tensor(alibi_slopes.call(heads), "기울기(slopes)")
            assert_shape(out, (heads,), "기울기(slopes)")
            assert_true(out.dtype == torch.float32, f"기울기는 float32여야 합니다 (받은 dtype: {out.dtype}).")
            want = ref.alibi_slopes(heads)
            if not torch.allclose(out.double(), want.double(), rtol=1e-6, atol=0):
                order = "거꾸로" if torch.allclose(out.flip(0).double(), want.double(), rtol=1e-6) else "다름"
                fail(f"기울기가 기대값과 다릅니다 ({order}; 받은 앞의 값 {[round(v, 6) for v in out[:3].tolist()]}). "
                     + ("2의 거듭제곱이 아닌 헤드 수의 규칙(p개 + 2p개의 짝수 번째)을 확인하세요." if heads & (heads - 1)
                        else "m_h = 2^(-8h/n), h = 1…n 순서를 확인하세요."))
    for heads, positions in [(4, torch.arange(6)), (6, torch.tensor([0, 3, 4, 10])), (8, torch.arange(100, 105)),
                             (3, torch.tensor([5]))]:
        with case(f"ALiBiBias({heads}).bias(positions={_positions_text(positions)})"):
            pe = ALiBiBias(heads)
            _no_params(pe, "ALiBiBias")
            _compare(k, pe, ref.ALiBiBias(heads).bias, (positions,), method="bias", atol=1e-6, rtol=1e-6, what="bias")
    with case("ALiBiBias(2)의 embed와 qkv (아무것도 바꾸지 않음)"):
        pe = ALiBiBias(2)
        x = torch.randn(1, 3, 4, generator=generator(140))
        assert_true(torch.equal(expect_tensor(pe.method("embed", x, torch.arange(3)), "embed 출력"), x),
                    "ALiBiBias.embed는 x를 그대로 돌려줘야 합니다.")


# --- 1.7 per-position NLL -------------------------------------------------------------------------------
def _probe_lm(seed: int):
    torch.manual_seed(seed)
    model = probe_parts.ProbeLM(vocab_size=11, dim=6, dropout=0.5)
    g = generator(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


@register("w07-pe-nll-test")
def nll(k, per_position_nll) -> None:
    model = _probe_lm(150)
    student_model = k.make("ProbeLM", vocab_size=11, dim=6, dropout=0.5, state=model.state_dict())
    for n, t, batch in [(7, 9, 3), (5, 4, 64), (1, 1, 1), (6, 5, 2)]:
        windows = torch.randint(0, 11, (n, t + 1), generator=generator(160 + n))
        with case(f"per_position_nll(모델, windows ({n}, {t + 1}), batch_size={batch}), 학습 모드의 모델"):
            student_model.train(True)
            res = per_position_nll.invoke(student_model, windows, kwargs=dict(batch_size=batch), return_args=True)
            out = expect_tensor(res.value, "위치별 손실")
            assert_shape(out, (t,), "위치별 손실 (T,)")
            assert_true(out.dtype == torch.float32, f"위치별 손실은 float32여야 합니다 (받은 dtype: {out.dtype}).")
            assert_true(not meta(out)["requires_grad"], "그래디언트 없이(torch.no_grad) 계산해야 합니다 (requires_grad=True인 텐서가 나왔습니다).")
            assert_true(meta(out)["device"] == "cpu", "결과는 CPU 텐서여야 합니다.")
            want = ref.per_position_nll(model, windows, batch_size=batch)
            assert_close(out, want, atol=1e-5, rtol=1e-5,
                         name="위치별 손실 (다음 토큰 windows[:, t+1]의 -log p, 창 N개의 평균, 평가 모드)")
            assert_true(torch.equal(res.args[1], windows), "windows가 바뀌었습니다: 입력을 제자리에서 바꾸지 마세요.")
            assert_true(student_model.getattr("training") is True,
                        "per_position_nll이 끝난 뒤 모델이 원래의 학습 모드(train)로 돌아와야 합니다.")
    with case("per_position_nll(평가 모드의 모델)"):
        student_model.train(False)
        windows = torch.randint(0, 11, (3, 6), generator=generator(170))
        out = expect_tensor(per_position_nll.call(student_model, windows), "위치별 손실")
        assert_close(out, ref.per_position_nll(model, windows), atol=1e-5, rtol=1e-5, name="위치별 손실")
        assert_true(student_model.getattr("training") is False, "평가 모드였던 모델은 평가 모드로 남아야 합니다.")
