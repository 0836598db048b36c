"""Reference solutions for week06-labs/04_transformer_block.ipynb (a practice lab).

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06-labs/04_transformer_block.ipynb"


class TransformerBlock(nn.Module):
    """A transformer encoder block: multi-head self-attention and a GELU feed-forward network, each
    with a residual connection and a LayerNorm.

    Attributes (names are fixed): attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True);
    ln1, ln2 = nn.LayerNorm(d_model); ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(),
    nn.Linear(d_ff, d_model)) with d_ff = 4 · d_model unless given; norm_first.
    forward(x (B, T, d_model)) → (B, T, d_model):
        post-norm (norm_first=False): x = ln1(x + attn(x)); y = ln2(x + ff(x))
        pre-norm  (norm_first=True):  x = x + attn(ln1(x)); y = x + ff(ln2(x))
    """

    def __init__(self, d_model, n_heads, d_ff=None, norm_first=False):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_first = norm_first
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x):
        if self.norm_first:
            h = self.ln1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            return x + self.ff(self.ln2(x))
        x = self.ln1(x + self.attn(x, x, x, need_weights=False)[0])
        return self.ln2(x + self.ff(x))


def label_smoothing_targets(labels, n_classes, eps):
    """Soft targets for label smoothing, (N, n_classes) float32: (1 − eps) · one_hot(labels) + eps / n_classes.

    The true class gets 1 − eps + eps / C, every other class eps / C; each row sums to 1
    (the convention of F.cross_entropy(..., label_smoothing=eps)). labels: (N,) int64.
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps는 0과 1 사이여야 합니다 (받은 값: {eps}).")
    one_hot = F.one_hot(labels, n_classes).float()
    return (1.0 - eps) * one_hot + eps / n_classes
