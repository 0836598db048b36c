"""Reference solutions for week05/lstm_implementation.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week05/lstm_implementation.ipynb"


class LSTMCell(nn.Module):
    """One LSTM step written gate by gate, with the parameter layout of ``nn.LSTMCell``.

    Parameters (names and shapes are fixed: the grader copies ``nn.LSTMCell``'s weights by name):
        weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
        The 4H rows hold the gates in the order i, f, g, o: rows [0, H) the input gate,
        [H, 2H) the forget gate, [2H, 3H) the candidate g (c̃), [3H, 4H) the output gate.

    gates(x, state) → (i, f, g, o), each (B, H):
        z = x W_ihᵀ + b_ih + h_prev W_hhᵀ + b_hh   (B, 4H)
        i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o)
    forward(x, state=None) → (h, c), each (B, H):
        c = f ⊙ c_prev + i ⊙ g,  h = o ⊙ tanh(c)

    Inputs: x (B, I); state = (h_prev, c_prev), each (B, H); None means zeros.
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)  # nn.LSTMCell's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def gates(self, x, state):
        h_prev, c_prev = state
        z = x @ self.weight_ih.T + self.bias_ih + h_prev @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        i, f, g, o = z.chunk(4, dim=1)  # nn.LSTMCell's order: input, forget, candidate, output
        return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)

    def forward(self, x, state=None):
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x는 (B, {self.input_size}) 모양이어야 합니다 (받은 모양(shape): {tuple(x.shape)}).")
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        i, f, g, o = self.gates(x, state)
        c = f * state[1] + i * g  # additive update: the gradient path through c is ⊙ f only
        h = o * torch.tanh(c)
        return h, c


class LSTM(nn.Module):
    """A stack of LSTM cells unrolled over batch-first sequences, like ``nn.LSTM(batch_first=True)``.

    Attributes (names are fixed):
        cells: nn.ModuleList of ``num_layers`` cells made by ``cell`` (default: LSTMCell);
            layer 0 is cell(input_size, hidden_size), every other layer cell(hidden_size, hidden_size)
            and reads the hidden states of the layer below.

    Inputs: x (B, T, input_size); state = (h0, c0), each (num_layers, B, H); None means zeros.
    Returns: output (B, T, H), the last layer's h_t at every step, and (h_n, c_n), each
        (num_layers, B, H), every layer's state after the last step.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, cell=None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers는 1 이상이어야 합니다 (받은 값: {num_layers}).")
        cell = cell or LSTMCell
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cells = nn.ModuleList(
            cell(input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers)
        )

    def forward(self, x, state=None):
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x는 (B, T, {self.input_size}) 모양이어야 합니다 (받은 모양(shape): {tuple(x.shape)}).")
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        layer_input = x
        h_n, c_n = [], []
        for k, cell in enumerate(self.cells):
            h, c = state[0][k], state[1][k]  # (B, H): this layer's own initial state
            outputs = []
            for t in range(x.shape[1]):
                h, c = cell(layer_input[:, t], (h, c))
                outputs.append(h)
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H): the next layer reads these
            h_n.append(h)
            c_n.append(c)
        return layer_input, (torch.stack(h_n), torch.stack(c_n))


def clip_grad_norm(parameters, max_norm):
    """Scale all gradients together so that their global L2 norm is at most ``max_norm`` (in place).

    total = sqrt(Σ_p ‖p.grad‖²) over the parameters that have a gradient; if total > max_norm,
    every gradient is multiplied by max_norm / (total + 1e-6). No gradient at all: total = 0.

    Inputs: parameters, an iterable such as ``model.parameters()`` (a generator: read it once);
        max_norm > 0 (math.inf only measures).
    Returns total (float), the norm *before* clipping.
    """
    params = [p for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params)) if params else torch.tensor(0.0)
    scale = max_norm / (float(total) + 1e-6)
    if scale < 1.0:
        for p in params:
            p.grad.mul_(scale)  # one factor for all: the update keeps its direction
    return float(total)


def train_step(model, x, y, optimizer, max_norm=None):
    """One optimiser step on the mean squared error, with optional gradient clipping.

    Order: zero the gradients → loss = MSE(model(x), y) → backward →
    grad_norm = clip_grad_norm(model.parameters(), max_norm) (max_norm=None: math.inf, i.e. only
    measured) → optimizer.step().
    Returns (loss, grad_norm) as floats; grad_norm is the norm before clipping.
    """
    optimizer.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    grad_norm = clip_grad_norm(model.parameters(), math.inf if max_norm is None else max_norm)
    optimizer.step()
    return float(loss.detach()), grad_norm


def make_windows(series, window, horizon, target_start=0, target_end=None):
    """Input windows and the values that follow them, for every forecast origin whose targets
    all lie in ``series[target_start:target_end]``.

    For a forecast origin t (the index of the first target value):
        X[n] = series[t - window : t]      (the past only: indices < t)
        Y[n] = series[t : t + horizon]
    for every t with t ≥ window, t ≥ target_start and t + horizon ≤ target_end, in increasing order.
    Inputs may reach back before target_start (the past is observed); targets never pass target_end.

    Inputs: series (T,) float tensor; window ≥ 1; horizon ≥ 1; 0 ≤ target_start ≤ target_end ≤ T
        (target_end=None means T).
    Returns: X (N, window), Y (N, horizon), origins (N,) int64; N may be 0.
    """
    if series.dim() != 1:
        raise ValueError(f"series는 1차원 (T,)이어야 합니다 (받은 모양(shape): {tuple(series.shape)}).")
    if window < 1 or horizon < 1:
        raise ValueError(f"window와 horizon은 1 이상이어야 합니다 (받은 값: window={window}, horizon={horizon}).")
    target_end = len(series) if target_end is None else target_end
    if not 0 <= target_start <= target_end <= len(series):
        raise ValueError(f"0 ≤ target_start ≤ target_end ≤ {len(series)}이어야 합니다 "
                         f"(받은 값: target_start={target_start}, target_end={target_end}).")
    first = max(window, target_start)
    origins = torch.arange(first, max(first, target_end - horizon + 1))
    past = origins[:, None] + torch.arange(-window, 0)  # (N, window): strictly before t
    future = origins[:, None] + torch.arange(horizon)   # (N, horizon)
    return series[past], series[future], origins


class Standardizer:
    """z-score scaling whose statistics come from the training span only.

    fit(series, train_end): mean and standard deviation (population: unbiased=False) of
        series[:train_end], stored in ``self.mean`` and ``self.std``; returns self.
    transform(x) = (x − mean) / std;  inverse_transform(z) = z · std + mean (tensors of any shape).
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, series, train_end):
        if not 2 <= train_end <= len(series):
            raise ValueError(f"train_end는 2 이상 len(series)={len(series)} 이하여야 합니다 (받은 값: {train_end}).")
        train = series[:train_end]  # statistics of the past only: val/test stay unseen
        self.mean = train.mean()
        self.std = train.std(unbiased=False)
        if float(self.std) == 0.0:
            raise ValueError("학습 구간의 값이 모두 같아 표준편차가 0입니다: 표준화할 수 없습니다.")
        return self

    def transform(self, x):
        if self.mean is None:
            raise RuntimeError("먼저 fit(series, train_end)을 호출하세요.")
        return (x - self.mean) / self.std

    def inverse_transform(self, z):
        if self.mean is None:
            raise RuntimeError("먼저 fit(series, train_end)을 호출하세요.")
        return z * self.std + self.mean


def recursive_forecast(model, window, horizon):
    """Multi-step forecast by feeding one-step predictions back as inputs.

    ``model`` maps windows (B, W) to the next value (B, 1). Step k predicts from the latest W
    values: the window shifted left by one (oldest value dropped) with the previous prediction
    appended at the end. Runs without gradients.

    Inputs: window (B, W); horizon ≥ 1.
    Returns: (B, horizon), the predictions in time order.
    """
    if window.dim() != 2:
        raise ValueError(f"window는 (B, W) 2차원이어야 합니다 (받은 모양(shape): {tuple(window.shape)}).")
    preds = []
    current = window
    with torch.no_grad():
        for _ in range(horizon):
            nxt = model(current)  # (B, 1)
            preds.append(nxt)
            current = torch.cat([current[:, 1:], nxt], dim=1)  # slide by one: the length stays W
    return torch.cat(preds, dim=1)
