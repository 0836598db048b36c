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
           "params_with_grads", "as_iterator", "CosineAttention", "DecayAttention"]


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
