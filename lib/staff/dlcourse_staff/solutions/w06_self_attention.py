"""Reference solutions for week06/self_attention_optimized.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch

NOTEBOOK = "week06/self_attention_optimized.ipynb"


def stable_masked_softmax(scores, mask=None):
    """Numerically stable softmax over the last axis (the keys), with an optional attention mask.

    softmax(s)_j = exp(s_j - max_i s_i) / sum_i exp(s_i - max_i s_i): subtracting the row maximum
    changes nothing mathematically and keeps every exponent <= 0, so nothing overflows.

    Inputs:
        scores: (..., Tq, Tk) floating tensor (float16, bfloat16, float32 or float64); not modified.
        mask: None, or a tensor broadcastable with scores:
            * bool: True = may attend, False = blocked (the F.scaled_dot_product_attention convention);
            * floating: added to the scores (0 = attend, -inf = blocked, other values = a bias).
    Returns:
        weights with the broadcast shape of scores and mask, in scores' dtype; each row sums to 1.
        A row whose keys are all blocked is all zeros, not NaN. float16/bfloat16 scores are
        computed in float32 and rounded once at the end.
    """
    x = scores.to(torch.promote_types(scores.dtype, torch.float32))  # exp and sum in >= fp32
    if mask is not None:
        if mask.dtype == torch.bool:
            x = x.masked_fill(~mask, float("-inf"))
        else:
            x = x + mask.to(x.dtype)
    row_max = x.amax(dim=-1, keepdim=True)  # (..., Tq, 1); -inf when every key is blocked
    row_max = torch.where(torch.isfinite(row_max), row_max, 0.0).detach()  # shift blocked rows by 0: -inf - -inf = NaN
    e = torch.exp(x - row_max)  # exponents <= 0, no overflow; the shift cancels in e / total, hence detach
    total = e.sum(dim=-1, keepdim=True)  # >= 1 (the max contributes exp(0) = 1), or 0 if fully blocked
    return (e / total.masked_fill(total == 0, 1.0)).to(scores.dtype)  # fully blocked rows: 0 / 1 = 0


def naive_attention(q, k, v, mask=None):
    """Scaled dot-product attention softmax(Q K^T / sqrt(d_k)) V, with the whole (Tq, Tk) matrix.

    Inputs:
        q: (..., Tq, d_k), k: (..., Tk, d_k), v: (..., Tk, d_v); leading dims (batch, heads) broadcast.
        mask: None, bool or additive, broadcastable to (..., Tq, Tk) (see stable_masked_softmax).
    Returns:
        out (..., Tq, d_v) and weights (..., Tq, Tk); a query whose keys are all blocked gets zeros.
    Use stable_masked_softmax. Under torch.autocast the matrix products run in bf16/fp16; the
    softmax still works in float32.
    """
    q = q * (1.0 / math.sqrt(q.shape[-1]))  # scale the T·d queries, not the T² scores: cheaper, no fp16 overflow
    scores = q @ k.transpose(-2, -1)  # (..., Tq, Tk)
    weights = stable_masked_softmax(scores, mask)  # (..., Tq, Tk)
    return weights.to(v.dtype) @ v, weights


def padding_mask(lengths, max_len):
    """Key-padding mask: sequence b has real tokens at positions 0 … lengths[b] - 1, padding after.

    Inputs:
        lengths: (B,) integer tensor, 0 <= lengths[b] <= max_len. max_len: int, the padded length.
    Returns:
        bool (B, 1, 1, max_len), True at real tokens. Against scores (B, H, Tq, max_len) it
        broadcasts over heads and queries, so no query attends a padded key.
    """
    if lengths.dim() != 1:
        raise ValueError(f"lengths는 (B,) 모양이어야 합니다 (받은 모양(shape): {tuple(lengths.shape)}).")
    positions = torch.arange(max_len, device=lengths.device)  # (T,)
    keep = positions[None, :] < lengths[:, None]  # (B, T)
    return keep[:, None, None, :]  # (B, 1, 1, T): the key axis is the last one


def causal_mask(tq, tk=None, device=None):
    """Causal (look-ahead) mask: query i may attend key j only when j <= i.

    Top-left aligned like F.scaled_dot_product_attention(is_causal=True): with tq != tk, row i
    still keeps keys 0 … i.

    Inputs: tq: number of queries; tk: number of keys (default tq); device: where to build it.
    Returns: bool (tq, tk), True on and below the diagonal.
    """
    tk = tq if tk is None else tk
    return torch.ones(tq, tk, dtype=torch.bool, device=device).tril()  # the diagonal stays: i sees itself


def combine_masks(*masks):
    """Combine attention masks: a query-key pair is attended only if every mask allows it.

    Inputs:
        masks: any number, each None (ignored), bool (True = attend) or floating additive
            (0 = attend, -inf = blocked, other values = a bias); shapes broadcast.
    Returns:
        None if every mask is None; a bool mask (logical AND) if every given mask is bool;
        otherwise a floating additive mask: the sum of the floating masks (promoted dtype), with
        -inf wherever a bool mask says False.
    """
    given = [m for m in masks if m is not None]
    if not given:
        return None
    keep, bias = None, None
    for m in given:
        if m.dtype == torch.bool:
            keep = m if keep is None else keep & m  # every mask must allow the pair
        else:
            bias = m if bias is None else bias + m  # additive biases add up
    if bias is None:
        return keep
    if keep is not None:
        bias = bias.masked_fill(~keep, float("-inf"))  # a False blocks whatever the bias says
    return bias


def chunked_attention(q, k, v, mask=None, q_chunk=128, k_chunk=128):
    """Memory-efficient attention, equal to naive_attention(q, k, v, mask)[0], computed block by
    block with an online softmax so that no (Tq, Tk) matrix is ever stored.

    For each block of <= q_chunk queries, loop over blocks of <= k_chunk keys, keeping for every
    query row a running maximum m, a running sum l = sum exp(s - m) and a running output
    acc = sum exp(s - m) v; when m grows, rescale l and acc by exp(m_old - m_new).

    Inputs:
        q: (..., Tq, d_k), k: (..., Tk, d_k), v: (..., Tk, d_v); leading dims broadcast.
        mask: None, bool or additive with >= 2 dims, broadcastable to (..., Tq, Tk); its last two
            dims are Tq or 1 and Tk or 1. Take the block you need; never expand it to (Tq, Tk).
        q_chunk, k_chunk: positive ints; Tq and Tk need not be multiples of them.
    Returns:
        (..., Tq, d_v) in q's dtype, computed in float32 (float64 for float64 inputs); a query
        whose keys are all blocked gets zeros. Differentiable (autograd runs through the loops).
    """
    if q_chunk < 1 or k_chunk < 1:
        raise ValueError(f"q_chunk와 k_chunk는 양의 정수여야 합니다 (받은 값: {q_chunk}, {k_chunk}).")
    dtype = torch.promote_types(q.dtype, torch.float32)
    scale = 1.0 / math.sqrt(q.shape[-1])
    tq, tk = q.shape[-2], k.shape[-2]
    outputs = []
    for i in range(0, tq, q_chunk):
        qi = q[..., i:i + q_chunk, :].to(dtype) * scale  # (..., cq, d_k)
        m_i = mask
        if mask is not None and mask.shape[-2] > 1:  # a size-1 query axis broadcasts: keep it
            m_i = mask[..., i:i + q_chunk, :]
        row_max = torch.tensor(float("-inf"), dtype=dtype, device=q.device)  # running max m
        row_sum, acc = 0.0, 0.0  # running sum of exp(s - m) and of exp(s - m) v
        for j in range(0, tk, k_chunk):
            kj = k[..., j:j + k_chunk, :].to(dtype)  # (..., ck, d_k)
            vj = v[..., j:j + k_chunk, :].to(dtype)  # (..., ck, d_v)
            s = qi @ kj.transpose(-2, -1)  # (..., cq, ck): one block of scores
            if m_i is not None:
                m_ij = m_i[..., j:j + k_chunk] if m_i.shape[-1] > 1 else m_i
                s = s.masked_fill(~m_ij, float("-inf")) if m_ij.dtype == torch.bool else s + m_ij.to(dtype)
            new_max = torch.maximum(row_max, s.detach().amax(dim=-1, keepdim=True))  # (..., cq, 1), cancels: a constant
            shift = torch.where(torch.isfinite(new_max), new_max, 0.0)  # nothing visible yet: shift by 0, not -inf
            correction = torch.exp(row_max - shift)  # <= 1; 0 while nothing was visible yet
            p = torch.exp(s - shift)  # (..., cq, ck)
            row_sum = correction * row_sum + p.sum(dim=-1, keepdim=True)
            acc = correction * acc + p @ vj  # (..., cq, d_v)
            row_max = new_max
        outputs.append(acc / row_sum.masked_fill(row_sum == 0, 1.0))  # fully blocked rows: 0 / 1 = 0
    return torch.cat(outputs, dim=-2).to(q.dtype)


def multihead_self_attention(x, w_qkv, w_out, num_heads, mask=None):
    """Multi-head self-attention with every batch element and every head in one batched product.

    Equals nn.MultiheadAttention(D, num_heads, bias=False, batch_first=True) with
    in_proj_weight = w_qkv and out_proj.weight = w_out (whose bool masks use the opposite
    polarity: there True = blocked, here True = attend).

    Inputs:
        x: (B, T, D); w_qkv: (3·D, D), the rows of W_q, W_k, W_v stacked; w_out: (D, D);
        num_heads: divides D. mask: None, bool or additive, broadcastable to (B, num_heads, T, T).
    Returns:
        (B, T, D). No Python loop over the batch or the heads: reshape to (B, H, T, D / H) and
        call naive_attention once.
    """
    if x.dim() != 3 or x.shape[-1] % num_heads:
        raise ValueError(f"x는 (B, T, D) 모양이고 D가 num_heads={num_heads}로 나누어떨어져야 합니다 "
                         f"(받은 모양(shape): {tuple(x.shape)}).")
    b, t, d = x.shape
    q, k, v = (x @ w_qkv.T).chunk(3, dim=-1)  # each (B, T, D)

    def split_heads(z):  # (B, T, D) -> (B, H, T, D/H): head h owns features h·D/H … (h+1)·D/H - 1
        return z.reshape(b, t, num_heads, d // num_heads).transpose(1, 2)

    out, _ = naive_attention(split_heads(q), split_heads(k), split_heads(v), mask)  # (B, H, T, D/H)
    out = out.transpose(1, 2).reshape(b, t, d)  # merge the heads back: (B, T, D)
    return out @ w_out.T
