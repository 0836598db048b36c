"""Reference solutions for week07/positional_encoding_comparison.ipynb.

Each graded definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal). The small transformer,
the language-model helpers and the encoding zoo are the notebook's given (locked) code, kept here so
that the benchmark script trains exactly the notebook's model (tests/test_w07_pe.py keeps the cells
and this module equal). The interface all encodings share, PositionEncoding, is in the library
(dlcourse.posenc), so that the graded cells need nothing but the setup cell.
"""
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

import dlcourse as dl
import dlcourse.posenc  # noqa: F401 - explicit: in an nbgrader process `dlcourse` is registered without its __init__
import dlcourse.training  # noqa: F401

NOTEBOOK = "week07/positional_encoding_comparison.ipynb"


# --- given code (locked cell w07-pe-model) ---------------------------------------------------------
class SelfAttention(nn.Module):
    # Multi-head self-attention; the encoding may change q, k, v and add a bias to the scores.
    def __init__(self, d_model, num_heads, dropout=0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model({d_model})은 num_heads({num_heads})로 나누어떨어져야 합니다.")
        self.num_heads, self.dropout = num_heads, dropout
        self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, position, positions, bias=None, causal=True):
        B, T, D = x.shape
        q, k, v = self.qkv_proj(x).view(B, T, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = position.qkv(q, k, v, positions)                 # each (B, H, T, Dh)
        mask = None if bias is None else bias.to(q.dtype)          # (H, T, T), broadcast over the batch
        if causal and mask is not None:
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            mask = mask.masked_fill(future, float("-inf"))         # query i sees keys j <= i only
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    # Pre-norm transformer block: x + attention(LN(x)), then x + feed-forward(LN(x)).
    def __init__(self, d_model, num_heads, d_ff, dropout=0.0):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, num_heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout))

    def forward(self, x, position, positions, bias=None, causal=True):
        x = x + self.attn(self.ln1(x), position, positions, bias, causal)
        return x + self.ff(self.ln2(x))


class TinyTransformer(nn.Module):
    # A small transformer whose only position-dependent part is `position` (a PositionEncoding).
    def __init__(self, vocab_size, position=None, d_model=64, num_heads=4, num_layers=2, d_ff=None,
                 dropout=0.0, causal=True):
        super().__init__()
        self.position = position if position is not None else dl.posenc.PositionEncoding()
        self.causal = causal
        self.tok = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList([Block(d_model, num_heads, d_ff or 4 * d_model, dropout)
                                     for _ in range(num_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids, start=0):
        # ids (B, T) long -> logits (B, T, vocab); the tokens sit at positions start ... start + T - 1.
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.position.embed(self.tok(ids), positions)          # (B, T, D)
        bias = self.position.bias(positions)                       # (H, T, T) or None, shared by all layers
        for block in self.blocks:
            x = block(x, self.position, positions, bias, self.causal)
        return self.head(self.norm(x))


# --- given code (locked cell w07-pe-lm-helpers) ----------------------------------------------------
@dataclass
class LMConfig:
    # One language-model run. The defaults are the full preset (benchmarks/pe_length_generalization.py too).
    language: str = "en"
    vocab_size: int = 2000               # subword vocabulary, trained on the training split only
    train_sentences: int | None = None   # None: all 29,000 training captions
    eval_sentences: int | None = None    # None: all 1,014 validation / 1,000 test captions
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 2
    dropout: float = 0.1
    train_len: int = 64                  # L: the context length seen in training
    batch_size: int = 32
    steps: int = 1000
    lr: float = 1e-3
    warmup_steps: int = 100
    eval_every: int = 100


def token_stream(tokenizer, sentences):
    # Every sentence's subword ids followed by <eos>, concatenated into one 1-D stream.
    ids = tokenizer.encode_batch(list(sentences), add_eos=True)
    return torch.tensor([t for sentence in ids for t in sentence], dtype=torch.long)


def make_windows(stream, length):
    # Non-overlapping windows of length + 1 tokens (inputs and their next-token targets): (N, length + 1).
    n = (len(stream) - 1) // length
    if n < 1:
        raise ValueError(f"토큰 {len(stream)}개로는 길이 {length}의 창을 하나도 만들 수 없습니다.")
    starts = torch.arange(n) * length
    return stream[starts[:, None] + torch.arange(length + 1)]


def random_windows(stream, length, batch_size, generator):
    # batch_size windows of length + 1 tokens at random places of the stream: (batch_size, length + 1).
    starts = torch.randint(0, len(stream) - length, (batch_size,), generator=generator)
    return stream[starts[:, None] + torch.arange(length + 1)]


def warmup_cosine(step, total, warmup):
    # Learning-rate factor: linear warm-up, then cosine decay to 0 (week 5).
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def train_lm(model, cfg, stream, val_windows, nll_fn, device, desc="LM", seed=0):
    # AdamW, warm-up + cosine, random training windows of cfg.train_len + 1 tokens, clipping at 1.
    # Every cfg.eval_every steps the mean validation loss is measured with nll_fn (per_position_nll).
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, cfg.steps, cfg.warmup_steps))
    g = torch.Generator().manual_seed(seed)
    log = {"step": [], "train_loss": [], "val_loss": []}
    running, start = [], time.perf_counter()
    for step in dl.training.progress(range(1, cfg.steps + 1), desc):
        model.train()
        batch = random_windows(stream, cfg.train_len, cfg.batch_size, g).to(device)
        logits = model(batch[:, :-1])                                        # (B, L, V)
        loss = F.cross_entropy(logits.float().transpose(1, 2), batch[:, 1:])
        dl.training.optimizer_step(model, loss, optimizer, grad_clip=1.0, scheduler=scheduler)
        running.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            log["step"].append(step)
            log["train_loss"].append(sum(running) / len(running))
            log["val_loss"].append(float(nll_fn(model, val_windows).mean()))
            running = []
    record = dl.training.EpochRecord(epoch=1, train_loss=log["train_loss"][-1], train_acc=float("nan"), lr=cfg.lr,
                                     seconds=time.perf_counter() - start, test_loss=log["val_loss"][-1])
    return dl.training.History(epochs=[record], steps=log)


# --- 1.1 ---------------------------------------------------------------------------------------------
def sinusoidal_encoding(positions, d_model, base=10000.0):
    """Sinusoidal position encodings (Vaswani et al., 2017) with sin and cos *interleaved*.

        PE[t, 2i]     = sin(positions[t] * w_i)
        PE[t, 2i + 1] = cos(positions[t] * w_i),    w_i = base ** (-2i / d_model),  i = 0 ... d_model/2 - 1

    Pair i is one frequency w_i; the wavelengths 2*pi / w_i grow geometrically from 2*pi to about
    2*pi * base. Positions may be any numbers (also beyond a training length).

    Inputs:
        positions: (T,) tensor of positions (integer or floating).
        d_model: even, positive number of features. base: the wavelength base (10000 in the paper).
    Returns:
        (T, d_model) float32 tensor on positions' device.
    """
    if positions.dim() != 1:
        raise ValueError(f"positions는 1차원 텐서 (T,)여야 합니다 (받은 모양(shape): {tuple(positions.shape)}).")
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model은 양의 짝수여야 합니다 (받은 값: {d_model}).")
    i = torch.arange(d_model // 2, device=positions.device, dtype=torch.float32)
    freqs = base ** (-2.0 * i / d_model)                              # (D/2,) w_i, from 1 down to ~1/base
    angles = positions.to(torch.float32)[:, None] * freqs[None, :]   # (T, D/2)
    pe = torch.stack([angles.sin(), angles.cos()], dim=-1)           # (T, D/2, 2): pair i = (sin, cos)
    return pe.reshape(len(positions), d_model)                        # interleaved: sin, cos, sin, cos, ...


class SinusoidalPE(dl.posenc.PositionEncoding):
    """Absolute sinusoidal encoding added to the token embeddings; nothing is learned.

    embed(x, positions): x (B, T, D) -> x + sinusoidal_encoding(positions, D, base), in x's dtype and
    on x's device; x is not modified. qkv and bias are inherited (no change). No parameters.
    """

    def __init__(self, d_model, base=10000.0):
        super().__init__()
        self.d_model, self.base = d_model, base

    def embed(self, x, positions):
        pe = sinusoidal_encoding(positions, self.d_model, self.base)  # (T, D) float32
        return x + pe.to(device=x.device, dtype=x.dtype)              # broadcast over the batch


# --- 1.2 ---------------------------------------------------------------------------------------------
class LearnedPE(dl.posenc.PositionEncoding):
    """Learned absolute position embeddings (BERT, GPT-2): one trainable vector per position 0 ... max_len - 1.

    Attributes (names are fixed: the grader copies weights by name):
        embedding: nn.Embedding(max_len, d_model) with its default initialisation; max_len: int.
    embed(x, positions): x (B, T, D) -> x + embedding(positions), row p for position p; x is not modified.
        A position >= max_len has no vector: raise ValueError (with a message), never clamp or wrap.
    """

    def __init__(self, max_len, d_model):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)

    def embed(self, x, positions):
        if positions.numel() and int(positions.max()) >= self.max_len:
            raise ValueError(f"학습된 위치 임베딩은 위치 0…{self.max_len - 1}만 압니다 "
                             f"(받은 최대 위치: {int(positions.max())}).")
        return x + self.embedding(positions)                          # (T, D) broadcast over the batch


# --- 1.3 ---------------------------------------------------------------------------------------------
def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """T5's bucket of each relative position (Raffel et al., 2020), relative_position = key - query.

    bidirectional: half of the buckets for keys before the query (relative_position <= 0), half for
    keys after it (> 0, bucket + num_buckets // 2); n = |relative_position|, and every bucket count
    below is that half (num_buckets // 2).
    not bidirectional (causal): n = max(-relative_position, 0), so every key after the query is n = 0.
    Then, with max_exact = half of the buckets left (rounded down):
        n < max_exact:  bucket n (one bucket per distance);
        otherwise:      max_exact + floor(log(n / max_exact) / log(max_distance / max_exact) * (num_buckets - max_exact)),
                        at most num_buckets - 1 (every distance >= max_distance shares the last bucket).

    Inputs: relative_position: integer tensor of any shape (not modified).
    Returns: int64 tensor of the same shape, values in 0 ... num_buckets - 1 (of the full count).
    """
    exact = num_buckets // (4 if bidirectional else 2)
    if exact < 1 or max_distance <= exact:
        raise ValueError(f"max_distance({max_distance})는 정확 구간의 버킷 수({exact})보다 커야 합니다 "
                         f"(num_buckets={num_buckets}, bidirectional={bidirectional}).")
    n = relative_position.long()
    bucket = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (n > 0).long() * num_buckets               # keys after the query: upper half
        n = n.abs()
    else:
        n = (-n).clamp(min=0)                                         # future keys: distance 0
    max_exact = num_buckets // 2
    is_small = n < max_exact
    scaled = torch.log(n.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (scaled * (num_buckets - max_exact)).long()  # .long() truncates = floor (>= 0 here)
    large = large.clamp(max=num_buckets - 1)
    return bucket + torch.where(is_small, n, large)


# --- 1.4 ---------------------------------------------------------------------------------------------
class T5RelativeBias(dl.posenc.PositionEncoding):
    """T5's relative position bias: one learned scalar per (bucket, head), added to the attention scores.

    Attributes (names are fixed):
        relative_attention_bias: nn.Embedding(num_buckets, num_heads), initialised to zeros;
        num_buckets, max_distance, bidirectional: the settings passed in.
    bias(positions): (H, T, T) with bias[h, i, j] = relative_attention_bias.weight[b, h],
        b = relative_position_bucket(positions[j] - positions[i], bidirectional, num_buckets, max_distance)
        (key j minus query i; use the function of 1.3). Nothing is added to embeddings, q, k or v.
    """

    def __init__(self, num_heads, num_buckets=32, max_distance=128, bidirectional=False):
        super().__init__()
        self.num_buckets, self.max_distance, self.bidirectional = num_buckets, max_distance, bidirectional
        self.relative_attention_bias = nn.Embedding(num_buckets, num_heads)
        nn.init.zeros_(self.relative_attention_bias.weight)         # start without position information

    def bias(self, positions):
        relative = positions[None, :] - positions[:, None]           # (T, T): [i, j] = key j - query i
        buckets = relative_position_bucket(relative, bidirectional=self.bidirectional,
                                           num_buckets=self.num_buckets, max_distance=self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)  # (T, T, H) -> (H, T, T)


# --- 1.5 ---------------------------------------------------------------------------------------------
class RotaryPE(dl.posenc.PositionEncoding):
    """Rotary position embedding (RoPE, Su et al., 2021) of the queries and keys.

    Feature pairs (2i, 2i + 1) of each head are rotated by the angle positions[t] * theta_i,
    theta_i = base ** (-2i / head_dim), i = 0 ... head_dim/2 - 1:
        out[..., 2i]     = x[..., 2i] * cos - x[..., 2i + 1] * sin
        out[..., 2i + 1] = x[..., 2i] * sin + x[..., 2i + 1] * cos
    rotate(x, positions): x (..., T, head_dim) -> the same shape and dtype (float64 stays float64;
        half precision is computed in float32 and rounded once); x is not modified.
    qkv(q, k, v, positions): (rotate(q), rotate(k), v) - values carry content and are not rotated.
    No parameters.
    """

    def __init__(self, head_dim, base=10000.0):
        super().__init__()
        if head_dim <= 0 or head_dim % 2:
            raise ValueError(f"head_dim은 양의 짝수여야 합니다 (받은 값: {head_dim}).")
        self.head_dim, self.base = head_dim, base

    def rotate(self, x, positions):
        dtype = torch.promote_types(x.dtype, torch.float32)
        i = torch.arange(self.head_dim // 2, device=x.device, dtype=dtype)
        theta = self.base ** (-2.0 * i / self.head_dim)                          # (Dh/2,)
        angles = positions.to(device=x.device, dtype=dtype)[:, None] * theta    # (T, Dh/2)
        cos, sin = angles.cos(), angles.sin()
        x1, x2 = x[..., 0::2].to(dtype), x[..., 1::2].to(dtype)                # (..., T, Dh/2): the pairs
        out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)   # (..., T, Dh/2, 2)
        return out.flatten(-2).to(x.dtype)                                      # back to (..., T, Dh)

    def qkv(self, q, k, v, positions):
        return self.rotate(q, positions), self.rotate(k, positions), v


# --- 1.6 ---------------------------------------------------------------------------------------------
def alibi_slopes(num_heads):
    """ALiBi head slopes (Press et al., 2022): one fixed slope per head, a geometric sequence.

    num_heads = n, a power of two: m_h = 2 ** (-8h / n), h = 1 ... n  (n = 8: 1/2, 1/4, ..., 1/256).
    Otherwise, with p the largest power of two below num_heads: the p slopes for p heads, followed by
    the first num_heads - p of every other slope for 2p heads (indices 0, 2, 4, ... of that list).
    Returns: (num_heads,) float32 tensor, in that order (num_heads = 6: 1/4, 1/16, 1/64, 1/256, 1/2, 1/8).
    """
    if num_heads < 1:
        raise ValueError(f"num_heads는 1 이상이어야 합니다 (받은 값: {num_heads}).")

    def power_of_two(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** h for h in range(1, n + 1)]                 # 2^(-8/n), 2^(-16/n), ..., 2^(-8)

    p = 2 ** int(math.log2(num_heads))
    slopes = power_of_two(p) + power_of_two(2 * p)[0::2][: num_heads - p]
    return torch.tensor(slopes, dtype=torch.float32)


class ALiBiBias(dl.posenc.PositionEncoding):
    """Attention with linear biases: bias[h, i, j] = -slopes[h] * |positions[i] - positions[j]|.

    Symmetric in i and j, so it also works without a causal mask. No learned parameters.
    Attributes: slopes: (num_heads,) buffer from alibi_slopes (register_buffer, so it follows .to(device)).
    bias(positions): (H, T, T) float32.
    """

    def __init__(self, num_heads):
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)

    def bias(self, positions):
        distance = (positions[:, None] - positions[None, :]).abs().to(self.slopes.dtype)  # (T, T)
        return -self.slopes[:, None, None] * distance                                       # (H, T, T)


# --- 1.7 ---------------------------------------------------------------------------------------------
def per_position_nll(model, windows, batch_size=64):
    """Mean next-token negative log-likelihood (nats) at every position of a set of windows.

    The model reads windows[:, :-1] (N, T) and is scored on windows[:, 1:]:
        loss[t] = mean over the N windows of -log p(windows[n, t + 1] | windows[n, : t + 1]).
    Runs without gradients, in eval mode (dropout off), batch_size windows at a time, each chunk moved to
    the model's device; the model's train/eval mode is restored afterwards.

    Inputs: model: ids (n, T) -> logits (n, T, V). windows: (N, T + 1) long, N >= 1, T >= 1.
    Returns: (T,) float32 tensor on the CPU. exp(loss.mean()) is the perplexity of the windows.
    """
    if windows.dim() != 2 or windows.shape[0] < 1 or windows.shape[1] < 2:
        raise ValueError(f"windows는 (N, T+1) 모양이고 N ≥ 1, T ≥ 1이어야 합니다 (받은 모양(shape): {tuple(windows.shape)}).")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros(windows.shape[1] - 1, dtype=torch.float64)
    try:
        with torch.no_grad():
            for start in range(0, len(windows), batch_size):
                chunk = windows[start:start + batch_size].to(device)
                logits = model(chunk[:, :-1]).float()                                 # (n, T, V)
                nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none")  # (n, T)
                total += nll.sum(dim=0).double().cpu()
    finally:
        model.train(was_training)
    return (total / len(windows)).float()


# --- given code (locked cell w07-pe-zoo) ------------------------------------------------------------
ENCODING_NAMES = ["NoPE", "sinusoidal", "learned", "T5 bias", "RoPE", "ALiBi"]


def make_encoding(name, d_model, num_heads, train_len):
    # One of the six encodings (part 1 and the no-position baseline) for TinyTransformer(d_model, num_heads).
    # learned: one row per training position. T5: max_distance = the training length and at most 32
    # buckets, so that every bucket is met in training (a bucket never met keeps its initial value).
    if name == "NoPE":
        return dl.posenc.PositionEncoding()
    if name == "sinusoidal":
        return SinusoidalPE(d_model)
    if name == "learned":
        return LearnedPE(train_len, d_model)
    if name == "T5 bias":
        return T5RelativeBias(num_heads, num_buckets=min(32, train_len), max_distance=train_len)
    if name == "RoPE":
        return RotaryPE(d_model // num_heads)
    if name == "ALiBi":
        return ALiBiBias(num_heads)
    raise ValueError(f"알 수 없는 인코딩 이름입니다: {name!r} (가능한 이름: {ENCODING_NAMES}).")
