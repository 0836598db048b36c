"""Reference solutions for week06-labs/05_sequence_modeling.ipynb (a practice lab).

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06-labs/05_sequence_modeling.ipynb"


def sine_windows(amplitude, frequency, phase, length):
    """Windows of sine waves y(t) = A · sin(f · t + φ), one per row.

    amplitude, frequency, phase: (N,) tensors. Returns (x, y): x (N, length) with x[:, t] = y(t)
    for t = 0, …, length − 1, and the next value y (N,) = y(length). Same dtype as the inputs.
    """
    t = torch.arange(length + 1, dtype=amplitude.dtype)                   # 0, ..., length
    values = amplitude[:, None] * torch.sin(frequency[:, None] * t + phase[:, None])
    return values[:, :length], values[:, length]


def welch_t_test(a, b):
    """Welch's t statistic and the Welch–Satterthwaite degrees of freedom of two samples.

    a, b: 1-D tensors with at least two values each. Sample variances divide by n − 1.
    Returns (t, dof) as Python floats; t > 0 when mean(a) > mean(b).
    """
    if a.numel() < 2 or b.numel() < 2:
        raise ValueError(f"표본마다 값이 2개 이상 필요합니다 (받은 개수: {a.numel()}, {b.numel()}).")
    a, b = a.double(), b.double()
    va, vb = a.var(unbiased=True) / a.numel(), b.var(unbiased=True) / b.numel()
    t = (a.mean() - b.mean()) / torch.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a.numel() - 1) + vb ** 2 / (b.numel() - 1))
    return t.item(), dof.item()


def last_query_attention(weights, per_head=False):
    """Attention that the last query (the position that makes the prediction) gives each key.

    weights: (B, H, T, T) attention weights (query axis −2, key axis −1). Returns the last query's
    row averaged over the batch and the heads, (T,), or over the batch only when per_head, (H, T).
    """
    last = weights[:, :, -1, :]                         # (B, H, T): the last query's row
    return last.mean(dim=0) if per_head else last.mean(dim=(0, 1))
