"""Mutants of week06/multihead_analysis.ipynb: realistic wrong versions of the student cells, and
variants: correct cells written differently, which every check must accept.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06/multihead_analysis.ipynb"
ROUND_TRIP = "mha-gate-after-out-proj"

_SPLIT = "return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)"
_SCALE = "q = split_heads(self.q_proj(query), tq) / math.sqrt(self.head_dim)"
_PAD = "scores = scores.masked_fill(pad, -math.inf) if pad.dtype == torch.bool else scores + pad.to(scores.dtype)"
_GATED = "heads = (weights @ v) * gate.reshape(-1, self.num_heads, 1, 1)"
_RETURN = "return self.out_proj(merged), weights"
_SOFTMAX = """        row_max = scores.detach().amax(dim=-1, keepdim=True)
        row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))  # all blocked: shift by 0
        e = torch.exp(scores - row_max)  # a blocked key gives exp(-inf) = 0
        total = e.sum(dim=-1, keepdim=True)
        weights = e / torch.where(total > 0, total, torch.ones_like(total))  # (B, H, Tq, Tk); all-blocked rows stay 0
"""

MUTANTS = [
    # --- 1.1 MultiHeadAttention -----------------------------------------------------------------
    dict(name="mha-split-interleaved", cell="w06-mh-attention",
         why="views (B, T, D) straight as (B, H, T, d_head): tokens and heads are mixed",
         edits=[(_SPLIT, "return x.view(b, self.num_heads, t, self.head_dim)")]),
    dict(name="mha-split-head-minor", cell="w06-mh-attention",
         why="splits D as (d_head, H): head h gets features h, h + H, h + 2H, ... (interleaved across heads)",
         edits=[(_SPLIT, "return x.view(b, t, self.head_dim, self.num_heads).permute(0, 3, 1, 2)")]),
    dict(name="mha-merge-without-transpose", cell="w06-mh-attention",
         why="merges the heads with a reshape of (B, H, T, d_head) without moving H back next to d_head",
         edits=[("merged = heads.transpose(1, 2).reshape(b, tq, d)", "merged = heads.reshape(b, tq, d)")]),
    dict(name="mha-scale-sqrt-d-model", cell="w06-mh-attention",
         why="divides the scores by sqrt(D) (the embedding size) instead of sqrt(d_head)",
         edits=[(_SCALE, "q = split_heads(self.q_proj(query), tq) / math.sqrt(d)")]),
    dict(name="mha-no-scale", cell="w06-mh-attention",
         why="forgets the 1/sqrt(d_head) scaling",
         edits=[(_SCALE, "q = split_heads(self.q_proj(query), tq)")]),
    dict(name="mha-no-out-proj", cell="w06-mh-attention",
         why="returns the merged heads without the output projection",
         edits=[(_RETURN, "return merged, weights")]),
    dict(name="mha-gate-after-out-proj", cell="w06-mh-attention",
         why="multiplies the projected output's feature blocks by the gates, after out_proj",
         edits=[(_GATED, "heads = weights @ v"),
                (_RETURN, "return self.out_proj(merged) * gate.repeat_interleave(self.head_dim, dim=-1).unsqueeze(-2), "
                          "weights")]),
    dict(name="mha-gate-on-returned-weights", cell="w06-mh-attention",
         why="gates the attention probabilities and returns the gated ones",
         edits=[(_GATED, "weights = weights * gate.reshape(-1, self.num_heads, 1, 1)\n        heads = weights @ v")]),
    dict(name="mha-padding-polarity", cell="w06-mh-attention",
         why="key_padding_mask read as True = attend (the other notebook's convention)",
         edits=[(_PAD, "scores = scores.masked_fill(~pad, -math.inf) if pad.dtype == torch.bool else scores + pad.to(scores.dtype)")]),
    dict(name="mha-padding-on-queries", cell="w06-mh-attention",
         why="broadcasts the key padding mask over the query axis",
         edits=[("pad = key_padding_mask[:, None, None, :]", "pad = key_padding_mask[:, None, :, None]")]),
    dict(name="mha-float-padding-as-bool", cell="w06-mh-attention",
         why="treats a float key_padding_mask as bool (any non-zero bias blocks the key)",
         edits=[("pad = key_padding_mask[:, None, None, :]", "pad = key_padding_mask[:, None, None, :].bool()")]),
    dict(name="mha-ignores-attn-mask", cell="w06-mh-attention",
         why="attn_mask is accepted but never applied",
         edits=[("if attn_mask is not None:  # (Tq, Tk)", "if False:  # (Tq, Tk)")]),
    dict(name="mha-nan-blocked-rows", cell="w06-mh-attention",
         why="plain softmax: a query whose keys are all blocked gets NaN",
         edits=[(_SOFTMAX, "        weights = torch.softmax(scores, dim=-1)\n")]),
    dict(name="mha-softmax-over-queries", cell="w06-mh-attention",
         why="normalises over the query axis instead of the keys",
         edits=[("total = e.sum(dim=-1, keepdim=True)", "total = e.sum(dim=-2, keepdim=True)")]),
    dict(name="mha-gate-buffer", cell="w06-mh-attention",
         why="gate registered as a buffer: it cannot be learned and gets no gradient",
         edits=[("self.gate = nn.Parameter(torch.ones(num_heads))", "self.register_buffer(\"gate\", torch.ones(num_heads))")]),
    dict(name="mha-gate-random-init", cell="w06-mh-attention",
         why="gates start random instead of at 1",
         edits=[("self.gate = nn.Parameter(torch.ones(num_heads))", "self.gate = nn.Parameter(torch.rand(num_heads))")]),
    dict(name="mha-ignores-head-gate", cell="w06-mh-attention",
         why="head_gate is accepted but self.gate is always used",
         edits=[("gate = self.gate if head_gate is None else head_gate", "gate = self.gate")]),
    dict(name="mha-bias-ignored", cell="w06-mh-attention",
         why="the output projection always has a bias, whatever bias says",
         edits=[("self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)", "self.out_proj = nn.Linear(embed_dim, embed_dim)")]),
    dict(name="mha-float32-scores", cell="w06-mh-attention",
         why="computes the scores in float32 whatever the input dtype (float64 precision lost)",
         edits=[("scores = q @ k.transpose(-2, -1)  # (B, H, Tq, Tk)", "scores = q.float() @ k.float().transpose(-2, -1)")]),
    # --- 1.2 importance ---------------------------------------------------------------------------
    dict(name="imp-weight-gradients", cell="w06-mh-importance",
         why="importance from the gradients of the output-projection weights of each head, not of the gates",
         edits=[("grads = torch.autograd.grad(model.loss(batch), gates)",
                 "layers = model.attention_layers()\n"
                 "            w_grads = torch.autograd.grad(model.loss(batch), [l.out_proj.weight for l in layers])\n"
                 "            grads = [g.view(g.shape[0], l.gate.numel(), -1).abs().sum(dim=(0, 2)) "
                 "for g, l in zip(w_grads, layers)]")]),
    dict(name="imp-abs-after-mean", cell="w06-mh-importance",
         why="|mean gradient| instead of the mean of |gradient| (signs cancel between batches)",
         edits=[("total = total + torch.stack(grads).abs()", "total = total + torch.stack(grads)"),
                ("return total / len(batches)", "return (total / len(batches)).abs()")]),
    dict(name="imp-dropout-on", cell="w06-mh-importance",
         why="the gradients are taken in training mode (dropout on)",
         edits=[("model.eval()  # the importance of the model we use", "pass  # the importance of the model we use")]),
    dict(name="imp-mode-not-restored", cell="w06-mh-importance",
         why="leaves the model in eval mode",
         edits=[("        model.train(was_training)\n    return total / len(batches)", "        pass\n    return total / len(batches)")]),
    dict(name="imp-backward-accumulates", cell="w06-mh-importance",
         why="loss.backward() and gate.grad, never zeroed: gradients pile up over batches and stay on the model",
         edits=[("grads = torch.autograd.grad(model.loss(batch), gates)",
                 "model.loss(batch).backward()\n            grads = [g.grad.clone() for g in gates]")]),
    dict(name="abl-gate-not-restored", cell="w06-mh-importance",
         why="switches heads off one after another without switching them back on",
         edits=[("layer.gate[h] = kept  # and back on before the next head", "pass")]),
    dict(name="abl-loss-not-increase", cell="w06-mh-importance",
         why="returns the loss without the head, not its increase over the full model",
         edits=[("drop[l, h] = mean_loss() - base", "drop[l, h] = mean_loss()")]),
    dict(name="abl-dropout-on", cell="w06-mh-importance",
         why="ablation measured in training mode (dropout on)",
         edits=[("    model.eval()\n\n    def mean_loss", "    model.train()\n\n    def mean_loss")]),
    # --- 1.3 pruning ------------------------------------------------------------------------------
    dict(name="prune-most-important", cell="w06-mh-prune",
         why="switches off the most important heads (descending order)",
         edits=[("order = importance.detach().flatten().argsort()", "order = importance.detach().flatten().argsort(descending=True)")]),
    dict(name="prune-threshold", cell="w06-mh-prune",
         why="keeps heads above the k-th smallest value: ties prune too many, k = 0 fails",
         edits=[("mask[order[:num_pruned]] = 0.0", "mask[importance.flatten() <= importance.flatten().kthvalue(num_pruned).values] = 0.0")]),
    dict(name="prune-bool", cell="w06-mh-prune",
         why="returns a bool keep-mask instead of gate values",
         edits=[("return mask.reshape(importance.shape)", "return mask.reshape(importance.shape) > 0")]),
    dict(name="prune-in-place", cell="w06-mh-prune",
         why="writes the gates into the importance tensor itself",
         edits=[("mask = torch.ones(importance.numel(), dtype=importance.dtype, device=importance.device)",
                 "mask = importance.view(-1).fill_(1.0)")]),
    dict(name="prune-float32", cell="w06-mh-prune",
         why="always float32 gates",
         edits=[("mask = torch.ones(importance.numel(), dtype=importance.dtype, device=importance.device)",
                 "mask = torch.ones(importance.numel(), device=importance.device)")]),
    # --- 1.4 hard-concrete gates ------------------------------------------------------------------
    dict(name="hc-no-stretch", cell="w06-mh-hard-concrete",
         why="the plain concrete (sigmoid) gate: never exactly 0 or 1",
         edits=[("return (s * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)", "return s")]),
    dict(name="hc-eval-samples", cell="w06-mh-hard-concrete",
         why="samples noise in eval mode too",
         edits=[("if self.training:", "if True:")]),
    dict(name="hc-l0-no-shift", cell="w06-mh-hard-concrete",
         why="L0 penalty sigmoid(log_alpha), without the -beta·log(-gamma/zeta) shift",
         edits=[("torch.sigmoid(self.log_alpha - self.beta * math.log(-self.gamma / self.zeta)).sum()",
                 "torch.sigmoid(self.log_alpha).sum()")]),
    dict(name="hc-beta-multiplies", cell="w06-mh-hard-concrete",
         why="multiplies by the temperature beta instead of dividing",
         edits=[("+ self.log_alpha) / self.beta)", "+ self.log_alpha) * self.beta)")]),
    dict(name="hc-init-ignored", cell="w06-mh-hard-concrete",
         why="log_alpha always starts at 3",
         edits=[("torch.full((num_heads,), float(init_log_alpha))", "torch.full((num_heads,), 3.0)")]),
    dict(name="hc-noise-sign", cell="w06-mh-hard-concrete",
         why="logistic noise with the wrong sign: log(1 - u) - log(u)",
         edits=[("torch.log(u) - torch.log1p(-u)", "torch.log1p(-u) - torch.log(u)")]),
    dict(name="hc-ignores-given-u", cell="w06-mh-hard-concrete",
         why="always draws its own noise, even when u is given",
         edits=[("if u is None:", "if True:")]),
    # --- 1.5 statistics ---------------------------------------------------------------------------
    dict(name="stats-entropy-over-queries", cell="w06-mh-statistics",
         why="entropy summed over the query axis instead of the keys",
         edits=[("-torch.xlogy(weights, weights).sum(dim=-1)", "-torch.xlogy(weights, weights).sum(dim=-2)")]),
    dict(name="stats-signed-distance", cell="w06-mh-statistics",
         why="q - k without the absolute value",
         edits=[("(positions[:, None] - positions[None, :]).abs()", "(positions[:, None] - positions[None, :])")]),
    dict(name="stats-next-token", cell="w06-mh-statistics",
         why="takes the diagonal above (the next token) for the previous-token score",
         edits=[("weights.diagonal(offset=-1, dim1=-2, dim2=-1), (1, 0))", "weights.diagonal(offset=1, dim1=-2, dim2=-1), (0, 1))")]),
    dict(name="stats-ignores-query-mask", cell="w06-mh-statistics",
         why="averages over padded queries too",
         edits=[("real = torch.ones(b, t, dtype=torch.bool, device=weights.device) if query_mask is None else query_mask.bool()",
                 "real = torch.ones(b, t, dtype=torch.bool, device=weights.device)")]),
    dict(name="stats-entropy-nan", cell="w06-mh-statistics",
         why="a · log a without the 0 · log 0 = 0 convention: NaN for blocked keys",
         edits=[("-torch.xlogy(weights, weights).sum(dim=-1)", "-(weights * weights.log()).sum(dim=-1)")]),
    dict(name="stats-previous-counts-query-0", cell="w06-mh-statistics",
         why="the previous-token mean also counts query 0, which has no previous token",
         edits=[("    has_previous[..., 0] = 0  # query 0 has no previous token\n", "")]),
    dict(name="stats-log2", cell="w06-mh-statistics",
         why="entropy in bits instead of nats",
         edits=[("-torch.xlogy(weights, weights).sum(dim=-1)", "-torch.xlogy(weights, weights).sum(dim=-1) / math.log(2)")]),
    # --- 1.6 Jensen-Shannon -----------------------------------------------------------------------
    dict(name="js-kl-only", cell="w06-mh-js-divergence",
         why="KL(p || m) of one head only: not symmetric",
         edits=[("js = (kl_pm + kl_rm) / 2", "js = kl_pm")]),
    dict(name="js-no-half", cell="w06-mh-js-divergence",
         why="sum of the two KL terms without the 1/2 (up to 2 ln 2)",
         edits=[("js = (kl_pm + kl_rm) / 2", "js = kl_pm + kl_rm")]),
    dict(name="js-ignores-query-mask", cell="w06-mh-js-divergence",
         why="averages over padded queries too",
         edits=[("real = torch.ones(b, tq, dtype=torch.bool, device=weights.device) if query_mask is None else query_mask.bool()",
                 "real = torch.ones(b, tq, dtype=torch.bool, device=weights.device)")]),
    dict(name="js-bits", cell="w06-mh-js-divergence",
         why="log base 2 (bits) instead of nats",
         edits=[("js = (kl_pm + kl_rm) / 2", "js = (kl_pm + kl_rm) / 2 / math.log(2)")]),
    dict(name="js-mean-over-keys", cell="w06-mh-js-divergence",
         why="averages the KL terms over the keys instead of summing them",
         edits=[("kl_pm = (p * (log_of(p) - log_of(m))).sum(dim=-1)", "kl_pm = (p * (log_of(p) - log_of(m))).mean(dim=-1)"),
                ("kl_rm = (r * (log_of(r) - log_of(m))).sum(dim=-1)", "kl_rm = (r * (log_of(r) - log_of(m))).mean(dim=-1)")]),
]

_FUSED_EINSUM = '''
class MultiHeadAttention(nn.Module):
    """Fused q/k/v projection and einsum (a correct variant)."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.gate = nn.Parameter(torch.ones(num_heads))

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, head_gate=None):
        d = query.shape[-1]
        w, bias = self.qkv_proj.weight, self.qkv_proj.bias
        pick = lambda i: (w[i * d:(i + 1) * d], None if bias is None else bias[i * d:(i + 1) * d])
        q, k, v = (F.linear(x, *pick(i)) for i, x in enumerate((query, key, value)))
        q, k, v = (z.unflatten(-1, (self.num_heads, self.head_dim)) for z in (q, k, v))  # (B, T, H, d)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                blocked = blocked | attn_mask
            else:
                scores = scores + attn_mask
        if key_padding_mask is not None:
            if key_padding_mask.dtype == torch.bool:
                blocked = blocked | key_padding_mask[:, None, None, :]
            else:
                scores = scores + key_padding_mask[:, None, None, :]
        scores = torch.where(blocked, torch.full_like(scores, -math.inf), scores)
        dead = torch.isneginf(scores).all(dim=-1, keepdim=True)
        weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
        gate = self.gate if head_gate is None else head_gate
        if gate.dim() == 1:
            gate = gate[None]
        out = torch.einsum("bhqk,bkhd,bh->bqhd", weights, v, gate.to(weights.dtype).expand(weights.shape[0], -1))
        return self.out_proj(out.flatten(2)), weights
'''

_TORCH_LAYOUT_BMM = '''
class MultiHeadAttention(nn.Module):
    """nn.MultiheadAttention's own parameter layout (in_proj_weight) and torch.bmm over (B·H) (a correct variant)."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.randn(3 * embed_dim, embed_dim) / embed_dim ** 0.5)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.gate = nn.Parameter(torch.ones(num_heads))

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None, head_gate=None):
        b, tq, d = query.shape
        tk, h, dh = key.shape[1], self.num_heads, self.head_dim
        wq, wk, wv = self.in_proj_weight.chunk(3)
        bq, bk, bv = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)

        def heads(x, w, bias_, t):  # (B, T, D) -> (B·H, T, d_head)
            return F.linear(x, w, bias_).reshape(b, t, h, dh).permute(0, 2, 1, 3).reshape(b * h, t, dh)

        q, k, v = heads(query, wq, bq, tq), heads(key, wk, bk, tk), heads(value, wv, bv, tk)
        scores = torch.bmm(q * dh ** -0.5, k.transpose(1, 2)).view(b, h, tq, tk)
        bias_mask = torch.zeros(b, 1, tq, tk, dtype=scores.dtype, device=scores.device)
        for m, shape in ((attn_mask, (1, 1, tq, tk)), (key_padding_mask, (b, 1, 1, tk))):
            if m is not None:
                m = m.reshape(shape)
                bias_mask = bias_mask + (torch.zeros(shape, dtype=scores.dtype).masked_fill(m, -math.inf)
                                         if m.dtype == torch.bool else m.to(scores.dtype))
        scores = scores + bias_mask
        top = scores.amax(-1, keepdim=True).detach()
        top = top.masked_fill(~torch.isfinite(top), 0.0)
        e = (scores - top).exp()
        s = e.sum(-1, keepdim=True)
        weights = e / s.masked_fill(s == 0, 1.0)
        gate = (self.gate if head_gate is None else head_gate).expand(b, h).reshape(b * h, 1, 1)
        out = torch.bmm(weights.reshape(b * h, tq, tk), v) * gate
        return self.out_proj(out.view(b, h, tq, dh).transpose(1, 2).reshape(b, tq, d)), weights
'''

_IMPORTANCE_BACKWARD = '''
def head_importance(model, batches):
    """loss.backward() and gate.grad, zeroed after each batch (a correct variant)."""
    if not batches:
        raise ValueError("empty")
    mode = model.training
    model.eval()
    layers = model.attention_layers()
    total = torch.zeros(len(layers), layers[0].gate.numel())
    for batch in batches:
        model.zero_grad(set_to_none=True)
        model.loss(batch).backward()
        total += torch.stack([layer.gate.grad.detach().abs() for layer in layers])
    model.zero_grad(set_to_none=True)
    model.train(mode)
    return total / len(batches)


def ablation_importance(model, batches):
    """One gate vector at a time, copied and restored, under inference_mode (a correct variant)."""
    mode = model.training
    model.eval()
    layers = model.attention_layers()
    with torch.inference_mode():
        base = torch.tensor([model.loss(x) for x in batches]).mean()
        out = torch.zeros(len(layers), layers[0].gate.numel())
        for i, layer in enumerate(layers):
            saved = layer.gate.detach().clone()
            for h in range(saved.numel()):
                layer.gate.copy_(saved * (torch.arange(saved.numel()) != h))
                out[i, h] = torch.tensor([model.loss(x) for x in batches]).mean() - base
            layer.gate.copy_(saved)
    model.train(mode)
    return out
'''

_PRUNE_TOPK = '''
def prune_mask(importance, num_pruned):
    """torch.topk(largest=False) and scatter (a correct variant)."""
    flat = importance.reshape(-1)
    keep = torch.ones_like(flat)
    if num_pruned:
        keep = keep.scatter(0, flat.topk(num_pruned, largest=False).indices, 0.0)
    return keep.view(importance.shape)
'''

_HARD_CONCRETE_ALT = '''
class HardConcreteGate(nn.Module):
    """log(u / (1 - u)) noise and hardtanh-style clipping (a correct variant)."""

    def __init__(self, num_heads, init_log_alpha=3.0, beta=2 / 3, gamma=-0.1, zeta=1.1):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.ones(num_heads) * init_log_alpha)
        self.beta, self.gamma, self.zeta = beta, gamma, zeta

    def forward(self, u=None):
        if not self.training:
            s = self.log_alpha.sigmoid()
        else:
            if u is None:
                u = torch.rand(self.log_alpha.shape, device=self.log_alpha.device).clamp(1e-6, 1 - 1e-6)
            s = torch.sigmoid((torch.log(u / (1 - u)) + self.log_alpha) / self.beta)
        return torch.clamp(self.gamma + (self.zeta - self.gamma) * s, min=0.0, max=1.0)

    def l0_penalty(self):
        return (self.log_alpha - self.beta * math.log(-self.gamma / self.zeta)).sigmoid().sum()
'''

_STATISTICS_ALT = '''
def head_statistics(weights, query_mask=None):
    """torch.where for 0 log 0, gather for the previous token, masked means via einsum (a correct variant)."""
    b, h, t, _ = weights.shape
    keep = (query_mask if query_mask is not None else torch.ones(b, t, dtype=torch.bool)).to(weights.dtype)
    logs = torch.where(weights > 0, weights.log(), torch.zeros_like(weights))
    entropy = -(weights * logs).sum(-1)
    pos = torch.arange(t)
    distance = (weights * (pos[None, :] - pos[:, None]).abs().to(weights.dtype)).sum(-1)
    same = torch.einsum("bhqq->bhq", weights)
    prev_idx = (pos - 1).clamp(min=0).view(1, 1, t, 1).expand(b, h, t, 1)
    previous = weights.gather(-1, prev_idx).squeeze(-1)
    keep_prev = keep.clone()
    keep_prev[:, 0] = 0

    def avg(x, k):
        n = k.sum()
        return torch.einsum("bhq,bq->h", x, k) / n if n > 0 else torch.zeros(h, dtype=weights.dtype)

    return {"entropy": avg(entropy, keep), "distance": avg(distance, keep), "previous": avg(previous, keep_prev),
            "same": avg(same, keep)}
'''

_JS_LOOP = '''
def head_js_divergence(weights, query_mask=None):
    """A loop over head pairs with F.kl_div (a correct, if slower, variant)."""
    b, h, tq, tk = weights.shape
    keep = torch.ones(b, tq, dtype=torch.bool) if query_mask is None else query_mask
    out = torch.zeros(h, h, dtype=weights.dtype)
    rows = weights.permute(1, 0, 2, 3)[:, keep]  # (H, N, Tk): real queries only
    if rows.shape[1] == 0:
        return out
    for i in range(h):
        for j in range(i + 1, h):
            m = (rows[i] + rows[j]) / 2
            log_m = torch.where(m > 0, m, torch.ones_like(m)).log()
            js = 0.5 * (F.kl_div(log_m, rows[i], reduction="none").sum(-1)
                        + F.kl_div(log_m, rows[j], reduction="none").sum(-1))
            out[i, j] = out[j, i] = js.mean()
    return out
'''

VARIANTS = [
    dict(name="mha-fused-qkv-einsum", cell="w06-mh-attention",
         why="one fused qkv_proj, einsum for scores and outputs, bool masks merged, softmax then masked rows zeroed",
         source=_FUSED_EINSUM),
    dict(name="mha-torch-layout-bmm", cell="w06-mh-attention",
         why="in_proj_weight like nn.MultiheadAttention, (B·H) batches with torch.bmm, masks summed into one bias",
         source=_TORCH_LAYOUT_BMM),
    dict(name="importance-backward-zero-grad", cell="w06-mh-importance",
         why="loss.backward() with zero_grad, inference_mode ablation on copies of the gate vector",
         source=_IMPORTANCE_BACKWARD),
    dict(name="prune-topk-scatter", cell="w06-mh-prune",
         why="topk(largest=False) and scatter",
         source=_PRUNE_TOPK),
    dict(name="hard-concrete-alt", cell="w06-mh-hard-concrete",
         why="log(u / (1 - u)) noise, torch.rand of a shape, clamp(min, max)",
         source=_HARD_CONCRETE_ALT),
    dict(name="statistics-where-gather", cell="w06-mh-statistics",
         why="torch.where for 0 log 0, gather for the previous token, einsum averages",
         source=_STATISTICS_ALT),
    dict(name="js-pair-loop-kl-div", cell="w06-mh-js-divergence",
         why="a loop over head pairs with F.kl_div",
         source=_JS_LOOP),
]
