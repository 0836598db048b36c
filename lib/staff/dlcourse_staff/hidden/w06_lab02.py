"""Hidden checks of week06-labs/02_self_attention.ipynb (a practice lab: small autograded parts).

The multi-head attention is compared with the reference after a weight transplant (outputs, head
weights, gradients, train and eval mode), as self-attention and as encoder–decoder attention; the
cost table is compared entry by entry.
"""
from __future__ import annotations

import torch

from dlcourse.checks import assert_true

from ..solutions import w06_lab02 as ref
from ._registry import register
from ._tools import case, compare_module, fail, generator


def _randn(*shape, seed):
    return torch.randn(*shape, generator=generator(seed), dtype=torch.float64).float()


@register("w06-lab2-mha-test")
def mha(k, MultiHeadAttention) -> None:
    for i, (D, H, B, T) in enumerate(((12, 3, 2, 5), (8, 1, 1, 4), (16, 8, 3, 6))):
        with case(f"MultiHeadAttention({D}, {H}), 셀프 어텐션, x {(B, T, D)}"):
            compare_module(k, MultiHeadAttention(D, H), ref.MultiHeadAttention(D, H), (_randn(B, T, D, seed=700 + i),),
                           seed=710 + i)
    for i, (D, H, B, T, S) in enumerate(((12, 3, 2, 4, 7), (8, 2, 1, 6, 3))):
        with case(f"MultiHeadAttention({D}, {H}), 인코더–디코더 어텐션, x {(B, T, D)}, context {(B, S, D)}"):
            compare_module(k, MultiHeadAttention(D, H), ref.MultiHeadAttention(D, H),
                           (_randn(B, T, D, seed=720 + i), _randn(B, S, D, seed=725 + i)), seed=730 + i)


KEYS = ("attention_flops", "rnn_flops", "attention_steps", "rnn_steps", "attention_path", "rnn_path")


@register("w06-lab2-costs-test")
def costs(k, layer_costs) -> None:
    for n, d in ((1, 1), (7, 3), (128, 64), (1000, 512), (3, 300)):
        with case(f"layer_costs(n={n}, d={d})"):
            got = layer_costs.call(n, d)
            if not isinstance(got, dict):
                fail(f"dict를 돌려줘야 합니다 (받은 타입: {type(got).__name__}).")
            assert_true(set(got) == set(KEYS), f"키가 다릅니다 (받은 키: {sorted(got)[:8]}).")
            want = ref.layer_costs(n, d)
            for key in KEYS:
                assert_true(type(got[key]) is int, f"{key}는 파이썬 int여야 합니다 (받은 타입: {type(got[key]).__name__}).")
                assert_true(got[key] == want[key], f"{key}가 다릅니다: 받은 값 {got[key]}, 독스트링의 정의를 확인하세요.")
