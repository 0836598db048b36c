"""Mutants of week06-labs/04_transformer_block.ipynb (a practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06-labs/04_transformer_block.ipynb"
ROUND_TRIP = "block-norm-inside-residual"

MUTANTS = [
    # --- 1.1 transformer block ---------------------------------------------------------------------------
    dict(name="block-norm-inside-residual", cell="w06-lab4-block", why="post-norm: normalises the attention output, then adds (x + LN(attn(x)))",
         edits=[("x = self.ln1(x + self.attn(x, x, x, need_weights=False)[0])", "x = x + self.ln1(self.attn(x, x, x, need_weights=False)[0])")]),
    dict(name="block-flag-inverted", cell="w06-lab4-block", why="norm_first=True computes post-norm and vice versa",
         edits=[("if self.norm_first:", "if not self.norm_first:")]),
    dict(name="block-pre-ln1-twice", cell="w06-lab4-block", why="pre-norm: ln1 before the FFN too (ln2 unused)",
         edits=[("return x + self.ff(self.ln2(x))", "return x + self.ff(self.ln1(x))")]),
    dict(name="block-pre-residual-from-normed", cell="w06-lab4-block", why="pre-norm: the residual adds the normalised input",
         edits=[("x = x + self.attn(h, h, h, need_weights=False)[0]", "x = h + self.attn(h, h, h, need_weights=False)[0]")]),
    dict(name="block-pre-ffn-post-norm", cell="w06-lab4-block", why="pre-norm attention, post-norm FFN (mixed orders)",
         edits=[("return x + self.ff(self.ln2(x))", "return self.ln2(x + self.ff(x))")]),
    dict(name="block-post-ffn-no-residual", cell="w06-lab4-block", why="post-norm: the FFN's residual connection left out",
         edits=[("return self.ln2(x + self.ff(x))", "return self.ln2(self.ff(x))")]),
    dict(name="block-relu", cell="w06-lab4-block", why="ReLU instead of GELU in the FFN", edits=[("nn.GELU(), nn.Linear(d_ff, d_model))", "nn.ReLU(), nn.Linear(d_ff, d_model))")]),
    dict(name="block-dff-2x", cell="w06-lab4-block", why="d_ff defaults to 2 · d_model", edits=[("d_ff = 4 * d_model if", "d_ff = 2 * d_model if")]),
    # --- 1.2 label smoothing -----------------------------------------------------------------------------
    dict(name="smooth-lecture-notes", cell="w06-lab4-smooth", why="1 − ε at the label, ε/C elsewhere: rows sum to 1 − ε/C (the lecture notes' example)",
         edits=[("return (1.0 - eps) * one_hot + eps / n_classes", "return torch.where(one_hot > 0, torch.tensor(1.0 - eps), torch.tensor(eps / n_classes))")]),
    dict(name="smooth-over-c-minus-1", cell="w06-lab4-smooth", why="ε spread over the C − 1 wrong classes (another convention, not PyTorch's)",
         edits=[("return (1.0 - eps) * one_hot + eps / n_classes", "return (1.0 - eps) * one_hot + eps / (n_classes - 1) * (1 - one_hot)")]),
    dict(name="smooth-eps-swapped", cell="w06-lab4-smooth", why="ε and 1 − ε swapped", edits=[("(1.0 - eps) * one_hot + eps / n_classes", "eps * one_hot + (1.0 - eps) / n_classes")]),
    dict(name="smooth-float64", cell="w06-lab4-smooth", why="float64 targets", edits=[("F.one_hot(labels, n_classes).float()", "F.one_hot(labels, n_classes).double()")]),
]

VARIANTS = [
    dict(name="block-branch-methods", cell="w06-lab4-block", why="the two sublayers as methods, an explicit post-norm branch",
         source='''class TransformerBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_ff=None, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        hidden = d_ff or 4 * d_model
        self.ff = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def _sa(self, z):
        out, _ = self.attn(z, z, z)
        return out

    def forward(self, x):
        if not self.norm_first:
            x = self.ln1(x + self._sa(x))
            x = self.ln2(x + self.ff(x))
            return x
        x = x + self._sa(self.ln1(x))
        x = x + self.ff(self.ln2(x))
        return x
'''),
    dict(name="smooth-scatter", cell="w06-lab4-smooth", why="a full tensor of ε/C with the label entries scattered in",
         edits=[("""    one_hot = F.one_hot(labels, n_classes).float()
    return (1.0 - eps) * one_hot + eps / n_classes""", """    out = torch.full((labels.shape[0], n_classes), eps / n_classes)
    return out.scatter(1, labels[:, None], 1.0 - eps + eps / n_classes)""")]),
]
