"""Hidden checks of week05/attention_mechanisms.ipynb.

Every check compares the student's code with the reference on seeded tensors whose sizes differ
from the visible checks (batch rows of different lengths, a row with one token). Independence:
the attention modules call the notebook's ``masked_attention``; while a module is checked, that
name is bound in the kernel to a grader-computed stand-in (an oracle), and the decoder is checked
with stand-in attention modules from ``dlcourse.probe_parts``, so a wrong helper or a wrong
attention costs only its own part. Every comparison happens in the grader.
"""
from __future__ import annotations

import copy

import torch

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..solutions import w05_attention as ref
from ._registry import register
from ._tools import case, expect_tensor, fail, flatten, generator, meta, output_weights, randomize, same_layout

LENGTHS = [7, 3, 5, 1]  # padded to S = 7; one row of a single token


def _all_zero(values: torch.Tensor, message: str) -> None:
    """Fail with ``message`` and the largest offending value unless every value is exactly 0."""
    values = values.detach()
    if not bool((values == 0).all()):
        fail(f"{message} (최대 {float(values.abs().max()):.3g}).")


def _mask(lengths, total=None) -> torch.Tensor:
    total = total or max(lengths)
    return torch.arange(total).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def _pair(student_cls, ref_cls, args, seed):
    student, reference = student_cls(*args), ref_cls(*args)
    same_layout(student.layout(), reference)
    randomize(reference, seed)
    student.load_state(reference.state_dict())
    return student, reference


def _inputs(seed, batch_lengths=LENGTHS, q_dim=6, k_dim=5, steps=1):
    g = generator(seed)
    S = max(batch_lengths)
    keys = torch.randn(len(batch_lengths), S, k_dim, generator=g)
    queries = [torch.randn(len(batch_lengths), q_dim, generator=g) for _ in range(steps)]
    return queries, keys, _mask(batch_lengths)


def _triples(value, steps, label):
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and len(value[0]) == steps):
        fail(f"{label}결과를 읽을 수 없습니다.")
    for out in value[0]:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            fail(f"{label}forward는 (context, weights, state) 세 값을 돌려줘야 합니다.")
    return value


def _compare_attention(k, student, reference, *, seed, q_dim, k_dim, steps=1, stateful=False, label=""):
    """Forward over ``steps`` decoder steps (state carried), then gradients of a weighted sum."""
    queries, keys, mask = _inputs(seed, q_dim=q_dim, k_dim=k_dim, steps=steps)
    rq = [q.clone().requires_grad_(True) for q in queries]
    rk = keys.clone().requires_grad_(True)
    r_pairs, r_states = probe_parts.run_steps(reference, rq, rk, mask)
    sq = [k.leaf(q) for q in queries]
    sk = k.leaf(keys)
    res = k.invoke_part("run_steps", student, sq, sk, mask)
    s_pairs, s_states = _triples(res.value, steps, label)
    for t, ((sc, sw), (rc, rw), ss, rs) in enumerate(zip(s_pairs, r_pairs, s_states, r_states)):
        where = f"{label}{t + 1}번째 단계 " if steps > 1 else label
        sw, sc = expect_tensor(sw, f"{where}가중치(weights)"), expect_tensor(sc, f"{where}문맥 벡터(context)")
        assert_shape(sw, tuple(rw.shape), f"{where}가중치(weights)")
        assert_shape(sc, tuple(rc.shape), f"{where}문맥 벡터(context)")
        assert_true(bool(torch.isfinite(sw).all()), f"{where}가중치에 NaN/inf가 있습니다.")
        assert_close(sw.sum(dim=1), torch.ones(len(LENGTHS)), atol=1e-5, name=f"{where}가중치의 행 합 (실제 토큰 위)")
        pad = ~mask
        _all_zero(sw[pad], f"{where}패딩(padding) 위치의 가중치가 0이 아닙니다: 마스크를 적용하세요")
        assert_close(sw, rw, atol=1e-5, rtol=1e-4, name=f"{where}가중치(weights)")
        assert_close(sc, rc, atol=1e-5, rtol=1e-4, name=f"{where}문맥 벡터(context)")
        if stateful:
            assert_true(isinstance(ss, torch.Tensor), f"{where}돌려준 상태(state)가 텐서가 아닙니다.")
            assert_close(ss, rs, atol=1e-5, rtol=1e-4, name=f"{where}다음 단계로 넘기는 상태(state)")
    weights = output_weights(r_pairs, seed + 7)
    sum((o * w).sum() for o, w in zip(flatten(r_pairs), weights)).backward()
    k.backward(res.out.item(0), weights)
    g = sk.grad()
    assert_true(g is not None, f"{label}keys까지 그래디언트가 흐르지 않습니다.")
    assert_close(g, rk.grad, atol=1e-4, rtol=1e-3, name=f"{label}keys에 대한 그래디언트")
    for t, (a, b) in enumerate(zip(sq, rq)):
        if b.grad is not None:
            got = a.grad()
            assert_true(got is not None, f"{label}query까지 그래디언트가 흐르지 않습니다.")
            assert_close(got, b.grad, atol=1e-4, rtol=1e-3, name=f"{label}{t + 1}번째 query에 대한 그래디언트")
    s_grads = student.grads()
    for name, p in reference.named_parameters():
        if p.grad is not None:
            assert_true(s_grads.get(name) is not None, f"{label}매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
            assert_close(s_grads[name], p.grad, atol=1e-4, rtol=1e-3, name=f"{label}{name}의 그래디언트")


# --- 1.1 masked softmax + context -------------------------------------------------------------

@register("w05-att-masked-test")
def masked(k, masked_attention) -> None:
    g = generator(600)
    lengths = [6, 2, 4, 1, 6]                                   # B = 5 ≠ S = 6: a wrong axis shows
    mask = _mask(lengths)
    scores = torch.randn(5, 6, generator=g) * 3
    scores[1, 4] = 50.0                                         # a huge score on padding must still get 0
    values = torch.randn(5, 6, 3, generator=g)
    with case(f"masked_attention(scores (5, 6), values (5, 6, 3), 길이 {lengths})"):
        r_scores, r_values = scores.clone().requires_grad_(True), values.clone().requires_grad_(True)
        s_scores, s_values = k.leaf(scores), k.leaf(values)
        res = masked_attention.invoke(s_scores, s_values, mask)
        if not (isinstance(res.value, (tuple, list)) and len(res.value) == 2):
            fail("masked_attention은 (context, weights) 두 값을 돌려줘야 합니다.")
        context, weights = (expect_tensor(v, n) for v, n in zip(res.value, ("context", "weights")))
        want_c, want_w = ref.masked_attention(r_scores, r_values, mask)
        assert_shape(weights, (5, 6), "가중치(weights)")
        assert_shape(context, (5, 3), "문맥 벡터(context)")
        assert_true(bool(torch.isfinite(weights).all()), "가중치에 NaN/inf가 있습니다.")
        _all_zero(weights[~mask], "패딩 위치의 가중치가 0이 아닙니다")
        assert_close(weights.sum(dim=1), torch.ones(5), atol=1e-5,
                     name="각 행의 가중치 합 (소스 위치에 대한 softmax여야 합니다)")
        assert_close(weights, want_w, atol=1e-6, rtol=1e-5, name="가중치(weights)")
        assert_close(context, want_c, atol=1e-5, rtol=1e-5, name="문맥 벡터(context)")
        w = output_weights((want_c, want_w), 601)
        ((want_c * w[0]).sum() + (want_w * w[1]).sum()).backward()
        k.backward(res.out, w)
        gs, gv = s_scores.grad(), s_values.grad()
        assert_true(gs is not None and gv is not None, "입력까지 그래디언트가 흐르지 않습니다.")
        assert_close(gs, r_scores.grad, atol=1e-5, rtol=1e-4, name="scores에 대한 그래디언트")
        assert_close(gv, r_values.grad, atol=1e-5, rtol=1e-4, name="values에 대한 그래디언트")
    with case("masked_attention: 마스크가 모두 True인 배치 (B=2, S=9)"):
        scores = torch.randn(2, 9, generator=g)
        values = torch.randn(2, 9, 4, generator=g)
        full = torch.ones(2, 9, dtype=torch.bool)
        context, weights = masked_attention.call(scores, values, full)
        want_c, want_w = ref.masked_attention(scores, values, full)
        assert_close(expect_tensor(weights, "weights"), want_w, atol=1e-6, rtol=1e-5, name="가중치(weights)")
        assert_close(expect_tensor(context, "context"), want_c, atol=1e-5, rtol=1e-5, name="문맥 벡터(context)")
    with case("masked_attention: 배치 1, 소스 길이 1"):
        one_s, one_v = torch.randn(1, 1, generator=g), torch.randn(1, 1, 2, generator=g)
        context, weights = masked_attention.call(one_s, one_v, torch.ones(1, 1, dtype=torch.bool))
        assert_close(expect_tensor(weights, "weights"), torch.ones(1, 1), atol=1e-6, name="가중치 (토큰 하나뿐이면 1)")
        assert_close(expect_tensor(context, "context"), one_v[:, 0], atol=1e-6, name="문맥 벡터 (그 토큰의 값)")
    lengths = [5, 2, 3]
    mask = _mask(lengths)
    values = torch.randn(3, 5, 2, generator=g)
    for label, scores in (("모든 점수가 매우 작음 (≈ -1e10): 패딩을 -1e9 같은 유한한 값으로 가리면 패딩이 이깁니다",
                           torch.full((3, 5), -1e10)),
                          ("패딩 위치의 점수가 매우 큼 (1e12): 점수에서 큰 수를 빼서 가리면 패딩이 이깁니다",
                           torch.randn(3, 5, generator=g).masked_fill(~mask, 1e12))):
        with case(f"masked_attention: {label}"):
            context, weights = masked_attention.call(scores, values, mask)
            want_c, want_w = ref.masked_attention(scores, values, mask)
            weights = expect_tensor(weights, "weights")
            _all_zero(weights[~mask], "패딩 위치의 가중치가 0이 아닙니다 (마스크는 -inf로 채우세요)")
            assert_close(weights, want_w, atol=1e-6, rtol=1e-5, name="가중치(weights)")
            assert_close(expect_tensor(context, "context"), want_c, atol=1e-5, rtol=1e-5, name="문맥 벡터(context)")
    with case("masked_attention: float64 입력"):
        s64 = torch.randn(3, 5, generator=g, dtype=torch.float64)
        v64 = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
        context, weights = masked_attention.call(s64, v64, mask)
        context, weights = expect_tensor(context, "context"), expect_tensor(weights, "weights")
        assert_true(context.dtype == weights.dtype == torch.float64,
                    f"float64 입력이면 결과도 float64여야 합니다 (받은 dtype: {context.dtype}, {weights.dtype}).")
        want_c, want_w = ref.masked_attention(s64, v64, mask)
        assert_close(weights, want_w, atol=1e-12, rtol=1e-10, name="float64 가중치")
        assert_close(context, want_c, atol=1e-12, rtol=1e-10, name="float64 문맥 벡터")


def _float64_case(k, student, reference, *, seed, q_dim, k_dim, steps=1, label=""):
    """The module in float64 (a copy): outputs and states stay float64 and agree to float64 precision."""
    with case(f"{label}float64 입력과 가중치"):
        s64 = student.copy()
        s64.invoke(torch.float64, method="to")
        r64 = copy.deepcopy(reference).double()
        queries, keys, mask = _inputs(seed, q_dim=q_dim, k_dim=k_dim, steps=steps)
        queries, keys = [q.double() for q in queries], keys.double()
        s_pairs, s_states = _triples(k.run_part("run_steps", s64, queries, keys, mask), steps, "")
        r_pairs, r_states = probe_parts.run_steps(r64, queries, keys, mask)
        for t, ((sc, sw), (rc, rw)) in enumerate(zip(s_pairs, r_pairs)):
            sc, sw = expect_tensor(sc, "context"), expect_tensor(sw, "weights")
            assert_true(sc.dtype == sw.dtype == torch.float64,
                        f"float64 입력이면 context와 weights도 float64여야 합니다 (받은 dtype: {sc.dtype}, {sw.dtype}; "
                        "float()/torch.zeros처럼 float32를 만드는 곳이 없는지 확인하세요).")
            assert_close(sw, rw, atol=1e-10, rtol=1e-9, name=f"{t + 1}번째 단계 float64 가중치")
            assert_close(sc, rc, atol=1e-10, rtol=1e-9, name=f"{t + 1}번째 단계 float64 문맥 벡터")


def _small_cases(k, student, reference, *, seed, q_dim, k_dim, label=""):
    """A batch of one (S = 4) and a source of one token (B = 3): shapes that squeeze() breaks."""
    g = generator(seed)
    for batch, lengths in ((1, [4]), (3, [1, 1, 1])):
        with case(f"{label}배치 {batch}, 원문 길이 {max(lengths)}"):
            keys = torch.randn(batch, max(lengths), k_dim, generator=g)
            queries = [torch.randn(batch, q_dim, generator=g)]
            mask = _mask(lengths)
            (pair,), _ = _triples(k.run_part("run_steps", student, queries, keys, mask), 1, "")
            (want,), _ = probe_parts.run_steps(reference, queries, keys, mask)
            for got, ref_t, name in zip(pair, want, ("문맥 벡터(context)", "가중치(weights)")):
                got = expect_tensor(got, name)
                assert_shape(got, tuple(ref_t.shape), name)
                assert_close(got, ref_t, atol=1e-5, rtol=1e-4, name=name)


# --- 1.2 content-based scores ---------------------------------------------------------------

@register("w05-att-content-test")
def content(k, DotAttention, GeneralAttention, AdditiveAttention) -> None:
    cases = [("DotAttention", DotAttention, ref.DotAttention, (5, 5), 5),
             ("GeneralAttention", GeneralAttention, ref.GeneralAttention, (6, 5), 6),
             ("AdditiveAttention", AdditiveAttention, ref.AdditiveAttention, (6, 5, 4), 6)]
    with k.oracles(masked_attention=ref.masked_attention):
        for i, (name, s_cls, r_cls, args, q_dim) in enumerate(cases):
            label = f"{name}{args}"
            with case(label):
                student, reference = _pair(s_cls, r_cls, args, seed=610 + i)
                queries, keys, mask = _inputs(620 + i, q_dim=q_dim, k_dim=5)
                got = expect_tensor(student.method("score", queries[0], keys), "score 출력")
                assert_close(got, reference.score(queries[0], keys),
                             atol=1e-5, rtol=1e-4, name="score(query, keys) (마스크·softmax 전 점수)")
                out = student.call(queries[0], keys, mask, "state-token")
                assert_true(isinstance(out, tuple) and len(out) == 3,
                            "forward는 (context, weights, state) 세 값을 돌려줘야 합니다.")
                assert_true(out[2] == "state-token", "내용 기반 어텐션은 받은 state를 그대로 돌려줘야 합니다.")
                _compare_attention(k, student, reference, seed=630 + i, q_dim=q_dim, k_dim=5)
            _small_cases(k, student, reference, seed=640 + i, q_dim=q_dim, k_dim=5, label=f"{label}: ")
            _float64_case(k, student, reference, seed=650 + i, q_dim=q_dim, k_dim=5, label=f"{label}: ")
    with case("DotAttention(4, 6)"):
        try:
            DotAttention(4, 6)
        except Exception as err:  # noqa: BLE001 - RemoteError carries the student's exception type
            if getattr(err, "etype", "") != "ValueError":
                raise
        else:
            fail("query_dim ≠ key_dim이면 dot 점수는 정의되지 않으므로 ValueError를 내야 합니다.")


# --- 1.3 location-based -----------------------------------------------------------------------

@register("w05-att-location-test")
def location(k, LocationAttention) -> None:
    with k.oracles(masked_attention=ref.masked_attention):
        for i, max_len in enumerate((7, 12)):
            with case(f"LocationAttention(query_dim=6, max_len={max_len}), 원문 길이 7"):
                student, reference = _pair(LocationAttention, ref.LocationAttention, (6, max_len), seed=700 + i)
                _compare_attention(k, student, reference, seed=710 + i, q_dim=6, k_dim=5)
                queries, keys, mask = _inputs(720 + i, q_dim=6, k_dim=5)
                w1 = student.call(queries[0], keys, mask)[1]
                w2 = student.call(queries[0], keys.flip(1), mask)[1]
                assert_close(expect_tensor(w1, "weights"), expect_tensor(w2, "weights"), atol=1e-6,
                             name="keys의 내용이 바뀌어도 같아야 하는 위치 기반 가중치")
        _small_cases(k, student, reference, seed=730, q_dim=6, k_dim=5, label="LocationAttention(6, 12): ")
        _float64_case(k, student, reference, seed=731, q_dim=6, k_dim=5, label="LocationAttention(6, 12): ")


# --- 1.4 hybrid (location-aware) -------------------------------------------------------------

@register("w05-att-hybrid-test")
def hybrid(k, LocationAwareAttention) -> None:
    with k.oracles(masked_attention=ref.masked_attention):
        for i, (attn_dim, filters, kernel) in enumerate(((4, 3, 3), (5, 2, 5))):
            label = f"LocationAwareAttention(6, 5, attn_dim={attn_dim}, n_filters={filters}, kernel_size={kernel}): "
            with case(label.rstrip(": ")):
                student, reference = _pair(LocationAwareAttention, ref.LocationAwareAttention,
                                           (6, 5, attn_dim, filters, kernel), seed=800 + i)
                _compare_attention(k, student, reference, seed=810 + i, q_dim=6, k_dim=5, steps=4, stateful=True)
                queries, keys, mask = _inputs(820 + i, q_dim=6, k_dim=5)
                uniform = mask.float() / mask.sum(1, keepdim=True)
                a = student.call(queries[0], keys, mask, None)[1]
                b = student.call(queries[0], keys, mask, uniform)[1]
                assert_close(expect_tensor(a, "weights"), expect_tensor(b, "weights"), atol=1e-6,
                             name="state=None일 때 (실제 토큰 위의 균등한 이전 정렬과 같아야 합니다)")
        _small_cases(k, student, reference, seed=830, q_dim=6, k_dim=5, label="LocationAwareAttention: ")
        _float64_case(k, student, reference, seed=831, q_dim=6, k_dim=5, steps=2, label="LocationAwareAttention: ")


# --- 1.5 local-p --------------------------------------------------------------------------------

@register("w05-att-local-test")
def local(k, LocalAttention) -> None:
    with k.oracles(masked_attention=ref.masked_attention):
        for i, window in enumerate((1, 2)):
            with case(f"LocalAttention(6, 5, attn_dim=4, window={window})"):
                student, reference = LocalAttention(6, 5, 4, window), ref.LocalAttention(6, 5, 4, window)
                same_layout(student.layout(), reference)
                randomize(reference, 900 + i)
                with torch.no_grad():  # spread the predicted centres over the sentence
                    reference.v_p.weight.mul_(4.0)
                student.load_state(reference.state_dict())
                _compare_attention(k, student, reference, seed=910 + i, q_dim=6, k_dim=5, steps=2)
                queries, keys, mask = _inputs(920 + i, q_dim=6, k_dim=5)
                weights = expect_tensor(student.call(queries[0], keys, mask)[1], "weights")
                reference(queries[0], keys, mask)
                p_s, p_r = student.getattr("last_positions", None), reference.last_positions
                assert_true(isinstance(p_s, torch.Tensor), "forward 뒤에 last_positions (B,)에 중심 p_t를 저장해야 합니다.")
                assert_true(not meta(p_s)["requires_grad"],
                            "last_positions는 detach()한 텐서로 저장해야 합니다 (그래프가 붙은 채로 저장되어 있습니다).")
                assert_close(p_s.reshape(-1), p_r, atol=1e-5, rtol=1e-4,
                             name=f"예측한 중심 p_t (행마다 0 … L−1; 실제 길이 {LENGTHS})")
                far = (torch.arange(mask.shape[1]).unsqueeze(0) - p_r.unsqueeze(1)).abs() > window
                _all_zero(weights[far], f"창(window) 밖(|j − p_t| > {window})의 가중치가 0이 아닙니다")
        _small_cases(k, student, reference, seed=930, q_dim=6, k_dim=5, label="LocalAttention(window=2): ")
        _float64_case(k, student, reference, seed=931, q_dim=6, k_dim=5, label="LocalAttention(window=2): ")


# --- 1.6 coverage -------------------------------------------------------------------------------

@register("w05-att-coverage-test")
def coverage(k, CoverageAttention, coverage_loss) -> None:
    with k.oracles(masked_attention=ref.masked_attention):
        with case("CoverageAttention(6, 5, attn_dim=4), 디코더 5단계"):
            student, reference = _pair(CoverageAttention, ref.CoverageAttention, (6, 5, 4), seed=1000)
            _compare_attention(k, student, reference, seed=1010, q_dim=6, k_dim=5, steps=5, stateful=True)
            queries, keys, mask = _inputs(1020, q_dim=6, k_dim=5, steps=4)
            pairs, states = _triples(k.run_part("run_steps", student, queries, keys, mask), 4, "")
            running = torch.zeros(mask.shape)
            for t, ((_, w), cov) in enumerate(zip(pairs, states)):
                running = running + expect_tensor(w, "weights")
                assert_close(expect_tensor(cov, "state"), running, atol=1e-5,
                             name=f"{t + 1}번째 단계 뒤의 커버리지 (지금까지 가중치의 합이어야 합니다)")
        _small_cases(k, student, reference, seed=1021, q_dim=6, k_dim=5, label="CoverageAttention: ")
        _float64_case(k, student, reference, seed=1022, q_dim=6, k_dim=5, steps=3, label="CoverageAttention: ")
    g = generator(1030)
    raw = torch.rand(3, 6, 5, generator=g)
    tgt_mask = _mask([6, 4, 2])
    with case("coverage_loss(weights (3, 6, 5), tgt_mask 길이 [6, 4, 2])"):
        weights = torch.softmax(raw * 4, dim=-1)
        w_r = weights.clone().requires_grad_(True)
        w_s = k.leaf(weights)
        res = coverage_loss.invoke(w_s, tgt_mask)
        got = expect_tensor(res.value, "coverage_loss 출력")
        want = ref.coverage_loss(w_r, tgt_mask)
        assert_true(got.numel() == 1, "coverage_loss는 스칼라 텐서를 돌려줘야 합니다.")
        assert_close(got.reshape(()), want, atol=1e-6, rtol=1e-5, name="커버리지 손실")
        want.backward()
        k.backward(res.out, [torch.ones(got.shape)])
        grad = w_s.grad()
        assert_true(grad is not None, "weights까지 그래디언트가 흐르지 않습니다.")
        assert_close(grad, w_r.grad, atol=1e-6, rtol=1e-5, name="weights에 대한 그래디언트")
    with case("coverage_loss: 한 위치만 계속 보는 어텐션 (T=4)"):
        same = torch.zeros(1, 4, 3)
        same[..., 1] = 1.0
        got = expect_tensor(coverage_loss.call(same, torch.ones(1, 4, dtype=torch.bool)), "coverage_loss 출력")
        assert_true(got.numel() == 1 and abs(float(got) - 0.75) < 1e-6,
                    f"같은 위치를 4번 보면 손실은 (0+1+1+1)/4 = 0.75여야 합니다 (받은 값: {float(got.reshape(-1)[0]):.4g}).")


# --- 1.7 encoder --------------------------------------------------------------------------------

@register("w05-att-encoder-test")
def encoder(k, Encoder) -> None:
    vocab, emb, hid, dec = 11, 4, 3, 5
    lengths = torch.tensor([4, 6, 1, 3])
    g = generator(1100)
    src = torch.randint(4, vocab, (4, 6), generator=g)
    src[torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    with case(f"Encoder(vocab={vocab}, emb={emb}, hidden={hid}, dec_hidden={dec}), 길이 {lengths.tolist()}"):
        student, reference = _pair(Encoder, ref.Encoder, (vocab, emb, hid, dec, 0.0), seed=1101)
        res = student.invoke(src, lengths)
        if not (isinstance(res.value, (tuple, list)) and len(res.value) == 3):
            fail("Encoder는 (memory, mask, hidden) 세 값을 돌려줘야 합니다.")
        s_mem, s_mask, s_hid = (expect_tensor(v, n) for v, n in zip(res.value, ("memory", "mask", "hidden")))
        r_mem, r_mask, r_hid = reference(src, lengths)
        assert_shape(s_mem, (4, 6, 2 * hid), "memory")
        assert_shape(s_hid, (4, dec), "디코더 초기 은닉 상태(hidden)")
        assert_true(s_mask.dtype == torch.bool and torch.equal(s_mask, r_mask),
                    f"mask는 실제 토큰 위치에서 True인 (B, S) bool이어야 합니다 (길이 {lengths.tolist()}).")
        assert_true(bool((s_mem[~r_mask] == 0).all()), "패딩 위치의 memory는 정확히 0이어야 합니다 (packed sequence를 쓰세요).")
        assert_close(s_mem, r_mem, atol=1e-5, rtol=1e-4,
                     name="memory (패딩이 역방향 GRU를 바꾸면 짧은 문장에서 달라집니다)")
        assert_close(s_hid, r_hid, atol=1e-5, rtol=1e-4,
                     name="hidden = tanh(bridge([정방향 마지막 상태; 역방향 첫 상태]))")
        w = output_weights((r_mem, r_hid), 1102)
        ((r_mem * w[0]).sum() + (r_hid * w[1]).sum()).backward()
        k.backward(res.out, [w[0], w[1]])
        s_params = student.grads()
        for name, p in reference.named_parameters():
            if p.grad is not None:
                assert_true(s_params.get(name) is not None, f"매개변수 {name}에 그래디언트가 없습니다.")
                assert_close(s_params[name], p.grad, atol=1e-4, rtol=1e-3, name=f"{name}의 그래디언트")
    with case("Encoder(dropout=1.0), 학습 모드(train): dropout은 임베딩에, GRU 앞에 (p=1이면 임베딩이 모두 0)"):
        s_drop, r_drop = _pair(Encoder, ref.Encoder, (vocab, emb, hid, dec, 1.0), seed=1103)
        s_drop.train(True)
        r_drop.train(True)
        got = s_drop.call(src, lengths)
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            fail("Encoder는 (memory, mask, hidden) 세 값을 돌려줘야 합니다.")
        r_mem1, _, r_hid1 = r_drop(src, lengths)
        assert_close(expect_tensor(got[0], "memory"), r_mem1, atol=1e-5, rtol=1e-4,
                     name="memory (dropout이 없거나 자리가 다르면 달라집니다)")
        assert_close(expect_tensor(got[2], "hidden"), r_hid1, atol=1e-5, rtol=1e-4, name="hidden")
        s_drop.train(False)
        r_drop.eval()
        got = s_drop.call(src, lengths)
        assert_close(expect_tensor(got[0], "memory"), r_drop(src, lengths)[0], atol=1e-5, rtol=1e-4,
                     name="평가 모드(eval)의 memory (eval에서는 dropout이 꺼져야 합니다)")
    with case("Encoder: 배치 1 (길이 3, 패딩 3개)"):
        got = student.call(src[3:4], lengths[3:4])
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            fail("Encoder는 (memory, mask, hidden) 세 값을 돌려줘야 합니다.")
        r_mem1, r_mask1, r_hid1 = reference(src[3:4], lengths[3:4])
        mem1, hid1 = expect_tensor(got[0], "memory"), expect_tensor(got[2], "hidden")
        assert_shape(mem1, tuple(r_mem1.shape), "memory")
        assert_shape(hid1, tuple(r_hid1.shape), "디코더 초기 은닉 상태(hidden)")
        assert_close(mem1, r_mem1, atol=1e-5, rtol=1e-4, name="memory")
        assert_close(hid1, r_hid1, atol=1e-5, rtol=1e-4, name="hidden")
    with case("Encoder: 패딩 열을 더 붙인 같은 배치"):
        wider = torch.cat([src, torch.zeros(4, 3, dtype=torch.long)], dim=1)
        s_mem2, _, s_hid2 = student.call(wider, lengths)
        assert_close(expect_tensor(s_mem2, "memory")[:, :6], s_mem, atol=1e-5, name="패딩을 더해도 같아야 하는 memory")
        assert_close(expect_tensor(s_hid2, "hidden"), s_hid, atol=1e-5, name="패딩을 더해도 같아야 하는 hidden")


# --- 1.8 decoder: teacher forcing and greedy feeding -------------------------------------------

def _decoder_case(k, AttnDecoder, part: str, label, seed):
    vocab, emb, hid, key = 13, 4, 6, 5
    attention = getattr(probe_parts, part)
    student = AttnDecoder(vocab, emb, hid, key, k.make(part, hid, key), 0.0)
    reference = ref.AttnDecoder(vocab, emb, hid, key, attention(hid, key), 0.0)
    same_layout(student.layout(), reference)
    randomize(reference, seed)
    student.load_state(reference.state_dict())
    g = generator(seed + 1)
    memory = torch.randn(4, 7, key, generator=g)
    mask = _mask(LENGTHS)
    hidden = torch.randn(4, hid, generator=g)
    tgt_in = torch.randint(4, vocab, (4, 5), generator=g)
    tgt_in[:, 0] = 1
    for tf in (True, False):
        mode = "교사 강요(teacher forcing)" if tf else "자기 예측 입력(free running)"
        with case(f"{label}, {mode}"):
            r_mem = memory.clone().requires_grad_(True)
            s_mem = k.leaf(memory)
            res = student.invoke(tgt_in, s_mem, mask, hidden.clone(), kwargs=dict(teacher_forcing=tf))
            if not (isinstance(res.value, (tuple, list)) and len(res.value) == 2):
                fail("AttnDecoder는 (logits, weights) 두 값을 돌려줘야 합니다.")
            s_logits, s_w = expect_tensor(res.value[0], "logits"), expect_tensor(res.value[1], "어텐션 가중치")
            r_logits, r_w = reference(tgt_in, r_mem, mask, hidden.clone(), teacher_forcing=tf)
            assert_shape(s_logits, (4, 5, vocab), "logits")
            assert_shape(s_w, (4, 5, 7), "어텐션 가중치")
            for t in range(5):
                assert_close(s_logits[:, t], r_logits[:, t], atol=1e-5, rtol=1e-4,
                             name=f"{t + 1}번째 단계의 logits" + (" (입력은 tgt_in[:, t]여야 합니다)" if tf and t else ""))
            assert_close(s_w, r_w, atol=1e-5, rtol=1e-4, name="어텐션 가중치 (B, T, S)")
            gl = torch.randn(r_logits.shape, generator=generator(seed + 2))
            (r_logits * gl).sum().backward()
            k.backward(res.out, [gl, torch.zeros(r_w.shape)])
            grad = s_mem.grad()
            assert_true(grad is not None, "memory까지 그래디언트가 흐르지 않습니다.")
            assert_close(grad, r_mem.grad, atol=1e-4, rtol=1e-3, name="memory에 대한 그래디언트")
            s_params = student.grads()
            for name, p in reference.named_parameters():
                if p.grad is not None:
                    assert_true(s_params.get(name) is not None, f"매개변수 {name}에 그래디언트가 없습니다.")
                    assert_close(s_params[name], p.grad, atol=1e-4, rtol=1e-3, name=f"{name}의 그래디언트")
            student.zero_grad()
            reference.zero_grad()


@register("w05-att-decoder-test")
def decoder(k, AttnDecoder) -> None:
    _decoder_case(k, AttnDecoder, "CosineAttention", "AttnDecoder + 상태 없는 어텐션", seed=1200)
    _decoder_case(k, AttnDecoder, "DecayAttention", "AttnDecoder + 상태 있는 어텐션 (상태를 단계마다 넘겨야 합니다)",
                  seed=1210)
    vocab, emb, hid, key = 9, 4, 6, 5
    g = generator(1221)
    memory, hidden = torch.randn(2, 3, key, generator=g), torch.randn(2, hid, generator=g)
    tgt = torch.randint(4, vocab, (2, 4), generator=g)
    full = torch.ones(2, 3, dtype=torch.bool)

    def pair(p, seed):
        student = AttnDecoder(vocab, emb, hid, key, k.make("CosineAttention", hid, key), p)
        reference = ref.AttnDecoder(vocab, emb, hid, key, probe_parts.CosineAttention(hid, key), p)
        same_layout(student.layout(), reference)
        randomize(reference, seed)
        student.load_state(reference.state_dict())
        return student, reference

    def outputs(value):
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            fail("AttnDecoder는 (logits, weights) 두 값을 돌려줘야 합니다.")
        return expect_tensor(value[0], "logits"), expect_tensor(value[1], "어텐션 가중치")

    with case("AttnDecoder(dropout=0.5): 평가 모드(eval)에서는 dropout이 꺼지고, 학습 모드에서는 켜집니다"):
        dec, reference = pair(0.5, 1222)
        dec.train(False)
        reference.eval()
        logits, weights = outputs(dec.call(tgt, memory, full, hidden))
        r_logits, r_weights = reference(tgt, memory, full, hidden)
        assert_close(logits, r_logits, atol=1e-5, rtol=1e-4, name="평가 모드(eval)의 logits (dropout은 eval에서 꺼져야 합니다)")
        dec.train(True)
        a = outputs(dec.call(tgt, memory, full, hidden))[0]
        b = outputs(dec.call(tgt, memory, full, hidden))[0]
        assert_true(not torch.equal(a, b), "train 모드에서는 dropout이 작동해야 합니다 (두 번 실행한 결과가 같습니다: "
                                           "nn.Dropout을 적용했는지 확인하세요).")
    with case("AttnDecoder(dropout=1.0), 학습 모드(train): dropout(임베딩)과 out(dropout(h̃_t))의 자리"):
        # p = 1 zeroes what dropout touches, deterministically: the embeddings and h̃_t before `out`
        # (then every logit is out.bias), while h̃_{t-1} is fed back undropped
        dec, reference = pair(1.0, 1223)
        dec.train(True)
        reference.train(True)
        logits, weights = outputs(dec.call(tgt, memory, full, hidden))
        r_logits, r_weights = reference(tgt, memory, full, hidden)
        assert_close(logits, r_logits, atol=1e-5, rtol=1e-4,
                     name="logits (p=1이면 out(dropout(h̃_t)) = out.bias; dropout은 out 바로 앞에)")
        assert_close(weights, r_weights, atol=1e-5, rtol=1e-4,
                     name="어텐션 가중치 (p=1이면 임베딩이 0: dropout은 임베딩에 적용하고, 되먹이는 h̃에는 적용하지 않습니다)")
    with case("AttnDecoder: 배치 1, 자기 예측 입력(free running)"):
        dec, reference = pair(0.0, 1224)
        logits, weights = outputs(dec.call(tgt[:1], memory[:1], full[:1], hidden[:1], teacher_forcing=False))
        r_logits, r_weights = reference(tgt[:1], memory[:1], full[:1], hidden[:1], teacher_forcing=False)
        assert_shape(logits, tuple(r_logits.shape), "logits")
        assert_shape(weights, tuple(r_weights.shape), "어텐션 가중치")
        assert_close(logits, r_logits, atol=1e-5, rtol=1e-4, name="logits")
