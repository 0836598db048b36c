"""Given pieces for the transformer notebooks: the course's mask convention and weight maps.

Masks are bool tensors, **True = may attend**: a padding mask ``(B, 1, T)`` (True at real tokens)
and a causal mask ``(T, T)`` (True on and below the diagonal), combined with ``&``.
:func:`mha_to_torch` and :func:`block_to_torch` copy a notebook's attention module or block into
the state_dict layout of PyTorch's own modules, so that visible checks can compare the two
(``w_q, w_k, w_v, w_o``; ``self_attn``, ``cross_attn``, ``ff``, ``norm1..3``).
"""
from __future__ import annotations

import torch

from .text import PAD_ID

__all__ = ["PAD_ID", "padding_mask", "causal_mask", "mha_to_torch", "block_to_torch"]


def padding_mask(ids, pad_id=PAD_ID):
    """(B, T) token ids → (B, 1, T) bool mask, True at real tokens (keys that may be attended to)."""
    return (ids != pad_id).unsqueeze(1)


def causal_mask(size, device=None):
    """(T, T) bool mask, True on and below the diagonal: position i may attend to every j ≤ i."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def mha_to_torch(m) -> dict:
    """The weights of a multi-head attention with ``w_q, w_k, w_v, w_o`` as a state_dict of
    ``nn.MultiheadAttention`` (in_proj = [w_q; w_k; w_v], out_proj = w_o)."""
    return {"in_proj_weight": torch.cat([m.w_q.weight, m.w_k.weight, m.w_v.weight]),
            "in_proj_bias": torch.cat([m.w_q.bias, m.w_k.bias, m.w_v.bias]),
            "out_proj.weight": m.w_o.weight, "out_proj.bias": m.w_o.bias}


def block_to_torch(block) -> dict:
    """An encoder/decoder block (``self_attn``, optional ``cross_attn``, ``ff`` = Linear, ReLU,
    Dropout, Linear, ``norm1..3``) as a state_dict of ``nn.TransformerEncoderLayer`` /
    ``nn.TransformerDecoderLayer``."""
    sd = {f"self_attn.{k}": v for k, v in mha_to_torch(block.self_attn).items()}
    if hasattr(block, "cross_attn"):
        sd.update({f"multihead_attn.{k}": v for k, v in mha_to_torch(block.cross_attn).items()})
    sd.update({"linear1.weight": block.ff[0].weight, "linear1.bias": block.ff[0].bias,
               "linear2.weight": block.ff[3].weight, "linear2.bias": block.ff[3].bias})
    for i in (1, 2, 3):
        norm = getattr(block, f"norm{i}", None)
        if norm is not None:
            sd.update({f"norm{i}.weight": norm.weight, f"norm{i}.bias": norm.bias})
    return sd
