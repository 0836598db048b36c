"""Mutants of week06-labs/03_positional_encoding.ipynb (a practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week06-labs/03_positional_encoding.ipynb"
ROUND_TRIP = "sin-halves"

MUTANTS = [
    # --- 1.1 sinusoidal encoding ------------------------------------------------------------------------
    dict(name="sin-halves", cell="w06-lab3-sin", why="sines in the first half, cosines in the second (not interleaved)",
         edits=[("pe[:, 0::2] = torch.sin(pos * omega)", "pe[:, :d_model // 2] = torch.sin(pos * omega)"),
                ("pe[:, 1::2] = torch.cos(pos * omega)", "pe[:, d_model // 2:] = torch.cos(pos * omega)")]),
    dict(name="sin-cos-swapped", cell="w06-lab3-sin", why="cosine in the even columns, sine in the odd ones",
         edits=[("pe[:, 0::2] = torch.sin(pos * omega)", "pe[:, 0::2] = torch.cos(pos * omega)"),
                ("pe[:, 1::2] = torch.cos(pos * omega)", "pe[:, 1::2] = torch.sin(pos * omega)")]),
    dict(name="sin-i-over-d", cell="w06-lab3-sin", why="exponent i/d instead of 2i/d",
         edits=[("torch.arange(0, d_model, 2, dtype=torch.float64) / d_model", "torch.arange(d_model // 2, dtype=torch.float64) / d_model")]),
    dict(name="sin-positions-from-1", cell="w06-lab3-sin", why="positions counted from 1",
         edits=[("torch.arange(n_positions, dtype=torch.float64)", "torch.arange(1, n_positions + 1, dtype=torch.float64)")]),
    dict(name="sin-base-1000", cell="w06-lab3-sin", why="base 1000 instead of 10000", edits=[("10000.0 **", "1000.0 **")]),
    dict(name="sin-growing-frequency", cell="w06-lab3-sin", why="ω_i = 10000^(+2i/d): frequencies grow",
         edits=[("10000.0 ** (-torch.arange", "10000.0 ** (torch.arange")]),
    dict(name="sin-float64", cell="w06-lab3-sin", why="returns float64", edits=[("return pe.float()", "return pe")]),
    # --- 1.2 shift matrix --------------------------------------------------------------------------------
    dict(name="shift-transposed", cell="w06-lab3-shift", why="rotation the other way: the matrix of a shift by −k",
         edits=[("[[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]", "[[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]")]),
    dict(name="shift-i-over-d", cell="w06-lab3-shift", why="angles from the exponent i/d",
         edits=[("torch.arange(0, d_model, 2, dtype=torch.float64) / d_model", "torch.arange(d_model // 2, dtype=torch.float64) / d_model")]),
    dict(name="shift-k-ignored", cell="w06-lab3-shift", why="the angle ω_i without k (always a shift by 1)", edits=[("(omega * k).tolist()", "omega.tolist()")]),
    dict(name="shift-abs-k", cell="w06-lab3-shift", why="|k|: shifts back move forward", edits=[("(omega * k).tolist()", "(omega * abs(k)).tolist()")]),
    dict(name="shift-float64", cell="w06-lab3-shift", why="returns float64", edits=[("return torch.block_diag(*blocks).float()", "return torch.block_diag(*blocks)")]),
]

VARIANTS = [
    dict(name="sin-exp-log-stack", cell="w06-lab3-sin", why="ω by exp(−ln 10000 · 2i/d), interleaved by stack + flatten",
         edits=[("""    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * omega)
    pe[:, 1::2] = torch.cos(pos * omega)
    return pe.float()""", """    omega = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angle = pos * omega
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1).to(torch.float32)""")]),
    dict(name="shift-fill-diagonals", cell="w06-lab3-shift", why="fills the 2×2 blocks by index into a zero matrix",
         edits=[("""    blocks = []
    for a in (omega * k).tolist():
        blocks.append(torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64))
    return torch.block_diag(*blocks).float()""", """    a = omega * k
    M = torch.zeros(d_model, d_model, dtype=torch.float64)
    even = torch.arange(0, d_model, 2)
    M[even, even] = torch.cos(a)
    M[even + 1, even + 1] = torch.cos(a)
    M[even, even + 1] = torch.sin(a)
    M[even + 1, even] = -torch.sin(a)
    return M.to(torch.float32)""")]),
]
