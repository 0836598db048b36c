"""Mutants of week06/self_attention_optimized.ipynb: realistic wrong versions of the student cells.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06/self_attention_optimized.ipynb"
ROUND_TRIP = "chunk-no-rescale-sum"

MUTANTS = [
    # --- stable softmax ----------------------------------------------------------------------
    dict(name="softmax-no-max-shift", cell="w06-sa-stable-softmax",
         why="textbook exp(s) / sum exp(s): overflows for large logits",
         edits=[("e = torch.exp(x - row_max)", "e = torch.exp(x)")]),
    dict(name="softmax-nan-fully-masked", cell="w06-sa-stable-softmax",
         why="no guard for a row whose max is -inf: (-inf) - (-inf) gives NaN",
         edits=[("row_max = torch.where(torch.isfinite(row_max), row_max, 0.0).detach()", "row_max = row_max.detach()")]),
    dict(name="softmax-mask-polarity", cell="w06-sa-stable-softmax",
         why="bool mask applied with the wrong polarity (True treated as blocked, nn.MultiheadAttention's habit)",
         edits=[("x = x.masked_fill(~mask, float(\"-inf\"))", "x = x.masked_fill(mask, float(\"-inf\"))")]),
    dict(name="softmax-clamped-denominator", cell="w06-sa-stable-softmax",
         why="denominator fixed with clamp_min(1): right values, but the gradient stops at rows whose sum is exactly 1",
         edits=[("e / total.masked_fill(total == 0, 1.0)", "e / total.clamp_min(1.0)")]),
    dict(name="softmax-over-queries", cell="w06-sa-stable-softmax",
         why="normalises over the query axis (dim=-2) instead of the keys",
         edits=[("row_max = x.amax(dim=-1, keepdim=True)", "row_max = x.amax(dim=-2, keepdim=True)"),
                ("total = e.sum(dim=-1, keepdim=True)", "total = e.sum(dim=-2, keepdim=True)")]),
    # --- naive attention -----------------------------------------------------------------------
    dict(name="attn-missing-scale", cell="w06-sa-attention",
         why="forgets the 1/sqrt(d_k) scaling",
         edits=[("    q = q * (1.0 / math.sqrt(q.shape[-1]))", "    q = q * 1.0")]),
    dict(name="attn-scale-by-d", cell="w06-sa-attention",
         why="divides by d_k instead of sqrt(d_k)",
         edits=[("q = q * (1.0 / math.sqrt(q.shape[-1]))", "q = q * (1.0 / q.shape[-1])")]),
    dict(name="attn-scale-by-dv", cell="w06-sa-attention",
         why="scales by the value width d_v instead of the key width d_k",
         edits=[("q = q * (1.0 / math.sqrt(q.shape[-1]))", "q = q * (1.0 / math.sqrt(v.shape[-1]))")]),
    dict(name="attn-transposed-weights", cell="w06-sa-attention",
         why="multiplies the values by the transposed weights",
         edits=[("return weights.to(v.dtype) @ v, weights", "return weights.transpose(-2, -1).to(v.dtype) @ v, weights")]),
    # --- padding mask ----------------------------------------------------------------------------
    dict(name="pad-wrong-axis", cell="w06-sa-padding-mask",
         why="padding mask broadcast over the wrong axis: (B, 1, T, 1) masks queries instead of keys",
         edits=[("return keep[:, None, None, :]", "return keep[:, None, :, None]")]),
    dict(name="pad-off-by-one", cell="w06-sa-padding-mask",
         why="keeps one padded position (<= instead of <)",
         edits=[("keep = positions[None, :] < lengths[:, None]", "keep = positions[None, :] <= lengths[:, None]")]),
    dict(name="pad-polarity", cell="w06-sa-padding-mask",
         why="True marks the padding (blocked) instead of the real tokens",
         edits=[("keep = positions[None, :] < lengths[:, None]", "keep = positions[None, :] >= lengths[:, None]")]),
    # --- causal mask -------------------------------------------------------------------------------
    dict(name="causal-diagonal-masked", cell="w06-sa-causal-mask",
         why="off by one: the diagonal is masked, a token cannot see itself",
         edits=[(".tril()  # the diagonal stays", ".tril(diagonal=-1)  # the diagonal stays")]),
    dict(name="causal-polarity", cell="w06-sa-causal-mask",
         why="True above the diagonal: marks the future as visible",
         edits=[(".tril()  # the diagonal stays", ".triu(diagonal=1)  # the diagonal stays")]),
    dict(name="causal-ignores-tk", cell="w06-sa-causal-mask",
         why="always square (tq, tq), even when the number of keys differs",
         edits=[("tk = tq if tk is None else tk", "tk = tq")]),
    # --- combining masks ---------------------------------------------------------------------------
    dict(name="combine-or", cell="w06-sa-combine-masks",
         why="combines bool masks with OR: a pair is visible if any mask allows it",
         edits=[("keep = m if keep is None else keep & m", "keep = m if keep is None else keep | m")]),
    dict(name="combine-bool-polarity", cell="w06-sa-combine-masks",
         why="bool mask turned into -inf with the wrong polarity (True blocked)",
         edits=[("bias = bias.masked_fill(~keep, float(\"-inf\"))", "bias = bias.masked_fill(keep, float(\"-inf\"))")]),
    dict(name="combine-drops-bool", cell="w06-sa-combine-masks",
         why="when an additive mask is present the bool masks are forgotten",
         edits=[("    if keep is not None:\n        bias = bias.masked_fill(~keep, float(\"-inf\"))  # a False blocks whatever the bias says\n", "")]),
    # --- chunked attention -------------------------------------------------------------------------
    dict(name="chunk-no-rescale-sum", cell="w06-sa-chunked-attention",
         why="online softmax that forgets to rescale the running sum when the max grows",
         edits=[("row_sum = correction * row_sum +", "row_sum = row_sum +")]),
    dict(name="chunk-no-rescale-acc", cell="w06-sa-chunked-attention",
         why="online softmax that forgets to rescale the output accumulator",
         edits=[("acc = correction * acc +", "acc = acc +")]),
    dict(name="chunk-drops-last-block", cell="w06-sa-chunked-attention",
         why="key loop stops before a last, partial block when Tk is not a multiple of k_chunk",
         edits=[("for j in range(0, tk, k_chunk):", "for j in range(0, tk - k_chunk + 1, k_chunk):")]),
    dict(name="chunk-slices-broadcast-axis", cell="w06-sa-chunked-attention",
         why="slices the mask's query axis even when it has size 1 (a padding mask) and must broadcast",
         edits=[("if mask is not None and mask.shape[-2] > 1:", "if mask is not None:")]),
    dict(name="chunk-nan-empty-block", cell="w06-sa-chunked-attention",
         why="shifts by the running max even while it is -inf: NaN for rows with nothing visible yet",
         edits=[("shift = torch.where(torch.isfinite(new_max), new_max, 0.0)", "shift = new_max")]),
    dict(name="chunk-keys-not-chunked", cell="w06-sa-chunked-attention",
         why="every query block is scored against all keys at once: right values, (q_chunk, Tk) memory",
         edits=[("for j in range(0, tk, k_chunk):", "for j in range(0, tk, tk):"),
                ("kj = k[..., j:j + k_chunk, :]", "kj = k[..., j:j + tk, :]"),
                ("vj = v[..., j:j + k_chunk, :]", "vj = v[..., j:j + tk, :]"),
                ("m_i[..., j:j + k_chunk]", "m_i[..., j:j + tk]")]),
    # --- batched multi-head attention --------------------------------------------------------------
    dict(name="mha-split-without-transpose", cell="w06-sa-mha",
         why="splits heads with a plain reshape to (B, H, T, D/H), mixing positions and features",
         edits=[("return z.reshape(b, t, num_heads, d // num_heads).transpose(1, 2)",
                 "return z.reshape(b, num_heads, t, d // num_heads)")]),
    dict(name="mha-merge-without-transpose", cell="w06-sa-mha",
         why="merges heads with a plain reshape of (B, H, T, D/H)",
         edits=[("out = out.transpose(1, 2).reshape(b, t, d)", "out = out.reshape(b, t, d)")]),
    dict(name="mha-kqv-order", cell="w06-sa-mha",
         why="takes the rows of w_qkv in the order K, Q, V",
         edits=[("q, k, v = (x @ w_qkv.T).chunk(3, dim=-1)", "k, q, v = (x @ w_qkv.T).chunk(3, dim=-1)")]),
    dict(name="mha-output-weight-transposed", cell="w06-sa-mha",
         why="output projection with w_out instead of w_out.T",
         edits=[("return out @ w_out.T", "return out @ w_out")]),
    dict(name="mha-loop-over-heads", cell="w06-sa-mha",
         why="a Python loop over heads, one attention call per head",
         edits=[("    out, _ = naive_attention(split_heads(q), split_heads(k), split_heads(v), mask)  # (B, H, T, D/H)\n",
                 "    heads = [naive_attention(split_heads(q)[:, h], split_heads(k)[:, h], split_heads(v)[:, h], mask)[0]\n"
                 "             for h in range(num_heads)]\n"
                 "    out = torch.stack(heads, dim=1)\n")]),
]

MUTANTS += [
    # --- added (issue 12): precision, extreme scores, non-square, size-1 axes, side effects ------------
    dict(name="softmax-half-no-upcast", cell="w06-sa-stable-softmax",
         why="fp16/bf16 scores exponentiated, summed and divided in half precision (no float32 upcast)",
         edits=[("x = scores.to(torch.promote_types(scores.dtype, torch.float32))", "x = scores")]),
    dict(name="softmax-float64-as-float32", cell="w06-sa-stable-softmax",
         why="every input computed in float32: float64 scores silently lose their precision",
         edits=[("x = scores.to(torch.promote_types(scores.dtype, torch.float32))", "x = scores.float()")]),
    dict(name="softmax-mask-in-place", cell="w06-sa-stable-softmax",
         why="masked_fill_ in place: the caller's scores tensor is overwritten with -inf",
         edits=[('x = x.masked_fill(~mask, float("-inf"))', 'x = x.masked_fill_(~mask, float("-inf"))')]),
    dict(name="softmax-guard-clamp-min", cell="w06-sa-stable-softmax",
         why="the -inf guard written as clamp_min(0): a row whose scores are all far below zero underflows to zeros",
         edits=[("row_max = torch.where(torch.isfinite(row_max), row_max, 0.0).detach()",
                 "row_max = row_max.clamp_min(0.0).detach()")]),
    dict(name="attn-squeeze-scores", cell="w06-sa-attention",
         why="squeeze() on the scores: a batch of one loses its axis and the weights come back (H, Tq, Tk)",
         edits=[("scores = q @ k.transpose(-2, -1)  # (..., Tq, Tk)", "scores = (q @ k.transpose(-2, -1)).squeeze()")]),
    dict(name="attn-float32-scores", cell="w06-sa-attention",
         why="scores computed in float32 whatever the input: float64 attention loses its precision",
         edits=[("scores = q @ k.transpose(-2, -1)  # (..., Tq, Tk)", "scores = q.float() @ k.float().transpose(-2, -1)")]),
    dict(name="attn-scale-q-in-place", cell="w06-sa-attention",
         why="1/sqrt(d_k) applied with mul_: the caller's q is scaled in place",
         edits=[("q = q * (1.0 / math.sqrt(q.shape[-1]))", "q = q.mul_(1.0 / math.sqrt(q.shape[-1]))")]),
    dict(name="causal-bottom-right", cell="w06-sa-causal-mask",
         why="bottom-right aligned (tril(diagonal=tk - tq)): equal only for square masks",
         edits=[(".tril()  # the diagonal stays", ".tril(diagonal=tk - tq)  # the diagonal stays")]),
    dict(name="combine-casts-to-float32", cell="w06-sa-combine-masks",
         why="additive masks cast to float32 before adding: a float64 bias loses its precision (no dtype promotion)",
         edits=[("bias = m if bias is None else bias + m", "bias = m.float() if bias is None else bias + m.float()")]),
    dict(name="chunk-float32-compute", cell="w06-sa-chunked-attention",
         why="blocks always computed in float32: float64 inputs silently lose their precision",
         edits=[("dtype = torch.promote_types(q.dtype, torch.float32)", "dtype = torch.float32")]),
    dict(name="chunk-shift-clamped-at-zero", cell="w06-sa-chunked-attention",
         why="the -inf guard written as clamp_min(0): when every score is far below zero exp underflows to 0",
         edits=[("shift = torch.where(torch.isfinite(new_max), new_max, 0.0)", "shift = new_max.clamp_min(0.0)")]),
    dict(name="chunk-running-max-starts-at-zero", cell="w06-sa-chunked-attention",
         why="running maximum initialised to 0 instead of -inf: right until every score is far below zero",
         edits=[('row_max = torch.tensor(float("-inf"), dtype=dtype, device=q.device)',
                 "row_max = torch.tensor(0.0, dtype=dtype, device=q.device)")]),
    dict(name="chunk-key-loop-over-tq", cell="w06-sa-chunked-attention",
         why="the key loop runs to Tq instead of Tk: right only for square attention",
         edits=[("for j in range(0, tk, k_chunk):", "for j in range(0, tq, k_chunk):")]),
    dict(name="chunk-slices-size-1-key-axis", cell="w06-sa-chunked-attention",
         why="slices the mask's key axis even when it has size 1 and must broadcast",
         edits=[("m_ij = m_i[..., j:j + k_chunk] if m_i.shape[-1] > 1 else m_i", "m_ij = m_i[..., j:j + k_chunk]")]),
    dict(name="chunk-under-no-grad", cell="w06-sa-chunked-attention",
         why="decorated with @torch.no_grad() to save memory: the output has no gradient",
         edits=[("def chunked_attention(q, k, v, mask=None, q_chunk=128, k_chunk=128):",
                 "@torch.no_grad()\ndef chunked_attention(q, k, v, mask=None, q_chunk=128, k_chunk=128):")]),
    dict(name="chunk-scale-in-place", cell="w06-sa-chunked-attention",
         why="each query block scaled with mul_: for float32 inputs .to() is a view and the caller's q changes",
         edits=[("qi = q[..., i:i + q_chunk, :].to(dtype) * scale", "qi = q[..., i:i + q_chunk, :].to(dtype).mul_(scale)")]),
    dict(name="mha-squeeze-output", cell="w06-sa-mha",
         why="squeeze() on the output: a batch of one (or one token) loses its axes",
         edits=[("return out @ w_out.T", "return (out @ w_out.T).squeeze()")]),
]

# Correct code written differently from the reference: every check must give it full marks.
VARIANTS = [
    dict(name="softmax-where-additive", cell="w06-sa-stable-softmax",
         why="torch.where for the mask, max().values without detach, the empty-row guard as total + (total == 0)",
         source='''def stable_masked_softmax(scores, mask=None):
    x = scores.to(torch.promote_types(scores.dtype, torch.float32))
    if mask is not None:
        if mask.dtype == torch.bool:
            x = torch.where(mask, x, torch.tensor(float("-inf"), dtype=x.dtype))
        else:
            x = x + mask.to(x.dtype)
    m = x.max(dim=-1, keepdim=True).values
    m = torch.where(m == float("-inf"), torch.zeros_like(m), m)
    e = (x - m).exp()
    total = e.sum(-1, keepdim=True)
    return (e / (total + (total == 0).to(total.dtype))).to(scores.dtype)
'''),
    dict(name="softmax-bool-to-additive", cell="w06-sa-stable-softmax",
         why="a bool mask first turned into an additive 0/-inf mask, torch.exp(torch.sub(...)), divide by where(total > 0, total, 1)",
         source='''def stable_masked_softmax(scores, mask=None):
    work = torch.float64 if scores.dtype == torch.float64 else torch.float32
    x = scores.to(work)
    if mask is not None:
        if mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape, dtype=work).masked_fill(mask.logical_not(), float("-inf"))
        x = x + mask.to(work)
    shift = x.detach().amax(-1, keepdim=True).nan_to_num(neginf=0.0)
    e = torch.exp(torch.sub(x, shift))
    total = e.sum(-1, keepdim=True)
    return torch.div(e, torch.where(total > 0, total, torch.ones_like(total))).to(scores.dtype)
'''),
    dict(name="attn-einsum", cell="w06-sa-attention",
         why="einsum for both products, the scale applied to the scores instead of the queries",
         source='''def naive_attention(q, k, v, mask=None):
    d_k = q.size(-1)
    scores = torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(d_k)
    weights = stable_masked_softmax(scores, mask)
    out = torch.einsum("...qk,...kd->...qd", weights.to(v.dtype), v)
    return out, weights
'''),
    dict(name="attn-matmul-mT", cell="w06-sa-attention",
         why="torch.matmul with k.mT, scale as d_k ** -0.5",
         edits=[("    q = q * (1.0 / math.sqrt(q.shape[-1]))  # scale the T·d queries, not the T² scores: cheaper, no fp16 overflow\n"
                 "    scores = q @ k.transpose(-2, -1)  # (..., Tq, Tk)\n",
                 "    scores = torch.matmul(q * q.shape[-1] ** -0.5, k.mT)\n"),
                ("return weights.to(v.dtype) @ v, weights", "return torch.matmul(weights.type_as(v), v), weights")]),
    dict(name="padding-expand-view", cell="w06-sa-padding-mask",
         why="arange expanded to (B, T), compared with lengths.unsqueeze(1), reshaped with view",
         source='''def padding_mask(lengths, max_len):
    if lengths.ndim != 1:
        raise ValueError(f"lengths는 (B,) 모양이어야 합니다 (받은 모양: {tuple(lengths.shape)}).")
    positions = torch.arange(max_len, device=lengths.device).expand(lengths.numel(), max_len)
    return (positions < lengths.unsqueeze(1)).view(-1, 1, 1, max_len)
'''),
    dict(name="causal-arange-compare", cell="w06-sa-causal-mask",
         why="built by comparing key and query positions",
         source='''def causal_mask(tq, tk=None, device=None):
    if tk is None:
        tk = tq
    keys = torch.arange(tk, device=device)
    queries = torch.arange(tq, device=device)
    return keys[None, :] <= queries[:, None]
'''),
    dict(name="causal-not-triu", cell="w06-sa-causal-mask",
         why="the complement of the strict upper triangle",
         edits=[("return torch.ones(tq, tk, dtype=torch.bool, device=device).tril()  # the diagonal stays: i sees itself",
                 "return ~torch.triu(torch.ones(tq, tk, dtype=torch.bool, device=device), diagonal=1)")]),
    dict(name="combine-reduce-where", cell="w06-sa-combine-masks",
         why="bool and additive masks gathered separately, reduced with functools.reduce, blocked by torch.where",
         source='''import functools


def combine_masks(*masks):
    bools = [m for m in masks if m is not None and m.dtype == torch.bool]
    biases = [m for m in masks if m is not None and m.dtype != torch.bool]
    keep = functools.reduce(torch.logical_and, bools) if bools else None
    if not biases:
        return keep
    bias = functools.reduce(torch.add, biases)
    if keep is None:
        return bias
    return torch.where(keep, bias, torch.tensor(float("-inf"), dtype=bias.dtype))
'''),
    dict(name="chunk-mask-to-device-inverted-once", cell="w06-sa-chunked-attention",
         why="mask moved to the query's device (a no-op here) and a bool mask inverted once before the loops",
         edits=[("    outputs = []\n",
                 "    blocked = None\n"
                 "    if mask is not None:\n"
                 "        mask = mask.to(q.device)\n"
                 "        if mask.dtype == torch.bool:\n"
                 "            blocked = ~mask  # one copy of the mask, never (Tq, Tk) scores\n"
                 "    outputs = []\n"),
                ("            m_i = mask[..., i:i + q_chunk, :]\n",
                 "            m_i = mask[..., i:i + q_chunk, :]\n"
                 "        b_i = blocked\n"
                 "        if blocked is not None and blocked.shape[-2] > 1:\n"
                 "            b_i = blocked[..., i:i + q_chunk, :]\n"),
                ("                s = s.masked_fill(~m_ij, float(\"-inf\")) if m_ij.dtype == torch.bool else s + m_ij.to(dtype)\n",
                 "                if b_i is not None:\n"
                 "                    b_ij = b_i[..., j:j + k_chunk] if b_i.shape[-1] > 1 else b_i\n"
                 "                    s = s.masked_fill(b_ij, float(\"-inf\"))\n"
                 "                else:\n"
                 "                    s = s + m_ij.to(dtype)\n")]),
    dict(name="chunk-einsum-where", cell="w06-sa-chunked-attention",
         why="written from scratch: einsum blocks, torch.where for the mask and the -inf guard, running state as tensors",
         source='''def chunked_attention(q, k, v, mask=None, q_chunk=128, k_chunk=128):
    if q_chunk <= 0 or k_chunk <= 0:
        raise ValueError(f"q_chunk와 k_chunk는 양의 정수여야 합니다 (받은 값: {q_chunk}, {k_chunk}).")
    work = torch.float64 if q.dtype == torch.float64 else torch.float32
    neg_inf = torch.tensor(float("-inf"), dtype=work, device=q.device)
    zero = torch.tensor(0.0, dtype=work, device=q.device)
    n_q, n_k = q.shape[-2], k.shape[-2]
    blocks = []
    for qs in range(0, n_q, q_chunk):
        qe = min(qs + q_chunk, n_q)
        q_blk = q[..., qs:qe, :].to(work) / math.sqrt(q.shape[-1])
        m = l = acc = None
        for ks in range(0, n_k, k_chunk):
            ke = min(ks + k_chunk, n_k)
            s = torch.einsum("...id,...jd->...ij", q_blk, k[..., ks:ke, :].to(work))
            if mask is not None:
                blk = mask
                if blk.shape[-2] != 1:
                    blk = blk[..., qs:qe, :]
                if blk.shape[-1] != 1:
                    blk = blk[..., ks:ke]
                s = torch.where(blk, s, neg_inf) if blk.dtype == torch.bool else s + blk.to(work)
            blk_max = s.detach().amax(-1, keepdim=True)
            m_new = blk_max if m is None else torch.maximum(m, blk_max)
            safe = torch.where(torch.isinf(m_new), zero, m_new)
            p = torch.exp(s - safe)
            pv = torch.einsum("...ij,...jd->...id", p, v[..., ks:ke, :].to(work))
            if m is None:
                l, acc = p.sum(-1, keepdim=True), pv
            else:
                c = torch.exp(m - safe)
                l, acc = c * l + p.sum(-1, keepdim=True), c * acc + pv
            m = m_new
        blocks.append(acc / torch.where(l > 0, l, torch.ones_like(l)))
    return torch.cat(blocks, dim=-2).to(q.dtype)
'''),
    dict(name="mha-separate-weights-permute", cell="w06-sa-mha",
         why="W_q, W_k, W_v split from w_qkv and applied with F.linear; heads by view/permute; merge by flatten",
         source='''import torch.nn.functional as F


def multihead_self_attention(x, w_qkv, w_out, num_heads, mask=None):
    if x.ndim != 3 or x.size(-1) % num_heads != 0:
        raise ValueError(f"x는 (B, T, D) 모양이고 D가 num_heads={num_heads}로 나누어떨어져야 합니다 (받은 모양: {tuple(x.shape)}).")
    B, T, D = x.shape
    w_q, w_k, w_v = w_qkv.split(D, dim=0)
    heads = lambda z: z.view(B, T, num_heads, D // num_heads).permute(0, 2, 1, 3)
    out, _ = naive_attention(heads(F.linear(x, w_q)), heads(F.linear(x, w_k)), heads(F.linear(x, w_v)), mask)
    return F.linear(out.permute(0, 2, 1, 3).flatten(2), w_out)
'''),
    dict(name="mha-einsum-unflatten", cell="w06-sa-mha",
         why="one einsum projection, unflatten/movedim for the heads, einsum for the output",
         source='''def multihead_self_attention(x, w_qkv, w_out, num_heads, mask=None):
    if x.dim() != 3 or x.shape[-1] % num_heads:
        raise ValueError(f"x는 (B, T, D) 모양이고 D가 num_heads={num_heads}로 나누어떨어져야 합니다 (받은 모양: {tuple(x.shape)}).")
    d = x.shape[-1]
    qkv = torch.einsum("btd,ed->bte", x, w_qkv)                      # (B, T, 3D)
    qkv = qkv.unflatten(-1, (3, num_heads, d // num_heads))          # (B, T, 3, H, D/H)
    q, k, v = qkv.movedim(1, -2).unbind(dim=1)                       # each (B, H, T, D/H)
    out, _ = naive_attention(q, k, v, mask)
    out = out.movedim(1, 2).flatten(-2)                               # (B, T, D)
    return torch.einsum("btd,ed->bte", out, w_out)
'''),
]
