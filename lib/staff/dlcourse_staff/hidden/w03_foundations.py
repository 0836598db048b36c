"""Hidden checks of week03/foundations.ipynb.

Parts 1.1–1.8 are NumPy exercises: the grader's arrays are handed to the kernel as NumPy arrays
(``probe_parts.as_numpy``), and what comes back as a tensor marked ``numpy`` is the student's
array. Every check compares with the reference here, on sizes and seeds that differ from the
visible checks, and looks for side effects (inputs changed in place). A part that calls another
graded function (``mlp_forward`` → ``softmax``; the attention module → the head reshapes and the
attention function) runs with that name bound to a grader-computed stand-in (an oracle), so a
wrong helper costs only its own part.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from dlcourse.checks import assert_close, assert_shape, assert_true

from ..probe import Remote, RemoteError
from ..solutions import w03_foundations as ref
from ._registry import register
from ._tools import case, compare_call, compare_module, expect_tensor, fail, generator, meta, randomize


# --------------------------------------------------------------------------------------------
# NumPy plumbing
# --------------------------------------------------------------------------------------------
def _np(k, value) -> Remote:
    """``value`` (tensors, nested) as NumPy arrays in the kernel; a Remote to them."""
    return k.make("as_numpy", value)


def _array(x, what: str, shape=None) -> torch.Tensor:
    """The student's returned value must be a NumPy array (it comes back as a tensor marked numpy)."""
    if not isinstance(x, torch.Tensor) or not meta(x)["numpy"]:
        kind = "torch.Tensor" if isinstance(x, torch.Tensor) else (getattr(x, "cls", None) or type(x).__name__)
        fail(f"{what}은(는) NumPy 배열(np.ndarray)이어야 합니다 (받은 타입: {kind}).")
    if shape is not None and tuple(x.shape) != tuple(shape):
        fail(f"{what}의 모양(shape)이 다릅니다: 기대 {tuple(shape)}, 실제 {tuple(x.shape)}.")
    return x


def _number(x, what: str) -> float:
    """A real number: a Python int/float, a NumPy scalar or a 0-d NumPy array."""
    value = None
    if type(x) in (int, float):
        value = float(x)
    elif hasattr(x, "dtype") and hasattr(x, "value") and type(x.value) in (int, float):   # NumPy scalar
        value = float(x.value)
    elif isinstance(x, torch.Tensor) and meta(x)["numpy"] and x.dim() == 0 and x.dtype.is_floating_point:
        value = float(x)
    if value is None:
        kind = "torch.Tensor" if isinstance(x, torch.Tensor) else (getattr(x, "cls", None) or type(x).__name__)
        fail(f"{what}은(는) 실수(float)여야 합니다 (받은 타입: {kind}).")
    if not math.isfinite(value):
        fail(f"{what}이(가) 유한한 값이 아닙니다 ({value!r}).")
    return value


def _unchanged(remote: Remote, original, what: str) -> None:
    """The kernel's array(s) behind ``remote`` still equal ``original`` (no in-place change)."""
    now = remote.get()
    pairs = [(now, original)] if not isinstance(original, dict) else [(now.get(k), v) for k, v in original.items()]
    for got, want in pairs:
        if not (isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got, want)):
            fail(f"{what}이(가) 바뀌었습니다: 입력 배열을 제자리에서(in place) 고치지 말고 새 배열을 만드세요.")


def _raises_value_error(fn) -> bool:
    try:
        fn()
    except RemoteError as err:
        if err.not_implemented:
            raise
        return err.etype in ("ValueError", "InvalidParameterError")
    return False


@contextmanager
def numpy_oracles(k, **functions):
    """Bind notebook names to grader-computed functions that answer with NumPy arrays."""
    with k.oracles(**functions):
        for name in functions:
            wrapped = k.make("numpy_results", k.name(name))
            k.request("bind", names={name: wrapped})
        yield


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# 1.1 linear regression
# --------------------------------------------------------------------------------------------
def _regression_data(seed: int, n: int, d: int, *, integer: bool = False):
    rng = _rng(seed)
    scales = np.array([1.0, 7.0, 0.3, 2.0, 40.0][:d])
    X = rng.normal(size=(n, d)) * scales + rng.normal(size=d)
    if integer:
        X = np.round(X * 3).astype(np.int64)
    w = rng.normal(size=d) / scales
    y = 5.0 - 3.0 * rng.random() + X @ w + 0.3 * rng.normal(size=n)
    X_new = rng.normal(size=(n + 3, d)) * scales
    return X, y, (np.round(X_new * 3).astype(np.int64) if integer else X_new)


@register("w03-linear-regression-test")
def linear_regression(k, LinearRegressionNE, add_bias_column) -> None:
    for n, d in ((6, 3), (1, 1)):
        X = torch.from_numpy(_rng(10 + n).normal(size=(n, d)))
        with case(f"add_bias_column(X: ({n}, {d}))"):
            X_r = _np(k, X)
            out = _array(add_bias_column.call(X_r), "add_bias_column의 결과", (n, d + 1))
            assert_true(out.dtype == torch.float64, f"결과의 dtype은 float64여야 합니다 (받은 dtype: {out.dtype}).")
            assert_close(out[:, 0], torch.ones(n, dtype=torch.float64), atol=0, rtol=0, name="첫 열 (편향 열, 모두 1)")
            assert_close(out[:, 1:], X, atol=0, rtol=0, name="나머지 열 (원래 특성, 같은 순서)")
            _unchanged(X_r, X, "입력 X")
    cases = [(40, 1, False, "특성 1개"), (9, 3, False, "크기가 다른 특성 3개"), (4, 3, False, "N = D + 1: 잔차 없이 맞는 경우"),
             (15, 2, True, "정수(int64) 특성")]
    for i, (n, d, integer, label) in enumerate(cases):
        X, y, X_new = _regression_data(100 + i, n, d, integer=integer)
        want = ref.LinearRegressionNE().fit(X, y)
        with case(f"LinearRegressionNE: {label}, X ({n}, {d})"):
            model = LinearRegressionNE()
            X_r, y_r, Xn_r = _np(k, torch.from_numpy(X)), _np(k, torch.from_numpy(y)), _np(k, torch.from_numpy(X_new))
            returned = model.invoke(X_r, y_r, method="fit").value
            assert_true(isinstance(returned, Remote) and returned.handle == model.handle,
                        "fit은 self를 돌려줘야 합니다 (model.fit(X, y).predict(...)처럼 이어 쓸 수 있도록).")
            weights = _array(model.getattr("weights", None), "weights", (d + 1,))
            assert_close(weights, torch.from_numpy(want.weights), atol=1e-7, rtol=1e-6,
                         name="weights ([편향, 특성 계수...])")
            pred = _array(model.method("predict", Xn_r), "predict의 결과", (n + 3,))
            assert_close(pred, torch.from_numpy(want.predict(X_new)), atol=1e-6, rtol=1e-6, name="새 데이터에 대한 predict")
            _unchanged(X_r, torch.from_numpy(X), "입력 X")
            _unchanged(y_r, torch.from_numpy(y), "입력 y")
            _unchanged(Xn_r, torch.from_numpy(X_new), "predict의 입력 X")


# --------------------------------------------------------------------------------------------
# 1.2 time-ordered split
# --------------------------------------------------------------------------------------------
SPLIT_CASES = [(10, 0.2), (7, 0.3), (8, 0.25), (5, 0.5), (3, 0.1), (23, 0.15)]


@register("w03-time-split-test")
def time_split(k, time_train_test_split) -> None:
    for i, (n, test_size) in enumerate(SPLIT_CASES):
        n_test = math.ceil(test_size * n)
        X = torch.arange(3 * n, dtype=torch.float64).reshape(n, 3) + 0.5   # row i holds time i
        y = torch.arange(n, dtype=torch.int64) * 7
        with case(f"time_train_test_split(X: ({n}, 3), y: ({n},), test_size={test_size})"):
            X_r, y_r = _np(k, X), _np(k, y)
            got = time_train_test_split.call(X_r, y_r, test_size=test_size)
            if not (isinstance(got, (tuple, list)) and len(got) == 4):
                fail("(X_train, X_test, y_train, y_test) 네 값을 돌려줘야 합니다.")
            names = ("X_train", "X_test", "y_train", "y_test")
            wants = (X[: n - n_test], X[n - n_test:], y[: n - n_test], y[n - n_test:])
            for name, g, w in zip(names, got, wants):
                g = _array(g, name)
                if tuple(g.shape) != tuple(w.shape):
                    fail(f"{name}의 모양이 {tuple(w.shape)}여야 합니다 (받은 모양 {tuple(g.shape)}): 테스트는 마지막 "
                         f"ceil(test_size·N) = {n_test}행입니다.")
                if not torch.equal(g.to(w.dtype), w):
                    fail(f"{name}의 행이 시간 순서대로가 아닙니다: 앞의 {n - n_test}행이 학습, 마지막 {n_test}행이 테스트이고 "
                         "섞으면 안 됩니다.")
            _unchanged(X_r, X, "입력 X")
    with case("1-D X (N,)"):
        got = time_train_test_split.call(_np(k, torch.arange(6.0)), _np(k, torch.arange(6)), test_size=0.5)
        assert_true(isinstance(got, (tuple, list)) and len(got) == 4, "네 값을 돌려줘야 합니다.")
        assert_close(_array(got[1], "X_test"), torch.tensor([3.0, 4.0, 5.0], dtype=torch.float64), atol=0, rtol=0,
                     name="X_test")
    for bad in (0.0, 1.0, 1.5, -0.2):
        with case(f"test_size={bad}"):
            assert_true(_raises_value_error(lambda: time_train_test_split.call(_np(k, torch.arange(10.0)),
                                                                            _np(k, torch.arange(10)), test_size=bad)),
                        f"test_size={bad}이면 ValueError를 내야 합니다 (0 < test_size < 1).")


# --------------------------------------------------------------------------------------------
# 1.3 metrics
# --------------------------------------------------------------------------------------------
def _sklearn_metrics(y_true, y_pred) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score, root_mean_squared_error

    return {"mae": mean_absolute_error(y_true, y_pred), "mse": mean_squared_error(y_true, y_pred),
            "rmse": root_mean_squared_error(y_true, y_pred), "r2": r2_score(y_true, y_pred)}


@register("w03-metrics-test")
def metrics(k, regression_metrics) -> None:
    rng = _rng(300)
    y1 = rng.normal(50, 20, size=37)
    y_big = rng.normal(2e5, 3e3, size=25)
    cases = [
        ("잡음이 있는 예측, N=37", y1, y1 + rng.normal(0, 8, size=37)),
        ("치우친 예측 (편향 +10), N=37", y1, y1 + 10 + rng.normal(0, 2, size=37)),
        ("완벽한 예측", y1[:9], y1[:9].copy()),
        ("평균보다 나쁜 예측 (R² < 0)", y1[:12], np.full(12, y1[:12].max() + 30.0)),
        ("N=2", np.array([1.0, 3.0]), np.array([2.5, 2.0])),
        ("큰 값 (2·10⁵ 근처)", y_big, y_big + rng.normal(0, 500, size=25)),
    ]
    for label, yt, yp in cases:
        with case(f"regression_metrics: {label}"):
            yt_t, yp_t = torch.from_numpy(yt), torch.from_numpy(yp)
            yt_r, yp_r = _np(k, yt_t), _np(k, yp_t)
            got = regression_metrics.call(yt_r, yp_r)
            if not (isinstance(got, dict) and set(got) == {"mae", "mse", "rmse", "r2"}):
                keys = sorted(got) if isinstance(got, dict) else type(got).__name__
                fail(f"키가 정확히 mae, mse, rmse, r2인 dict를 돌려줘야 합니다 (받은 값: {keys}).")
            want = _sklearn_metrics(yt, yp)
            for key in ("mae", "mse", "rmse", "r2"):
                value = _number(got[key], key)
                assert_true(math.isclose(value, want[key], rel_tol=1e-7, abs_tol=1e-9),
                            f"{key}가 {value:.6g}인데 기대값(scikit-learn)은 {want[key]:.6g}입니다.")
            _unchanged(yt_r, yt_t, "y_true")
            _unchanged(yp_r, yp_t, "y_pred")


# --------------------------------------------------------------------------------------------
# 1.4 Xavier
# --------------------------------------------------------------------------------------------
@register("w03-xavier-test")
def xavier(k, xavier_uniform) -> None:
    for n_in, n_out, seed in ((300, 40, 401), (30, 90, 402), (7, 3, 403), (1, 1, 404)):
        limit = math.sqrt(6.0 / (n_in + n_out))
        with case(f"xavier_uniform({n_in}, {n_out}, rng)"):
            w = _array(xavier_uniform.call(n_in, n_out, k.make("numpy_generator", seed)), "결과", (n_in, n_out))
            assert_true(w.dtype == torch.float64, f"dtype은 float64여야 합니다 (받은 dtype: {w.dtype}).")
            assert_true(bool(torch.isfinite(w).all()), "NaN이나 inf가 있습니다.")
            biggest = float(w.abs().max())
            assert_true(biggest <= limit * (1 + 1e-12),
                        f"값이 U(-a, a), a = √(6/(n_in+n_out)) = {limit:.4g}의 범위를 벗어납니다 (가장 큰 |w| = {biggest:.4g}).")
            again = _array(xavier_uniform.call(n_in, n_out, k.make("numpy_generator", seed)), "결과")
            assert_true(torch.equal(again, w), "같은 시드의 rng로 다시 만들면 같은 가중치여야 합니다: 넘겨받은 rng에서 난수를 뽑으세요.")
            other = _array(xavier_uniform.call(n_in, n_out, k.make("numpy_generator", seed + 1000)), "결과")
            assert_true(not torch.equal(other, w), "다른 시드의 rng인데 같은 가중치가 나옵니다: 넘겨받은 rng를 쓰세요.")
            if n_in * n_out >= 200:
                n = n_in * n_out
                assert_true(biggest > limit * (1 - 20 / n),
                            f"가장 큰 |w| = {biggest:.4g}가 a = √(6/(n_in+n_out)) = {limit:.4g}보다 너무 작습니다: 범위를 확인하세요.")
                var, want_var = float(w.var()), limit ** 2 / 3
                assert_true(abs(var / want_var - 1) < 6 * math.sqrt(0.8 / n) + 0.01,
                            f"분산 {var:.4g}이 기대값 a²/3 = 2/(n_in+n_out) = {want_var:.4g}와 다릅니다 (균등 분포인지 확인하세요).")
                inner = float((w.abs() < limit / 2).double().mean())
                assert_true(abs(inner - 0.5) < 6 * math.sqrt(0.25 / n) + 0.01,
                            f"|w| < a/2인 비율이 {inner:.3f}입니다: 균등 분포 U(-a, a)라면 0.5여야 합니다.")
                assert_true(abs(float(w.mean())) < 6 * limit / math.sqrt(3 * n), "평균이 0에서 너무 멉니다.")


# --------------------------------------------------------------------------------------------
# 1.5 softmax and cross-entropy
# --------------------------------------------------------------------------------------------
SOFTMAX_CASES = [
    ("보통 크기의 로짓 (5, 4)", lambda r: r.normal(0, 2, size=(5, 4))),
    ("큰 로짓 (±1000, 행마다 크기가 다름)",
     lambda r: np.array([[1000.0, 998.0, 990.0], [-1000.0, -1003.0, -999.5], [0.5, -0.5, 0.0], [800.0, -800.0, 0.0]])),
    ("N=1, C=1", lambda r: np.array([[123.0]])),
    ("C가 N보다 큰 (2, 7)", lambda r: r.normal(0, 30, size=(2, 7))),
]


@register("w03-softmax-ce-test")
def softmax_ce(k, softmax, cross_entropy) -> None:
    rng = _rng(500)
    for label, make in SOFTMAX_CASES:
        z = make(rng)
        with case(f"softmax: {label}"):
            z_t = torch.from_numpy(z)
            z_r = _np(k, z_t)
            p = _array(softmax.call(z_r), "softmax의 결과", z.shape)
            assert_true(p.dtype == torch.float64, f"float64 입력의 결과는 float64여야 합니다 (받은 dtype: {p.dtype}).")
            assert_true(bool(torch.isfinite(p).all()), "NaN이나 inf가 나옵니다: 행마다 최댓값을 빼서 계산하세요.")
            assert_close(p, torch.from_numpy(ref.softmax(z)), atol=1e-12, rtol=1e-9, name="softmax 확률")
            _unchanged(z_r, z_t, "입력 로짓 z")
    ce_cases = [
        ("보통 크기의 로짓 (6, 4)", rng.normal(0, 2, size=(6, 4)), np.array([0, 3, 1, 1, 2, 3])),
        ("정답 확률이 0으로 아래넘침 (로짓 ±1000)", np.array([[0.0, 1000.0, -5.0], [-700.0, 700.0, 0.0]]), np.array([0, 2])),
        ("N=1", np.array([[2.0, -1.0, 0.5, 4.0]]), np.array([1])),
        ("N=3, 같은 레이블", rng.normal(0, 1, size=(3, 5)), np.array([4, 4, 4])),
    ]
    for label, logits, labels in ce_cases:
        with case(f"cross_entropy: {label}"):
            lt, lb = torch.from_numpy(logits), torch.from_numpy(labels)
            l_r = _np(k, lt)
            value = _number(cross_entropy.call(l_r, _np(k, lb)), "cross_entropy의 결과")
            want = ref.cross_entropy(logits, labels)
            assert_true(math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-9),
                        f"손실이 {value:.6g}인데 기대값은 {want:.6g}입니다 (배치 평균, 로그-합-지수로 계산했는지 확인하세요).")
            _unchanged(l_r, lt, "입력 로짓")


# --------------------------------------------------------------------------------------------
# 1.6 numerical gradient
# --------------------------------------------------------------------------------------------
@register("w03-numerical-gradient-test")
def numerical_gradient_check(k, numerical_gradient) -> None:
    from dlcourse import probe_parts

    rng = _rng(600)
    for shape, h, atol in (((3, 4), 1e-3, 1e-6), ((5,), 1e-3, 1e-6), ((2, 1, 3), 1e-5, 1e-7), ((1,), 1e-4, 1e-7)):
        x = rng.normal(size=shape)
        with case(f"numerical_gradient(f, x: {shape}, h={h})"):
            x_t = torch.from_numpy(x)
            x_r = _np(k, x_t)
            got = _array(numerical_gradient.call(k.part("wavy_sum"), x_r, h=h), "결과", shape)
            want = ref.numerical_gradient(probe_parts.wavy_sum, x.copy(), h=h)
            assert_close(got, torch.from_numpy(want), atol=atol, rtol=1e-6,
                         name="수치 그래디언트 (중앙 차분 (f(x+h) − f(x−h)) / 2h)")
            after = _array(x_r.get(), "호출 뒤의 x")
            assert_close(after, x_t, atol=1e-12, rtol=1e-12, name="호출 뒤의 x (원래 값으로 돌려놓아야 합니다)")


# --------------------------------------------------------------------------------------------
# 1.7 / 1.8 the MLP
# --------------------------------------------------------------------------------------------
def _mlp_params(seed: int, d: int, h: int, c: int, scale: float = 1.0) -> dict:
    rng = _rng(seed)
    return {"W1": scale * rng.normal(size=(d, h)) / math.sqrt(d), "b1": rng.normal(scale=0.5, size=h),
            "W2": scale * rng.normal(size=(h, c)) / math.sqrt(h), "b2": rng.normal(scale=0.5, size=c)}


def _tensors(arrays: dict) -> dict:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in arrays.items()}


def _softmax_oracle(z):
    return torch.from_numpy(ref.softmax(z.detach().double().numpy()))


MLP_CASES = [(5, 6, 4, 3, "relu", 1.0), (5, 6, 4, 3, "sigmoid", 1.0), (1, 4, 7, 2, "relu", 1.0),
             (8, 3, 5, 6, "sigmoid", 4.0), (3, 9, 2, 10, "relu", 3.0)]


@register("w03-mlp-forward-test")
def mlp_forward_check(k, mlp_forward) -> None:
    with numpy_oracles(k, softmax=_softmax_oracle):
        for i, (n, d, h, c, act, scale) in enumerate(MLP_CASES):
            rng = _rng(700 + i)
            X = rng.normal(size=(n, d))
            params = _mlp_params(710 + i, d, h, c, scale)
            want_probs, want = ref.mlp_forward(X, params, act)
            with case(f"mlp_forward(X: ({n}, {d}), H={h}, C={c}, activation={act!r})"):
                X_r, p_r = _np(k, torch.from_numpy(X)), _np(k, _tensors(params))
                got = mlp_forward.call(X_r, p_r, activation=act)
                if not (isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], dict)):
                    fail("(probs, cache) 두 값을 돌려줘야 하고 cache는 dict여야 합니다.")
                probs, cache = got
                for key, shape in (("z1", (n, h)), ("a1", (n, h)), ("z2", (n, c))):
                    if key not in cache:
                        fail(f"cache에 {key!r}가 없습니다.")
                    value = _array(cache[key], f"cache[{key!r}]", shape)
                    assert_close(value, torch.from_numpy(want[key]), atol=1e-10, rtol=1e-9, name=f"cache[{key!r}]")
                probs = _array(probs, "probs", (n, c))
                assert_close(probs, torch.from_numpy(want_probs), atol=1e-10, rtol=1e-9, name="probs (softmax(z2))")
                _unchanged(X_r, torch.from_numpy(X), "입력 X")
                _unchanged(p_r, _tensors(params), "params")
        with case("mlp_forward(activation='tanh')"):
            assert_true(_raises_value_error(lambda: mlp_forward.call(_np(k, torch.zeros(2, 3, dtype=torch.float64)),
                                                                     _np(k, _tensors(_mlp_params(790, 3, 2, 2))),
                                                                     activation="tanh")),
                        "'relu'나 'sigmoid'가 아닌 activation에는 ValueError를 내야 합니다.")


@register("w03-mlp-backward-test")
def mlp_backward_check(k, mlp_backward) -> None:
    for i, (n, d, h, c, act, scale) in enumerate(MLP_CASES):
        rng = _rng(800 + i)
        X = rng.normal(size=(n, d))
        labels = rng.integers(0, c, size=n)
        params = _mlp_params(810 + i, d, h, c, scale)
        probs, cache = ref.mlp_forward(X, params, act)
        cache = {**cache, "probs": probs}
        want = ref.mlp_backward(X, labels, params, cache, act)
        with case(f"mlp_backward(X: ({n}, {d}), H={h}, C={c}, activation={act!r})"):
            X_r, p_r, c_r = _np(k, torch.from_numpy(X)), _np(k, _tensors(params)), _np(k, _tensors(cache))
            got = mlp_backward.call(X_r, _np(k, torch.from_numpy(labels)), p_r, c_r, activation=act)
            if not isinstance(got, dict):
                fail(f"그래디언트를 담은 dict를 돌려줘야 합니다 (받은 타입: {type(got).__name__}).")
            for name in ("W2", "b2", "W1", "b1"):
                if name not in got:
                    fail(f"결과에 {name!r}의 그래디언트가 없습니다.")
                grad = _array(got[name], f"d{name}", params[name].shape)
                assert_close(grad, torch.from_numpy(want[name]), atol=1e-10, rtol=1e-7, name=f"d{name}")
            _unchanged(c_r, _tensors(cache), "cache (probs 포함)")
            _unchanged(p_r, _tensors(params), "params")
            _unchanged(X_r, torch.from_numpy(X), "입력 X")


# --------------------------------------------------------------------------------------------
# 1.9–1.11 attention (PyTorch)
# --------------------------------------------------------------------------------------------
@register("w03-heads-test")
def heads(k, split_heads, merge_heads) -> None:
    cases = [((2, 5, 12), 3), ((1, 1, 8), 1), ((3, 4, 6), 6), ((2, 7, 20), 4)]
    for i, (shape, h) in enumerate(cases):
        b, t, d = shape
        x = torch.randn(*shape, generator=generator(900 + i), dtype=torch.float64)
        with case(f"split_heads(x: {shape}, num_heads={h})"):
            out = compare_call(k, split_heads, ref.split_heads, (x, h), seed=910 + i, names=["x"], atol=0, rtol=0)
            assert_shape(expect_tensor(out, "결과"), (b, h, t, d // h), "결과")
        y = torch.randn(b, h, t, d // h, generator=generator(920 + i), dtype=torch.float64)
        with case(f"merge_heads(x: {tuple(y.shape)})"):
            out = compare_call(k, merge_heads, ref.merge_heads, (y,), seed=930 + i, names=["x"], atol=0, rtol=0)
            assert_shape(expect_tensor(out, "결과"), (b, t, d), "결과")
    with case("bfloat16 입력 (2, 3, 8), num_heads=2: dtype 유지"):
        x = torch.randn(2, 3, 8, generator=generator(940)).to(torch.bfloat16)
        s = expect_tensor(split_heads.call(x, 2), "split_heads의 결과")
        assert_true(s.dtype == torch.bfloat16, f"dtype이 bfloat16으로 유지되어야 합니다 (받은 dtype: {s.dtype}).")
        assert_close(s.float(), ref.split_heads(x, 2).float(), atol=0, rtol=0, name="split_heads (bfloat16)")
        m = expect_tensor(merge_heads.call(ref.split_heads(x, 2).contiguous()), "merge_heads의 결과")
        assert_true(m.dtype == torch.bfloat16, f"dtype이 bfloat16으로 유지되어야 합니다 (받은 dtype: {m.dtype}).")
        assert_close(m.float(), x.float(), atol=0, rtol=0, name="merge_heads (bfloat16)")
    with case("split_heads(x: (2, 3, 10), num_heads=3)"):
        assert_true(_raises_value_error(lambda: split_heads.call(torch.zeros(2, 3, 10), 3)),
                    "D=10을 헤드 3개로 나눌 수 없으니 ValueError를 내야 합니다.")


@register("w03-attention-test")
def attention(k, scaled_dot_product_attention) -> None:
    cases = [((2, 4, 8), (2, 6, 8), (2, 6, 5), 1.0, "3차원, Tq ≠ Tk, d_k ≠ d_v"),
             ((2, 3, 5, 16), (2, 3, 5, 16), (2, 3, 5, 16), 1.0, "4차원 (B, H, T, d_k)"),
             ((1, 1, 3), (1, 2, 3), (1, 2, 1), 1.0, "B=1, Tq=1"),
             ((2, 3, 4), (2, 3, 4), (2, 3, 2), 30.0, "큰 점수 (q, k × 30)")]
    for i, (qs, ks, vs, scale, label) in enumerate(cases):
        g = generator(1000 + i)
        q = scale * torch.randn(*qs, generator=g, dtype=torch.float64)
        key = scale * torch.randn(*ks, generator=g, dtype=torch.float64)
        v = torch.randn(*vs, generator=g, dtype=torch.float64)
        with case(f"scaled_dot_product_attention: {label}"):
            out = compare_call(k, scaled_dot_product_attention, ref.scaled_dot_product_attention, (q, key, v),
                               seed=1010 + i, names=["q", "k", "v"], atol=1e-9, rtol=1e-7, what="(out, weights)")
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                fail("(out, weights) 두 텐서를 돌려줘야 합니다.")
            assert_shape(expect_tensor(out[1], "weights"), (*qs[:-1], ks[-2]), "weights")
    with case("float32 입력, 결과의 dtype"):
        g = generator(1050)
        q, key, v = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
        out, w = scaled_dot_product_attention.call(q, key, v)
        assert_true(expect_tensor(out, "out").dtype == torch.float32 and expect_tensor(w, "weights").dtype == torch.float32,
                    "float32 입력의 결과는 float32여야 합니다.")
        want_out, want_w = ref.scaled_dot_product_attention(q, key, v)
        assert_close(out, want_out, atol=1e-5, name="out (float32)")
        assert_close(w, want_w, atol=1e-5, name="weights (float32)")
    with case("bfloat16 입력"):
        g = generator(1060)
        q, key, v = (torch.randn(2, 5, 8, generator=g).to(torch.bfloat16) for _ in range(3))
        out, w = scaled_dot_product_attention.call(q, key, v)
        assert_true(expect_tensor(out, "out").dtype == torch.bfloat16, f"bfloat16 입력의 결과는 bfloat16이어야 합니다 (받은 dtype: {out.dtype}).")
        want_out, want_w = ref.scaled_dot_product_attention(q.double(), key.double(), v.double())
        assert_close(out.double(), want_out, atol=0.05, rtol=0.05, name="out (bfloat16)")
        assert_close(expect_tensor(w, "weights").double(), want_w, atol=0.02, rtol=0.05, name="weights (bfloat16)")


class _FusedReference(nn.Module):
    """The reference module with one fused qkv_proj (rows q, k, v), for students who fuse."""

    def __init__(self, embed_dim, num_heads, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, x):
        q, k, v = (ref.split_heads(t, self.num_heads) for t in self.qkv_proj(x).chunk(3, dim=-1))
        out, weights = ref.scaled_dot_product_attention(q, k, v)
        return self.out_proj(ref.merge_heads(out)), weights


MHSA_CASES = [(12, 3, True, (2, 5, 12)), (8, 1, True, (1, 1, 8)), (16, 4, False, (3, 6, 16)), (6, 6, True, (2, 3, 6))]


@register("w03-mhsa-test")
def mhsa(k, MultiHeadSelfAttention) -> None:
    oracles = dict(split_heads=ref.split_heads, merge_heads=ref.merge_heads,
                   scaled_dot_product_attention=ref.scaled_dot_product_attention)
    with k.oracles(**oracles):
        for i, (d, h, bias, shape) in enumerate(MHSA_CASES):
            with case(f"MultiHeadSelfAttention(embed_dim={d}, num_heads={h}, bias={bias}), x: {shape}"):
                student = MultiHeadSelfAttention(d, h, bias=bias)
                layout = student.layout()
                fused = any(name.startswith("qkv_proj.") for name in layout)
                torch.manual_seed(1100 + i)
                reference = _FusedReference(d, h, bias) if fused else ref.MultiHeadSelfAttention(d, h, bias=bias)
                x = torch.randn(*shape, generator=generator(1110 + i))
                compare_module(k, student, reference, (x,), seed=1120 + i, atol=1e-5, rtol=1e-4)
    with case("MultiHeadSelfAttention(embed_dim=10, num_heads=4)"):
        assert_true(_raises_value_error(lambda: MultiHeadSelfAttention.call(10, 4)),
                    "embed_dim=10을 헤드 4개로 나눌 수 없으니 __init__에서 ValueError를 내야 합니다.")
