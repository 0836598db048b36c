"""Mutants of week06-labs/01_attention_basics.ipynb (a practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06-labs/01_attention_basics.ipynb"
ROUND_TRIP = "sdpa-softmax-query-axis"

MUTANTS = [
    # --- 1.1 scaled dot-product attention -------------------------------------------------------------
    dict(name="sdpa-softmax-query-axis", cell="w06-lab1-sdpa", why="softmax over the queries (dim=-2): columns sum to 1",
         edits=[("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)")]),
    dict(name="sdpa-scale-by-dk", cell="w06-lab1-sdpa", why="divides by d_k instead of √d_k",
         edits=[("scores / math.sqrt(q.shape[-1])", "scores / q.shape[-1]")]),
    dict(name="sdpa-scale-by-dv", cell="w06-lab1-sdpa", why="divides by √d_v (the values' width)",
         edits=[("scores / math.sqrt(q.shape[-1])", "scores / math.sqrt(v.shape[-1])")]),
    dict(name="sdpa-never-scaled", cell="w06-lab1-sdpa", why="the scaling step left out", edits=[("if scale:", "if False:")]),
    dict(name="sdpa-flag-ignored", cell="w06-lab1-sdpa", why="scales even when scale=False", edits=[("if scale:", "if True:")]),
    dict(name="sdpa-k-dot-T", cell="w06-lab1-sdpa", why="k.T: right only for 2-D inputs",
         edits=[("q @ k.transpose(-2, -1)", "q @ k.T")]),
    dict(name="sdpa-returns-scores", cell="w06-lab1-sdpa", why="returns the scores instead of the softmax weights",
         edits=[("return weights @ v, weights", "return weights @ v, scores")]),
    dict(name="sdpa-scores-times-v", cell="w06-lab1-sdpa", why="mixes the values with the raw scores",
         edits=[("return weights @ v, weights", "return scores @ v, weights")]),
    # --- 1.2 entropy ---------------------------------------------------------------------------------
    dict(name="entropy-log2", cell="w06-lab1-entropy", why="bits instead of nats", edits=[("torch.log(", "torch.log2(")]),
    dict(name="entropy-no-minus", cell="w06-lab1-entropy", why="Σ p ln p without the minus sign",
         edits=[("return -terms.sum(dim=-1)", "return terms.sum(dim=-1)")]),
    dict(name="entropy-nan-at-zero", cell="w06-lab1-entropy", why="p·ln p without 0·ln 0 = 0: nan for one-hot rows",
         edits=[("torch.where(weights > 0, weights * torch.log(weights.clamp_min(1e-30)), torch.zeros_like(weights))",
                 "weights * torch.log(weights)")]),
    dict(name="entropy-first-axis", cell="w06-lab1-entropy", why="sums over the first axis", edits=[("sum(dim=-1)", "sum(dim=0)")]),
    dict(name="entropy-mean", cell="w06-lab1-entropy", why="averages the terms instead of summing them",
         edits=[("-terms.sum(dim=-1)", "-terms.mean(dim=-1)")]),
]

VARIANTS = [
    dict(name="sdpa-einsum-F-softmax", cell="w06-lab1-sdpa", why="einsum for the scores, F.softmax",
         edits=[("scores = q @ k.transpose(-2, -1)", 'scores = torch.einsum("...qd,...kd->...qk", q, k)'),
                ("torch.softmax(scores, dim=-1)", "F.softmax(scores, -1)")]),
    dict(name="sdpa-scale-queries-first", cell="w06-lab1-sdpa", why="scales the queries before the product, matmul/mT",
         edits=[("    scores = q @ k.transpose(-2, -1)                    # step 1: (..., n_q, n_k) dot products\n"
                 "    if scale:\n"
                 "        scores = scores / math.sqrt(q.shape[-1])        # step 2: variance d_k -> 1\n",
                 "    if scale:\n        q = q * q.shape[-1] ** -0.5\n    scores = torch.matmul(q, k.mT)\n")]),
    dict(name="entropy-special-entr", cell="w06-lab1-entropy", why="torch.special.entr (−p ln p, 0 at 0)",
         edits=[("    terms = torch.where(weights > 0, weights * torch.log(weights.clamp_min(1e-30)), torch.zeros_like(weights))\n"
                 "    return -terms.sum(dim=-1)", "    return torch.special.entr(weights).sum(-1)")]),
    dict(name="entropy-nan-to-num", cell="w06-lab1-entropy", why="p·ln p with the nan of 0·ln 0 replaced by 0",
         edits=[("    terms = torch.where(weights > 0, weights * torch.log(weights.clamp_min(1e-30)), torch.zeros_like(weights))\n"
                 "    return -terms.sum(dim=-1)", "    return -(weights * weights.log()).nan_to_num(0.0).sum(-1)")]),
]
