"""Hidden checks of week08/gpt_generation_lab.ipynb (a practice lab: small autograded parts).

The decoding functions are checked on fixed logits whose answers are known; the attention with
its KV cache is graded with the grader's mask (an oracle), so a wrong ``attention_mask`` costs
only its own point.
"""
from __future__ import annotations

import math

import torch

from dlcourse.checks import assert_close, assert_shape, assert_true

from ..solutions import w08_gpt as ref
from ._registry import register
from ._tools import call_label, case, compare_call, compare_module, expect_tensor, fail, generator, meta, randomize

NEG_INF = float("-inf")


def _randn(*shape, seed, scale=1.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * scale).to(dtype)


@register("w08-gpt-tie-test")
def tie(k, tie_weights) -> None:
    for V, d in ((11, 6), (5, 9)):
        with case(f"tie_weights(nn.Embedding({V}, {d}), nn.Linear({d}, {V}, bias=False))"):
            pair = k.make("EmbeddingPair", V, d)
            tie_weights.call(pair.attr("wte"), pair.attr("lm_head"))
            params = pair.params()
            assert_true(len(params) == 1, f"묶은 뒤 매개변수는 하나여야 합니다 (받은 이름: {sorted(params)}): "
                                          "복사하지 말고 같은 nn.Parameter를 두 모듈이 함께 쓰게 하세요.")
            W = _randn(V, d, seed=1100 + V)
            name = next(iter(params))
            pair.load_state({"wte.weight": W, "lm_head.weight": W}, strict=False)
            pair.attr("wte").load_state({"weight": 2 * W})              # change one side only
            idx = torch.tensor([[0, V - 1, 2], [1, 1, 3]])
            got = expect_tensor(pair.call(idx), "로짓")
            assert_close(got, (2 * W)[idx] @ (2 * W).T, atol=1e-5,
                         name="임베딩을 바꾼 뒤의 로짓 (언임베딩도 같은 가중치를 봐야 합니다)")
            res = pair.invoke(idx)
            g = torch.randn(got.shape, generator=generator(1110 + V))
            k.backward(res.out, [g])
            Wr = (2 * W).clone().requires_grad_(True)
            (Wr[idx] @ Wr.T * g).sum().backward()
            grads = pair.grads()
            assert_close(grads[name], Wr.grad, atol=1e-4, name="공유 가중치의 그래디언트 (두 쓰임의 합)")


@register("w08-gpt-mask-test")
def mask(k, attention_mask) -> None:
    for t_q, t_k, causal in ((5, 5, True), (1, 7, True), (3, 8, True), (4, 6, False), (1, 1, True), (0, 3, True)):
        with case(f"attention_mask(t_q={t_q}, t_k={t_k}, causal={causal})"):
            got = expect_tensor(attention_mask.call(t_q, t_k, causal), "마스크")
            want = ref.attention_mask(t_q, t_k, causal)
            assert_true(got.dtype == torch.bool, f"bool 텐서여야 합니다 (받은 dtype: {got.dtype}).")
            assert_shape(got, tuple(want.shape), "마스크")
            assert_true(torch.equal(got, want), "허용되는 (쿼리, 키) 쌍이 다릅니다: 쿼리 i의 위치는 t_k − t_q + i입니다.")


def _mask_oracle(t_q, t_k, causal=True, device=None):
    return ref.attention_mask(t_q, t_k, causal)


@register("w08-gpt-attention-test")
def attention(k, CausalSelfAttention) -> None:
    with k.oracles(attention_mask=_mask_oracle):
        for i, (C, H, B, T) in enumerate(((12, 3, 2, 5), (8, 1, 1, 4), (16, 8, 3, 6))):
            with case(f"CausalSelfAttention(n_embd={C}, n_head={H}), x {(B, T, C)}, 캐시 없음"):
                student, reference = CausalSelfAttention(C, H), ref.CausalSelfAttention(C, H)
                compare_module(k, student, reference, (_randn(B, T, C, seed=1200 + i),), seed=1210 + i)
        C, H, B = 12, 3, 2
        x = _randn(B, 9, C, seed=1220)
        student, reference = CausalSelfAttention(C, H), ref.CausalSelfAttention(C, H)
        randomize(reference, 1221)
        student.load_state(reference.state_dict())
        reference.eval()
        with torch.no_grad():
            full, _ = reference(x)
        with case("캐시 사용: 앞 4개 위치를 넣은 뒤 3개, 그다음 1개씩 (B=2, n_embd=12, n_head=3)"):
            res = student.invoke(x[:, :4], train=False, no_grad=True)
            out, cache = _unpack(res.value)
            assert_close(out, full[:, :4], atol=1e-5, name="처음 4개 위치의 출력")
            _check_cache(cache, (B, H, 4, C // H))
            with torch.no_grad():
                _, ref_cache = reference(x[:, :4])
            assert_close(cache[0], ref_cache[0], atol=1e-5, name="캐시의 키 (B, H, P, hd)")
            assert_close(cache[1], ref_cache[1], atol=1e-5, name="캐시의 값 (B, H, P, hd)")
            res = student.invoke(x[:, 4:7], res.out.item(1), train=False, no_grad=True)
            out, cache = _unpack(res.value)
            assert_close(out, full[:, 4:7], atol=1e-5, name="캐시 뒤 3개 위치를 한꺼번에 넣은 출력 (캐시 없이 계산한 것과 같아야 합니다)")
            _check_cache(cache, (B, H, 7, C // H))
            for t in (7, 8):
                res = student.invoke(x[:, t:t + 1], res.out.item(1), train=False, no_grad=True)
                out, cache = _unpack(res.value)
                assert_close(out, full[:, t:t + 1], atol=1e-5, name=f"캐시로 한 위치씩 생성: 위치 {t}의 출력")
            _check_cache(cache, (B, H, 9, C // H))
        with case("캐시를 쓴 호출의 그래디언트 (새 입력과 캐시의 키·값 모두)"):
            with torch.no_grad():
                _, (kp, vp) = reference(x[:, :4])
            compare_module(k, student, reference, (x[:, 4:7], (kp, vp)), seed=1230, modes=(False,), load=False)


def _unpack(value):
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], (tuple, list))
            and len(value[1]) == 2):
        fail("forward는 (y, (k, v))를 돌려줘야 합니다.")
    return expect_tensor(value[0], "y"), (expect_tensor(value[1][0], "k"), expect_tensor(value[1][1], "v"))


def _check_cache(cache, shape):
    assert_shape(cache[0], shape, "돌려준 키 캐시 k (B, n_head, P + T, hd)")
    assert_shape(cache[1], shape, "돌려준 값 캐시 v (B, n_head, P + T, hd)")


@register("w08-gpt-softmax-test")
def softmax(k, softmax_with_temperature) -> None:
    logits = _randn(2, 3, 7, seed=1300, scale=3.0)
    for T in (1.0, 0.5, 2.7):
        with case(f"softmax_with_temperature(logits (2, 3, 7), temperature={T})"):
            compare_call(k, softmax_with_temperature, ref.softmax_with_temperature, (logits,), kwargs=dict(temperature=T),
                         seed=1301, names=["logits"])
    with case("T = 1e-3 (→ 최댓값에 원-핫)과 T = 1e4 (→ 균등), 로짓 ±20"):
        big = _randn(4, 9, seed=1302, scale=20.0)
        cold = expect_tensor(softmax_with_temperature.call(big, temperature=1e-3), "확률")
        assert_true(bool(torch.isfinite(cold).all()), "T = 1e-3에서 NaN/inf가 나왔습니다: 나누기 전에나 뒤에 최댓값을 빼세요.")
        assert_close(cold, torch.nn.functional.one_hot(big.argmax(-1), 9).float(), atol=1e-6, name="T → 0의 분포")
        hot = expect_tensor(softmax_with_temperature.call(big, temperature=1e4), "확률")
        assert_close(hot, torch.full((4, 9), 1 / 9), atol=1e-3, name="T = 1e4의 분포 (거의 균등)")
    with case("아주 큰 로짓 (±1e4), T = 1"):
        huge = torch.tensor([[1e4, 0.0, -1e4], [3e4, 3e4, 0.0]])
        got = expect_tensor(softmax_with_temperature.call(huge), "확률")
        assert_close(got, torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]), atol=1e-6, name="큰 로짓의 확률")
    with case("float64 입력과 입력 보존"):
        x64 = logits.double()
        res = softmax_with_temperature.invoke(x64, kwargs=dict(temperature=0.3), return_args=True)
        got = expect_tensor(res.value, "확률")
        assert_true(got.dtype == torch.float64, f"float64 입력이면 float64 확률이어야 합니다 (받은 dtype: {got.dtype}).")
        assert_true(torch.equal(res.args[0], x64), "입력 logits가 바뀌었습니다: 제자리 연산을 쓰지 마세요.")


def _filter_case(k, fn, ref_fn, logits, arg, label):
    with case(label):
        res = fn.invoke(logits, arg, return_args=True)
        got = expect_tensor(res.value, "결과")
        want = ref_fn(logits, arg)
        assert_shape(got, tuple(want.shape), "결과")
        assert_true(torch.equal(res.args[0], logits), "입력 logits가 바뀌었습니다: 새 텐서를 돌려주세요.")
        kept_got, kept_want = torch.isfinite(got), torch.isfinite(want)
        if not torch.equal(kept_got, kept_want):
            row = int(torch.nonzero((kept_got != kept_want).any(-1))[0, 0]) if got.dim() > 1 else 0
            fail(f"남긴 토큰이 다릅니다 (행 {row}: 남긴 수 {int(kept_got.reshape(-1, got.shape[-1])[row].sum())}, "
                 f"기대 {int(kept_want.reshape(-1, want.shape[-1])[row].sum())}). 지운 자리는 −inf여야 합니다.")
        assert_true(bool((got[~kept_got] == NEG_INF).all()), "지운 로짓은 −inf여야 합니다 (0이나 작은 값이 아니라).")
        assert_close(got[kept_got], logits[kept_got], atol=0, rtol=0, name="남긴 로짓 (값은 그대로)")


@register("w08-gpt-topk-test")
def topk(k, top_k_filter) -> None:
    logits = _randn(3, 10, seed=1400)
    for kk in (1, 3, 9, 10, 25):
        _filter_case(k, top_k_filter, ref.top_k_filter, logits, kk, f"top_k_filter(logits (3, 10), k={kk})")
    tied = torch.tensor([[1.0, 3.0, 2.0, 2.0, 0.5], [4.0, 4.0, 4.0, 1.0, 0.0]])
    _filter_case(k, top_k_filter, ref.top_k_filter, tied, 3, "경계에서 같은 값 (k=3, 같은 값은 남김)")
    _filter_case(k, top_k_filter, ref.top_k_filter, _randn(2, 4, 6, seed=1401), 2, "3차원 logits (2, 4, 6), k=2")


@register("w08-gpt-topp-test")
def topp(k, top_p_filter) -> None:
    # Probabilities 0.5, 0.3, 0.15, 0.05 in a shuffled vocabulary order.
    probs = torch.tensor([[0.15, 0.5, 0.05, 0.3], [0.05, 0.3, 0.5, 0.15]])
    logits = probs.log()
    for p, n in ((0.4, 1), (0.5, 1), (0.6, 2), (0.79, 2), (0.81, 3), (0.96, 4), (1.0, 4)):
        _filter_case(k, top_p_filter, ref.top_p_filter, logits, p,
                     f"top_p_filter(확률 0.5·0.3·0.15·0.05, p={p}) — 기대: 가장 큰 {n}개")
    logits = _randn(5, 50, seed=1500, scale=2.0)
    for p in (0.3, 0.9):
        _filter_case(k, top_p_filter, ref.top_p_filter, logits, p, f"top_p_filter(logits (5, 50), p={p})")
    _filter_case(k, top_p_filter, ref.top_p_filter, torch.tensor([[30.0, 0.0, -1.0]]), 0.9,
                 "한 토큰이 거의 전부인 분포 (그 토큰 하나만)")


def _beam(k, beam_search, logits, label, **kw):
    with case(label):
        lm = k.make("BigramLM", logits)
        got = beam_search.call(lm, **kw)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail("(tokens, score) 두 값을 돌려줘야 합니다.")
        tokens, score = got
        tokens = tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens
        if not (isinstance(tokens, list) and all(type(t) is int for t in tokens)):
            fail(f"tokens는 int의 list여야 합니다 (받은 값의 타입: {type(tokens).__name__}).")
        score = float(score.item() if isinstance(score, torch.Tensor) else score)
        table = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), -1)
        want_tokens, want_score = ref.beam_search(lambda s: table[s[:, -1]], **kw)
        assert_true(tokens == want_tokens, f"찾은 시퀀스 {tokens}가 기대한 {want_tokens}와 다릅니다.")
        assert_true(math.isclose(score, want_score, rel_tol=1e-6, abs_tol=1e-9),
                    f"점수 {score:.6g}가 기대값 {want_score:.6g}와 다릅니다 (총 로그 확률 / 길이^length_penalty).")


@register("w08-gpt-beam-test")
def beam(k, beam_search) -> None:
    # Token 0 = bos, 1 = eos. From bos, eos at once is likely (short, raw-score winner); the long
    # path 2 → 3 → 4 → eos has a better score per token.
    lp = torch.full((6, 6), -6.0)
    lp[0, 1], lp[0, 2], lp[0, 5] = -0.9, -1.0, -1.2
    lp[2, 3], lp[3, 4], lp[4, 1] = -0.05, -0.05, -0.05
    lp[5, 1] = -1.0
    _beam(k, beam_search, lp, "길이 정규화가 순위를 바꾸는 표 (beam 3, length_penalty=1)",
          bos_id=0, eos_id=1, beam_width=3, max_len=6, length_penalty=1.0)
    _beam(k, beam_search, lp, "같은 표, length_penalty=0 (총 로그 확률 그대로)",
          bos_id=0, eos_id=1, beam_width=3, max_len=6, length_penalty=0.0)
    for i, (V, width, max_len, alpha) in enumerate(((7, 1, 5, 1.0), (9, 4, 6, 0.6), (12, 3, 3, 1.0), (5, 6, 8, 1.3))):
        table = _randn(V, V, seed=1600 + i, scale=2.0)
        _beam(k, beam_search, table, f"무작위 바이그램 표 V={V}, beam_width={width}, max_len={max_len}, length_penalty={alpha}",
              bos_id=0, eos_id=1, beam_width=width, max_len=max_len, length_penalty=alpha)
    no_eos = torch.zeros(4, 4)
    no_eos[:, 1] = -50.0
    no_eos[:, 2] = 1.0
    _beam(k, beam_search, no_eos, "eos가 거의 불가능한 표: max_len에서 끝난 가설도 후보",
          bos_id=0, eos_id=1, beam_width=2, max_len=4, length_penalty=1.0)


GPT2_SMALL = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)


@register("w08-gpt-count-test")
def count(k, count_gpt_params) -> None:
    configs = [dict(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=32),
               dict(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=32, tied=False),
               dict(vocab_size=11, block_size=5, n_layer=3, n_head=1, n_embd=6),
               dict(GPT2_SMALL, n_head=3),
               dict(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288)]
    for cfg in configs:
        with case(call_label("count_gpt_params", cfg)):
            got = count_gpt_params.call(**cfg)
            want = ref.count_gpt_params(**cfg)
            if not isinstance(got, dict) or sorted(got) != sorted(want):
                fail(f"키가 {sorted(want)}인 dict를 돌려줘야 합니다.")
            for key in want:
                value = got[key]
                assert_true(type(value) is int, f"{key}는 int여야 합니다 (받은 타입: {type(value).__name__}).")
                assert_true(value == want[key], f"{key}: {value:,} (기대 {want[key]:,}).")
    with case("GPT-2 small (가중치 공유)"):
        total = count_gpt_params.call(**GPT2_SMALL)["total"]
        assert_true(total == 124_439_808, f"GPT-2 small은 124,439,808개여야 합니다 (받은 값: {total:,}).")
