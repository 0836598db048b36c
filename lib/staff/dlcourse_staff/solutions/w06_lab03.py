"""Reference solutions for week06-labs/03_positional_encoding.ipynb (a practice lab).

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06-labs/03_positional_encoding.ipynb"


def sinusoidal_encoding(n_positions, d_model):
    """The sinusoidal positional encoding of Vaswani et al. (2017), an (n_positions, d_model) float32 tensor.

    Row pos (0, 1, …), column 2i: sin(pos · ω_i); column 2i + 1: cos(pos · ω_i), with ω_i = 10000^(−2i / d_model).
    d_model must be even.
    """
    if d_model % 2 != 0:
        raise ValueError(f"d_model은 짝수여야 합니다 (받은 값: {d_model}).")
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]                 # (n, 1)
    omega = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)   # (d/2,): 2i/d for i = 0, 1, ...
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * omega)
    pe[:, 1::2] = torch.cos(pos * omega)
    return pe.float()


def shift_matrix(k, d_model):
    """The (d_model, d_model) float32 matrix M_k with PE(pos + k) = M_k · PE(pos) for every pos
    (sinusoidal_encoding's PE as column vectors; as rows: PE[pos + k] = PE[pos] @ M_k.T).

    Block diagonal: for each pair (2i, 2i + 1), with a = ω_i · k, the rotation [[cos a, sin a], [−sin a, cos a]].
    k may be negative (a shift back).
    """
    if d_model % 2 != 0:
        raise ValueError(f"d_model은 짝수여야 합니다 (받은 값: {d_model}).")
    omega = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    blocks = []
    for a in (omega * k).tolist():
        blocks.append(torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64))
    return torch.block_diag(*blocks).float()
