"""Reference solutions for week03/foundations.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import numpy as np
import torch
import torch.nn as nn

NOTEBOOK = "week03/foundations.ipynb"


def add_bias_column(X):
    """The bias-column trick: a column of ones in front of the features, so that the bias is one more weight.

    Inputs:  X (N, D) array of features
    Returns: (N, D + 1) float64 array whose rows are [1, x_1, ..., x_D]; X itself is not changed
    """
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([np.ones((X.shape[0], 1)), X])  # (N, D + 1)


class LinearRegressionNE:
    """Least-squares linear regression in closed form (the normal equation), with a bias column.

    fit(X (N, D), y (N,)) sets ``weights`` (D + 1,) float64 — weights[0] is the bias (intercept),
    weights[1:] one coefficient per feature — and returns self. Solve the least-squares problem
    with np.linalg.lstsq or np.linalg.pinv on the design matrix; never form an explicit inverse.
    predict(X (N, D)) returns the (N,) predictions. Neither method changes X or y.
    """

    def __init__(self):
        self.weights = None

    def fit(self, X, y):
        Xb = add_bias_column(X)                                   # (N, D + 1)
        y = np.asarray(y, dtype=np.float64)                       # (N,)
        # lstsq factorises Xb itself (SVD): it never forms Xbᵀ Xb, whose condition number is cond(Xb)².
        self.weights, *_ = np.linalg.lstsq(Xb, y, rcond=None)     # (D + 1,)
        return self

    def predict(self, X):
        return add_bias_column(X) @ self.weights                  # (N, D + 1) @ (D + 1,) = (N,)


def time_train_test_split(X, y, test_size=0.2):
    """Split rows that are in time order: the first rows train, the last ceil(test_size · N) rows test.

    Nothing is shuffled: every test row comes after every training row.
    Inputs:  X (N, ...) array, y (N,) array, 0 < test_size < 1
    Returns: (X_train, X_test, y_train, y_test)
    Raises:  ValueError if test_size is not strictly between 0 and 1.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size는 0과 1 사이여야 합니다 (받은 값: {test_size!r}).")
    n_test = math.ceil(test_size * len(X))
    n_train = len(X) - n_test
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]  # slices keep the time order


def regression_metrics(y_true, y_pred):
    """MAE, MSE, RMSE and R² of predictions, as Python floats.

    Inputs:  y_true (N,), y_pred (N,) arrays (N ≥ 2, y_true not constant)
    Returns: {"mae": ..., "mse": ..., "rmse": ..., "r2": ...}, with
             R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² and ȳ the mean of y_true
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    err = y_true - y_pred                                     # (N,)
    sse = float(np.sum(err ** 2))
    sst = float(np.sum((y_true - y_true.mean()) ** 2))        # spread around the mean of the truth
    mse = sse / len(y_true)
    return {"mae": float(np.mean(np.abs(err))), "mse": mse, "rmse": math.sqrt(mse), "r2": 1.0 - sse / sst}


def xavier_uniform(n_in, n_out, rng):
    """Xavier (Glorot) uniform initialisation of a weight matrix used as ``x @ W``.

    Inputs:  n_in, n_out: ints; rng: np.random.Generator (draw every number from it)
    Returns: (n_in, n_out) float64 array drawn from U(−a, a) with a = sqrt(6 / (n_in + n_out))
    """
    limit = math.sqrt(6.0 / (n_in + n_out))  # Var U(−a, a) = a² / 3 = 2 / (n_in + n_out)
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def softmax(z):
    """Row-wise softmax that never overflows.

    Inputs:  z (N, C) logits, any real values (e.g. ±1000)
    Returns: (N, C) probabilities, every row sums to 1; z is not changed
    """
    shifted = z - z.max(axis=1, keepdims=True)   # (N, C); each row's largest entry is 0, so exp ≤ 1
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)      # the denominator is ≥ 1: never 0/0


def cross_entropy(logits, labels):
    """Mean cross-entropy −(1/N) Σ_i log softmax(logits)[i, labels[i]], computed stably from the logits.

    Inputs:  logits (N, C); labels (N,) int class indices
    Returns: a Python float, finite even when a probability underflows to 0
    """
    shifted = logits - logits.max(axis=1, keepdims=True)                        # (N, C)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))   # log-softmax: no log(0)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function of an array.

    Inputs:  f: callable, f(x) → float; x: float64 array of any shape; h: the step
    Returns: array of x's shape whose entry i is (f(x + h·e_i) − f(x − h·e_i)) / (2h)
    x may change while the function runs, but must hold its original values when it returns.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):     # every entry, whatever the shape
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old                     # restore before the next entry: one coordinate at a time
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def mlp_forward(X, params, activation="relu"):
    """Forward pass of the two-layer MLP  ŷ = softmax(σ(X W1 + b1) W2 + b2).

    Inputs:  X (N, D); params {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)};
             activation: "relu" or "sigmoid" (the σ of the hidden layer)
    Returns: (probs (N, C), cache) with cache = {"z1": (N, H), "a1": (N, H), "z2": (N, C)}
             (z before, a after the activation; z2 are the logits). Use softmax from above.
    Raises:  ValueError for any other activation. Neither X nor params change.
    """
    if activation not in ("relu", "sigmoid"):
        raise ValueError(f"activation은 'relu' 또는 'sigmoid'여야 합니다 (받은 값: {activation!r}).")
    z1 = X @ params["W1"] + params["b1"]                  # (N, D) @ (D, H) + (H,) = (N, H)
    if activation == "relu":
        a1 = np.maximum(z1, 0.0)
    else:
        a1 = 1.0 / (1.0 + np.exp(-z1))
    z2 = a1 @ params["W2"] + params["b2"]                 # (N, H) @ (H, C) + (C,) = (N, C)
    return softmax(z2), {"z1": z1, "a1": a1, "z2": z2}


def mlp_backward(X, labels, params, cache, activation="relu"):
    """Gradients of the mean cross-entropy of mlp_forward's output with respect to every parameter.

    Inputs:  X (N, D); labels (N,) int; params as in mlp_forward; cache: mlp_forward's cache with
             "probs" (N, C) added; activation: "relu" or "sigmoid", as in the forward pass
    Returns: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}, each of its parameter's shape.
    Nothing passed in is changed (the cache's probs included).
    """
    n = X.shape[0]
    dz2 = cache["probs"].copy()                 # (N, C); a copy, so the cache keeps its probabilities
    dz2[np.arange(n), labels] -= 1.0            # P − Y with Y one-hot
    dz2 /= n                                    # the loss is a mean over the batch
    dW2 = cache["a1"].T @ dz2                   # (H, N) @ (N, C) = (H, C), the shape of W2
    db2 = dz2.sum(axis=0)                       # (C,)
    da1 = dz2 @ params["W2"].T                  # (N, C) @ (C, H) = (N, H)
    if activation == "relu":
        dz1 = da1 * (cache["z1"] > 0)           # ReLU passes the gradient where z1 > 0
    else:
        a1 = cache["a1"]
        dz1 = da1 * a1 * (1.0 - a1)             # σ'(z) = σ(z)(1 − σ(z)), from the stored activation
    dW1 = X.T @ dz1                             # (D, N) @ (N, H) = (D, H)
    db1 = dz1.sum(axis=0)                       # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def split_heads(x, num_heads):
    """(B, T, D) → (B, num_heads, T, D // num_heads): head h gets features h·d_k … (h+1)·d_k − 1.

    Use view (or reshape) and permute. Raises ValueError if D is not divisible by num_heads.
    """
    b, t, d = x.shape
    if d % num_heads:
        raise ValueError(f"D={d}는 num_heads={num_heads}로 나누어떨어져야 합니다.")
    x = x.view(b, t, num_heads, d // num_heads)   # (B, T, H, d_k): the last axis cut into H blocks
    return x.permute(0, 2, 1, 3)                  # (B, H, T, d_k): one (T, d_k) matrix per head


def merge_heads(x):
    """(B, H, T, d_k) → (B, T, H · d_k), the inverse of split_heads."""
    b, h, t, d_k = x.shape
    x = x.permute(0, 2, 1, 3)                     # (B, T, H, d_k): heads next to each other again
    return x.contiguous().view(b, t, h * d_k)     # (B, T, D); permute only changed strides, view needs contiguous memory


def scaled_dot_product_attention(q, k, v):
    """softmax(q kᵀ / √d_k) v over the last two dimensions, batched over all leading ones.

    Inputs:  q (..., Tq, d_k), k (..., Tk, d_k), v (..., Tk, d_v)
    Returns: (out (..., Tq, d_v), weights (..., Tq, Tk)); every row of weights sums to 1
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)   # (..., Tq, Tk): variance ≈ 1 whatever d_k is
    weights = torch.softmax(scores, dim=-1)              # normalised over the keys
    return weights @ v, weights                          # (..., Tq, d_v), (..., Tq, Tk)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention (Vaswani et al., 2017), batch first.

    Attributes (names are fixed: the grader copies weights by name):
        q_proj, k_proj, v_proj: nn.Linear(embed_dim, embed_dim, bias=bias) each — or, instead of the
            three, one fused qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias) whose output
            is [q | k | v]; out_proj: nn.Linear(embed_dim, embed_dim, bias=bias); num_heads: int
    forward(x (B, T, embed_dim)) → (out (B, T, embed_dim), weights (B, num_heads, T, T)):
        project, split_heads, scaled_dot_product_attention, merge_heads, out_proj — call the
        three functions above.
    Raises ValueError (in __init__) if embed_dim is not divisible by num_heads.
    """

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim}는 num_heads={num_heads}로 나누어떨어져야 합니다.")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, x):
        q = split_heads(self.q_proj(x), self.num_heads)        # (B, H, T, d_k)
        k = split_heads(self.k_proj(x), self.num_heads)        # (B, H, T, d_k)
        v = split_heads(self.v_proj(x), self.num_heads)        # (B, H, T, d_k)
        out, weights = scaled_dot_product_attention(q, k, v)   # (B, H, T, d_k), (B, H, T, T)
        return self.out_proj(merge_heads(out)), weights        # (B, T, D), (B, H, T, T)
