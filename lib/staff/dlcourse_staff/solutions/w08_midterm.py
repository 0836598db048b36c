"""Reference solutions for week08/midterm_transformer.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal). The masks come from
:mod:`dlcourse.transformer`, as in the notebook.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from dlcourse.transformer import PAD_ID, causal_mask, padding_mask

NOTEBOOK = "week08/midterm_transformer.ipynb"

def scaled_dot_product_attention(q, k, v, mask=None, dropout_p=0.0):
    """Scaled dot-product attention softmax(q kᵀ / √d) v with an optional boolean mask.

    Inputs:
        q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv): any leading dimensions (batch, heads).
        mask: None or a bool tensor broadcastable to (..., Tq, Tk); True = the query may attend to
            that key. A query row with no allowed key gets all-zero weights and a zero output.
        dropout_p: probability of dropping each attention weight before the weighted sum
            (inverted dropout: kept weights are scaled by 1 / (1 - p)); 0.0 = no dropout.
    Returns:
        out (..., Tq, dv) and weights (..., Tq, Tk) (before dropout), in q's dtype.
    Numerically stable for very large scores.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])   # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                      # subtracts the row max: stable
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)                # rows with no key: NaN -> 0
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017, §3.2.2) built on scaled_dot_product_attention.

    Attributes (names are fixed: the grader copies weights by name):
        w_q, w_k, w_v, w_o: nn.Linear(d_model, d_model) with bias; n_heads (int); dropout (float,
        the attention-weight dropout probability).
    forward(query (B, Tq, D), key (B, Tk, D), value (B, Tk, D), mask=None):
        mask: None or bool broadcastable to (B, Tq, Tk), True = may attend; the same for every head.
        All heads go through one call of scaled_dot_product_attention (no Python loop over heads),
        with dropout_p = self.dropout in training mode and 0.0 in evaluation mode.
    Returns: out (B, Tq, D) and the attention weights (B, n_heads, Tq, Tk).
    Equal to nn.MultiheadAttention(D, n_heads, batch_first=True) given the same weights
    (in_proj = [w_q; w_k; w_v], out_proj = w_o) and attn_mask = ~mask.
    """

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model({d_model})은 n_heads({n_heads})로 나누어떨어져야 합니다.")
        self.n_heads, self.dropout = n_heads, dropout
        self.d_head = d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        B, Tq, D = query.shape
        Tk = key.shape[1]
        # (B, T, D) -> (B, H, T, d_head): each head sees its own slice of the projected features
        q = self.w_q(query).view(B, Tq, self.n_heads, self.d_head).transpose(1, 2)
        k = self.w_k(key).view(B, Tk, self.n_heads, self.d_head).transpose(1, 2)
        v = self.w_v(value).view(B, Tk, self.n_heads, self.d_head).transpose(1, 2)
        if mask is not None:
            mask = mask.unsqueeze(-3)                                # (B, 1, Tq, Tk): same for all heads
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(q, k, v, mask, p)  # (B, H, Tq, d_head)
        out = out.transpose(1, 2).reshape(B, Tq, D)                  # concatenate the heads
        return self.w_o(out), weights


class PositionalEncoding(nn.Module):
    """Sinusoidal positional encoding (Vaswani et al., 2017, §3.5), added to x, then dropout.

        pe[pos, 2i] = sin(pos / 10000^(2i / d_model)),   pe[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

    Attributes: pe, a (max_len, d_model) float32 buffer registered with persistent=False (it is
    computed, not learned); dropout = nn.Dropout(dropout); max_len.
    forward(x (B, T, D)) with T ≤ max_len → dropout(x + pe[:T]), in x's dtype.
    """

    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        if d_model % 2 != 0:
            raise ValueError(f"d_model은 짝수여야 합니다 (받은 값: {d_model}).")
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)            # (L, 1)
        inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * inv_freq)                                   # even features
        pe[:, 1::2] = torch.cos(pos * inv_freq)                                   # odd features
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"시퀀스 길이 {x.shape[1]}이(가) max_len={self.max_len}보다 깁니다.")
        return self.dropout(x + self.pe[: x.shape[1]].to(x.dtype))


class EncoderBlock(nn.Module):
    """One encoder layer: self-attention and a position-wise feed-forward network, each wrapped
    in dropout, a residual connection and LayerNorm.

    Attributes (names are fixed):
        self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        norm1, norm2 = nn.LayerNorm(d_model); dropout1, dropout2 = nn.Dropout(dropout); norm_first (bool)
        attn_weights: the self-attention weights (B, H, T, T) of the last forward, detached.
    forward(x (B, T, D), mask=None) → (B, T, D); mask as in MultiHeadAttention (e.g. (B, 1, T)).
        post-norm (norm_first=False):  x = norm1(x + dropout1(SA(x)));  x = norm2(x + dropout2(ff(x)))
        pre-norm  (norm_first=True):   x = x + dropout1(SA(norm1(x)));  x = x + dropout2(ff(norm2(x)))
    Equal to nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True,
    norm_first=norm_first) given the same weights.
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.attn_weights = None

    def forward(self, x, mask=None):
        def attend(h):
            out, weights = self.self_attn(h, h, h, mask)
            self.attn_weights = weights.detach()
            return self.dropout1(out)

        if self.norm_first:
            x = x + attend(self.norm1(x))
            return x + self.dropout2(self.ff(self.norm2(x)))
        x = self.norm1(x + attend(x))
        return self.norm2(x + self.dropout2(self.ff(x)))


class DecoderBlock(nn.Module):
    """One decoder layer: masked self-attention, cross-attention to the encoder's output
    (the memory) and a feed-forward network, each with dropout, a residual connection and LayerNorm.

    Attributes (names are fixed):
        self_attn, cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        norm1, norm2, norm3 = nn.LayerNorm(d_model); dropout1, dropout2, dropout3 = nn.Dropout(dropout)
        norm_first (bool); self_attn_weights (B, H, T, T) and cross_attn_weights (B, H, T, S) of the
        last forward, detached.
    forward(x (B, T, D), memory (B, S, D), tgt_mask=None, memory_mask=None) → (B, T, D)
        post-norm: x = norm1(x + d1(SA(x, x, x, tgt_mask)));  x = norm2(x + d2(CA(x, memory, memory, memory_mask)))
                   x = norm3(x + d3(ff(x)))
        pre-norm:  the same with x + d(sublayer(norm(x))); the memory itself is not normalised.
    Equal to nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True,
    norm_first=norm_first) given the same weights.
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.self_attn_weights = self.cross_attn_weights = None

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        def self_block(h):
            out, weights = self.self_attn(h, h, h, tgt_mask)
            self.self_attn_weights = weights.detach()
            return self.dropout1(out)

        def cross_block(h):
            out, weights = self.cross_attn(h, memory, memory, memory_mask)   # queries from the decoder
            self.cross_attn_weights = weights.detach()
            return self.dropout2(out)

        if self.norm_first:
            x = x + self_block(self.norm1(x))
            x = x + cross_block(self.norm2(x))
            return x + self.dropout3(self.ff(self.norm3(x)))
        x = self.norm1(x + self_block(x))
        x = self.norm2(x + cross_block(x))
        return self.norm3(x + self.dropout3(self.ff(x)))


class Transformer(nn.Module):
    """Encoder–decoder transformer: source ids and shifted target ids in, next-token logits out.

    Attributes (names are fixed):
        src_embed = nn.Embedding(src_vocab, d_model, padding_idx=pad_id); tgt_embed likewise (tgt_vocab)
        pos = PositionalEncoding(d_model, max_len, dropout): one module for both sides
        encoder = nn.ModuleList of n_layers EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first)
        decoder = nn.ModuleList of n_layers DecoderBlock(d_model, n_heads, d_ff, dropout, norm_first)
        enc_norm, dec_norm = nn.LayerNorm(d_model), after the last block of each stack (as nn.Transformer)
        generator = nn.Linear(d_model, tgt_vocab); pad_id; d_model
    Methods:
        encode(src (B, S)) → memory (B, S, D), src_mask (B, 1, S) = padding_mask(src, pad_id):
            x = pos(src_embed(src) · √d_model), every encoder block with src_mask, then enc_norm.
        decode(tgt_in (B, T), memory, src_mask) → logits (B, T, tgt_vocab):
            y = pos(tgt_embed(tgt_in) · √d_model), every decoder block with
            tgt_mask = causal_mask(T) & padding_mask(tgt_in, pad_id) and memory_mask = src_mask,
            then dec_norm and generator.
        forward(src, tgt_in) = decode(tgt_in, *encode(src)).
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=128, n_heads=4, d_ff=256, n_layers=2, dropout=0.1,
                 max_len=256, norm_first=False, pad_id=PAD_ID):
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        self.encoder = nn.ModuleList(
            [EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])
        self.decoder = nn.ModuleList(
            [DecoderBlock(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])
        self.enc_norm, self.dec_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.generator = nn.Linear(d_model, tgt_vocab)

    def encode(self, src):
        src_mask = padding_mask(src, self.pad_id)                     # (B, 1, S)
        x = self.pos(self.src_embed(src) * math.sqrt(self.d_model))
        for block in self.encoder:
            x = block(x, src_mask)
        return self.enc_norm(x), src_mask

    def decode(self, tgt_in, memory, src_mask):
        T = tgt_in.shape[1]
        tgt_mask = causal_mask(T, tgt_in.device) & padding_mask(tgt_in, self.pad_id)   # (B, T, T)
        y = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))
        for block in self.decoder:
            y = block(y, memory, tgt_mask, src_mask)
        return self.generator(self.dec_norm(y))

    def forward(self, src, tgt_in):
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)


class TransformerClassifier(nn.Module):
    """Encoder-only classifier built from the same blocks: embeddings → encoder blocks → mean over
    the real tokens → linear head.

    Attributes (names are fixed):
        embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id); pos = PositionalEncoding(d_model, max_len, dropout)
        blocks = nn.ModuleList of n_layers EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first)
        norm = nn.LayerNorm(d_model); head = nn.Linear(d_model, n_classes); pad_id; d_model
    forward(ids (B, T) long) → logits (B, n_classes):
        x = pos(embed(ids) · √d_model); every block with mask = padding_mask(ids, pad_id); norm;
        the mean of x over the real (non-pad) positions (a row of only padding pools to zeros); head.
    """

    def __init__(self, vocab_size, n_classes=2, d_model=128, n_heads=4, d_ff=256, n_layers=2, dropout=0.1,
                 max_len=256, norm_first=True, pad_id=PAD_ID):
        super().__init__()
        self.d_model, self.pad_id = d_model, pad_id
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.pos = PositionalEncoding(d_model, max_len, dropout)
        self.blocks = nn.ModuleList(
            [EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids):
        mask = padding_mask(ids, self.pad_id)                          # (B, 1, T)
        x = self.pos(self.embed(ids) * math.sqrt(self.d_model))
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        keep = mask.squeeze(1).unsqueeze(-1).to(x.dtype)               # (B, T, 1): 1 at real tokens
        pooled = (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)        # all-pad rows: 0 / 1 = 0
        return self.head(pooled)
