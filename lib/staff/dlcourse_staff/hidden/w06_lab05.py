"""Hidden checks of week06-labs/05_sequence_modeling.ipynb (a practice lab: small autograded parts).

The windows are compared with the reference (values, gradients with respect to A, f, φ, float64
kept); Welch's statistic with the reference for samples of unequal sizes and spreads; the last
query's attention for shapes the visible check does not use.
"""
from __future__ import annotations

import math

import torch

from dlcourse.checks import assert_true

from ..solutions import w06_lab05 as ref
from ._registry import register
from ._tools import case, compare_call, expect_float, expect_tensor, fail, generator


@register("w06-lab5-windows-test")
def windows(k, sine_windows) -> None:
    for n, length, seed in ((7, 20, 900), (3, 5, 901), (1, 1, 902)):
        g = generator(seed)
        A = 0.5 + torch.rand(n, generator=g)
        f = 0.1 + 0.5 * torch.rand(n, generator=g)
        phi = 2 * math.pi * torch.rand(n, generator=g)
        with case(f"sine_windows(A, f, φ of {n} sequences, length={length})"):
            compare_call(k, sine_windows, ref.sine_windows, (A, f, phi, length), seed=seed + 10,
                         names=["amplitude", "frequency", "phase", "length"])
    with case("float64 입력"):
        A, f, phi = (torch.tensor([1.3, 0.7], dtype=torch.float64), torch.tensor([0.2, 0.55], dtype=torch.float64),
                     torch.tensor([0.4, 5.0], dtype=torch.float64))
        got = sine_windows.call(A, f, phi, 30)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail("(x, y) 두 텐서를 돌려줘야 합니다.")
        x = expect_tensor(got[0], "x")
        assert_true(x.dtype == torch.float64, f"입력과 같은 dtype이어야 합니다 (받은 dtype: {x.dtype}).")
        want = ref.sine_windows(A, f, phi, 30)
        assert_true(torch.allclose(x, want[0], atol=1e-10) and torch.allclose(expect_tensor(got[1], "y"), want[1], atol=1e-10),
                    "float64 입력의 값이 다릅니다.")


@register("w06-lab5-welch-test")
def welch(k, welch_t_test) -> None:
    g = generator(910)
    samples = [(0.03 + 0.01 * torch.randn(5, generator=g), 0.02 + 0.004 * torch.randn(9, generator=g)),
               (torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.5, 3.5, 0.5])),
               (5.0 + torch.randn(30, generator=g), 4.0 + 3.0 * torch.randn(3, generator=g))]
    for a, b in samples:
        with case(f"welch_t_test(표본 {a.numel()}개, 표본 {b.numel()}개)"):
            got = welch_t_test.call(a, b)
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                fail("(t, dof) 두 값을 돌려줘야 합니다.")
            t, dof = expect_float(got[0], "t"), expect_float(got[1], "자유도")
            want_t, want_dof = ref.welch_t_test(a, b)
            assert_true(math.isclose(t, want_t, rel_tol=1e-5, abs_tol=1e-7), f"t = {t:.6g}가 기대값과 다릅니다 (부호: 평균 a − 평균 b).")
            assert_true(math.isclose(dof, want_dof, rel_tol=1e-5), f"자유도 {dof:.6g}가 기대값과 다릅니다 (웰치–새터스웨이트 식, n − 1로 나눈 분산).")
    with case("표본 순서를 바꾸면 t의 부호만 바뀜"):
        a, b = samples[0]
        t_ab, _ = welch_t_test.call(a, b)
        t_ba, _ = welch_t_test.call(b, a)
        assert_true(math.isclose(expect_float(t_ab, "t"), -expect_float(t_ba, "t"), rel_tol=1e-6), "welch_t_test(a, b) = −welch_t_test(b, a)여야 합니다.")


@register("w06-lab5-importance-test")
def importance(k, last_query_attention) -> None:
    for B, H, T, seed in ((4, 3, 6, 920), (1, 1, 2, 921), (2, 8, 9, 922)):
        w = torch.softmax(torch.randn(B, H, T, T, generator=generator(seed)) * 2, dim=-1)
        # rows that do not sum to the same pattern: make the last query differ clearly from the others
        for per_head in (False, True):
            with case(f"last_query_attention(weights {(B, H, T, T)}, per_head={per_head})"):
                compare_call(k, last_query_attention, ref.last_query_attention, (w,), kwargs=dict(per_head=per_head),
                             seed=seed + 5, names=["weights"])
    with case("쿼리 축과 키 축: 가중치가 대칭이 아닌 입력"):
        w = torch.zeros(1, 1, 3, 3)
        w[0, 0, :, 0] = 1.0                      # every query looks at key 0
        got = expect_tensor(last_query_attention.call(w), "가중치")
        assert_true(torch.allclose(got, torch.tensor([1.0, 0.0, 0.0])), "마지막 쿼리의 **행**(weights[..., -1, :])을 평균하세요.")
