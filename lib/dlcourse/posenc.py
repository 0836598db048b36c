"""The position-encoding interface of week07/positional_encoding_comparison.ipynb.

The notebook's small transformer asks one module where the tokens are; every encoding of the
notebook (sinusoidal, learned absolute, T5 bias, RoPE, ALiBi) subclasses :class:`PositionEncoding`
and overrides only the hooks it needs. The base class itself adds nothing: a transformer built with
it has no position information at all (the "NoPE" baseline).
"""
from __future__ import annotations

from torch import nn

__all__ = ["PositionEncoding"]


class PositionEncoding(nn.Module):
    """How position enters the transformer. This base class adds nothing (no position information, NoPE).

    The transformer calls three hooks; an encoding overrides the ones it needs:
        embed(x, positions)      x (B, T, D) token embeddings -> (B, T, D)        absolute encodings add here
        qkv(q, k, v, positions)  each (B, H, T, Dh) -> (q, k, v), in every layer  RoPE rotates q and k here
        bias(positions)          -> (H, T, T) added to every layer's scores, or None    T5 bias, ALiBi
    positions: (T,) long tensor, the positions of the T tokens.
    max_len: 1 + the largest position the encoding can represent (None: no limit).
    """

    max_len = None

    def embed(self, x, positions):
        return x

    def qkv(self, q, k, v, positions):
        return q, k, v

    def bias(self, positions):
        return None
