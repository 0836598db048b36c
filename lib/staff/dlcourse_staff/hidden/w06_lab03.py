"""Hidden checks of week06-labs/03_positional_encoding.ipynb (a practice lab: small autograded parts).

The encoding and the shift matrix are compared with the reference for sizes the visible checks do
not use (long sequences, wide and narrow models, negative and large shifts); the shift matrix must
also move the *reference* encoding, so it cannot lean on a wrong encoding of its own.
"""
from __future__ import annotations

import torch

from dlcourse.checks import assert_close, assert_shape, assert_true

from ..probe import RemoteError
from ..solutions import w06_lab03 as ref
from ._registry import register
from ._tools import case, expect_tensor, fail


def _rejects_odd(k, fn, label):
    with case(f"{label}: 홀수 d_model = 7"):
        try:
            fn.call(*((5, 7) if label.startswith("sinusoidal") else (2, 7)))
        except RemoteError as err:
            if err.not_implemented:
                raise
            if err.etype != "ValueError":
                fail(f"홀수 d_model에는 ValueError를 내야 합니다 (받은 오류: {err.etype}).")
            return
        fail("홀수 d_model에는 ValueError를 내야 합니다 (오류 없이 끝났습니다).")


@register("w06-lab3-sin-test")
def sinusoidal(k, sinusoidal_encoding) -> None:
    for n, d in ((1, 2), (7, 6), (50, 32), (300, 128), (4, 512)):
        with case(f"sinusoidal_encoding(n_positions={n}, d_model={d})"):
            got = expect_tensor(sinusoidal_encoding.call(n, d), "위치 인코딩")
            want = ref.sinusoidal_encoding(n, d)
            assert_shape(got, tuple(want.shape), "위치 인코딩")
            assert_true(got.dtype == torch.float32, f"float32여야 합니다 (받은 dtype: {got.dtype}).")
            assert_close(got, want, atol=2e-5, rtol=1e-4, name="위치 인코딩의 값 (짝수 열 sin, 홀수 열 cos, ω_i = 10000^(−2i/d))")
    _rejects_odd(k, sinusoidal_encoding, "sinusoidal_encoding")


@register("w06-lab3-shift-test")
def shift(k, shift_matrix) -> None:
    for step, d in ((1, 2), (4, 16), (-7, 10), (37, 64), (0, 6), (250, 32)):
        with case(f"shift_matrix(k={step}, d_model={d})"):
            got = expect_tensor(shift_matrix.call(step, d), "이동 행렬")
            want = ref.shift_matrix(step, d)
            assert_shape(got, (d, d), "이동 행렬")
            assert_true(got.dtype == torch.float32, f"float32여야 합니다 (받은 dtype: {got.dtype}).")
            pe = ref.sinusoidal_encoding(400, d)
            lo, hi = max(0, -step), min(400, 400 - step)
            assert_close(pe[lo:hi] @ got.T, pe[lo + step:hi + step], atol=1e-4,
                         name="PE[pos + k] = PE[pos] @ M_kᵀ (참고용 위치 인코딩으로)")
            assert_close(got, want, atol=1e-5, name="이동 행렬의 원소")
    _rejects_odd(k, shift_matrix, "shift_matrix")
