"""Mutants of week05/lstm_implementation.ipynb: realistic wrong versions of the student cells.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week05/lstm_implementation.ipynb"
ROUND_TRIP = "cell-forget-input-swapped"

MUTANTS = [
    # --- LSTMCell ------------------------------------------------------------------------------
    dict(name="cell-forget-input-swapped", cell="w05-lstm-cell",
         why="forget and input gates swapped (gate order f, i, g, o instead of PyTorch's i, f, g, o)",
         edits=[("i, f, g, o = z.chunk(4, dim=1)", "f, i, g, o = z.chunk(4, dim=1)")]),
    dict(name="cell-no-tanh-on-cell-state", cell="w05-lstm-cell",
         why="h = o * c: tanh missing on the cell state before the output gate",
         edits=[("h = o * torch.tanh(c)", "h = o * c")]),
    dict(name="cell-returns-c-h", cell="w05-lstm-cell",
         why="h and c swapped in the returned state",
         edits=[("        return h, c\n", "        return c, h\n")]),
    dict(name="cell-candidate-sigmoid", cell="w05-lstm-cell",
         why="candidate squashed with a sigmoid instead of tanh (it can only add, never subtract)",
         edits=[("torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)", "torch.sigmoid(f), torch.sigmoid(g), torch.sigmoid(o)")]),
    dict(name="cell-forget-on-hidden", cell="w05-lstm-cell",
         why="forget gate applied to the previous hidden state instead of the previous cell state",
         edits=[("c = f * state[1] + i * g", "c = f * state[0] + i * g")]),
    dict(name="cell-no-bias-hh", cell="w05-lstm-cell",
         why="recurrent bias bias_hh never used",
         edits=[("+ h_prev @ self.weight_hh.T + self.bias_hh", "+ h_prev @ self.weight_hh.T")]),
    # --- unroll / stacking ------------------------------------------------------------------------
    dict(name="unroll-state-not-carried", cell="w05-lstm-unroll",
         why="every step starts again from the initial state (the recurrence is lost)",
         edits=[("h, c = cell(layer_input[:, t], (h, c))", "h, c = cell(layer_input[:, t], (state[0][k], state[1][k]))")]),
    dict(name="unroll-last-layer-state-only", cell="w05-lstm-unroll",
         why="(h_n, c_n) holds only the top layer's state",
         edits=[("return layer_input, (torch.stack(h_n), torch.stack(c_n))",
                 "return layer_input, (h_n[-1].unsqueeze(0), c_n[-1].unsqueeze(0))")]),
    dict(name="unroll-first-layer-state-everywhere", cell="w05-lstm-unroll",
         why="every layer starts from layer 0's initial state",
         edits=[("h, c = state[0][k], state[1][k]", "h, c = state[0][0], state[1][0]")]),
    dict(name="unroll-time-reversed", cell="w05-lstm-unroll",
         why="reads the sequence from the last step to the first",
         edits=[("h, c = cell(layer_input[:, t], (h, c))", "h, c = cell(layer_input[:, -1 - t], (h, c))")]),
    # --- clipping and the training step -------------------------------------------------------------
    dict(name="clip-never-applied", cell="w05-lstm-clip",
         why="the clipping factor is computed but the gradients are not changed (out-of-place mul)",
         edits=[("p.grad.mul_(scale)", "p.grad.mul(scale)")]),
    dict(name="clip-after-step", cell="w05-lstm-clip",
         why="clipping after optimizer.step(): the step already used the raw gradients",
         edits=[("    grad_norm = clip_grad_norm(model.parameters(), math.inf if max_norm is None else max_norm)\n"
                 "    optimizer.step()\n",
                 "    optimizer.step()\n"
                 "    grad_norm = clip_grad_norm(model.parameters(), math.inf if max_norm is None else max_norm)\n")]),
    dict(name="clip-per-parameter", cell="w05-lstm-clip",
         why="each parameter clipped by its own norm instead of the global norm",
         edits=[("            p.grad.mul_(scale)  # one factor for all: the update keeps its direction\n",
                 "            p.grad.mul_(min(1.0, max_norm / (float(p.grad.norm()) + 1e-6)))\n")]),
    dict(name="clip-returns-clipped-norm", cell="w05-lstm-clip",
         why="returns the norm after clipping, so the trace never shows the spikes",
         edits=[("    return float(total)\n", "    return float(total) * min(1.0, scale)\n")]),
    dict(name="clip-no-zero-grad", cell="w05-lstm-clip",
         why="gradients are never zeroed: they accumulate over steps",
         edits=[("    optimizer.zero_grad()\n", "")]),
    # --- windows ------------------------------------------------------------------------------------
    dict(name="windows-target-in-input", cell="w05-lstm-windows",
         why="the input window ends at t instead of t - 1: it contains the first target (look-ahead leakage)",
         edits=[("past = origins[:, None] + torch.arange(-window, 0)", "past = origins[:, None] + torch.arange(-window + 1, 1)")]),
    dict(name="windows-targets-cross-span-end", cell="w05-lstm-windows",
         why="only the first target is kept inside the span; later targets spill into the next span",
         edits=[("origins = torch.arange(first, max(first, target_end - horizon + 1))",
                 "origins = torch.arange(first, max(first, min(target_end, len(series) - horizon + 1)))")]),
    dict(name="windows-ignore-target-start", cell="w05-lstm-windows",
         why="target_start ignored: every span starts its windows at the beginning of the series",
         edits=[("first = max(window, target_start)", "first = window")]),
    # --- standardizer ---------------------------------------------------------------------------------
    dict(name="scaler-fit-on-full-series", cell="w05-lstm-scaler",
         why="normalisation statistics from the full series (val/test leak into training)",
         edits=[("train = series[:train_end]", "train = series")]),
    dict(name="scaler-bad-inverse", cell="w05-lstm-scaler",
         why="inverse adds the mean before scaling",
         edits=[("return z * self.std + self.mean", "return (z + self.mean) * self.std")]),
    dict(name="scaler-unbiased-std", cell="w05-lstm-scaler",
         why="sample standard deviation (n - 1) instead of the population one the docstring asks for",
         edits=[("self.std = train.std(unbiased=False)", "self.std = train.std()")]),
    # --- recursive forecast ---------------------------------------------------------------------------
    dict(name="recursive-window-grows", cell="w05-lstm-recursive",
         why="predictions appended without dropping the oldest value: the window grows",
         edits=[("current = torch.cat([current[:, 1:], nxt], dim=1)", "current = torch.cat([current, nxt], dim=1)")]),
    dict(name="recursive-no-feedback", cell="w05-lstm-recursive",
         why="the observed window is reused every step: the same prediction repeated",
         edits=[("current = torch.cat([current[:, 1:], nxt], dim=1)", "current = window")]),
    dict(name="recursive-prepends", cell="w05-lstm-recursive",
         why="the prediction is put at the start of the window instead of the end",
         edits=[("current = torch.cat([current[:, 1:], nxt], dim=1)", "current = torch.cat([nxt, current[:, :-1]], dim=1)")]),
    # --- added (issue 12): batch of 1, empty edges, dtype, side effects, ignored arguments -------------
    dict(name="cell-chunk-batch-axis", cell="w05-lstm-cell",
         why="z.chunk(4) splits the batch axis (chunk's default dim=0), not the 4H gate rows",
         edits=[("i, f, g, o = z.chunk(4, dim=1)", "i, f, g, o = z.chunk(4)")]),
    dict(name="cell-squeeze-batch-1", cell="w05-lstm-cell",
         why="squeeze() before splitting the gates: with a batch of one the gates lose their batch axis",
         edits=[("i, f, g, o = z.chunk(4, dim=1)", "i, f, g, o = z.squeeze().chunk(4, dim=-1)")]),
    dict(name="unroll-ignores-cell-argument", cell="w05-lstm-unroll",
         why="constructor argument cell= ignored: every layer is the notebook's own LSTMCell",
         edits=[("cell(input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers)",
                 "LSTMCell(input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers)")]),
    dict(name="unroll-float32-output-buffer", cell="w05-lstm-unroll",
         why="outputs written into a torch.zeros buffer: float64 sequences come back as float32",
         edits=[("            outputs = []\n", "            outputs = torch.zeros(x.shape[0], x.shape[1], self.hidden_size)\n"),
                ("                outputs.append(h)\n", "                outputs[:, t] = h\n"),
                ("layer_input = torch.stack(outputs, dim=1)", "layer_input = outputs")]),
    dict(name="clip-returns-tensor", cell="w05-lstm-clip",
         why="returns the norm as a 0-dim tensor where the stub says float",
         edits=[("    return float(total)\n", "    return total\n")]),
    dict(name="clip-reads-iterator-twice", cell="w05-lstm-clip",
         why="scales the gradients in a second pass over `parameters`, a generator already used up",
         edits=[("        for p in params:\n            p.grad.mul_(scale)", "        for p in parameters:\n            p.grad.mul_(scale)")]),
    dict(name="train-returns-loss-tensor", cell="w05-lstm-clip",
         why="train_step returns the loss tensor instead of a float",
         edits=[("return float(loss.detach()), grad_norm", "return loss, grad_norm")]),
    dict(name="windows-no-empty-guard", cell="w05-lstm-windows",
         why="torch.arange(first, target_end - horizon + 1) without the guard: fails when no window fits",
         edits=[("origins = torch.arange(first, max(first, target_end - horizon + 1))",
                 "origins = torch.arange(first, target_end - horizon + 1)")]),
    dict(name="windows-stack-crashes-when-empty", cell="w05-lstm-windows",
         why="a loop and torch.stack: an empty list (no window fits) raises",
         edits=[("    past = origins[:, None] + torch.arange(-window, 0)  # (N, window): strictly before t\n"
                 "    future = origins[:, None] + torch.arange(horizon)   # (N, horizon)\n"
                 "    return series[past], series[future], origins\n",
                 "    X = torch.stack([series[t - window:t] for t in origins.tolist()])\n"
                 "    Y = torch.stack([series[t:t + horizon] for t in origins.tolist()])\n"
                 "    return X, Y, origins\n")]),
    dict(name="windows-float32-buffer", cell="w05-lstm-windows",
         why="windows copied into torch.zeros buffers: float64 series come back rounded to float32",
         edits=[("    return series[past], series[future], origins\n",
                 "    X, Y = torch.zeros(len(origins), window), torch.zeros(len(origins), horizon)\n"
                 "    X[:], Y[:] = series[past], series[future]\n"
                 "    return X, Y, origins\n")]),
    dict(name="scaler-transform-in-place", cell="w05-lstm-scaler",
         why="transform subtracts and divides in place: the caller's tensor is changed",
         edits=[("return (x - self.mean) / self.std", "return x.sub_(self.mean).div_(self.std)")]),
    dict(name="scaler-stats-in-float32", cell="w05-lstm-scaler",
         why="statistics stored as torch.tensor(float(...)): float32, imprecise for float64 series near 1e6",
         edits=[("self.mean = train.mean()", "self.mean = torch.tensor(float(train.mean()))"),
                ("self.std = train.std(unbiased=False)", "self.std = torch.tensor(float(train.std(unbiased=False)))")]),
    dict(name="recursive-modifies-window", cell="w05-lstm-recursive",
         why="slides the caller's window in place instead of building a new one",
         edits=[("current = torch.cat([current[:, 1:], nxt], dim=1)  # slide by one: the length stays W",
                 "current[:, :-1] = current[:, 1:].clone()\n            current[:, -1:] = nxt")]),
    dict(name="recursive-with-grad", cell="w05-lstm-recursive",
         why="no torch.no_grad(): the forecast still requires grad and keeps the graph",
         edits=[("    with torch.no_grad():\n", "    if True:\n")]),
    dict(name="recursive-squeeze-batch-1", cell="w05-lstm-recursive",
         why="stores nxt.squeeze() and stacks: a batch of one has no batch axis left",
         edits=[("            preds.append(nxt)\n", "            preds.append(nxt.squeeze())\n"),
                ("    return torch.cat(preds, dim=1)\n", "    return torch.stack(preds, dim=1)\n")]),
]

# Correct code written differently from the reference: every check must give it full marks.
VARIANTS = [
    # --- LSTMCell (the parameter layout is fixed; the computation may differ) -------------------------
    dict(name="cell-per-gate-slices", cell="w05-lstm-cell",
         why="separate gate weights: slices of weight_ih/weight_hh per gate, one F.linear per gate",
         source='''class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        for p in self.parameters():
            nn.init.uniform_(p, -hidden_size ** -0.5, hidden_size ** -0.5)

    def _gate(self, k, x, h):
        H = self.hidden_size
        rows = slice(k * H, (k + 1) * H)
        return (F.linear(x, self.weight_ih[rows], self.bias_ih[rows])
                + F.linear(h, self.weight_hh[rows], self.bias_hh[rows]))

    def gates(self, x, state):
        h_prev, _ = state
        i = torch.sigmoid(self._gate(0, x, h_prev))
        f = torch.sigmoid(self._gate(1, x, h_prev))
        g = torch.tanh(self._gate(2, x, h_prev))
        o = torch.sigmoid(self._gate(3, x, h_prev))
        return i, f, g, o

    def forward(self, x, state=None):
        if state is None:
            h0 = torch.zeros(x.size(0), self.hidden_size, dtype=x.dtype, device=x.device)
            state = (h0, h0.clone())
        i, f, g, o = self.gates(x, state)
        c = torch.addcmul(f * state[1], i, g)
        return torch.tanh(c) * o, c
'''),
    dict(name="cell-fused-concat", cell="w05-lstm-cell",
         why="one fused matmul of [x, h] with [W_ih | W_hh], biases added once, gates by split(H)",
         edits=[("z = x @ self.weight_ih.T + self.bias_ih + h_prev @ self.weight_hh.T + self.bias_hh  # (B, 4H)",
                 "z = torch.addmm(self.bias_ih + self.bias_hh, torch.cat([x, h_prev], dim=1),\n"
                 "                      torch.cat([self.weight_ih, self.weight_hh], dim=1).t())"),
                ("i, f, g, o = z.chunk(4, dim=1)", "i, f, g, o = z.split(self.hidden_size, dim=1)")]),
    dict(name="cell-einsum-view", cell="w05-lstm-cell",
         why="einsum for both products, gates via view(B, 4, H).unbind(1), activations applied to a stacked tensor",
         edits=[("z = x @ self.weight_ih.T + self.bias_ih + h_prev @ self.weight_hh.T + self.bias_hh  # (B, 4H)",
                 "z = torch.einsum('bi,gi->bg', x, self.weight_ih) + torch.einsum('bh,gh->bg', h_prev, self.weight_hh)\n"
                 "        z = z + (self.bias_ih + self.bias_hh)"),
                ("i, f, g, o = z.chunk(4, dim=1)  # nn.LSTMCell's order: input, forget, candidate, output\n"
                 "        return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)",
                 "i, f, g, o = z.view(z.shape[0], 4, self.hidden_size).unbind(1)\n"
                 "        return i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()")]),
    # --- LSTM unroll (the stub's loops are allowed; their order may differ) ------------------------------
    dict(name="unroll-time-major", cell="w05-lstm-unroll",
         why="outer loop over time, inner over layers; states in lists; outputs in a preallocated x.new_empty",
         edits=[("        layer_input = x\n"
                 "        h_n, c_n = [], []\n"
                 "        for k, cell in enumerate(self.cells):\n"
                 "            h, c = state[0][k], state[1][k]  # (B, H): this layer's own initial state\n"
                 "            outputs = []\n"
                 "            for t in range(x.shape[1]):\n"
                 "                h, c = cell(layer_input[:, t], (h, c))\n"
                 "                outputs.append(h)\n"
                 "            layer_input = torch.stack(outputs, dim=1)  # (B, T, H): the next layer reads these\n"
                 "            h_n.append(h)\n"
                 "            c_n.append(c)\n"
                 "        return layer_input, (torch.stack(h_n), torch.stack(c_n))\n",
                 "        hs, cs = list(state[0].unbind(0)), list(state[1].unbind(0))\n"
                 "        output = x.new_empty(x.shape[0], x.shape[1], self.hidden_size)\n"
                 "        for t in range(x.shape[1]):\n"
                 "            inp = x[:, t, :]\n"
                 "            for k in range(self.num_layers):\n"
                 "                hs[k], cs[k] = self.cells[k](inp, (hs[k], cs[k]))\n"
                 "                inp = hs[k]\n"
                 "            output[:, t] = inp\n"
                 "        return output, (torch.stack(hs, 0), torch.stack(cs, 0))\n")]),
    dict(name="unroll-unbind", cell="w05-lstm-unroll",
         why="cells appended in a loop; steps via unbind(1); layer states via zip(h0.unbind(0), c0.unbind(0))",
         edits=[("        self.cells = nn.ModuleList(\n"
                 "            cell(input_size if k == 0 else hidden_size, hidden_size) for k in range(num_layers)\n"
                 "        )\n",
                 "        self.cells = nn.ModuleList()\n"
                 "        for k in range(num_layers):\n"
                 "            self.cells.append(cell(hidden_size if k else input_size, hidden_size))\n"),
                ("        layer_input = x\n"
                 "        h_n, c_n = [], []\n"
                 "        for k, cell in enumerate(self.cells):\n"
                 "            h, c = state[0][k], state[1][k]  # (B, H): this layer's own initial state\n"
                 "            outputs = []\n"
                 "            for t in range(x.shape[1]):\n"
                 "                h, c = cell(layer_input[:, t], (h, c))\n"
                 "                outputs.append(h)\n",
                 "        layer_input = x\n"
                 "        h_n, c_n = [], []\n"
                 "        for cell, h, c in zip(self.cells, state[0].unbind(0), state[1].unbind(0)):\n"
                 "            outputs = []\n"
                 "            for x_t in layer_input.unbind(1):\n"
                 "                h, c = cell(x_t, (h, c))\n"
                 "                outputs.append(h)\n")]),
    # --- clipping and the training step -----------------------------------------------------------------
    dict(name="clip-torch-builtin", cell="w05-lstm-clip",
         why="torch.nn.utils.clip_grad_norm_ itself (same 1e-6 rule); MSE written out; loss.item()",
         edits=[("    total = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params)) if params else torch.tensor(0.0)\n"
                 "    scale = max_norm / (float(total) + 1e-6)\n"
                 "    if scale < 1.0:\n"
                 "        for p in params:\n"
                 "            p.grad.mul_(scale)  # one factor for all: the update keeps its direction\n"
                 "    return float(total)\n",
                 "    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))\n"),
                ("    optimizer.zero_grad()\n    loss = F.mse_loss(model(x), y)\n",
                 "    optimizer.zero_grad(set_to_none=True)\n    loss = ((model(x) - y) ** 2).mean()\n"),
                ("return float(loss.detach()), grad_norm", "return loss.item(), grad_norm")]),
    dict(name="clip-python-floats", cell="w05-lstm-clip",
         why="the norm summed as Python floats with math.sqrt, gradients scaled with *=, nn.MSELoss module",
         edits=[("    total = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in params)) if params else torch.tensor(0.0)\n"
                 "    scale = max_norm / (float(total) + 1e-6)\n"
                 "    if scale < 1.0:\n"
                 "        for p in params:\n"
                 "            p.grad.mul_(scale)  # one factor for all: the update keeps its direction\n"
                 "    return float(total)\n",
                 "    total = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params))\n"
                 "    if total > max_norm:\n"
                 "        for p in params:\n"
                 "            p.grad *= max_norm / (total + 1e-6)\n"
                 "    return total\n"),
                ("    loss = F.mse_loss(model(x), y)\n", "    loss = nn.MSELoss()(model(x), y)\n")]),
    # --- windows -------------------------------------------------------------------------------------------
    dict(name="windows-loop-lists", cell="w05-lstm-windows",
         why="a loop over origins with lists, an explicit empty result when no window fits",
         edits=[("    first = max(window, target_start)\n"
                 "    origins = torch.arange(first, max(first, target_end - horizon + 1))\n"
                 "    past = origins[:, None] + torch.arange(-window, 0)  # (N, window): strictly before t\n"
                 "    future = origins[:, None] + torch.arange(horizon)   # (N, horizon)\n"
                 "    return series[past], series[future], origins\n",
                 "    xs, ys, ts = [], [], []\n"
                 "    for t in range(max(window, target_start), target_end - horizon + 1):\n"
                 "        xs.append(series[t - window:t])\n"
                 "        ys.append(series[t:t + horizon])\n"
                 "        ts.append(t)\n"
                 "    if not ts:\n"
                 "        return series.new_empty(0, window), series.new_empty(0, horizon), torch.empty(0, dtype=torch.long)\n"
                 "    return torch.stack(xs), torch.stack(ys), torch.tensor(ts)\n")]),
    dict(name="windows-unfold", cell="w05-lstm-windows",
         why="all windows of length window + horizon by unfold, then the rows whose origin is allowed",
         edits=[("    first = max(window, target_start)\n"
                 "    origins = torch.arange(first, max(first, target_end - horizon + 1))\n"
                 "    past = origins[:, None] + torch.arange(-window, 0)  # (N, window): strictly before t\n"
                 "    future = origins[:, None] + torch.arange(horizon)   # (N, horizon)\n"
                 "    return series[past], series[future], origins\n",
                 "    span = window + horizon\n"
                 "    if len(series) < span:\n"
                 "        chunks = series.new_zeros(0, span)\n"
                 "    else:\n"
                 "        chunks = series.unfold(0, span, 1)                    # row s: series[s : s + span], origin s + window\n"
                 "    lo = max(0, target_start - window)\n"
                 "    hi = max(lo, target_end - span + 1)\n"
                 "    chunks = chunks[lo:hi]\n"
                 "    origins = torch.arange(lo, lo + len(chunks)) + window\n"
                 "    return chunks[:, :window].clone(), chunks[:, window:].clone(), origins\n")]),
    # --- Standardizer --------------------------------------------------------------------------------------
    dict(name="scaler-std-mean-addcmul", cell="w05-lstm-scaler",
         why="torch.std_mean(correction=0), multiply by 1/std, inverse with torch.addcmul",
         edits=[("        self.mean = train.mean()\n        self.std = train.std(unbiased=False)\n",
                 "        self.std, self.mean = torch.std_mean(train, correction=0)\n"),
                ("return (x - self.mean) / self.std", "return (x - self.mean) * (1.0 / self.std)"),
                ("return z * self.std + self.mean", "return torch.addcmul(self.mean, z, self.std)")]),
    dict(name="scaler-python-floats", cell="w05-lstm-scaler",
         why="statistics stored as Python floats (float64), the variance computed by hand",
         edits=[("        self.mean = train.mean()\n        self.std = train.std(unbiased=False)\n",
                 "        self.mean = float(train.mean())\n"
                 "        self.std = float(((train - self.mean) ** 2).mean()) ** 0.5\n")]),
    # --- recursive forecast ----------------------------------------------------------------------------------
    dict(name="recursive-prealloc-roll", cell="w05-lstm-recursive",
         why="@torch.no_grad() decorator logic inline: a preallocated result, torch.roll then the last column set",
         edits=[("    preds = []\n"
                 "    current = window\n"
                 "    with torch.no_grad():\n"
                 "        for _ in range(horizon):\n"
                 "            nxt = model(current)  # (B, 1)\n"
                 "            preds.append(nxt)\n"
                 "            current = torch.cat([current[:, 1:], nxt], dim=1)  # slide by one: the length stays W\n"
                 "    return torch.cat(preds, dim=1)\n",
                 "    out = window.new_empty(window.shape[0], horizon)\n"
                 "    with torch.no_grad():\n"
                 "        current = window.clone()\n"
                 "        for k in range(horizon):\n"
                 "            nxt = model(current)[:, 0]\n"
                 "            out[:, k] = nxt\n"
                 "            current = torch.roll(current, shifts=-1, dims=1)\n"
                 "            current[:, -1] = nxt\n"
                 "    return out\n")]),
    dict(name="recursive-inference-mode", cell="w05-lstm-recursive",
         why="torch.inference_mode() and a window rebuilt with torch.hstack",
         edits=[("    with torch.no_grad():\n", "    with torch.inference_mode():\n"),
                ("current = torch.cat([current[:, 1:], nxt], dim=1)", "current = torch.hstack((current[:, 1:], nxt))")]),
]
