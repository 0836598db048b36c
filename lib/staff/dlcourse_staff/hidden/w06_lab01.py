"""Hidden checks of week06-labs/01_attention_basics.ipynb (a practice lab: small autograded parts).

Both functions are compared with the reference on seeded inputs whose sizes differ from the visible
checks: outputs and the gradients of a weighted sum with respect to every input.
"""
from __future__ import annotations

import math

import torch

from dlcourse.checks import assert_close, assert_true

from ..solutions import w06_lab01 as ref
from ._registry import register
from ._tools import case, compare_call, expect_tensor, generator


def _randn(*shape, seed, scale=1.0):
    return (torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * scale).float()


@register("w06-lab1-sdpa-test")
def sdpa(k, scaled_dot_product_attention) -> None:
    shapes = [((3, 7), (5, 7), (5, 2)), ((2, 4, 3, 16), (2, 4, 6, 16), (2, 4, 6, 5)), ((1, 1), (4, 1), (4, 3))]
    for i, (sq, sk, sv) in enumerate(shapes):
        q, kk, v = _randn(*sq, seed=600 + i, scale=2.0), _randn(*sk, seed=610 + i, scale=2.0), _randn(*sv, seed=620 + i)
        for scale in (True, False):
            with case(f"scaled_dot_product_attention(q {sq}, k {sk}, v {sv}, scale={scale})"):
                compare_call(k, scaled_dot_product_attention, ref.scaled_dot_product_attention, (q, kk, v),
                             kwargs=dict(scale=scale), seed=630 + i, names=["q", "k", "v"], atol=1e-4)
    with case("큰 d_k (256)의 점수: 나누는 수는 √d_k"):
        q, kk, v = _randn(2, 3, 256, seed=640), _randn(2, 4, 256, seed=641), _randn(2, 4, 3, seed=642)
        got = scaled_dot_product_attention.call(q, kk, v)
        want = ref.scaled_dot_product_attention(q, kk, v)
        assert_true(isinstance(got, (tuple, list)) and len(got) == 2, "(output, weights) 두 값을 돌려줘야 합니다.")
        assert_close(expect_tensor(got[1], "weights"), want[1], atol=1e-5, name="d_k = 256의 가중치")


@register("w06-lab1-entropy-test")
def entropy(k, softmax_entropy) -> None:
    logits = _randn(3, 4, 9, seed=650, scale=2.0)
    p = torch.softmax(logits, dim=-1)
    with case("softmax_entropy(softmax(logits (3, 4, 9)))"):
        compare_call(k, softmax_entropy, ref.softmax_entropy, (p,), seed=651, names=["weights"])
    with case("0이 섞인 분포 (원-핫, 두 점, 균등 7개)"):
        q = torch.zeros(3, 7)
        q[0, 5] = 1.0
        q[1, :2] = 0.5
        q[2] = 1 / 7
        got = expect_tensor(softmax_entropy.call(q), "엔트로피")
        assert_true(bool(torch.isfinite(got).all()), "0이 있는 행에서 nan/inf가 나왔습니다: 0·ln 0 = 0으로 두세요.")
        assert_close(got, torch.tensor([0.0, math.log(2), math.log(7)]), atol=1e-5, name="엔트로피 (내트, 자연로그)")
