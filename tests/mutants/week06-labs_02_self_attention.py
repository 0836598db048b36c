"""Mutants of week06-labs/02_self_attention.ipynb (a practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06-labs/02_self_attention.ipynb"
ROUND_TRIP = "mha-heads-no-transpose"

MUTANTS = [
    # --- 1.1 multi-head attention ---------------------------------------------------------------------
    dict(name="mha-heads-no-transpose", cell="w06-lab2-mha", why="heads split by view(B, H, T, d_k): positions and heads mixed",
         edits=[("q = self.w_q(x).view(B, T, H, d_k).transpose(1, 2)", "q = self.w_q(x).view(B, H, T, d_k)"),
                ("k = self.w_k(kv).view(B, S, H, d_k).transpose(1, 2)", "k = self.w_k(kv).view(B, H, S, d_k)"),
                ("v = self.w_v(kv).view(B, S, H, d_k).transpose(1, 2)", "v = self.w_v(kv).view(B, H, S, d_k)")]),
    dict(name="mha-concat-no-transpose", cell="w06-lab2-mha", why="heads concatenated by reshape without moving the head axis back",
         edits=[("heads.transpose(1, 2).reshape(B, T, D)", "heads.reshape(B, T, D)")]),
    dict(name="mha-scale-by-dmodel", cell="w06-lab2-mha", why="scores divided by √d_model instead of √d_k",
         edits=[("/ math.sqrt(d_k)", "/ math.sqrt(D)")]),
    dict(name="mha-no-output-projection", cell="w06-lab2-mha", why="W_O left out", edits=[("return self.w_o(concat), weights", "return concat, weights")]),
    dict(name="mha-softmax-query-axis", cell="w06-lab2-mha", why="softmax over the queries", edits=[("dim=-1)", "dim=-2)")]),
    dict(name="mha-context-ignored", cell="w06-lab2-mha", why="keys and values always from x (self-attention only)",
         edits=[("kv = x if context is None else context", "kv = x")]),
    dict(name="mha-values-from-x", cell="w06-lab2-mha", why="keys from the context, values still from x",
         edits=[("v = self.w_v(kv).view(B, S, H, d_k)", "v = self.w_v(x).view(B, T, H, d_k)")]),
    dict(name="mha-queries-from-context", cell="w06-lab2-mha", why="queries, keys and values all from the context",
         edits=[("kv = x if context is None else context", "kv = x if context is None else context\n        x = kv"),
                ("B, T, D = x.shape", "B, T, D = kv.shape[0], kv.shape[1], kv.shape[2]")]),
    dict(name="mha-kq-swapped", cell="w06-lab2-mha", why="W_K used for the queries and W_Q for the keys",
         edits=[("q = self.w_q(x)", "q = self.w_k(x)"), ("k = self.w_k(kv)", "k = self.w_q(kv)")]),
    # --- 1.2 cost table ---------------------------------------------------------------------------------
    dict(name="costs-attention-no-2", cell="w06-lab2-costs", why="counts Q·Kᵀ but not weights·V", edits=[('"attention_flops": 2 * n * n * d', '"attention_flops": n * n * d')]),
    dict(name="costs-rnn-quadratic", cell="w06-lab2-costs", why="RNN cost n²·d (the attention's formula)", edits=[('"rnn_flops": n * d * d', '"rnn_flops": n * n * d')]),
    dict(name="costs-rnn-path-n", cell="w06-lab2-costs", why="path length n instead of n − 1", edits=[('"rnn_path": n - 1', '"rnn_path": n')]),
    dict(name="costs-rnn-steps-1", cell="w06-lab2-costs", why="RNN steps counted as parallel", edits=[('"rnn_steps": n,', '"rnn_steps": 1,')]),
    dict(name="costs-float", cell="w06-lab2-costs", why="floats instead of ints", edits=[('"attention_flops": 2 * n * n * d', '"attention_flops": 2.0 * n * n * d')]),
]

VARIANTS = [
    dict(name="mha-einsum", cell="w06-lab2-mha", why="einsum for scores and mixing, unflatten/flatten for the heads",
         edits=[("q = self.w_q(x).view(B, T, H, d_k).transpose(1, 2)", "q = self.w_q(x).unflatten(-1, (H, d_k)).permute(0, 2, 1, 3)"),
                ("weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)",
                 'weights = (torch.einsum("bhtd,bhsd->bhts", q, k) * d_k ** -0.5).softmax(-1)'),
                ("heads = weights @ v", 'heads = torch.einsum("bhts,bhsd->bhtd", weights, v)'),
                ("concat = heads.transpose(1, 2).reshape(B, T, D)", "concat = heads.permute(0, 2, 1, 3).flatten(2)")]),
    dict(name="mha-loop-over-heads", cell="w06-lab2-mha", why="one head at a time on column slices, torch.cat, torch.stack",
         source='''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError("d_model % n_heads != 0")
        self.n_heads = n_heads
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, x, context=None):
        src = x if context is None else context
        q, k, v = self.w_q(x), self.w_k(src), self.w_v(src)
        d_k = q.shape[-1] // self.n_heads
        outs, maps = [], []
        for i in range(self.n_heads):
            cols = slice(i * d_k, (i + 1) * d_k)
            a = F.softmax(torch.matmul(q[..., cols], k[..., cols].transpose(1, 2)) / d_k ** 0.5, dim=-1)
            maps.append(a)
            outs.append(torch.matmul(a, v[..., cols]))
        return self.w_o(torch.cat(outs, dim=-1)), torch.stack(maps, dim=1)
'''),
    dict(name="costs-built-up", cell="w06-lab2-costs", why="dict built key by key with powers",
         edits=[('''    return {"attention_flops": 2 * n * n * d, "rnn_flops": n * d * d,
            "attention_steps": 1, "rnn_steps": n,
            "attention_path": 1, "rnn_path": n - 1}''', '''    out = dict(attention_steps=1, attention_path=1)
    out["attention_flops"] = 2 * d * n ** 2
    out["rnn_flops"] = n * d ** 2
    out.update(rnn_steps=n, rnn_path=max(n - 1, 0))
    return out''')]),
]
