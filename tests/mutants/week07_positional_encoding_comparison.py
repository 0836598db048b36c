"""Mutants of week07/positional_encoding_comparison.ipynb: realistic wrong versions of the student cells,
and correct cells written differently (variants) that every check must accept.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week07/positional_encoding_comparison.ipynb"
ROUND_TRIP = "rope-rotates-values"

MUTANTS = [
    # --- 1.1 sinusoidal ------------------------------------------------------------------------------
    dict(name="sin-concatenated", cell="w07-pe-sinusoidal",
         why="all sines first, then all cosines: the docstring's interleaved layout is not kept",
         edits=[("pe = torch.stack([angles.sin(), angles.cos()], dim=-1)",
                 "pe = torch.cat([angles.sin(), angles.cos()], dim=-1)")]),
    dict(name="sin-cos-first", cell="w07-pe-sinusoidal",
         why="cos in the even columns and sin in the odd ones",
         edits=[("pe = torch.stack([angles.sin(), angles.cos()], dim=-1)",
                 "pe = torch.stack([angles.cos(), angles.sin()], dim=-1)")]),
    dict(name="sin-dimension-index", cell="w07-pe-sinusoidal",
         why="i runs over the dimension numbers 0, 2, 4, ... instead of the pairs: the exponent becomes 4i/d",
         edits=[("i = torch.arange(d_model // 2, device=positions.device, dtype=torch.float32)",
                 "i = torch.arange(0, d_model, 2, device=positions.device, dtype=torch.float32)")]),
    dict(name="sin-i-over-d", cell="w07-pe-sinusoidal",
         why="base^(-i/d) instead of base^(-2i/d): the frequencies fall half as fast",
         edits=[("freqs = base ** (-2.0 * i / d_model)", "freqs = base ** (-i / d_model)")]),
    dict(name="sin-ignores-base", cell="w07-pe-sinusoidal",
         why="the base argument is ignored (10000 hard-coded)",
         edits=[("freqs = base ** (-2.0 * i / d_model)", "freqs = 10000.0 ** (-2.0 * i / d_model)")]),
    dict(name="sin-embed-ignores-positions", cell="w07-pe-sinusoidal",
         why="embed encodes 0 ... T-1 whatever positions it is given",
         edits=[("pe = sinusoidal_encoding(positions, self.d_model, self.base)",
                 "pe = sinusoidal_encoding(torch.arange(x.shape[1], device=x.device), self.d_model, self.base)")]),
    dict(name="sin-embed-float32", cell="w07-pe-sinusoidal",
         why="the sum is returned in float32 whatever x's dtype",
         edits=[("return x + pe.to(device=x.device, dtype=x.dtype)", "return x.float() + pe.to(x.device)")]),
    # --- 1.2 learned ---------------------------------------------------------------------------------
    dict(name="learned-indexed-from-1", cell="w07-pe-learned",
         why="position p reads row p + 1 (1-based positions)",
         edits=[("return x + self.embedding(positions)", "return x + self.embedding(positions + 1)")]),
    dict(name="learned-clamps", cell="w07-pe-learned",
         why="positions past the table are clamped to its last row instead of raising",
         edits=[("if positions.numel() and int(positions.max()) >= self.max_len:",
                 "positions = positions.clamp(max=self.max_len - 1)\n        if False:")]),
    dict(name="learned-check-off-by-one", cell="w07-pe-learned",
         why="the range check lets position max_len through (IndexError instead of ValueError)",
         edits=[("int(positions.max()) >= self.max_len:", "int(positions.max()) > self.max_len:")]),
    dict(name="learned-ignores-positions", cell="w07-pe-learned",
         why="adds rows 0 ... T-1 whatever positions it is given",
         edits=[("return x + self.embedding(positions)", "return x + self.embedding.weight[: x.shape[1]]")]),
    # --- 1.3 buckets ---------------------------------------------------------------------------------
    dict(name="bucket-clamp-off-by-one", cell="w07-pe-bucket",
         why="far distances clamped to num_buckets instead of num_buckets - 1 (one bucket too many)",
         edits=[("large = large.clamp(max=num_buckets - 1)", "large = large.clamp(max=num_buckets)")]),
    dict(name="bucket-exact-boundary-off-by-one", cell="w07-pe-bucket",
         why="the exact range stops one distance early",
         edits=[("is_small = n < max_exact", "is_small = n < max_exact - 1")]),
    dict(name="bucket-zero-counts-as-after", cell="w07-pe-bucket",
         why="bidirectional: relative position 0 is put in the upper half (>= 0 instead of > 0)",
         edits=[("bucket = bucket + (n > 0).long() * num_buckets", "bucket = bucket + (n >= 0).long() * num_buckets")]),
    dict(name="bucket-rounds", cell="w07-pe-bucket",
         why="the logarithmic bucket is rounded instead of floored",
         edits=[("large = max_exact + (scaled * (num_buckets - max_exact)).long()",
                 "large = max_exact + (scaled * (num_buckets - max_exact)).round().long()")]),
    dict(name="bucket-causal-uses-abs", cell="w07-pe-bucket",
         why="causal setting: keys after the query get their own distance instead of distance 0",
         edits=[("n = (-n).clamp(min=0)", "n = n.abs()")]),
    dict(name="bucket-no-halving", cell="w07-pe-bucket",
         why="bidirectional without halving the bucket count: buckets up to 2N - 1",
         edits=[("        num_buckets //= 2\n", "")]),
    # --- 1.4 T5 bias ----------------------------------------------------------------------------------
    dict(name="t5-sign-flipped", cell="w07-pe-t5",
         why="relative position query - key instead of key - query: the bias is added with its sign flipped",
         edits=[("relative = positions[None, :] - positions[:, None]", "relative = positions[:, None] - positions[None, :]")]),
    dict(name="t5-reshape-not-permute", cell="w07-pe-t5",
         why="(T, T, H) reshaped to (H, T, T) instead of permuted: heads and positions are scrambled",
         edits=[("return self.relative_attention_bias(buckets).permute(2, 0, 1)",
                 "return self.relative_attention_bias(buckets).reshape(-1, len(positions), len(positions))")]),
    dict(name="t5-forgets-direction", cell="w07-pe-t5",
         why="bidirectional is not passed on: the bucket function's default (True) is used",
         edits=[("buckets = relative_position_bucket(relative, bidirectional=self.bidirectional,",
                 "buckets = relative_position_bucket(relative,")]),
    dict(name="t5-index-positions", cell="w07-pe-t5",
         why="relative positions of the indices 0 ... T-1, not of the given positions",
         edits=[("relative = positions[None, :] - positions[:, None]",
                 "relative = torch.arange(len(positions))[None, :] - torch.arange(len(positions))[:, None]")]),
    # --- 1.5 RoPE ------------------------------------------------------------------------------------------
    dict(name="rope-half-split-pairs", cell="w07-pe-rope",
         why="pairs (i, i + d/2) (the rotate-half layout) instead of the docstring's (2i, 2i + 1)",
         edits=[("x1, x2 = x[..., 0::2].to(dtype), x[..., 1::2].to(dtype)",
                 "x1, x2 = x[..., : self.head_dim // 2].to(dtype), x[..., self.head_dim // 2 :].to(dtype)"),
                ("return out.flatten(-2).to(x.dtype)", "return torch.cat([out[..., 0], out[..., 1]], dim=-1).to(x.dtype)")]),
    dict(name="rope-rotates-values", cell="w07-pe-rope",
         why="the values are rotated too",
         edits=[("return self.rotate(q, positions), self.rotate(k, positions), v",
                 "return self.rotate(q, positions), self.rotate(k, positions), self.rotate(v, positions)")]),
    dict(name="rope-only-queries", cell="w07-pe-rope",
         why="only the queries are rotated: the score is no longer a function of the offset",
         edits=[("return self.rotate(q, positions), self.rotate(k, positions), v", "return self.rotate(q, positions), k, v")]),
    dict(name="rope-theta-i-over-d", cell="w07-pe-rope",
         why="theta_i = base^(-i/d) instead of base^(-2i/d)",
         edits=[("theta = self.base ** (-2.0 * i / self.head_dim)", "theta = self.base ** (-i / self.head_dim)")]),
    dict(name="rope-opposite-direction", cell="w07-pe-rope",
         why="rotation by -angle (sin terms with the wrong signs)",
         edits=[("out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)",
                 "out = torch.stack([x1 * cos + x2 * sin, -x1 * sin + x2 * cos], dim=-1)")]),
    dict(name="rope-angles-in-half", cell="w07-pe-rope",
         why="angles, cos and sin computed in the input's dtype: float16 phases are off by 0.1 rad at position 200",
         edits=[("dtype = torch.promote_types(x.dtype, torch.float32)", "dtype = x.dtype")]),
    dict(name="rope-ignores-positions", cell="w07-pe-rope",
         why="angles of 0 ... T-1 whatever positions it is given",
         edits=[("angles = positions.to(device=x.device, dtype=dtype)[:, None] * theta",
                 "angles = torch.arange(x.shape[-2], device=x.device, dtype=dtype)[:, None] * theta")]),
    # --- 1.6 ALiBi -------------------------------------------------------------------------------------
    dict(name="alibi-slopes-reversed", cell="w07-pe-alibi",
         why="slope order reversed (smallest slope on the first head)",
         edits=[("return torch.tensor(slopes, dtype=torch.float32)", "return torch.tensor(slopes[::-1], dtype=torch.float32)")]),
    dict(name="alibi-positive-bias", cell="w07-pe-alibi",
         why="the distance bias is added with its sign flipped (far keys rewarded)",
         edits=[("return -self.slopes[:, None, None] * distance", "return self.slopes[:, None, None] * distance")]),
    dict(name="alibi-naive-non-power-of-two", cell="w07-pe-alibi",
         why="2^(-8h/n) for every head count, without the rule for counts that are not powers of two",
         edits=[("slopes = power_of_two(p) + power_of_two(2 * p)[0::2][: num_heads - p]",
                 "slopes = power_of_two(num_heads)")]),
    dict(name="alibi-odd-interleave", cell="w07-pe-alibi",
         why="the extra heads take the odd-indexed slopes of the 2p list",
         edits=[("power_of_two(2 * p)[0::2]", "power_of_two(2 * p)[1::2]")]),
    dict(name="alibi-first-slope-one", cell="w07-pe-alibi",
         why="h counted from 0: the first head gets slope 1 and the last 2^(-8 + 8/n)",
         edits=[("return [start ** h for h in range(1, n + 1)]", "return [start ** h for h in range(n)]")]),
    dict(name="alibi-no-abs", cell="w07-pe-alibi",
         why="i - j without the absolute value: keys after the query get a reward",
         edits=[("distance = (positions[:, None] - positions[None, :]).abs().to(self.slopes.dtype)",
                 "distance = (positions[:, None] - positions[None, :]).to(self.slopes.dtype)")]),
    # --- 1.7 per-position NLL ----------------------------------------------------------------------------
    dict(name="nll-no-shift", cell="w07-pe-nll",
         why="scored on the tokens it was given instead of the next ones",
         edits=[('nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")',
                 'nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, :-1], reduction="none")')]),
    dict(name="nll-forgets-eval", cell="w07-pe-nll",
         why="evaluates in train mode (dropout on)",
         edits=[("    was_training = model.training\n    model.eval()\n", "    was_training = model.training\n")]),
    dict(name="nll-mean-of-chunks", cell="w07-pe-nll",
         why="averages inside each chunk, then divides by N again",
         edits=[("total += nll.sum(dim=0).double().cpu()", "total += nll.mean(dim=0).double().cpu()")]),
    dict(name="nll-drops-last-chunk", cell="w07-pe-nll",
         why="the loop stops before a chunk shorter than batch_size",
         edits=[("for start in range(0, len(windows), batch_size):",
                 "for start in range(0, len(windows) - batch_size + 1, batch_size):")]),
    dict(name="nll-no-restore", cell="w07-pe-nll",
         why="the model is left in eval mode",
         edits=[("        model.train(was_training)", "        pass")]),
]

_SIN_VARIANT = '''
def sinusoidal_encoding(positions, d_model, base=10000.0):
    if positions.dim() != 1:
        raise ValueError("positions must be 1-d")
    if d_model <= 0 or d_model % 2:
        raise ValueError("d_model must be even")
    div = torch.exp(torch.arange(0, d_model, 2, device=positions.device, dtype=torch.float32) * (-math.log(base) / d_model))
    pe = torch.zeros(len(positions), d_model, device=positions.device)
    pe[:, 0::2] = torch.sin(positions.float()[:, None] * div)
    pe[:, 1::2] = torch.cos(positions.float()[:, None] * div)
    return pe


class SinusoidalPE(dl.posenc.PositionEncoding):
    def __init__(self, d_model, base=10000.0):
        super().__init__()
        self.d_model, self.base = d_model, base
        self.register_buffer("cache", sinusoidal_encoding(torch.arange(256), d_model, base), persistent=False)

    def embed(self, x, positions):
        cached = (not positions.is_floating_point() and positions.numel() > 0
                  and int(positions.min()) >= 0 and int(positions.max()) < len(self.cache))
        pe = self.cache[positions.to(self.cache.device)] if cached else sinusoidal_encoding(positions, self.d_model, self.base)
        return x + pe.to(device=x.device, dtype=x.dtype)
'''

_BUCKET_VARIANT = '''
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    ret = 0
    n = -relative_position
    if bidirectional:
        num_buckets //= 2
        ret += (n < 0).to(torch.long) * num_buckets
        n = torch.abs(n)
    else:
        n = torch.max(n, torch.zeros_like(n))
    max_exact = num_buckets // 2
    is_small = n < max_exact
    val_if_large = max_exact + (torch.log(n.double() / max_exact) / math.log(max_distance / max_exact)
                                * (num_buckets - max_exact)).floor().long()
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    ret += torch.where(is_small, n, val_if_large)
    return ret
'''

_ROPE_COMPLEX = '''
class RotaryPE(dl.posenc.PositionEncoding):
    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        if head_dim <= 0 or head_dim % 2:
            raise ValueError("head_dim must be even")
        self.head_dim, self.base = head_dim, base

    def rotate(self, x, positions):
        dtype = torch.promote_types(x.dtype, torch.float32)
        theta = self.base ** (-torch.arange(0, self.head_dim, 2, device=x.device, dtype=dtype) / self.head_dim)
        angles = positions.to(device=x.device, dtype=dtype)[:, None] * theta
        rot = torch.polar(torch.ones_like(angles), angles)                    # e^{i angle}
        xc = torch.view_as_complex(x.to(dtype).reshape(*x.shape[:-1], -1, 2).contiguous())
        return torch.view_as_real(xc * rot).flatten(-2).to(x.dtype)

    def qkv(self, q, k, v, positions):
        return self.rotate(q, positions), self.rotate(k, positions), v
'''

_ROPE_CACHE = '''
class RotaryPE(dl.posenc.PositionEncoding):
    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        if head_dim <= 0 or head_dim % 2:
            raise ValueError("head_dim must be even")
        self.head_dim, self.base = head_dim, base
        inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        self.register_buffer("inv_freq", inv, persistent=False)

    def rotate(self, x, positions):
        dtype = torch.promote_types(x.dtype, torch.float32)
        angles = torch.outer(positions.to(device=x.device, dtype=dtype), self.inv_freq.to(device=x.device, dtype=dtype))
        cos = angles.cos().repeat_interleave(2, dim=-1)
        sin = angles.sin().repeat_interleave(2, dim=-1)
        xf = x.to(dtype)
        rotated = torch.stack([-xf[..., 1::2], xf[..., 0::2]], dim=-1).flatten(-2)   # (-x2, x1) per pair
        return (xf * cos + rotated * sin).to(x.dtype)

    def qkv(self, q, k, v, positions):
        q, k = (self.rotate(t, positions) for t in (q, k))
        return q, k, v
'''

_ALIBI_VARIANT = '''
def alibi_slopes(num_heads):
    if num_heads < 1:
        raise ValueError("num_heads must be >= 1")

    def power_of_two(n):
        return 2.0 ** (-8.0 * torch.arange(1, n + 1, dtype=torch.float64) / n)

    p = 1 << (num_heads.bit_length() - 1)
    return torch.cat([power_of_two(p), power_of_two(2 * p)[0::2][: num_heads - p]]).float()


class ALiBiBias(dl.posenc.PositionEncoding):
    def __init__(self, num_heads):
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)

    def bias(self, positions):
        distance = torch.cdist(positions[:, None].float(), positions[:, None].float(), p=1)
        return -torch.einsum("h,ij->hij", self.slopes, distance)
'''

_NLL_VARIANT = '''
def per_position_nll(model, windows, batch_size=64):
    device = next(model.parameters()).device
    mode = model.training
    model.eval()
    sums = []
    with torch.no_grad():
        for chunk in windows.split(batch_size):
            chunk = chunk.to(device)
            logp = torch.log_softmax(model(chunk[:, :-1]).float(), dim=-1)
            sums.append(-logp.gather(-1, chunk[:, 1:, None]).squeeze(-1).sum(0).cpu())
    model.train(mode)
    return (torch.stack(sums).sum(0) / len(windows)).float()
'''

VARIANTS = [
    dict(name="sin-exp-log-and-cache", cell="w07-pe-sinusoidal",
         why="frequencies by exp/log, columns filled by slicing; embed reads a cached table when it can",
         source=_SIN_VARIANT),
    dict(name="learned-index-weight", cell="w07-pe-learned",
         why="indexes the weight directly and checks with any()",
         edits=[("if positions.numel() and int(positions.max()) >= self.max_len:",
                 "if bool((positions >= self.max_len).any()):"),
                ("return x + self.embedding(positions)", "return x + self.embedding.weight[positions]")]),
    dict(name="bucket-float64-hf-style", cell="w07-pe-bucket",
         why="float64 logarithm, negated relative position, torch.min/torch.where (as in common T5 code)",
         source=_BUCKET_VARIANT),
    dict(name="t5-weight-gather", cell="w07-pe-t5",
         why="reads the weight with advanced indexing and movedim",
         edits=[("return self.relative_attention_bias(buckets).permute(2, 0, 1)",
                 "return self.relative_attention_bias.weight[buckets].movedim(-1, 0)")]),
    dict(name="rope-complex", cell="w07-pe-rope",
         why="pairs as complex numbers multiplied by e^{i angle}", source=_ROPE_COMPLEX),
    dict(name="rope-rotate-every-two-cache", cell="w07-pe-rope",
         why="cached inverse frequencies, repeated cos/sin and a rotate-every-two helper", source=_ROPE_CACHE),
    dict(name="alibi-tensor-einsum", cell="w07-pe-alibi",
         why="slopes as a float64 tensor, distances by cdist, bias by einsum", source=_ALIBI_VARIANT),
    dict(name="nll-log-softmax-gather", cell="w07-pe-nll",
         why="log_softmax + gather over windows.split, no try/finally", source=_NLL_VARIANT),
]
