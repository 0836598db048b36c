"""Mutants of week06-labs/05_sequence_modeling.ipynb (a practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06-labs/05_sequence_modeling.ipynb"
ROUND_TRIP = "welch-pooled"

MUTANTS = [
    # --- 1.1 sine windows --------------------------------------------------------------------------------
    dict(name="windows-t-from-1", cell="w06-lab5-windows", why="time counted from 1", edits=[("torch.arange(length + 1,", "torch.arange(1, length + 2,")]),
    dict(name="windows-target-is-last-input", cell="w06-lab5-windows", why="the target is the last input, not the next value",
         edits=[("return values[:, :length], values[:, length]", "return values[:, :length], values[:, length - 1]")]),
    dict(name="windows-cosine", cell="w06-lab5-windows", why="cosine instead of sine", edits=[("torch.sin(", "torch.cos(")]),
    dict(name="windows-phase-times-frequency", cell="w06-lab5-windows", why="sin(f · (t + φ)) instead of sin(f · t + φ)",
         edits=[("frequency[:, None] * t + phase[:, None]", "frequency[:, None] * (t + phase[:, None])")]),
    dict(name="windows-through-numpy", cell="w06-lab5-windows", why="computed through NumPy: the graph to A, f, φ is cut",
         edits=[("values = amplitude[:, None] * torch.sin(frequency[:, None] * t + phase[:, None])",
                 "values = torch.from_numpy((amplitude[:, None] * torch.sin(frequency[:, None] * t + phase[:, None])).detach().numpy())")]),
    # --- 1.2 Welch's t -------------------------------------------------------------------------------------
    dict(name="welch-pooled", cell="w06-lab5-welch", why="Student's pooled-variance t with n_a + n_b − 2 degrees of freedom",
         edits=[("""    t = (a.mean() - b.mean()) / torch.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a.numel() - 1) + vb ** 2 / (b.numel() - 1))""",
                 """    na, nb = a.numel(), b.numel()
    sp2 = ((na - 1) * a.var() + (nb - 1) * b.var()) / (na + nb - 2)
    t = (a.mean() - b.mean()) / torch.sqrt(sp2 * (1 / na + 1 / nb))
    dof = torch.tensor(float(na + nb - 2))""")]),
    dict(name="welch-biased-variance", cell="w06-lab5-welch", why="sample variances divided by n",
         edits=[("a.var(unbiased=True)", "a.var(unbiased=False)"), ("b.var(unbiased=True)", "b.var(unbiased=False)")]),
    dict(name="welch-dof-n", cell="w06-lab5-welch", why="n instead of n − 1 in the degrees of freedom",
         edits=[("(a.numel() - 1)", "a.numel()"), ("(b.numel() - 1)", "b.numel()")]),
    dict(name="welch-sign", cell="w06-lab5-welch", why="mean(b) − mean(a)", edits=[("(a.mean() - b.mean())", "(b.mean() - a.mean())")]),
    dict(name="welch-no-sqrt", cell="w06-lab5-welch", why="divides by the variance of the difference, not its standard error",
         edits=[("torch.sqrt(va + vb)", "(va + vb)")]),
    dict(name="welch-returns-tensors", cell="w06-lab5-welch", why="returns 0-d tensors instead of floats", edits=[("return t.item(), dof.item()", "return t, dof")]),
    # --- 1.3 last query's attention ----------------------------------------------------------------------------
    dict(name="importance-first-query", cell="w06-lab5-importance", why="the first query's row", edits=[("weights[:, :, -1, :]", "weights[:, :, 0, :]")]),
    dict(name="importance-last-key-column", cell="w06-lab5-importance", why="the last key's column (attention received), not the last query's row",
         edits=[("weights[:, :, -1, :]", "weights[:, :, :, -1]")]),
    dict(name="importance-per-head-averages-heads", cell="w06-lab5-importance", why="per_head averages over the heads",
         edits=[("last.mean(dim=0) if per_head", "last.mean(dim=1) if per_head")]),
    dict(name="importance-all-queries", cell="w06-lab5-importance", why="averages every query's row", edits=[("last = weights[:, :, -1, :]", "last = weights.mean(dim=2)")]),
]

VARIANTS = [
    dict(name="windows-outer", cell="w06-lab5-windows", why="inputs by torch.outer, the target computed on its own",
         edits=[("""    t = torch.arange(length + 1, dtype=amplitude.dtype)                   # 0, ..., length
    values = amplitude[:, None] * torch.sin(frequency[:, None] * t + phase[:, None])
    return values[:, :length], values[:, length]""", """    t = torch.arange(length, dtype=amplitude.dtype)
    x = amplitude.unsqueeze(1) * torch.sin(torch.outer(frequency, t) + phase.unsqueeze(1))
    y = amplitude * torch.sin(frequency * length + phase)
    return x, y""")]),
    dict(name="welch-var-mean", cell="w06-lab5-welch", why="torch.var_mean, float() instead of .item()",
         edits=[("""    a, b = a.double(), b.double()
    va, vb = a.var(unbiased=True) / a.numel(), b.var(unbiased=True) / b.numel()
    t = (a.mean() - b.mean()) / torch.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a.numel() - 1) + vb ** 2 / (b.numel() - 1))
    return t.item(), dof.item()""", """    var_a, mean_a = torch.var_mean(a.double())
    var_b, mean_b = torch.var_mean(b.double())
    sa, sb = var_a / len(a), var_b / len(b)
    se2 = sa + sb
    return float((mean_a - mean_b) / se2.sqrt()), float(se2 * se2 / (sa * sa / (len(a) - 1) + sb * sb / (len(b) - 1)))""")]),
    dict(name="importance-select", cell="w06-lab5-importance", why="select() and flatten of batch and heads",
         edits=[("""    last = weights[:, :, -1, :]                         # (B, H, T): the last query's row
    return last.mean(dim=0) if per_head else last.mean(dim=(0, 1))""", """    rows = weights.select(-2, weights.shape[-2] - 1)
    if per_head:
        return rows.sum(0) / rows.shape[0]
    return rows.flatten(0, 1).mean(0)""")]),
]
