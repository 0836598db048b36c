"""Mutants of week03/foundations.ipynb: realistic wrong versions of the student cells, and correct
variants written differently that every check must accept.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week03/foundations.ipynb"
ROUND_TRIP = "backward-no-divide-by-n"

MUTANTS = [
    # --- 1.1 linear regression ---------------------------------------------------------------
    dict(name="linreg-bias-column-unused", cell="w03-linear-regression",
         why="the bias column is appended, but the solve uses the original X (no intercept, D weights)",
         edits=[("self.weights, *_ = np.linalg.lstsq(Xb, y, rcond=None)",
                 "self.weights, *_ = np.linalg.lstsq(np.asarray(X, dtype=np.float64), y, rcond=None)")]),
    dict(name="linreg-predict-drops-bias", cell="w03-linear-regression",
         why="predict multiplies the features by weights[1:] and forgets the bias weights[0]",
         edits=[("return add_bias_column(X) @ self.weights", "return np.asarray(X, dtype=np.float64) @ self.weights[1:]")]),
    dict(name="linreg-bias-column-last", cell="w03-linear-regression",
         why="the column of ones is appended after the features, so weights[0] is not the bias",
         edits=[("return np.hstack([np.ones((X.shape[0], 1)), X])", "return np.hstack([X, np.ones((X.shape[0], 1))])")]),
    dict(name="linreg-fit-returns-weights", cell="w03-linear-regression",
         why="fit returns the weights instead of self (model.fit(X, y).predict(...) breaks)",
         edits=[("        return self\n", "        return self.weights\n")]),
    # --- 1.2 time split ----------------------------------------------------------------------
    dict(name="split-shuffled", cell="w03-time-split",
         why="rows shuffled before the split (a random split where a time split is asked)",
         edits=[("    n_test = math.ceil(test_size * len(X))\n",
                 "    order = np.random.default_rng(0).permutation(len(X))\n    X, y = X[order], y[order]\n"
                 "    n_test = math.ceil(test_size * len(X))\n")]),
    dict(name="split-test-first", cell="w03-time-split",
         why="the first rows become the test set (the model is trained on the future)",
         edits=[("return X[:n_train], X[n_train:], y[:n_train], y[n_train:]",
                 "return X[n_test:], X[:n_test], y[n_test:], y[:n_test]")]),
    dict(name="split-floor-test-size", cell="w03-time-split",
         why="int() instead of ceil() for the test size",
         edits=[("n_test = math.ceil(test_size * len(X))", "n_test = int(test_size * len(X))")]),
    dict(name="split-no-range-check", cell="w03-time-split",
         why="test_size outside (0, 1) is not rejected",
         edits=[("    if not 0 < test_size < 1:\n        raise ValueError(f\"test_size는 0과 1 사이여야 합니다 (받은 값: {test_size!r}).\")\n", "")]),
    # --- 1.3 metrics ---------------------------------------------------------------------------
    dict(name="metrics-r2-mean-of-predictions", cell="w03-metrics",
         why="R² measures the spread around the mean of the predictions instead of the truth",
         edits=[("sst = float(np.sum((y_true - y_true.mean()) ** 2))", "sst = float(np.sum((y_true - y_pred.mean()) ** 2))")]),
    dict(name="metrics-rmse-of-mae", cell="w03-metrics",
         why="RMSE computed as the square root of the MAE",
         edits=[('"rmse": math.sqrt(mse)', '"rmse": math.sqrt(float(np.mean(np.abs(err))))')]),
    dict(name="metrics-mae-without-abs", cell="w03-metrics",
         why="MAE without the absolute value (errors of opposite signs cancel)",
         edits=[('"mae": float(np.mean(np.abs(err)))', '"mae": float(np.mean(err))')]),
    dict(name="metrics-mse-sum", cell="w03-metrics",
         why="MSE as a sum of squares, not a mean",
         edits=[("mse = sse / len(y_true)", "mse = sse")]),
    # --- 1.4 Xavier ----------------------------------------------------------------------------
    dict(name="xavier-no-sqrt", cell="w03-xavier",
         why="limit 6 / (n_in + n_out) without the square root",
         edits=[("limit = math.sqrt(6.0 / (n_in + n_out))", "limit = 6.0 / (n_in + n_out)")]),
    dict(name="xavier-randn-over-sqrt-fan-in", cell="w03-xavier",
         why="a normal initialisation randn / sqrt(n_in) instead of Xavier uniform",
         edits=[("return rng.uniform(-limit, limit, size=(n_in, n_out))",
                 "return rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)")]),
    dict(name="xavier-global-random-state", cell="w03-xavier",
         why="np.random.uniform ignores the generator it was given (not reproducible)",
         edits=[("return rng.uniform(-limit, limit, size=(n_in, n_out))",
                 "return np.random.uniform(-limit, limit, size=(n_in, n_out))")]),
    dict(name="xavier-transposed", cell="w03-xavier",
         why="shape (n_out, n_in), the nn.Linear layout, for a weight used as x @ W",
         edits=[("size=(n_in, n_out)", "size=(n_out, n_in)")]),
    # --- 1.5 softmax and cross-entropy -------------------------------------------------------------
    dict(name="softmax-no-max-shift", cell="w03-softmax-ce",
         why="softmax without subtracting the maximum (overflows on large logits)",
         edits=[("shifted = z - z.max(axis=1, keepdims=True)", "shifted = z")]),
    dict(name="softmax-global-max", cell="w03-softmax-ce",
         why="one maximum for the whole batch: rows far below it underflow to 0/0",
         edits=[("shifted = z - z.max(axis=1, keepdims=True)", "shifted = z - z.max()")]),
    dict(name="softmax-over-batch-axis", cell="w03-softmax-ce",
         why="probabilities normalised over the batch (axis 0) instead of the classes",
         edits=[("return e / e.sum(axis=1, keepdims=True)", "return e / e.sum(axis=0, keepdims=True)")]),
    dict(name="ce-log-of-softmax", cell="w03-softmax-ce",
         why="log of softmax probabilities: log(0) = -inf when the true class underflows",
         edits=[("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                 "log_probs = np.log(softmax(logits))")]),
    dict(name="ce-log-plus-epsilon", cell="w03-softmax-ce",
         why="log(p + 1e-12) clips the loss at 27.6 instead of computing it",
         edits=[("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                 "log_probs = np.log(softmax(logits) + 1e-12)")]),
    dict(name="ce-sum-not-mean", cell="w03-softmax-ce",
         why="the loss is summed over the batch, not averaged",
         edits=[("return float(-log_probs[np.arange(len(labels)), labels].mean())",
                 "return float(-log_probs[np.arange(len(labels)), labels].sum())")]),
    # --- 1.6 numerical gradient --------------------------------------------------------------------
    dict(name="numgrad-forward-difference", cell="w03-numerical-gradient",
         why="forward difference (f(x+h) - f(x)) / h: error O(h) instead of O(h²)",
         edits=[("        x[idx] = old - h\n        f_minus = f(x)\n", "        x[idx] = old\n        f_minus = f(x)\n"),
                ("grad[idx] = (f_plus - f_minus) / (2 * h)", "grad[idx] = (f_plus - f_minus) / h")]),
    dict(name="numgrad-no-restore", cell="w03-numerical-gradient",
         why="each entry is left at old - h: later entries see a shifted x, and x comes back changed",
         edits=[("        x[idx] = old                     # restore before the next entry: one coordinate at a time\n", "")]),
    dict(name="numgrad-first-axis-only", cell="w03-numerical-gradient",
         why="iterates over rows (range(len(x))) and perturbs a whole row at a time",
         edits=[("for idx in np.ndindex(*x.shape):", "for idx in range(len(x)):")]),
    # --- 1.7 forward ---------------------------------------------------------------------------------
    dict(name="forward-no-b1", cell="w03-mlp-forward",
         why="the hidden layer forgets its bias b1",
         edits=[('z1 = X @ params["W1"] + params["b1"]', 'z1 = X @ params["W1"]')]),
    dict(name="forward-activation-ignored", cell="w03-mlp-forward",
         why="always ReLU, whatever activation is asked for",
         edits=[('if activation == "relu":\n        a1 = np.maximum(z1, 0.0)', 'if True:\n        a1 = np.maximum(z1, 0.0)')]),
    dict(name="forward-sigmoid-sign", cell="w03-mlp-forward",
         why="sigmoid written 1 / (1 + exp(z)) (the sign of the exponent)",
         edits=[("a1 = 1.0 / (1.0 + np.exp(-z1))", "a1 = 1.0 / (1.0 + np.exp(z1))")]),
    dict(name="forward-cache-preactivation", cell="w03-mlp-forward",
         why="the cache stores z1 where a1 (after the activation) is expected",
         edits=[('{"z1": z1, "a1": a1, "z2": z2}', '{"z1": z1, "a1": z1, "z2": z2}')]),
    # --- 1.8 backward --------------------------------------------------------------------------------
    dict(name="backward-no-divide-by-n", cell="w03-mlp-backward",
         why="dL/dz2 not divided by N (the gradient of the summed, not the mean, loss)",
         edits=[("    dz2 /= n                                    # the loss is a mean over the batch\n", "")]),
    dict(name="backward-transposed-dW2", cell="w03-mlp-backward",
         why="dW2 = dz2ᵀ a1, shape (C, H): the transposed W2 gradient",
         edits=[('dW2 = cache["a1"].T @ dz2', 'dW2 = dz2.T @ cache["a1"]')]),
    dict(name="backward-probs-in-place", cell="w03-mlp-backward",
         why="dz2 is the cache's probs array itself: the cache is changed in place",
         edits=[('dz2 = cache["probs"].copy()', 'dz2 = cache["probs"]')]),
    dict(name="backward-sigmoid-derivative-of-z", cell="w03-mlp-backward",
         why="sigmoid derivative z(1 - z) from the pre-activation instead of a(1 - a)",
         edits=[('        a1 = cache["a1"]\n', '        a1 = cache["z1"]\n')]),
    dict(name="backward-relu-no-mask", cell="w03-mlp-backward",
         why="the ReLU derivative is forgotten: dz1 = da1",
         edits=[('dz1 = da1 * (cache["z1"] > 0)', "dz1 = da1")]),
    dict(name="backward-db1-wrong-axis", cell="w03-mlp-backward",
         why="db1 summed over the hidden units instead of the batch",
         edits=[("db1 = dz1.sum(axis=0)", "db1 = dz1.sum(axis=1)")]),
    # --- 1.9 heads ---------------------------------------------------------------------------------------
    dict(name="merge-no-permute", cell="w03-heads",
         why="heads merged in the wrong order: (B, H, T, d_k) viewed as (B, T, D) without moving H back",
         edits=[("    x = x.permute(0, 2, 1, 3)                     # (B, T, H, d_k): heads next to each other again\n", "")]),
    dict(name="merge-head-minor", cell="w03-heads",
         why="heads merged in the wrong order: permute(0, 2, 3, 1) interleaves the heads' features",
         edits=[("x = x.permute(0, 2, 1, 3)                     # (B, T, H, d_k): heads next to each other again",
                 "x = x.permute(0, 2, 3, 1)")]),
    dict(name="split-view-without-permute", cell="w03-heads",
         why="split as x.view(B, H, T, d_k): right shape, but each head mixes features of different positions",
         edits=[("    x = x.view(b, t, num_heads, d // num_heads)   # (B, T, H, d_k): the last axis cut into H blocks\n"
                 "    return x.permute(0, 2, 1, 3)                  # (B, H, T, d_k): one (T, d_k) matrix per head\n",
                 "    return x.view(b, num_heads, t, d // num_heads)\n")]),
    dict(name="split-interleaved-heads", cell="w03-heads",
         why="view(B, T, d_k, H): head h gets features h, h + H, h + 2H, … instead of a block",
         edits=[("    x = x.view(b, t, num_heads, d // num_heads)   # (B, T, H, d_k): the last axis cut into H blocks\n"
                 "    return x.permute(0, 2, 1, 3)                  # (B, H, T, d_k): one (T, d_k) matrix per head\n",
                 "    return x.view(b, t, d // num_heads, num_heads).permute(0, 3, 1, 2)\n")]),
    dict(name="split-no-divisibility-check", cell="w03-heads",
         why="no ValueError when D is not divisible by num_heads",
         edits=[("    if d % num_heads:\n        raise ValueError(f\"D={d}는 num_heads={num_heads}로 나누어떨어져야 합니다.\")\n", "")]),
    # --- 1.10 attention ----------------------------------------------------------------------------------
    dict(name="attention-no-sqrt-dk", cell="w03-attention",
         why="the √d_k is left out of the scores",
         edits=[("scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)", "scores = q @ k.transpose(-2, -1)")]),
    dict(name="attention-divide-by-dk", cell="w03-attention",
         why="scores divided by d_k instead of √d_k",
         edits=[("scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)", "scores = q @ k.transpose(-2, -1) / d_k")]),
    dict(name="attention-softmax-over-queries", cell="w03-attention",
         why="softmax over the query axis (dim=-2) instead of the keys",
         edits=[("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)")]),
    dict(name="attention-scale-by-length", cell="w03-attention",
         why="scaled by the square root of the sequence length instead of d_k",
         edits=[("d_k = q.size(-1)", "d_k = q.size(-2)")]),
    # --- 1.11 multi-head self-attention ------------------------------------------------------------------
    dict(name="mhsa-no-out-proj", cell="w03-mhsa",
         why="the output projection is created but never applied",
         edits=[("return self.out_proj(merge_heads(out)), weights", "return merge_heads(out), weights")]),
    dict(name="mhsa-values-from-k-proj", cell="w03-mhsa",
         why="the values are projected with k_proj",
         edits=[("v = split_heads(self.v_proj(x), self.num_heads)", "v = split_heads(self.k_proj(x), self.num_heads)")]),
    dict(name="mhsa-weights-averaged", cell="w03-mhsa",
         why="attention weights averaged over the heads (B, T, T) instead of per head",
         edits=[("return self.out_proj(merge_heads(out)), weights", "return self.out_proj(merge_heads(out)), weights.mean(dim=1)")]),
    dict(name="mhsa-bias-argument-ignored", cell="w03-mhsa",
         why="bias=False is ignored: the projections always have a bias",
         edits=[("self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)", "self.q_proj = nn.Linear(embed_dim, embed_dim)"),
                ("self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)", "self.k_proj = nn.Linear(embed_dim, embed_dim)"),
                ("self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)", "self.v_proj = nn.Linear(embed_dim, embed_dim)"),
                ("self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)", "self.out_proj = nn.Linear(embed_dim, embed_dim)")]),
    dict(name="mhsa-one-head", cell="w03-mhsa",
         why="num_heads stored as 1: a single head over all of embed_dim",
         edits=[("self.num_heads = num_heads", "self.num_heads = 1")]),
]

VARIANTS = [
    # --- 1.1: other least-squares solvers and other ways to add the column ---------------------
    dict(name="linreg-pinv-of-design", cell="w03-linear-regression",
         why="pinv of the design matrix: w = pinv(X̃) y",
         edits=[("self.weights, *_ = np.linalg.lstsq(Xb, y, rcond=None)", "self.weights = np.linalg.pinv(Xb) @ y")]),
    dict(name="linreg-pinv-normal-equation", cell="w03-linear-regression",
         why="pinv on the normal equation, pinv(X̃ᵀX̃) X̃ᵀ y (squares the condition number, still correct here)",
         edits=[("self.weights, *_ = np.linalg.lstsq(Xb, y, rcond=None)", "self.weights = np.linalg.pinv(Xb.T @ Xb) @ Xb.T @ y")]),
    dict(name="linreg-solve-normal-equation", cell="w03-linear-regression",
         why="np.linalg.solve on the normal equation (no explicit inverse)",
         edits=[("self.weights, *_ = np.linalg.lstsq(Xb, y, rcond=None)", "self.weights = np.linalg.solve(Xb.T @ Xb, Xb.T @ y)")]),
    dict(name="linreg-column-stack", cell="w03-linear-regression",
         why="np.column_stack / np.c_ instead of np.hstack, and np.insert",
         edits=[("return np.hstack([np.ones((X.shape[0], 1)), X])", "return np.column_stack([np.ones(len(X)), X])")]),
    dict(name="linreg-insert", cell="w03-linear-regression",
         why="np.insert(X, 0, 1.0, axis=1) for the bias column",
         edits=[("return np.hstack([np.ones((X.shape[0], 1)), X])", "return np.insert(X, 0, 1.0, axis=1)")]),
    # --- 1.2 ----------------------------------------------------------------------------------------
    dict(name="split-sklearn-no-shuffle", cell="w03-time-split",
         why="scikit-learn's train_test_split with shuffle=False (same rule, its own range check)",
         source='''def time_train_test_split(X, y, test_size=0.2):
    """Split rows that are in time order: the first rows train, the last ceil(test_size · N) rows test."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, shuffle=False)
'''),
    dict(name="split-n-train-first", cell="w03-time-split",
         why="computes the boundary as N - ceil(test_size · N) with integer arithmetic on negatives",
         edits=[("    n_test = math.ceil(test_size * len(X))\n    n_train = len(X) - n_test\n",
                 "    n_train = len(X) + math.floor(-test_size * len(X))\n")]),
    # --- 1.3 ----------------------------------------------------------------------------------------
    dict(name="metrics-sklearn", cell="w03-metrics",
         why="scikit-learn's own metrics",
         source='''def regression_metrics(y_true, y_pred):
    """MAE, MSE, RMSE and R² of predictions, as Python floats."""
    from sklearn import metrics

    mse = metrics.mean_squared_error(y_true, y_pred)
    return {"mae": metrics.mean_absolute_error(y_true, y_pred), "mse": mse, "rmse": mse ** 0.5,
            "r2": metrics.r2_score(y_true, y_pred)}
'''),
    dict(name="metrics-numpy-scalars", cell="w03-metrics",
         why="NumPy scalars (np.float64) instead of Python floats, var-based R²",
         source='''def regression_metrics(y_true, y_pred):
    """MAE, MSE, RMSE and R² of predictions, as Python floats."""
    err = np.asarray(y_true) - np.asarray(y_pred)
    mse = np.mean(err ** 2)
    return {"mae": np.mean(np.abs(err)), "mse": mse, "rmse": np.sqrt(mse), "r2": 1 - mse / np.var(y_true)}
'''),
    # --- 1.4 ----------------------------------------------------------------------------------------
    dict(name="xavier-scaled-random", cell="w03-xavier",
         why="(2·rng.random(...) − 1)·a instead of rng.uniform",
         edits=[("return rng.uniform(-limit, limit, size=(n_in, n_out))",
                 "return (2.0 * rng.random((n_in, n_out)) - 1.0) * limit")]),
    # --- 1.5 ----------------------------------------------------------------------------------------
    dict(name="softmax-ce-logsumexp", cell="w03-softmax-ce",
         why="scipy-free log-sum-exp written with np.log(np.sum(np.exp(...))) and a one-hot mask",
         source='''def softmax(z):
    """Row-wise softmax that never overflows."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy(logits, labels):
    """Mean cross-entropy, computed stably from the logits."""
    m = np.max(logits, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1))       # log Σ exp(z)
    one_hot = np.eye(logits.shape[1])[labels]
    return float(np.mean(lse - np.sum(one_hot * logits, axis=1)))
'''),
    # --- 1.6 ----------------------------------------------------------------------------------------
    dict(name="numgrad-copies", cell="w03-numerical-gradient",
         why="perturbs copies of x (x itself is never touched), flat indices",
         source='''def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function of an array."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[i] += h
        minus.flat[i] -= h
        grad.flat[i] = (f(plus) - f(minus)) / (2 * h)
    return grad
'''),
    dict(name="numgrad-nditer-add-subtract", cell="w03-numerical-gradient",
         why="np.nditer with += h / -= 2h / += h (restores up to rounding)",
         source='''def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function of an array."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        i = it.multi_index
        x[i] += h
        fp = f(x)
        x[i] -= 2 * h
        fm = f(x)
        x[i] += h
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad
'''),
    # --- 1.7 / 1.8 ----------------------------------------------------------------------------------
    dict(name="forward-dot-and-where", cell="w03-mlp-forward",
         why="np.dot instead of @, np.where for ReLU, a dict built step by step",
         edits=[('z1 = X @ params["W1"] + params["b1"]', 'z1 = np.dot(X, params["W1"]) + params["b1"]'),
                ("a1 = np.maximum(z1, 0.0)", "a1 = np.where(z1 > 0, z1, 0.0)"),
                ('z2 = a1 @ params["W2"] + params["b2"]', 'z2 = np.dot(a1, params["W2"]) + params["b2"]')]),
    dict(name="backward-one-hot-einsum", cell="w03-mlp-backward",
         why="a one-hot matrix and einsum for the weight gradients",
         edits=[('dz2 = cache["probs"].copy()', 'dz2 = cache["probs"] - np.eye(cache["probs"].shape[1])[labels]'),
                ("    dz2[np.arange(n), labels] -= 1.0            # P − Y with Y one-hot\n", ""),
                ('dW2 = cache["a1"].T @ dz2', 'dW2 = np.einsum("nh,nc->hc", cache["a1"], dz2)'),
                ("dW1 = X.T @ dz1", 'dW1 = np.einsum("nd,nh->dh", X, dz1)')]),
    dict(name="backward-sigmoid-recomputed", cell="w03-mlp-backward",
         why="the sigmoid derivative recomputed from z1, and the ReLU mask from a1",
         edits=[('dz1 = da1 * (cache["z1"] > 0)', 'dz1 = da1 * (cache["a1"] > 0)'),
                ('        a1 = cache["a1"]\n', '        a1 = 1.0 / (1.0 + np.exp(-cache["z1"]))\n')]),
    # --- 1.9–1.11 (PyTorch) -------------------------------------------------------------------------
    dict(name="heads-reshape-transpose", cell="w03-heads",
         why="reshape + transpose(1, 2) instead of view + permute",
         edits=[("x = x.view(b, t, num_heads, d // num_heads)", "x = x.reshape(b, t, num_heads, -1)"),
                ("return x.permute(0, 2, 1, 3)                  # (B, H, T, d_k): one (T, d_k) matrix per head",
                 "return x.transpose(1, 2)"),
                ("return x.contiguous().view(b, t, h * d_k)", "return x.reshape(b, t, -1)")]),
    dict(name="heads-chunk-and-cat", cell="w03-heads",
         why="torch.stack of chunks to split, torch.cat of unbind to merge",
         source='''def split_heads(x, num_heads):
    """(B, T, D) → (B, num_heads, T, D // num_heads)."""
    if x.shape[-1] % num_heads:
        raise ValueError("D must be divisible by num_heads")
    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)


def merge_heads(x):
    """(B, H, T, d_k) → (B, T, H · d_k)."""
    return torch.cat(x.unbind(dim=1), dim=-1)
'''),
    dict(name="attention-einsum", cell="w03-attention",
         why="einsum and a pre-scaled query",
         source='''def scaled_dot_product_attention(q, k, v):
    """softmax(q kᵀ / √d_k) v over the last two dimensions."""
    scores = torch.einsum("...qd,...kd->...qk", q * q.shape[-1] ** -0.5, k)
    weights = F.softmax(scores, dim=-1)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights
'''),
    dict(name="attention-matmul-mT", cell="w03-attention",
         why="torch.matmul with k.mT and a scale multiplied in",
         edits=[("scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)", "scores = torch.matmul(q, k.mT) * (1.0 / d_k ** 0.5)")]),
    dict(name="mhsa-fused-qkv", cell="w03-mhsa",
         why="one fused qkv_proj (output [q | k | v]) instead of three projections",
         source='''class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, batch first, with one fused qkv projection."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.num_heads = num_heads
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, x):
        q, k, v = (split_heads(t, self.num_heads) for t in self.qkv_proj(x).chunk(3, dim=-1))  # (B, H, T, d_k) each
        out, weights = scaled_dot_product_attention(q, k, v)
        return self.out_proj(merge_heads(out)), weights
'''),
]
