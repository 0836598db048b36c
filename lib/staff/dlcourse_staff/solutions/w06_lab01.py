"""Reference solutions for week06-labs/01_attention_basics.ipynb (a practice lab).

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06-labs/01_attention_basics.ipynb"


def scaled_dot_product_attention(q, k, v, scale=True):
    """Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k) · V over the last two axes, step by step.

    q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v), with the same leading axes.
    scale=False leaves out the division by √d_k (to see what it does).
    Returns (output (..., n_q, d_v), weights (..., n_q, n_k)); each row of the weights sums to 1.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q와 k의 마지막 차원(d_k)이 같아야 합니다 (q {tuple(q.shape)}, k {tuple(k.shape)}).")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k와 v의 위치 수(n_k)가 같아야 합니다 (k {tuple(k.shape)}, v {tuple(v.shape)}).")
    scores = q @ k.transpose(-2, -1)                    # step 1: (..., n_q, n_k) dot products
    if scale:
        scores = scores / math.sqrt(q.shape[-1])        # step 2: variance d_k -> 1
    weights = torch.softmax(scores, dim=-1)             # step 3: over the keys, each row sums to 1
    return weights @ v, weights                         # step 4: weighted average of the values


def softmax_entropy(weights):
    """Shannon entropy in nats of each distribution along the last axis: H = −Σ p·ln p, with 0·ln 0 = 0.

    weights (..., n) → (...). A uniform row gives ln n, a one-hot row gives 0 (not nan).
    """
    terms = torch.where(weights > 0, weights * torch.log(weights.clamp_min(1e-30)), torch.zeros_like(weights))
    return -terms.sum(dim=-1)
