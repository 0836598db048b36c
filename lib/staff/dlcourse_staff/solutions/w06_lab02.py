"""Reference solutions for week06-labs/02_self_attention.ipynb (a practice lab).

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06-labs/02_self_attention.ipynb"


class MultiHeadAttention(nn.Module):
    """Multi-head attention: n_heads heads of scaled dot-product attention side by side, then Concat · W_O.

    Attributes (names are fixed): w_q, w_k, w_v, w_o = nn.Linear(d_model, d_model) each, n_heads.
    forward(x (B, T, d_model), context=None) → (out (B, T, d_model), weights (B, n_heads, T, S)):
        self-attention when context is None (queries, keys and values all from x, S = T);
        encoder–decoder attention when context (B, S, d_model) is given (queries from x, keys and
        values from context). Head i uses the columns [i·d_k, (i+1)·d_k) of the projections,
        d_k = d_model // n_heads, and divides its scores by √d_k.
    """

    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model({d_model})은 n_heads({n_heads})로 나누어떨어져야 합니다.")
        self.n_heads = n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, x, context=None):
        kv = x if context is None else context
        B, T, D = x.shape
        S, H = kv.shape[1], self.n_heads
        d_k = D // H
        q = self.w_q(x).view(B, T, H, d_k).transpose(1, 2)              # (B, H, T, d_k)
        k = self.w_k(kv).view(B, S, H, d_k).transpose(1, 2)             # (B, H, S, d_k)
        v = self.w_v(kv).view(B, S, H, d_k).transpose(1, 2)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)   # (B, H, T, S)
        heads = weights @ v                                              # (B, H, T, d_k)
        concat = heads.transpose(1, 2).reshape(B, T, D)                  # Concat(head_1, ..., head_h)
        return self.w_o(concat), weights


def layer_costs(n, d):
    """Cost of one layer over a sequence of n positions of width d (the comparison table above).

    Returns a dict of Python ints:
      "attention_flops": multiply–adds of Q·Kᵀ and weights·V, 2·n²·d (projections not counted);
      "rnn_flops": multiply–adds of the recurrence W_hh·h_{t−1} over n steps, n·d²;
      "attention_steps": sequential steps, 1 (all positions at once);
      "rnn_steps": n (step t waits for step t − 1);
      "attention_path": the longest path between two positions, 1;
      "rnn_path": n − 1 (from the first position to the last).
    """
    if n < 1 or d < 1:
        raise ValueError(f"n과 d는 1 이상이어야 합니다 (받은 값: n={n}, d={d}).")
    return {"attention_flops": 2 * n * n * d, "rnn_flops": n * d * d,
            "attention_steps": 1, "rnn_steps": n,
            "attention_path": 1, "rnn_path": n - 1}
