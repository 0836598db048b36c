"""Stand-in parts the hidden checks pass to the student's code.

Some graded pieces are built from others: a ResNet from blocks, an unrolled LSTM from a cell, a
decoder from an attention module, a training step from a model. To grade only the piece at
hand, the grader passes in parts from this module. They satisfy the interface that the
notebook's docstrings state, are written with torch alone, and are deliberately *not* the
exercises' solutions (a block with one convolution, an attention with a cosine score, …): the
grader builds its reference from the very same parts, so only the student's piece differs.

Every part is deterministic given its weights, which the grader sets through ``state_dict``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["over_steps", "ProbeBlock", "GapNet", "ProbeLSTMCell", "TinyForecaster", "OneStepLSTM", "OneStepLinear",
           "params_with_grads", "as_iterator", "grads_of", "sgd", "CosineAttention", "DecayAttention", "run_steps",
           "as_numpy", "numpy_generator", "numpy_results", "wavy_sum",
           "ProbeScaledCell", "layout_of",
           "ProbeMaskedAttention", "ProbeEncoderLayer", "ProbeDecoderLayer", "ProbeTranslator", "ProbeMarkovTranslator",
           "at_steps"]


# --- helpers for any check -----------------------------------------------------------------------
def over_steps(fn, n, *args, **kwargs):
    """``[fn(step, *args, **kwargs) for step in range(n)]``: many calls in one request."""
    return [fn(step, *args, **kwargs) for step in range(n)]


# --- week05/resnet_implementation ---------------------------------------------------------------
class ProbeBlock(nn.Module):
    """A residual-block stand-in: one 3×3 convolution (stride on it) + BatchNorm + ReLU, plus a
    1×1 projection shortcut whenever the shape changes. ``expansion`` = 2, unlike both of the
    notebook's blocks, so that an assembly which ignores ``block.expansion`` shows."""

    expansion = 2

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        out = planes * self.expansion
        self.conv = nn.Conv2d(in_planes, out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out)
        self.proj = None
        if stride != 1 or in_planes != out:
            self.proj = nn.Conv2d(in_planes, out, 1, stride=stride, bias=False)

    def forward(self, x):
        skip = x if self.proj is None else self.proj(x)
        return F.relu(self.bn(self.conv(x))) + 0.5 * skip


class GapNet(nn.Module):
    """A small network ending in global average pooling → ``fc``: ``features(x)`` is two
    convolutions with a stride-2 step, so the map is smaller than the input."""

    def __init__(self, channels=6, num_classes=5):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.Tanh())
        self.fc = nn.Linear(channels, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


# --- week05/lstm_implementation -----------------------------------------------------------------
class ProbeLSTMCell(nn.LSTMCell):
    """torch's own LSTM cell with the notebook's call: ``forward(x, state=None) → (h, c)``."""

    def forward(self, x, state=None):
        h, c = super().forward(x, state)
        return h, c


class TinyForecaster(nn.Module):
    """nn.LSTM over a window (B, W) and a linear read-out of the last step: (B, horizon)."""

    def __init__(self, hidden=6, horizon=3):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, window):
        out, _ = self.lstm(window.unsqueeze(-1))
        return self.head(out[:, -1])


class OneStepLSTM(nn.Module):
    """A one-step model (B, W) → (B, 1) of any width; it records the widths it was called with."""

    def __init__(self, hidden=5):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.widths = []

    def forward(self, window):
        self.widths.append(int(window.shape[1]))
        out, _ = self.lstm(window.unsqueeze(-1))
        return window[:, -1:] + self.head(out[:, -1])


class OneStepLinear(nn.Module):
    """A one-step autoregression of fixed width: (B, width) → (B, 1)."""

    def __init__(self, width):
        super().__init__()
        self.ar = nn.Linear(width, 1)
        self.widths = []

    def forward(self, window):
        self.widths.append(int(window.shape[1]))
        return self.ar(window)


def params_with_grads(values, grads):
    """Parameters with the given values and ``.grad`` (None leaves a parameter without one)."""
    params = []
    for value, grad in zip(values, grads):
        p = nn.Parameter(value.clone())
        p.grad = None if grad is None else grad.clone()
        params.append(p)
    return params


def as_iterator(items):
    """A one-shot iterator over ``items`` (like ``model.parameters()``)."""
    return iter(list(items))


def grads_of(params):
    """The ``.grad`` of each parameter (None where there is none)."""
    return [p.grad for p in params]


def sgd(model, lr, momentum=0.0):
    """``torch.optim.SGD`` over the model's parameters."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def run_steps(module, queries, keys, mask, carry_state=True):
    """Call an attention module once per query, as a decoder does, carrying its state.

    Returns ([(context, weights), ...], [state, ...]), one entry per step."""
    pairs, states, state = [], [], None
    for query in queries:
        context, weights, new_state = module(query, keys, mask, state)
        pairs.append((context, weights))
        states.append(new_state)
        if carry_state:
            state = new_state
    return pairs, states


# --- week05/attention_mechanisms -----------------------------------------------------------------
class CosineAttention(nn.Module):
    """An attention module with the notebook's call, for grading a decoder without the
    student's attention: scores are a learned temperature times the cosine between a projected
    query and each key. ``forward(query (B, Dq), keys (B, S, Dk), mask (B, S), state=None)
    → (context (B, Dk), weights (B, S), state)``; the state is returned unchanged."""

    def __init__(self, query_dim, key_dim):
        super().__init__()
        self.proj = nn.Linear(query_dim, key_dim)
        self.temperature = nn.Parameter(torch.tensor(3.0))

    def forward(self, query, keys, mask, state=None):
        q = F.normalize(self.proj(query), dim=-1)                       # (B, Dk)
        scores = self.temperature * (F.normalize(keys, dim=-1) @ q.unsqueeze(-1)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return (weights.unsqueeze(1) @ keys).squeeze(1), weights, state


class DecayAttention(CosineAttention):
    """A stateful stand-in: the state is the previous step's weights (None at the first step,
    read as uniform over the real tokens), and the scores are pushed away from positions
    already attended. A decoder that does not carry the state from step to step shows."""

    def __init__(self, query_dim, key_dim):
        super().__init__(query_dim, key_dim)
        self.penalty = nn.Parameter(torch.tensor(2.0))

    def forward(self, query, keys, mask, state=None):
        if state is None:
            state = mask.float() / mask.sum(dim=1, keepdim=True)
        q = F.normalize(self.proj(query), dim=-1)
        scores = self.temperature * (F.normalize(keys, dim=-1) @ q.unsqueeze(-1)).squeeze(-1)
        scores = scores - self.penalty * state
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return (weights.unsqueeze(1) @ keys).squeeze(1), weights, weights


# --- week07/transformer_enc_dec -----------------------------------------------------------------
def at_steps(fn, steps, *args, **kwargs):
    """``[fn(step, *args, **kwargs) for step in steps]``: chosen steps of a schedule in one request."""
    return [fn(int(step), *args, **kwargs) for step in steps]


def _blocked_softmax(scores, blocked):
    """softmax over the last axis with blocked positions at weight 0; a fully blocked row is all
    zeros (finite gradients too)."""
    empty = blocked.all(dim=-1, keepdim=True)
    scores = scores.masked_fill(blocked, float("-inf")).masked_fill(empty, 0.0)
    return torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)


class ProbeMaskedAttention(nn.Module):
    """A stand-in for the notebook's MultiHeadAttention, for grading the layers without it: the
    same constructor, call, masks and parameter names (q_proj, k_proj, v_proj, out_proj), but a
    cosine score with a fixed temperature in every head instead of the scaled dot product, and no
    dropout. It keeps its constructor arguments in ``args``."""

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        self.args = dict(d_model=d_model, n_heads=n_heads, dropout=dropout, bias=bias)
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        def heads(x):
            return x.unflatten(-1, (self.n_heads, -1)).transpose(1, 2)   # (B, h, L, d/h)
        q = F.normalize(heads(self.q_proj(query)), dim=-1)
        k = F.normalize(heads(self.k_proj(key)), dim=-1)
        scores = 3.0 * q @ k.transpose(-2, -1)                           # (B, h, T, S)
        blocked = torch.zeros(scores.shape[-2:], dtype=torch.bool, device=scores.device)
        if attn_mask is not None:
            blocked = blocked | attn_mask
        if key_padding_mask is not None:
            blocked = blocked | key_padding_mask[:, None, None, :]
        weights = _blocked_softmax(scores, blocked)
        out = (weights @ heads(self.v_proj(value))).transpose(1, 2).flatten(-2)
        return self.out_proj(out), weights


class ProbeEncoderLayer(nn.Module):
    """A stand-in for the notebook's EncoderLayer (same constructor and call): one cosine
    attention and a tanh feed-forward, LayerNorm first or last as ``norm_first`` says, no dropout.
    It keeps its constructor arguments in ``args``."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.args = dict(d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout, norm_first=norm_first)
        self.self_attn = ProbeMaskedAttention(d_model, n_heads)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x, src_key_padding_mask=None):
        h = self.norm(x) if self.args["norm_first"] else x
        h = x + self.self_attn(h, h, h, key_padding_mask=src_key_padding_mask)[0]
        h = h + self.linear2(torch.tanh(self.linear1(h)))
        return h if self.args["norm_first"] else self.norm(h)


class ProbeDecoderLayer(nn.Module):
    """A stand-in for the notebook's DecoderLayer (same constructor and call): cosine self- and
    cross-attention with the masks it is given, a tanh feed-forward, one LayerNorm, no dropout.
    It keeps its constructor arguments in ``args``."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.args = dict(d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout, norm_first=norm_first)
        self.self_attn = ProbeMaskedAttention(d_model, n_heads)
        self.cross_attn = ProbeMaskedAttention(d_model, n_heads)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        h = self.norm(x) if self.args["norm_first"] else x
        h = x + self.self_attn(h, h, h, key_padding_mask=tgt_key_padding_mask, attn_mask=tgt_mask)[0]
        h = h + self.cross_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask)[0]
        h = h + self.linear2(torch.tanh(self.linear1(h)))
        return h if self.args["norm_first"] else self.norm(h)


class ProbeTranslator(nn.Module):
    """A small translation model with the notebook's interface, for grading the loss and the
    decoders without the student's transformer:

        encode(src (B, S)) → memory (B, S, D), src_pad (B, S) bool (True at pad_id)
        decode(tgt_in (B, T), memory, src_pad) → states (B, T, D): a GRU over the target prefix
            that starts from the mean of the real source positions (causal by construction)
        generator: Linear(D, V); forward(src, tgt_in) → generator(decode(tgt_in, *encode(src))) (B, T, V)

    Rows of a batch never influence each other, so batched and one-by-one decoding agree."""

    def __init__(self, src_vocab, tgt_vocab, d_model=8, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.rnn = nn.GRU(d_model, d_model, batch_first=True)
        self.generator = nn.Linear(d_model, tgt_vocab)

    def encode(self, src):
        src_pad = src == self.pad_id
        return torch.tanh(self.src_embed(src)), src_pad

    def decode(self, tgt_in, memory, src_pad):
        keep = (~src_pad).unsqueeze(-1).to(memory.dtype)
        start = (memory * keep).sum(1) / keep.sum(1).clamp_min(1.0)        # (B, D)
        out, _ = self.rnn(self.tgt_embed(tgt_in), start.unsqueeze(0).contiguous())
        return out

    def forward(self, src, tgt_in):
        return self.generator(self.decode(tgt_in, *self.encode(src)))


class ProbeMarkovTranslator(nn.Module):
    """A translation model whose next-token logits are ``table[previous token]`` plus a bias from the
    source (the mean of ``src_embed`` over its real tokens, in vocabulary space): a Markov chain per
    sentence, so the grader can set up exactly when each sentence ends and what would follow its
    ``<eos>``. Same interface as the notebook's model; ``calls`` records the prefix length of every
    ``decode`` call (the number of decoding steps).

        encode(src (B, S)) → memory (B, S, V), src_pad (B, S)
        decode(prefix (B, T), memory, src_pad) → states (B, T, 2V): one-hot previous token | source bias
        generator(states) → logits (B, T, V)"""

    def __init__(self, src_vocab, tgt_vocab, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.table = nn.Parameter(torch.zeros(tgt_vocab, tgt_vocab))
        self.src_embed = nn.Embedding(src_vocab, tgt_vocab)
        self.calls = []

    def encode(self, src):
        return self.src_embed(src), src == self.pad_id

    def decode(self, tgt_in, memory, src_pad):
        self.calls.append(int(tgt_in.shape[1]))
        keep = (~src_pad).unsqueeze(-1).to(memory.dtype)
        bias = (memory * keep).sum(1) / keep.sum(1).clamp_min(1.0)            # (B, V)
        one_hot = F.one_hot(tgt_in, self.table.shape[0]).to(memory.dtype)      # (B, T, V)
        return torch.cat([one_hot, bias[:, None, :].expand(-1, tgt_in.shape[1], -1)], dim=-1)

    def generator(self, states):
        vocab = self.table.shape[0]
        return states[..., :vocab] @ self.table + states[..., vocab:]

    def forward(self, src, tgt_in):
        return self.generator(self.decode(tgt_in, *self.encode(src)))
# --- week03/foundations ----------------------------------------------------------------------------
# The week-3 notebook's first exercises are written in NumPy. The probe carries tensors; these
# helpers turn what the grader sends into NumPy arrays in the kernel (and NumPy arrays come back
# as tensors marked ``numpy``). None of them is an exercise's solution.
def as_numpy(value):
    """``value`` with every tensor replaced by a NumPy array (a copy), inside tuples, lists and
    dicts too: how the grader hands arrays to a NumPy exercise."""
    import numpy as np

    if isinstance(value, torch.Tensor):
        return np.array(value.detach().cpu().numpy(), copy=True)
    if type(value) in (tuple, list):
        return type(value)(as_numpy(v) for v in value)
    if type(value) is dict:
        return {k: as_numpy(v) for k, v in value.items()}
    return value


def numpy_generator(seed):
    """A NumPy random generator, ``np.random.default_rng(seed)``."""
    import numpy as np

    return np.random.default_rng(int(seed))


def numpy_results(fn):
    """``fn`` with its tensor results turned into NumPy arrays: a grader-provided stand-in (an
    oracle) for a NumPy function of the notebook answers in NumPy, like the function it replaces."""
    def call(*args, **kwargs):
        return as_numpy(fn(*args, **kwargs))

    call.__name__ = getattr(fn, "__name__", "numpy_results")
    return call


def wavy_sum(x):
    """A smooth scalar function of a NumPy array, with a term that couples the first and last
    entries: ``Σ sin(1.5·x)·x² + x_first·x_last`` (a Python float)."""
    import numpy as np

    flat = x.reshape(-1)
    return float(np.sum(np.sin(1.5 * x) * x ** 2) + flat[0] * flat[-1])

# --- week06/multihead_analysis ---------------------------------------------------------------------
class GatedMixer(nn.Module):
    """A gated stand-in for an attention layer, for grading head importance without the student's
    attention: ``num_heads`` "heads" that each look at one token alone (tanh of a linear map of
    its own slice of features), each scaled by its ``gate``, merged through ``out_proj``. It has
    what the importance functions may use: ``gate`` (H,), ``num_heads`` and ``out_proj``."""

    def __init__(self, dim=8, num_heads=4):
        super().__init__()
        self.num_heads = num_heads
        self.heads = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gate = nn.Parameter(torch.ones(num_heads))

    def forward(self, x):
        b, t, d = x.shape
        z = torch.tanh(self.heads(x)).view(b, t, self.num_heads, d // self.num_heads)
        return self.out_proj((z * self.gate[:, None]).reshape(b, t, d))


class GatedProbeModel(nn.Module):
    """A next-token model over :class:`GatedMixer` layers with the interface of the notebook's
    language model: ``attention_layers()`` and ``loss(batch)`` for a (B, T) batch of token ids.
    Dropout sits between the layers, so that numbers computed in training mode differ."""

    def __init__(self, vocab=11, dim=8, num_heads=4, num_layers=2, dropout=0.3):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(GatedMixer(dim, num_heads) for _ in range(num_layers))
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def attention_layers(self):
        return list(self.layers)

    def loss(self, batch):
        x = self.embed(batch[:, :-1])
        for layer in self.layers:
            x = x + self.drop(layer(x))
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())

# --- week08/midterm_transformer -------------------------------------------------------------------
# Stand-ins with the notebook's interfaces, so that a block is graded without the student's
# attention, and the encoder–decoder and the classifier without the student's blocks and
# positional encoding. Masks are bool, True = may attend, broadcastable to (B, Tq, Tk).
def _masked_softmax(scores, mask):
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights if mask is None else weights.masked_fill(~mask, 0.0)


class ProbeAttention(nn.Module):
    """A multi-head attention stand-in: cosine scores between one shared query/key projection
    of each side, times a learned temperature, and a bias-free value map. ``forward(query, key,
    value, mask=None) → (out (B, Tq, D), weights (B, H, Tq, Tk))``; dropout is accepted and
    not used (so the grader's comparisons stay deterministic)."""

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qk = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.temperature = nn.Parameter(torch.tensor(2.0))

    def forward(self, query, key, value, mask=None):
        B, Tq, D = query.shape
        Tk, H = key.shape[1], self.n_heads
        q = F.normalize(self.qk(query).view(B, Tq, H, D // H).transpose(1, 2), dim=-1)
        k = F.normalize(self.qk(key).view(B, Tk, H, D // H).transpose(1, 2), dim=-1)
        v = self.v(value).view(B, Tk, H, D // H).transpose(1, 2)
        weights = _masked_softmax(self.temperature * q @ k.transpose(-2, -1),
                                  None if mask is None else mask.unsqueeze(-3))
        return (weights @ v).transpose(1, 2).reshape(B, Tq, D), weights


class ProbePositions(nn.Module):
    """A positional-encoding stand-in: adds a fixed ramp 0.05 · pos · (j + 1) / D (not sinusoids)
    to x (B, T, D); ``dropout`` is kept as an attribute."""

    def __init__(self, d_model, max_len=512, dropout=0.0):
        super().__init__()
        self.max_len, self.p = max_len, dropout
        ramp = torch.arange(max_len, dtype=torch.float32)[:, None] * torch.arange(1, d_model + 1) / d_model
        self.register_buffer("pe", 0.05 * ramp, persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]].to(x.dtype)


def _masked_mix(x_q, x_k, mask, scale):
    """Each query position takes the mean of the keys its mask allows (zeros if none)."""
    B, Tq, _ = x_q.shape
    Tk = x_k.shape[1]
    w = torch.ones(B, Tq, Tk, dtype=x_q.dtype, device=x_q.device)
    if mask is not None:
        w = w * mask.to(x_q.dtype)
    w = w / w.sum(-1, keepdim=True).clamp_min(1.0)
    return scale * (w @ x_k)


class ProbeEncoderBlock(nn.Module):
    """An encoder-block stand-in with the notebook's constructor: mixes each position with the
    mean of the positions its mask allows, per head group with a learned scale, then a
    two-layer tanh network of width ``d_ff``. ``norm_first`` changes the output (×0.5 on the
    update), ``dropout`` is kept as an attribute."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.n_heads, self.p, self.norm_first = n_heads, dropout, norm_first
        self.head_scale = nn.Parameter(torch.ones(n_heads))
        self.lin1 = nn.Linear(d_model, d_ff)
        self.lin2 = nn.Linear(d_ff, d_model)

    def _update(self, x, ctx):
        B, T, D = ctx.shape
        ctx = (ctx.view(B, T, self.n_heads, D // self.n_heads) * self.head_scale[:, None]).reshape(B, T, D)
        return (0.5 if self.norm_first else 1.0) * self.lin2(torch.tanh(self.lin1(x + ctx)))

    def forward(self, x, mask=None):
        return x + self._update(x, _masked_mix(x, x, mask, 1.0))


class ProbeDecoderBlock(ProbeEncoderBlock):
    """A decoder-block stand-in: the encoder stand-in's self-mixing under ``tgt_mask`` plus a
    mixing of the memory under ``memory_mask`` (weighted by a learned ``cross_scale``)."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__(d_model, n_heads, d_ff, dropout, norm_first)
        self.cross_scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        ctx = _masked_mix(x, x, tgt_mask, 1.0) + _masked_mix(x, memory, memory_mask, self.cross_scale)
        return x + self._update(x, ctx)


# --- week08/gpt_generation_lab ---------------------------------------------------------------------
class EmbeddingPair(nn.Module):
    """A token embedding ``wte`` (V, d) and an unembedding ``lm_head`` (d → V, no bias):
    ``forward(idx) = lm_head(wte(idx))`` (logits), for grading weight tying."""

    def __init__(self, vocab_size, n_embd):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx):
        return self.lm_head(self.wte(idx))


class BigramLM(nn.Module):
    """A fixed bigram language model for grading beam search: ``forward(seqs (N, t))`` gives the
    next-token log-probabilities (N, V) from the last token of each prefix; it counts its calls."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logp", torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), dim=-1))
        self.calls = 0

    def forward(self, seqs):
        self.calls += 1
        return self.logp[torch.as_tensor(seqs, dtype=torch.long)[:, -1]]


# --- issue 12: helpers of the week05/week06 hidden checks (the grader's check author) ----------------
# Stand-ins and describers only: none of them is an exercise's solution.
class ProbeScaledCell(nn.LSTMCell):
    """Not an LSTM: torch's LSTM cell whose hidden output is halved. The grader passes it as
    ``cell=`` so that an unroll which ignores the argument (and builds its own cells) shows."""

    def forward(self, x, state=None):
        h, c = super().forward(x, state)
        return 0.5 * h, c


def layout_of(fn, *args, **kwargs):
    """Call ``fn`` and describe its tensor results without their values: {"shape", "dtype",
    "device"} in place of each tensor (for results on a device whose data cannot be read back,
    such as ``meta``)."""
    def describe(value):
        if isinstance(value, torch.Tensor):
            return {"shape": tuple(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                    "device": value.device.type}
        if type(value) in (tuple, list):
            return type(value)(describe(v) for v in value)
        if type(value) is dict:
            return {k: describe(v) for k, v in value.items()}
        return value

    return describe(fn(*args, **kwargs))

# --- week07/positional_encoding_comparison --------------------------------------------------------
__all__ += ["ProbeLM"]


class ProbeLM(nn.Module):
    """A language-model stand-in with the notebook's call ``ids (B, T) -> logits (B, T, V)``: the
    logits at position t come from the mean embedding of tokens 0 … t (a causal bag of words), with
    dropout in train mode. A wrong target shift, a forgotten ``eval()`` or a chunking mistake in
    the code that evaluates it shows in its numbers."""

    def __init__(self, vocab_size=11, dim=6, dropout=0.5):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, vocab_size)

    def forward(self, ids):
        e = self.drop(self.emb(ids))                                           # (B, T, D)
        counts = torch.arange(1, ids.shape[1] + 1, device=ids.device, dtype=e.dtype)[:, None]
        return self.out(e.cumsum(dim=1) / counts)                              # (B, T, V)
