"""Hidden checks of week05/lstm_implementation.ipynb.

Each check compares the student's code with the reference on seeded inputs whose sizes differ
from the visible checks. Parts that depend on other parts get stand-ins from
``dlcourse.probe_parts`` (the unroll runs torch's own cell, the training step trains a small
torch model, recursive forecasting calls a one-step torch model), so one wrong part costs that
part's points only. The student's objects live in the kernel; every comparison happens here.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..solutions import w05_lstm as ref
from ._registry import register
from ._tools import (case, compare_module, expect_float, expect_tensor, fail, flatten, generator, meta, output_weights,
                     same_layout)

ATOL = 1e-5
RTOL = 1e-4


@torch.no_grad()
def _spread(module: nn.Module, seed: int, scale: float = 1.0) -> None:
    """Seeded weights large enough that every gate works away from 0.5 (wrong gate order shows)."""
    g = generator(seed)
    for p in module.parameters():
        fan_in = p.shape[1] if p.dim() > 1 else 1
        p.copy_(scale * torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def _leaf(shape, seed):
    return torch.randn(shape, generator=generator(seed)).requires_grad_(True)


def _as_pair(out, what):
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        fail(f"{what}은(는) 텐서 두 개의 튜플 (h, c)를 돌려줘야 합니다 (받은 값: {type(out).__name__}).")
    return tuple(out)


# --- 1.1 LSTMCell --------------------------------------------------------------------------------
# (input_size, hidden_size, batch, initial state given?)
CELL_CASES = [(3, 5, 4, True), (1, 8, 2, False), (6, 3, 5, True), (2, 3, 1, True)]  # the last: a batch of one


@register("w05-lstm-cell-test")
def lstm_cell(k, LSTMCell) -> None:
    for n, (n_in, n_hid, batch, given) in enumerate(CELL_CASES):
        label = f"LSTMCell({n_in}, {n_hid}), 배치 {batch}, 초기 상태 {'주어짐' if given else 'None'}"
        seed = 1100 + 10 * n
        torch_cell = nn.LSTMCell(n_in, n_hid)
        _spread(torch_cell, seed, scale=1.5)
        x = _leaf((batch, n_in), seed + 1)
        h0, c0 = _leaf((batch, n_hid), seed + 2), _leaf((batch, n_hid), seed + 3)
        with case(f"{label}: gates(x, state)"):
            student = LSTMCell(n_in, n_hid)
            same_layout(student.layout(), torch_cell)
            student.load_state(torch_cell.state_dict())
            reference = ref.LSTMCell(n_in, n_hid)
            reference.load_state_dict(torch_cell.state_dict())
            st = (h0.detach(), c0.detach())
            got = student.method("gates", x.detach(), st)
            want = reference.gates(x.detach(), st)
            if not (isinstance(got, (tuple, list)) and len(got) == 4):
                fail("gates는 (i, f, g, o) 네 텐서를 돌려줘야 합니다.")
            for name, a, b in zip(("입력 게이트 i (행 [0, H))", "망각 게이트 f (행 [H, 2H))", "후보 값 g (행 [2H, 3H))",
                                   "출력 게이트 o (행 [3H, 4H))"), got, want):
                assert_close(expect_tensor(a, name), b, atol=ATOL, rtol=RTOL, name=name)
        with case(f"{label}: forward (h, c)와 그래디언트"):
            xs, hs, cs = k.leaf(x), k.leaf(h0), k.leaf(c0)
            res = student.invoke(xs, (hs, cs) if given else None)
            h, c = _as_pair(res.value, "forward")
            h_ref, c_ref = torch_cell(x, (h0, c0) if given else None)
            assert_shape(h, tuple(h_ref.shape), "h")
            assert_shape(c, tuple(c_ref.shape), "c")
            if torch.allclose(h, c_ref, atol=ATOL) and torch.allclose(c, h_ref, atol=ATOL):
                fail("h와 c가 뒤바뀌었습니다: forward는 (h, c) 순서로 돌려줘야 합니다.")
            assert_close(c, c_ref, atol=ATOL, rtol=RTOL, name="셀 상태 c (두 번째 반환값)")
            assert_close(h, h_ref, atol=ATOL, rtol=RTOL, name="은닉 상태 h (첫 번째 반환값)")
            weights = output_weights((h_ref, c_ref), seed + 4)
            ((h_ref * weights[0]).sum() + (c_ref * weights[1]).sum()).backward()
            k.backward(res.out, weights)
            inputs = [("x", x, xs)] + ([("h_prev", h0, hs), ("c_prev", c0, cs)] if given else [])
            for name, mine, remote in inputs:
                g = remote.grad()
                if g is None:
                    fail(f"{name}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼거나 쓰이지 않았습니다).")
                assert_close(g, mine.grad, atol=ATOL, rtol=RTOL, name=f"{name}에 대한 그래디언트")
            grads = student.grads()
            for name, p in torch_cell.named_parameters():
                if grads.get(name) is None:
                    fail(f"{name}까지 그래디언트가 흐르지 않습니다 (forward에서 쓰이지 않았습니다).")
                assert_close(grads[name], p.grad, atol=ATOL, rtol=RTOL, name=f"{name}에 대한 그래디언트")
    with case("LSTMCell(2, 4): 세 스텝 이어서 (상태를 다음 스텝에 넘김)"):
        torch_cell = nn.LSTMCell(2, 4)
        _spread(torch_cell, 1190)
        student = LSTMCell(2, 4)
        student.load_state(torch_cell.state_dict())
        xs = torch.randn(3, 6, 2, generator=generator(1191))
        s_state, r_state = None, None
        for t in range(3):
            s_state = student(xs[t], s_state)          # the state stays in the kernel
            r_state = torch_cell(xs[t], r_state)
        h, c = _as_pair(s_state.get(), "forward")
        assert_close(h, r_state[0], atol=ATOL, rtol=RTOL, name="세 스텝 뒤의 h")
        assert_close(c, r_state[1], atol=ATOL, rtol=RTOL, name="세 스텝 뒤의 c")
    with case("LSTMCell(3, 5): float64 입력과 가중치"):
        torch_cell = nn.LSTMCell(3, 5).double()
        _spread(torch_cell, 1195)
        student = LSTMCell(3, 5)
        student.invoke(torch.float64, method="to")
        student.load_state(torch_cell.state_dict())
        x64 = torch.randn(2, 3, generator=generator(1196), dtype=torch.float64)
        h, c = _as_pair(student.call(x64), "forward")
        assert_true(h.dtype == torch.float64 and c.dtype == torch.float64,
                    f"float64 입력이면 (h, c)도 float64여야 합니다 (받은 dtype: {h.dtype}, {c.dtype}).")
        assert_close(h, torch_cell(x64)[0], atol=1e-10, rtol=1e-9, name="float64의 h")


# --- 1.2 LSTM (unroll + stacking) -------------------------------------------------------------------
# (input_size, hidden_size, num_layers, batch, steps, initial state given?)
UNROLL_CASES = [(3, 5, 1, 4, 7, False), (2, 4, 3, 3, 5, True), (1, 6, 2, 2, 1, True), (4, 3, 2, 5, 9, False)]


@register("w05-lstm-unroll-test")
def lstm_unroll(k, LSTM) -> None:
    for n, (n_in, n_hid, layers, batch, steps, given) in enumerate(UNROLL_CASES):
        label = (f"LSTM({n_in}, {n_hid}, num_layers={layers}), x ({batch}, {steps}, {n_in}), "
                 f"초기 상태 {'주어짐' if given else 'None'}")
        with case(label):
            seed = 1200 + 10 * n
            # torch's own cell is passed in: a wrong LSTMCell never costs the unroll's points
            student = LSTM(n_in, n_hid, layers, cell=k.part("ProbeLSTMCell"))
            torch_lstm = nn.LSTM(n_in, n_hid, num_layers=layers, batch_first=True)
            _spread(torch_lstm, seed, scale=1.3)
            cells = student.attr("cells")
            if not cells.isinstance("nn.ModuleList") or cells.len() != layers:
                fail(f"cells는 셀 {layers}개를 담은 nn.ModuleList여야 합니다.")
            reference = ref.LSTM(n_in, n_hid, layers, cell=probe_parts.ProbeLSTMCell)
            same_layout(student.layout(), reference)
            state = {f"cells.{layer}.{name}": getattr(torch_lstm, f"{name}_l{layer}").detach()
                     for layer in range(layers) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            student.load_state(state)
            x = _leaf((batch, steps, n_in), seed + 1)
            h0, c0 = _leaf((layers, batch, n_hid), seed + 2), _leaf((layers, batch, n_hid), seed + 3)
            xs, hs, cs = k.leaf(x), k.leaf(h0), k.leaf(c0)
            res = student.invoke(xs, (hs, cs) if given else None)
            result = res.value
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                fail("forward는 (output, (h_n, c_n))을 돌려줘야 합니다.")
            out, (h_n, c_n) = expect_tensor(result[0], "output"), _as_pair(result[1], "forward의 두 번째 반환값")
            out_ref, (h_ref, c_ref) = torch_lstm(x, (h0, c0) if given else None)
            assert_shape(out, tuple(out_ref.shape), "output")
            assert_shape(h_n, tuple(h_ref.shape), "h_n")
            assert_shape(c_n, tuple(c_ref.shape), "c_n")
            assert_close(out, out_ref, atol=ATOL, rtol=RTOL, name="output (마지막 층의 모든 스텝)")
            assert_close(h_n, h_ref, atol=ATOL, rtol=RTOL, name="h_n (층마다 마지막 스텝)")
            assert_close(c_n, c_ref, atol=ATOL, rtol=RTOL, name="c_n (층마다 마지막 스텝)")
            weights = output_weights((out_ref, (h_ref, c_ref)), seed + 4)
            sum((o * w).sum() for o, w in zip((out_ref, h_ref, c_ref), weights)).backward()
            k.backward(res.out, weights)
            inputs = [("x", x, xs)] + ([("h0", h0, hs), ("c0", c0, cs)] if given else [])
            for name, mine, remote in inputs:
                g = remote.grad()
                if g is None:
                    fail(f"{name}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼거나 쓰이지 않았습니다).")
                assert_close(g, mine.grad, atol=ATOL, rtol=RTOL, name=f"{name}에 대한 그래디언트")
            grads = student.grads()
            for key in state:
                layer, name = key.split(".")[1], key.split(".")[2]
                want = getattr(torch_lstm, f"{name}_l{layer}").grad
                if grads.get(key) is None:
                    fail(f"{key}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼거나 쓰이지 않았습니다).")
                assert_close(grads[key], want, atol=ATOL, rtol=RTOL, name=f"{key}에 대한 그래디언트")
    with case("LSTM(3, 4, num_layers=2, cell=LSTM이 아닌 셀): 층마다 cell= 인자로 받은 셀을 만들어야 합니다"):
        # a stand-in whose h is halved: an unroll that ignores cell= and builds its own cells differs
        student = LSTM(3, 4, 2, cell=k.part("ProbeScaledCell"))
        reference = ref.LSTM(3, 4, 2, cell=probe_parts.ProbeScaledCell)
        compare_module(k, student, reference, (torch.randn(2, 5, 3, generator=generator(1290)),), seed=1291,
                       modes=(False,), atol=ATOL, rtol=RTOL)
    with case("LSTM(2, 3, num_layers=2), float64 입력, 초기 상태 None"):
        torch_lstm = nn.LSTM(2, 3, num_layers=2, batch_first=True).double()
        _spread(torch_lstm, 1292)
        student = LSTM(2, 3, 2, cell=k.part("ProbeLSTMCell"))
        student.invoke(torch.float64, method="to")
        student.load_state({f"cells.{layer}.{name}": getattr(torch_lstm, f"{name}_l{layer}").detach()
                            for layer in range(2) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
        x64 = torch.randn(3, 4, 2, generator=generator(1293), dtype=torch.float64)
        result = student.call(x64)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            fail("forward는 (output, (h_n, c_n))을 돌려줘야 합니다.")
        out = expect_tensor(result[0], "output")
        h_n, c_n = _as_pair(result[1], "forward의 두 번째 반환값")
        assert_true(out.dtype == h_n.dtype == c_n.dtype == torch.float64,
                    f"float64 입력이면 출력과 상태도 float64여야 합니다 (받은 dtype: {out.dtype}, {h_n.dtype}, {c_n.dtype}; "
                    "초기 상태를 x.new_zeros처럼 입력의 dtype으로 만드세요).")
        out_ref, (h_ref, c_ref) = torch_lstm(x64)
        assert_close(out, out_ref, atol=1e-10, rtol=1e-9, name="float64 output")
        assert_close(c_n, c_ref, atol=1e-10, rtol=1e-9, name="float64 c_n")


# --- 1.3 clipping and the training step -------------------------------------------------------------
def _grad_values(seed, shapes):
    g = generator(seed)
    values, grads = [], []
    for i, shape in enumerate(shapes):
        values.append(torch.randn(shape, generator=g))
        grad = 2.0 * torch.randn(shape, generator=g)
        grads.append(None if i == 1 else grad)   # one parameter without a gradient (e.g. frozen)
    return values, grads


@register("w05-lstm-clip-test")
def clipping(k, clip_grad_norm, train_step) -> None:
    shapes = [(4, 3), (5,), (2, 2, 3), (7,)]
    for max_norm in (0.5, 3.0, 1e4):
        with case(f"clip_grad_norm(매개변수 4개 중 1개는 grad 없음, max_norm={max_norm:g})"):
            values, grads = _grad_values(1300, shapes)
            mine = k.run_part_remote("params_with_grads", values, grads)     # the list stays in the kernel
            theirs = probe_parts.params_with_grads(values, grads)
            # a one-shot iterator, like model.parameters()
            total = clip_grad_norm.call(k.run_part_remote("as_iterator", mine), max_norm)
            want_total = ref.clip_grad_norm(theirs, max_norm)
            total = expect_float(total, "클리핑 전 노름")
            assert_true(math.isclose(total, want_total, rel_tol=1e-5),
                        f"돌려준 노름이 {total:.6g}, 기대값(클리핑 전 전역 노름)은 {want_total:.6g}입니다.")
            for i, (got, b) in enumerate(zip(k.run_part("grads_of", mine), theirs)):
                if b.grad is None:
                    assert_true(got is None, f"grad가 없던 매개변수 {i}에 grad가 생겼습니다.")
                    continue
                assert_close(expect_tensor(got, f"매개변수 {i}의 grad"), b.grad, atol=1e-6, rtol=1e-5,
                             name=f"매개변수 {i}의 클리핑 뒤 그래디언트 (모든 grad를 같은 비율로 줄여 제자리에 써야 합니다)")
    with case("clip_grad_norm(grad가 하나도 없음)"):
        none = k.run_part_remote("params_with_grads", [torch.ones(3)], [None])
        total = clip_grad_norm.call(none, 1.0)
        assert_true(type(total) in (int, float) and float(total) == 0.0,
                    f"grad가 없으면 노름 0을 (float로) 돌려줘야 합니다 (받은 값: {total!r}).")

    x = torch.randn(10, 8, generator=generator(1310))
    y = 3.0 * torch.randn(10, 3, generator=generator(1311))
    for max_norm, momentum in ((0.05, 0.9), (None, 0.5), (1e3, 0.0)):
        with case(f"train_step(작은 LSTM 모델, SGD momentum={momentum}, max_norm={max_norm}), 세 스텝"):
            torch.manual_seed(1320)
            twin = probe_parts.TinyForecaster()
            _spread(twin, 1321)
            model = k.make("TinyForecaster", state=twin.state_dict())
            opt = k.run_part_remote("sgd", model, lr=0.2, momentum=momentum)
            opt_ref = torch.optim.SGD(twin.parameters(), lr=0.2, momentum=momentum)
            for step in range(3):
                out = train_step.call(model, x, y, opt, max_norm)
                want_loss, want_norm = ref.train_step(twin, x, y, opt_ref, max_norm)
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    fail("train_step은 (loss, grad_norm)을 돌려줘야 합니다.")
                loss = expect_float(out[0], "손실(loss)")
                norm = expect_float(out[1], "노름(grad_norm)")
                assert_true(math.isclose(loss, want_loss, rel_tol=1e-4, abs_tol=1e-6),
                            f"스텝 {step + 1}: 손실이 {loss:.6g}, 기대값은 {want_loss:.6g}입니다 "
                            "(이전 스텝의 그래디언트가 남아 있지 않은지, MSE를 쓰는지 확인하세요).")
                assert_true(math.isclose(norm, want_norm, rel_tol=1e-4, abs_tol=1e-6),
                            f"스텝 {step + 1}: 돌려준 노름이 {norm:.6g}, 기대값(클리핑 전)은 {want_norm:.6g}입니다.")
                params = model.params()
                for name, q in twin.named_parameters():
                    assert_close(params[name], q.detach(), atol=1e-5, rtol=1e-4,
                                 name=f"스텝 {step + 1} 뒤의 {name} (클리핑은 backward와 step 사이에 적용되어야 합니다)")


# --- 1.4 windows ---------------------------------------------------------------------------------------
# (length, window, horizon, target_start, target_end)
# the last three: no window fits (target span shorter than the horizon; window longer than the series)
WINDOW_CASES = [(30, 5, 3, 0, None), (40, 7, 4, 25, 33), (26, 4, 12, 2, 26), (15, 8, 7, 0, None),
                (20, 6, 2, 15, 16), (20, 6, 3, 15, 16), (6, 8, 2, 0, None)]


@register("w05-lstm-windows-test")
def windows(k, make_windows) -> None:
    for length, window, horizon, start, end in WINDOW_CASES:
        label = f"make_windows(series (T={length},), window={window}, horizon={horizon}, target_start={start}, target_end={end})"
        with case(label):
            series = torch.arange(length, dtype=torch.float32) * 1.5 + 100.0  # the value tells the position
            result = make_windows.call(series, window, horizon, start, end)
            if not (isinstance(result, (tuple, list)) and len(result) == 3):
                fail("make_windows는 (X, Y, origins) 세 값을 돌려줘야 합니다.")
            X, Y, origins = (expect_tensor(v, name) for v, name in zip(result, ("X", "Y", "origins")))
            X_ref, Y_ref, o_ref = ref.make_windows(series, window, horizon, start, end)
            assert_true(not origins.dtype.is_floating_point, f"origins는 정수(int64) 텐서여야 합니다 (받은 dtype: {origins.dtype}).")
            assert_shape(X, tuple(X_ref.shape), "X")
            assert_shape(Y, tuple(Y_ref.shape), "Y")
            if len(o_ref) == 0:
                continue
            assert_true(torch.equal(origins.long(), o_ref),
                        f"예측 시작점이 다릅니다: 기대 {o_ref.tolist()}, 받은 값 {origins.tolist()} "
                        "(정답 전체가 [target_start, target_end) 안에 있는 시작점만 만들어야 합니다).")
            pos_x = ((X - 100.0) / 1.5).round().long()
            leaked = pos_x.max(1).values >= origins
            if bool(leaked.any()):
                n = int(torch.nonzero(leaked)[0])
                fail(f"입력 창에 예측 대상이 들어 있습니다 (미래 참조 누수): 시작점 t={int(origins[n])}의 입력이 "
                     f"위치 {pos_x[n].tolist()}의 값입니다. 입력은 t보다 앞선 값만이어야 합니다.")
            assert_close(X, X_ref, atol=0, rtol=0, name="입력 창 X")
            assert_close(Y, Y_ref, atol=0, rtol=0, name="정답 Y")
    with case("make_windows(series float64 (T=12,), window=3, horizon=2): float64 값 그대로"):
        series = 1e8 + 0.1 * torch.arange(12, dtype=torch.float64)      # float32 would round these values
        result = make_windows.call(series, 3, 2)
        if not (isinstance(result, (tuple, list)) and len(result) == 3):
            fail("make_windows는 (X, Y, origins) 세 값을 돌려줘야 합니다.")
        X, Y = expect_tensor(result[0], "X"), expect_tensor(result[1], "Y")
        X_ref, Y_ref, _ = ref.make_windows(series, 3, 2)
        assert_true(X.dtype == torch.float64 and Y.dtype == torch.float64,
                    f"float64 시계열이면 X, Y도 float64여야 합니다 (받은 dtype: {X.dtype}, {Y.dtype}).")
        assert_shape(X, tuple(X_ref.shape), "X")
        assert_close(X, X_ref, atol=0, rtol=0, name="입력 창 X (float64)")
        assert_close(Y, Y_ref, atol=0, rtol=0, name="정답 Y (float64)")


# --- 1.5 Standardizer --------------------------------------------------------------------------------
@register("w05-lstm-scaler-test")
def scaler(k, Standardizer) -> None:
    g = generator(1500)
    trend = torch.linspace(300.0, 370.0, 57) + 2.0 * torch.sin(torch.arange(57) * 2 * math.pi / 12)
    series = trend + 0.3 * torch.randn(57, generator=g)
    probe = torch.randn(4, 6, generator=g) * 20 + 340
    for train_end in (30, 45, 2):
        with case(f"Standardizer().fit(series (T=57, 추세 있음), train_end={train_end})"):
            mine = Standardizer()
            returned = mine.invoke(series, train_end, method="fit", fetch=False).out
            assert_true(returned.handle == mine.handle,
                        "fit은 self를 돌려줘야 합니다 (Standardizer().fit(...)으로 이어 쓰기 위해).")
            theirs = ref.Standardizer().fit(series, train_end)
            res = mine.invoke(probe, method="transform", return_args=True)
            assert_true(torch.equal(res.args[0], probe), "transform이 입력 텐서를 바꿨습니다: 제자리(in-place) 연산 대신 새 텐서를 만드세요.")
            z = expect_tensor(res.value, "transform 출력")
            want = theirs.transform(probe)
            assert_shape(z, tuple(probe.shape), "transform 출력")
            full = ref.Standardizer().fit(series, len(series)).transform(probe)
            if torch.allclose(z, full, atol=1e-4) and not torch.allclose(want, full, atol=1e-4):
                fail("정규화 통계를 시계열 전체로 구했습니다: 평균과 표준편차는 series[:train_end](학습 구간)에서만 구해야 합니다.")
            assert_close(z, want, atol=1e-4, rtol=1e-4, name="transform (학습 구간의 평균·모표준편차로 표준화)")
            res = mine.invoke(want, method="inverse_transform", return_args=True)
            assert_true(torch.equal(res.args[0], want), "inverse_transform이 입력 텐서를 바꿨습니다: 새 텐서를 만드세요.")
            back = expect_tensor(res.value, "inverse_transform 출력")
            assert_shape(back, tuple(probe.shape), "inverse_transform 출력")
            assert_close(back, probe, atol=1e-3, rtol=1e-5, name="inverse_transform(기준 transform(x))")
            z_train = expect_tensor(mine.method("transform", series[:train_end]), "transform 출력")
            assert_close(z_train.mean(), torch.tensor(0.0), atol=1e-4, name="학습 구간을 변환한 값의 평균")
    with case("Standardizer().fit(float64 시계열 ≈ 10⁶ ± 0.3, train_end=40)"):
        series64 = 1e6 + 0.3 * torch.randn(57, generator=generator(1501), dtype=torch.float64)
        probe64 = series64[35:45].clone()
        mine = Standardizer()
        mine.invoke(series64, 40, method="fit", fetch=False)
        z = expect_tensor(mine.method("transform", probe64), "transform 출력")
        want = ref.Standardizer().fit(series64, 40).transform(probe64)
        assert_true(z.dtype == torch.float64, f"float64 시계열이면 transform 결과도 float64여야 합니다 (받은 dtype: {z.dtype}).")
        assert_close(z, want, atol=1e-8, rtol=1e-8,
                     name="float64 transform (평균·표준편차를 float32로 바꾸면 10⁶ 근처에서 정밀도를 잃습니다)")


# --- 1.6 recursive forecasting --------------------------------------------------------------------------
@register("w05-lstm-recursive-test")
def recursive(k, recursive_forecast) -> None:
    for n, (batch, width, horizon, kind) in enumerate([(3, 4, 5, "lstm"), (2, 9, 13, "lstm"), (4, 6, 7, "linear"),
                                                      (2, 5, 1, "linear"), (1, 3, 4, "linear")]):
        with case(f"recursive_forecast({kind} 한 스텝 모델, window ({batch}, {width}), horizon={horizon})"):
            torch.manual_seed(1600 + n)
            twin = probe_parts.OneStepLSTM() if kind == "lstm" else probe_parts.OneStepLinear(width)
            _spread(twin, 1610 + n, scale=0.8)
            model = k.make("OneStepLSTM" if kind == "lstm" else "OneStepLinear",
                           *(() if kind == "lstm" else (width,)), state=twin.state_dict())
            window = torch.randn(batch, width, generator=generator(1620 + n))
            res = recursive_forecast.invoke(model, window, horizon, return_args=True)
            got = expect_tensor(res.value, "예측")
            widths = model.getattr("widths")
            want = ref.recursive_forecast(twin, window, horizon)
            assert_true(torch.equal(res.args[1], window), "입력 window가 바뀌었습니다: 새 텐서를 만들어 창을 밀어야 합니다.")
            assert_shape(got, (batch, horizon), "예측")
            if widths and any(w != width for w in widths):
                fail(f"모델에 들어간 창의 길이가 {sorted(set(widths))}입니다: 매 스텝 가장 오래된 값을 버려 길이 {width}를 유지해야 합니다.")
            if len(widths) != horizon:
                fail(f"모델을 {len(widths)}번 불렀습니다: 한 스텝에 한 번씩 {horizon}번 불러야 합니다.")
            assert_close(got, want, atol=1e-5, rtol=1e-4, name="재귀 예측 (예측을 창의 끝에 붙여 되먹임)")
            assert_true(not meta(got)["requires_grad"], "재귀 예측은 그래디언트 없이(torch.no_grad) 계산해야 합니다.")
