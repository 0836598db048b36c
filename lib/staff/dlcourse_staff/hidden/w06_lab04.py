"""Hidden checks of week06-labs/04_transformer_block.ipynb (a practice lab: small autograded parts).

The block is compared with the reference after a weight transplant (outputs, input and parameter
gradients, train and eval mode) in both orders, post-norm and pre-norm; the label-smoothing targets
are compared value by value for several C and ε.
"""
from __future__ import annotations

import torch

from dlcourse.checks import assert_close, assert_shape, assert_true

from ..solutions import w06_lab04 as ref
from ._registry import register
from ._tools import case, compare_module, expect_tensor, generator


def _randn(*shape, seed, loc=0.0, scale=1.0):
    return (loc + scale * torch.randn(*shape, generator=generator(seed), dtype=torch.float64)).float()


@register("w06-lab4-block-test")
def block(k, TransformerBlock) -> None:
    configs = ((12, 3, None, 2, 5), (8, 1, 20, 1, 4), (16, 4, None, 3, 6))
    for norm_first in (False, True):
        for i, (D, H, d_ff, B, T) in enumerate(configs):
            with case(f"TransformerBlock({D}, {H}, d_ff={d_ff}, norm_first={norm_first}), x {(B, T, D)}"):
                compare_module(k, TransformerBlock(D, H, d_ff, norm_first), ref.TransformerBlock(D, H, d_ff, norm_first),
                               (_randn(B, T, D, seed=800 + i, loc=1.0, scale=2.0),), seed=810 + i + 10 * norm_first)


@register("w06-lab4-smooth-test")
def smooth(k, label_smoothing_targets) -> None:
    for n, C, eps in ((6, 4, 0.1), (5, 10, 0.3), (3, 2, 0.0), (4, 7, 1.0)):
        labels = torch.randint(0, C, (n,), generator=generator(820 + C))
        with case(f"label_smoothing_targets(labels ({n},), n_classes={C}, eps={eps})"):
            got = expect_tensor(label_smoothing_targets.call(labels, C, eps), "목표 분포")
            want = ref.label_smoothing_targets(labels, C, eps)
            assert_shape(got, (n, C), "목표 분포")
            assert_true(got.dtype == torch.float32, f"float32여야 합니다 (받은 dtype: {got.dtype}).")
            assert_close(got.sum(-1), torch.ones(n), atol=1e-6, name="행의 합 (확률 분포)")
            assert_close(got, want, atol=1e-6, name="목표 값 (정답 1 − ε + ε/C, 나머지 ε/C)")
