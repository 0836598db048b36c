"""Reference solutions for week06/multihead_analysis.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week06/multihead_analysis.ipynb"


class MultiHeadAttention(nn.Module):
    """Multi-head attention with one learnable gate per head; with the gates at 1 it computes
    exactly what nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True) does.

    Attributes (names are fixed: the grader copies weights by name):
        q_proj, k_proj, v_proj: Linear(embed_dim, embed_dim, bias=bias), separate query, key and
            value projections; rows h·head_dim … (h+1)·head_dim - 1 belong to head h. (One fused
            qkv_proj = Linear(embed_dim, 3·embed_dim, bias=bias) with rows [W_q; W_k; W_v] instead
            of the three is accepted too, and so are nn.MultiheadAttention's in_proj_weight and
            in_proj_bias.)
        out_proj: Linear(embed_dim, embed_dim, bias=bias)
        gate: Parameter (num_heads,), all ones at construction.
        num_heads; head_dim = embed_dim // num_heads.

    forward(query, key, value, key_padding_mask=None, attn_mask=None, head_gate=None):
        query (B, Tq, D); key, value (B, Tk, D).
        key_padding_mask: None or (B, Tk): bool, True = padding (the key is ignored), or float,
            added to the scores.
        attn_mask: None or (Tq, Tk): bool, True = not allowed, or float, added to the scores.
            (Both follow nn.MultiheadAttention: True means blocked.)
        head_gate: None (use self.gate) or a tensor (H,) or (B, H) used instead of self.gate.
        Returns (out, weights): out (B, Tq, D); weights (B, H, Tq, Tk), each head's attention
        probabilities (rows sum to 1 over the keys; a query whose keys are all blocked gets a
        row of zeros and a zero head output, never NaN). The scores of head h are
        q_h · k_h / sqrt(head_dim). Head h's output is multiplied by its gate before the heads are
        merged and projected by out_proj, so a gate of 0 removes the head exactly.
    """

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim}이(가) num_heads={num_heads}로 나누어떨어져야 합니다.")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.gate = nn.Parameter(torch.ones(num_heads))  # 1 = head fully on

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, head_gate=None):
        b, tq, d = query.shape
        tk = key.shape[1]

        def split_heads(x, t):  # (B, T, D) -> (B, H, T, head_dim): view first, then move H forward
            return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

        q = split_heads(self.q_proj(query), tq) / math.sqrt(self.head_dim)  # scale by sqrt(d_head), not sqrt(D)
        k = split_heads(self.k_proj(key), tk)
        v = split_heads(self.v_proj(value), tk)
        scores = q @ k.transpose(-2, -1)  # (B, H, Tq, Tk)
        if attn_mask is not None:  # (Tq, Tk) broadcasts over batch and heads
            scores = scores.masked_fill(attn_mask, -math.inf) if attn_mask.dtype == torch.bool \
                else scores + attn_mask.to(scores.dtype)
        if key_padding_mask is not None:  # (B, Tk) -> (B, 1, 1, Tk): blocks keys for every head and query
            pad = key_padding_mask[:, None, None, :]
            scores = scores.masked_fill(pad, -math.inf) if pad.dtype == torch.bool else scores + pad.to(scores.dtype)
        row_max = scores.detach().amax(dim=-1, keepdim=True)
        row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))  # all blocked: shift by 0
        e = torch.exp(scores - row_max)  # a blocked key gives exp(-inf) = 0
        total = e.sum(dim=-1, keepdim=True)
        weights = e / torch.where(total > 0, total, torch.ones_like(total))  # (B, H, Tq, Tk); all-blocked rows stay 0
        gate = self.gate if head_gate is None else head_gate
        heads = (weights @ v) * gate.reshape(-1, self.num_heads, 1, 1)  # (B, H, Tq, head_dim), gated per head
        merged = heads.transpose(1, 2).reshape(b, tq, d)  # back to (B, Tq, D): head h in columns h·head_dim …
        return self.out_proj(merged), weights


def head_importance(model, batches):
    """Head importance after Michel et al. (2019): the mean over batches of |dL/d gate|.

    Inputs:
        model: a module with attention_layers() -> list of L attention modules, each with a
            gate Parameter (H,), and loss(batch) -> scalar loss of one batch.
        batches: a list of batches (whatever model.loss accepts).
    Returns:
        (L, H) tensor: importance[l, h] = mean over the batches of |d loss(batch) / d gate_l[h]|,
        the gradient taken at the gates' current values, with the model in eval mode (no
        dropout). The model is left as it was: same train/eval mode, same parameter values and
        no .grad left on any parameter (ask autograd for the gates' gradients only).
    """
    if not batches:
        raise ValueError("batches가 비어 있습니다.")
    gates = [layer.gate for layer in model.attention_layers()]
    was_training = model.training
    model.eval()  # the importance of the model we use, not of a dropout-thinned one
    try:
        total = 0.0
        for batch in batches:
            grads = torch.autograd.grad(model.loss(batch), gates)  # d loss / d gate only: no .grad anywhere
            total = total + torch.stack(grads).abs()  # (L, H): |.| per batch, so signs do not cancel
    finally:
        model.train(was_training)
    return total / len(batches)


@torch.no_grad()
def ablation_importance(model, batches):
    """Importance by ablation: how much the loss grows when one head at a time is switched off.

    Inputs: model and batches as in head_importance.
    Returns:
        (L, H) tensor: [l, h] = mean batch loss with gate_l[h] set to 0 (every other gate as it is)
        minus the mean batch loss with all gates as they are; in eval mode. The model is left
        exactly as it was (gates restored, same train/eval mode).
    """
    if not batches:
        raise ValueError("batches가 비어 있습니다.")
    layers = model.attention_layers()
    was_training = model.training
    model.eval()

    def mean_loss():
        return sum(float(model.loss(batch)) for batch in batches) / len(batches)

    try:
        base = mean_loss()
        drop = torch.zeros(len(layers), layers[0].gate.numel())
        for l, layer in enumerate(layers):
            for h in range(layer.gate.numel()):
                kept = layer.gate[h].item()
                layer.gate[h] = 0.0  # switch head h of layer l off
                drop[l, h] = mean_loss() - base
                layer.gate[h] = kept  # and back on before the next head
    finally:
        model.train(was_training)
    return drop


def prune_mask(importance, num_pruned):
    """Gate values that switch off the num_pruned least important heads, all layers together.

    Inputs: importance (L, H) floating tensor (not modified); num_pruned: int, 0 <= num_pruned <= L·H.
    Returns: a tensor shaped like importance, in its dtype and device: 0.0 at the num_pruned
    smallest entries (among equal values any choice is fine), 1.0 everywhere else.
    """
    if not 0 <= num_pruned <= importance.numel():
        raise ValueError(f"num_pruned는 0 이상 {importance.numel()} 이하여야 합니다 (받은 값: {num_pruned}).")
    order = importance.detach().flatten().argsort()  # ascending: least important first
    mask = torch.ones(importance.numel(), dtype=importance.dtype, device=importance.device)
    mask[order[:num_pruned]] = 0.0
    return mask.reshape(importance.shape)


class HardConcreteGate(nn.Module):
    """Hard-concrete gates (Louizos et al., 2018), one per head, as Voita et al. (2019) use them
    to learn which heads to keep.

    Attributes: log_alpha Parameter (num_heads,) filled with init_log_alpha; beta, gamma, zeta floats.
    forward(u=None) -> gates in [0, 1], shaped like log_alpha broadcast with u:
        training mode: u ~ U(0, 1) (drawn with torch.rand, shape (num_heads,), when None),
            s = sigmoid((log u - log(1 - u) + log_alpha) / beta),
            z = clamp(s · (zeta - gamma) + gamma, 0, 1)   (stretched, then clipped: exact 0s and 1s);
        eval mode (u ignored): z = clamp(sigmoid(log_alpha) · (zeta - gamma) + gamma, 0, 1).
    l0_penalty() -> scalar: the expected number of open gates,
        sum_h P(z_h != 0) = sum_h sigmoid(log_alpha_h - beta · log(-gamma / zeta)).
    """

    def __init__(self, num_heads, init_log_alpha=3.0, beta=2 / 3, gamma=-0.1, zeta=1.1):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.full((num_heads,), float(init_log_alpha)))
        self.beta, self.gamma, self.zeta = beta, gamma, zeta

    def forward(self, u=None):
        if self.training:
            if u is None:
                u = torch.rand_like(self.log_alpha).clamp(1e-6, 1 - 1e-6)  # log(0) guard
            s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + self.log_alpha) / self.beta)
        else:
            s = torch.sigmoid(self.log_alpha)  # the deterministic gate at test time
        return (s * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)

    def l0_penalty(self):
        return torch.sigmoid(self.log_alpha - self.beta * math.log(-self.gamma / self.zeta)).sum()


def head_statistics(weights, query_mask=None):
    """Per-head summaries of self-attention maps.

    Inputs:
        weights: (B, H, T, T) attention probabilities of one self-attention layer: row q holds
            query q's weights over the keys (summing to 1, or all zero); query i and key i are
            the same token.
        query_mask: None or bool (B, T), True at real (not padded) tokens; only real queries count.
    Returns a dict of four tensors of shape (H,) in weights' dtype, each a mean over the real
    queries of every batch element:
        "entropy":  -sum_k a_qk log a_qk over the keys of row q (natural log, 0 log 0 = 0);
        "distance": sum_k a_qk |q - k|, the expected distance to the attended key;
        "previous": a_{q, q-1}, the weight on the previous token (over the queries q >= 1);
        "same":     a_{q, q}, the weight on the token itself.
    A statistic with no query to average over is 0.
    """
    b, h, t, _ = weights.shape
    real = torch.ones(b, t, dtype=torch.bool, device=weights.device) if query_mask is None else query_mask.bool()
    real = real[:, None, :].to(weights.dtype)  # (B, 1, T): broadcasts over the heads
    has_previous = real.clone()
    has_previous[..., 0] = 0  # query 0 has no previous token

    def mean_over_queries(per_query, keep):  # (B, H, T) -> (H,)
        return (per_query * keep).sum(dim=(0, 2)) / keep.sum().clamp_min(1)

    positions = torch.arange(t, device=weights.device)
    distance = (positions[:, None] - positions[None, :]).abs().to(weights.dtype)  # (T, T): |q - k|
    previous = F.pad(weights.diagonal(offset=-1, dim1=-2, dim2=-1), (1, 0))  # (B, H, T): a_{q,q-1}, 0 at q = 0
    return {
        "entropy": mean_over_queries(-torch.xlogy(weights, weights).sum(dim=-1), real),  # over keys, not queries
        "distance": mean_over_queries((weights * distance).sum(dim=-1), real),
        "previous": mean_over_queries(previous, has_previous),
        "same": mean_over_queries(weights.diagonal(dim1=-2, dim2=-1), real),
    }


def head_js_divergence(weights, query_mask=None):
    """Pairwise Jensen–Shannon divergence between the attention maps of the heads of one layer.

    Inputs: weights (B, H, Tq, Tk) attention probabilities; query_mask None or bool (B, Tq),
        True at real queries (only those count).
    Returns: (H, H) tensor in weights' dtype, js[i, j] = mean over the real queries of
        JS(A_i[q, :], A_j[q, :]), where JS(p, r) = KL(p || m) / 2 + KL(r || m) / 2, m = (p + r) / 2,
        natural log, 0 log 0 = 0. Symmetric, zero on the diagonal, between 0 and ln 2.
    """
    b, h, tq, _ = weights.shape
    p = weights[:, :, None]  # (B, H, 1, Tq, Tk): head i
    r = weights[:, None]  # (B, 1, H, Tq, Tk): head j
    m = (p + r) / 2

    def log_of(x):  # log x where x > 0 and 0 elsewhere: 0 log 0 = 0 with finite gradients
        return torch.log(torch.where(x > 0, x, torch.ones_like(x)))

    kl_pm = (p * (log_of(p) - log_of(m))).sum(dim=-1)  # (B, H, H, Tq)
    kl_rm = (r * (log_of(r) - log_of(m))).sum(dim=-1)
    js = (kl_pm + kl_rm) / 2
    real = torch.ones(b, tq, dtype=torch.bool, device=weights.device) if query_mask is None else query_mask.bool()
    real = real[:, None, None, :].to(weights.dtype)  # (B, 1, 1, Tq)
    return (js * real).sum(dim=(0, 3)) / real.sum().clamp_min(1)
