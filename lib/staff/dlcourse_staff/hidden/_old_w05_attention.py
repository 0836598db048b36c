"""Hidden checks of week05/attention_mechanisms.ipynb.

Every check compares the student's code with the reference on seeded tensors whose sizes differ
from the visible checks (batch rows of different lengths, a row with one token). Independence:
the attention modules call the notebook's ``masked_attention``; while a module is checked, that
name is bound to the reference helper, and the decoder is checked with reference attention
modules, so a wrong helper or a wrong attention costs only its own part.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager

import torch
from torch import nn

from dlcourse.checks import assert_close, assert_shape, assert_true
from ..solutions import w05_attention as ref
from ._registry import register
from ._tools import case, fail, generator, randomize, same_layout

LENGTHS = [7, 3, 5, 1]  # padded to S = 7; one row of a single token


def _all_zero(values: torch.Tensor, message: str) -> None:
    """Fail with ``message`` and the largest offending value unless every value is exactly 0."""
    values = values.detach()
    if not bool((values == 0).all()):
        fail(f"{message} (최대 {float(values.abs().max()):.3g}).")


def _mask(lengths, total=None) -> torch.Tensor:
    total = total or max(lengths)
    return torch.arange(total).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


@contextmanager
def _reference_helper(*objects):
    """Bind ``masked_attention`` to the reference inside the namespaces of the given classes."""
    spaces = []
    for obj in objects:
        for fn in vars(obj).values() if isinstance(obj, type) else ():
            g = getattr(fn, "__globals__", None)
            if g is not None and all(g is not s for s, _ in spaces):
                spaces.append((g, g.get("masked_attention", KeyError)))
    for g, _ in spaces:
        g["masked_attention"] = ref.masked_attention
    try:
        yield
    finally:
        for g, old in spaces:
            if old is KeyError:
                g.pop("masked_attention", None)
            else:
                g["masked_attention"] = old


def _classes(obj):
    """The class and its bases defined outside torch (ContentAttention → its subclass)."""
    return [c for c in type(obj).__mro__ if c.__module__ not in ("builtins",) and not c.__module__.startswith("torch")]


def _pair(student_cls, ref_cls, args, seed):
    torch.manual_seed(seed)
    student, reference = student_cls(*args), ref_cls(*args)
    same_layout(student, reference)
    randomize(reference, seed)
    student.load_state_dict(reference.state_dict())
    return student, reference


def _run_steps(module, queries, keys, mask, carry_state=True):
    """Call the attention for every query (a decoder's steps); returns the lists of outputs."""
    outs, state = [], None
    for q in queries:
        context, weights, new_state = module(q, keys, mask, state)
        outs.append((context, weights, new_state))
        if carry_state:
            state = new_state
    return outs


def _inputs(seed, batch_lengths=LENGTHS, q_dim=6, k_dim=5, steps=1):
    g = generator(seed)
    S = max(batch_lengths)
    keys = torch.randn(len(batch_lengths), S, k_dim, generator=g)
    queries = [torch.randn(len(batch_lengths), q_dim, generator=g) for _ in range(steps)]
    return queries, keys, _mask(batch_lengths)


def _compare_attention(student, reference, *, seed, q_dim, k_dim, steps=1, stateful=False, label=""):
    """Forward over ``steps`` decoder steps (state carried), then gradients of a weighted sum."""
    queries, keys, mask = _inputs(seed, q_dim=q_dim, k_dim=k_dim, steps=steps)
    sq = [q.clone().requires_grad_(True) for q in queries]
    rq = [q.clone().requires_grad_(True) for q in queries]
    sk, rk = keys.clone().requires_grad_(True), keys.clone().requires_grad_(True)
    s_out = _run_steps(student, sq, sk, mask)
    r_out = _run_steps(reference, rq, rk, mask)
    total_s, total_r = 0.0, 0.0
    g = generator(seed + 7)
    for t, ((sc, sw, ss), (rc, rw, rs)) in enumerate(zip(s_out, r_out)):
        where = f"{label}{t + 1}번째 단계 " if steps > 1 else label
        assert_shape(sw, tuple(rw.shape), f"{where}가중치(weights)")
        assert_shape(sc, tuple(rc.shape), f"{where}문맥 벡터(context)")
        assert_true(bool(torch.isfinite(sw).all()), f"{where}가중치에 NaN/inf가 있습니다.")
        assert_close(sw.sum(dim=1), torch.ones(len(LENGTHS)), atol=1e-5, name=f"{where}가중치의 행 합 (실제 토큰 위)")
        pad = ~mask
        _all_zero(sw[pad], f"{where}패딩(padding) 위치의 가중치가 0이 아닙니다: 마스크를 적용하세요")
        assert_close(sw, rw, atol=1e-5, rtol=1e-4, name=f"{where}가중치(weights)")
        assert_close(sc, rc, atol=1e-5, rtol=1e-4, name=f"{where}문맥 벡터(context)")
        if stateful:
            assert_true(isinstance(ss, torch.Tensor), f"{where}돌려준 상태(state)가 텐서가 아닙니다 (받은 값: {type(ss).__name__}).")
            assert_close(ss, rs, atol=1e-5, rtol=1e-4, name=f"{where}다음 단계로 넘기는 상태(state)")
        wc, ww = torch.randn(rc.shape, generator=g), torch.randn(rw.shape, generator=g)
        total_s = total_s + (sc * wc).sum() + (sw * ww).sum()
        total_r = total_r + (rc * wc).sum() + (rw * ww).sum()
    total_r.backward()
    total_s.backward()
    assert_true(sk.grad is not None, f"{label}keys까지 그래디언트가 흐르지 않습니다.")
    assert_close(sk.grad, rk.grad, atol=1e-4, rtol=1e-3, name=f"{label}keys에 대한 그래디언트")
    for t, (a, b) in enumerate(zip(sq, rq)):
        if b.grad is not None:
            assert_true(a.grad is not None, f"{label}query까지 그래디언트가 흐르지 않습니다.")
            assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-3, name=f"{label}{t + 1}번째 query에 대한 그래디언트")
    s_params = dict(student.named_parameters())
    for name, p in reference.named_parameters():
        if p.grad is not None:
            assert_true(s_params[name].grad is not None, f"{label}매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
            assert_close(s_params[name].grad, p.grad, atol=1e-4, rtol=1e-3, name=f"{label}{name}의 그래디언트")


# --- 1.1 masked softmax + context -------------------------------------------------------------

@register("w05-att-masked-test")
def masked(masked_attention) -> None:
    g = generator(600)
    lengths = [6, 2, 4, 1, 6]                                   # B = 5 ≠ S = 6: a wrong axis shows
    mask = _mask(lengths)
    scores = torch.randn(5, 6, generator=g) * 3
    scores[1, 4] = 50.0                                         # a huge score on padding must still get 0
    values = torch.randn(5, 6, 3, generator=g)
    with case(f"masked_attention(scores (5, 6), values (5, 6, 3), 길이 {lengths})"):
        s_scores, s_values = scores.clone().requires_grad_(True), values.clone().requires_grad_(True)
        r_scores, r_values = scores.clone().requires_grad_(True), values.clone().requires_grad_(True)
        context, weights = masked_attention(s_scores, s_values, mask)
        want_c, want_w = ref.masked_attention(r_scores, r_values, mask)
        assert_shape(weights, (5, 6), "가중치(weights)")
        assert_shape(context, (5, 3), "문맥 벡터(context)")
        assert_true(bool(torch.isfinite(weights).all()), "가중치에 NaN/inf가 있습니다.")
        _all_zero(weights[~mask], "패딩 위치의 가중치가 0이 아닙니다")
        assert_close(weights.sum(dim=1), torch.ones(5), atol=1e-5,
                     name="각 행의 가중치 합 (소스 위치에 대한 softmax여야 합니다)")
        assert_close(weights, want_w, atol=1e-6, rtol=1e-5, name="가중치(weights)")
        assert_close(context, want_c, atol=1e-5, rtol=1e-5, name="문맥 벡터(context)")
        g2 = generator(601)
        wc, ww = torch.randn(5, 3, generator=g2), torch.randn(5, 6, generator=g2)
        ((want_c * wc).sum() + (want_w * ww).sum()).backward()
        ((context * wc).sum() + (weights * ww).sum()).backward()
        assert_true(s_scores.grad is not None and s_values.grad is not None, "입력까지 그래디언트가 흐르지 않습니다.")
        assert_close(s_scores.grad, r_scores.grad, atol=1e-5, rtol=1e-4, name="scores에 대한 그래디언트")
        assert_close(s_values.grad, r_values.grad, atol=1e-5, rtol=1e-4, name="values에 대한 그래디언트")
    with case("masked_attention: 마스크가 모두 True인 배치 (B=2, S=9)"):
        scores = torch.randn(2, 9, generator=g)
        values = torch.randn(2, 9, 4, generator=g)
        full = torch.ones(2, 9, dtype=torch.bool)
        context, weights = masked_attention(scores, values, full)
        want_c, want_w = ref.masked_attention(scores, values, full)
        assert_close(weights, want_w, atol=1e-6, rtol=1e-5, name="가중치(weights)")
        assert_close(context, want_c, atol=1e-5, rtol=1e-5, name="문맥 벡터(context)")


# --- 1.2 content-based scores ---------------------------------------------------------------

@register("w05-att-content-test")
def content(DotAttention, GeneralAttention, AdditiveAttention) -> None:
    cases = [("DotAttention", DotAttention, ref.DotAttention, (5, 5), 5),
             ("GeneralAttention", GeneralAttention, ref.GeneralAttention, (6, 5), 6),
             ("AdditiveAttention", AdditiveAttention, ref.AdditiveAttention, (6, 5, 4), 6)]
    for i, (name, s_cls, r_cls, args, q_dim) in enumerate(cases):
        label = f"{name}{args}"
        with case(label):
            student, reference = _pair(s_cls, r_cls, args, seed=610 + i)
            queries, keys, mask = _inputs(620 + i, q_dim=q_dim, k_dim=5)
            with _reference_helper(*_classes(student)):
                assert_close(student.score(queries[0], keys), reference.score(queries[0], keys),
                             atol=1e-5, rtol=1e-4, name="score(query, keys) (마스크·softmax 전 점수)")
                sentinel = object()
                out = student(queries[0], keys, mask, sentinel)
                assert_true(isinstance(out, tuple) and len(out) == 3,
                            "forward는 (context, weights, state) 세 값을 돌려줘야 합니다.")
                assert_true(out[2] is sentinel, "내용 기반 어텐션은 받은 state를 그대로 돌려줘야 합니다.")
                _compare_attention(student, reference, seed=630 + i, q_dim=q_dim, k_dim=5)
    with case("DotAttention(4, 6)"):
        try:
            DotAttention(4, 6)
        except ValueError:
            pass
        else:
            fail("query_dim ≠ key_dim이면 dot 점수는 정의되지 않으므로 ValueError를 내야 합니다.")


# --- 1.3 location-based -----------------------------------------------------------------------

@register("w05-att-location-test")
def location(LocationAttention) -> None:
    for i, max_len in enumerate((7, 12)):
        with case(f"LocationAttention(query_dim=6, max_len={max_len}), 원문 길이 7"):
            student, reference = _pair(LocationAttention, ref.LocationAttention, (6, max_len), seed=700 + i)
            with _reference_helper(*_classes(student)):
                _compare_attention(student, reference, seed=710 + i, q_dim=6, k_dim=5)
                queries, keys, mask = _inputs(720 + i, q_dim=6, k_dim=5)
                _, w1, _ = student(queries[0], keys, mask)
                _, w2, _ = student(queries[0], keys.flip(1), mask)
                assert_close(w1, w2, atol=1e-6, name="keys의 내용이 바뀌어도 같아야 하는 위치 기반 가중치")


# --- 1.4 hybrid (location-aware) -------------------------------------------------------------

@register("w05-att-hybrid-test")
def hybrid(LocationAwareAttention) -> None:
    for i, (attn_dim, filters, kernel) in enumerate(((4, 3, 3), (5, 2, 5))):
        label = f"LocationAwareAttention(6, 5, attn_dim={attn_dim}, n_filters={filters}, kernel_size={kernel}): "
        with case(label.rstrip(": ")):
            student, reference = _pair(LocationAwareAttention, ref.LocationAwareAttention,
                                       (6, 5, attn_dim, filters, kernel), seed=800 + i)
            with _reference_helper(*_classes(student)):
                _compare_attention(student, reference, seed=810 + i, q_dim=6, k_dim=5, steps=4, stateful=True)
                queries, keys, mask = _inputs(820 + i, q_dim=6, k_dim=5)
                uniform = mask.float() / mask.sum(1, keepdim=True)
                a = student(queries[0], keys, mask, None)[1]
                b = student(queries[0], keys, mask, uniform)[1]
                assert_close(a, b, atol=1e-6, name="state=None일 때 (실제 토큰 위의 균등한 이전 정렬과 같아야 합니다)")


# --- 1.5 local-p --------------------------------------------------------------------------------

@register("w05-att-local-test")
def local(LocalAttention) -> None:
    for i, window in enumerate((1, 2)):
        with case(f"LocalAttention(6, 5, attn_dim=4, window={window})"):
            student, reference = _pair(LocalAttention, ref.LocalAttention, (6, 5, 4, window), seed=900 + i)
            with torch.no_grad():  # spread the predicted centres over the sentence
                for m in (student, reference):
                    m.v_p.weight.mul_(4.0)
            with _reference_helper(*_classes(student)):
                _compare_attention(student, reference, seed=910 + i, q_dim=6, k_dim=5, steps=2)
                queries, keys, mask = _inputs(920 + i, q_dim=6, k_dim=5)
                _, weights, _ = student(queries[0], keys, mask)
                reference(queries[0], keys, mask)
                p_s, p_r = getattr(student, "last_positions", None), reference.last_positions
                assert_true(isinstance(p_s, torch.Tensor), "forward 뒤에 last_positions (B,)에 중심 p_t를 저장해야 합니다.")
                assert_close(p_s.reshape(-1), p_r, atol=1e-5, rtol=1e-4,
                             name=f"예측한 중심 p_t (행마다 0 … L−1; 실제 길이 {LENGTHS})")
                far = (torch.arange(mask.shape[1]).unsqueeze(0) - p_r.unsqueeze(1)).abs() > window
                _all_zero(weights[far], f"창(window) 밖(|j − p_t| > {window})의 가중치가 0이 아닙니다")


# --- 1.6 coverage -------------------------------------------------------------------------------

@register("w05-att-coverage-test")
def coverage(CoverageAttention, coverage_loss) -> None:
    with case("CoverageAttention(6, 5, attn_dim=4), 디코더 5단계"):
        student, reference = _pair(CoverageAttention, ref.CoverageAttention, (6, 5, 4), seed=1000)
        with _reference_helper(*_classes(student)):
            _compare_attention(student, reference, seed=1010, q_dim=6, k_dim=5, steps=5, stateful=True)
            queries, keys, mask = _inputs(1020, q_dim=6, k_dim=5, steps=4)
            outs = _run_steps(student, queries, keys, mask)
            running = torch.zeros(mask.shape)
            for t, (_, w, cov) in enumerate(outs):
                running = running + w
                assert_close(cov, running, atol=1e-5,
                             name=f"{t + 1}번째 단계 뒤의 커버리지 (지금까지 가중치의 합이어야 합니다)")
    g = generator(1030)
    raw = torch.rand(3, 6, 5, generator=g)
    tgt_mask = _mask([6, 4, 2])
    with case("coverage_loss(weights (3, 6, 5), tgt_mask 길이 [6, 4, 2])"):
        weights = torch.softmax(raw * 4, dim=-1)
        w_s, w_r = weights.clone().requires_grad_(True), weights.clone().requires_grad_(True)
        got = coverage_loss(w_s, tgt_mask)
        want = ref.coverage_loss(w_r, tgt_mask)
        assert_true(isinstance(got, torch.Tensor) and got.numel() == 1, "coverage_loss는 스칼라 텐서를 돌려줘야 합니다.")
        assert_close(got.reshape(()), want, atol=1e-6, rtol=1e-5, name="커버리지 손실")
        want.backward()
        got.reshape(()).backward()
        assert_true(w_s.grad is not None, "weights까지 그래디언트가 흐르지 않습니다.")
        assert_close(w_s.grad, w_r.grad, atol=1e-6, rtol=1e-5, name="weights에 대한 그래디언트")
    with case("coverage_loss: 한 위치만 계속 보는 어텐션 (T=4)"):
        same = torch.zeros(1, 4, 3)
        same[..., 1] = 1.0
        got = float(coverage_loss(same, torch.ones(1, 4, dtype=torch.bool)))
        assert_true(abs(got - 0.75) < 1e-6, f"같은 위치를 4번 보면 손실은 (0+1+1+1)/4 = 0.75여야 합니다 (받은 값: {got:.4g}).")


# --- 1.7 encoder --------------------------------------------------------------------------------

@register("w05-att-encoder-test")
def encoder(Encoder) -> None:
    vocab, emb, hid, dec = 11, 4, 3, 5
    lengths = torch.tensor([4, 6, 1, 3])
    g = generator(1100)
    src = torch.randint(4, vocab, (4, 6), generator=g)
    src[torch.arange(6).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    with case(f"Encoder(vocab={vocab}, emb={emb}, hidden={hid}, dec_hidden={dec}), 길이 {lengths.tolist()}"):
        student, reference = _pair(Encoder, ref.Encoder, (vocab, emb, hid, dec, 0.0), seed=1101)
        s_mem, s_mask, s_hid = student(src, lengths)
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
        gm, gh = torch.randn(r_mem.shape, generator=g), torch.randn(r_hid.shape, generator=g)
        ((r_mem * gm).sum() + (r_hid * gh).sum()).backward()
        ((s_mem * gm).sum() + (s_hid * gh).sum()).backward()
        s_params = dict(student.named_parameters())
        for name, p in reference.named_parameters():
            if p.grad is not None:
                assert_true(s_params[name].grad is not None, f"매개변수 {name}에 그래디언트가 없습니다.")
                assert_close(s_params[name].grad, p.grad, atol=1e-4, rtol=1e-3, name=f"{name}의 그래디언트")
    with case("Encoder: 패딩 열을 더 붙인 같은 배치"):
        wider = torch.cat([src, torch.zeros(4, 3, dtype=torch.long)], dim=1)
        s_mem2, _, s_hid2 = student(wider, lengths)
        assert_close(s_mem2[:, :6], s_mem.detach(), atol=1e-5, name="패딩을 더해도 같아야 하는 memory")
        assert_close(s_hid2, s_hid.detach(), atol=1e-5, name="패딩을 더해도 같아야 하는 hidden")


# --- 1.8 decoder: teacher forcing and greedy feeding -------------------------------------------

def _decoder_case(AttnDecoder, attention_factory, label, seed):
    vocab, emb, hid, key = 13, 4, 6, 5
    torch.manual_seed(seed)
    student = AttnDecoder(vocab, emb, hid, key, attention_factory(hid, key), 0.0)
    reference = ref.AttnDecoder(vocab, emb, hid, key, attention_factory(hid, key), 0.0)
    same_layout(student, reference)
    randomize(reference, seed)
    student.load_state_dict(reference.state_dict())
    g = generator(seed + 1)
    memory = torch.randn(4, 7, key, generator=g)
    mask = _mask(LENGTHS)
    hidden = torch.randn(4, hid, generator=g)
    tgt_in = torch.randint(4, vocab, (4, 5), generator=g)
    tgt_in[:, 0] = 1
    for tf in (True, False):
        mode = "교사 강요(teacher forcing)" if tf else "자기 예측 입력(free running)"
        with case(f"{label}, {mode}"):
            s_mem, r_mem = memory.clone().requires_grad_(True), memory.clone().requires_grad_(True)
            s_logits, s_w = student(tgt_in, s_mem, mask, hidden.clone(), teacher_forcing=tf)
            r_logits, r_w = reference(tgt_in, r_mem, mask, hidden.clone(), teacher_forcing=tf)
            assert_shape(s_logits, (4, 5, vocab), "logits")
            assert_shape(s_w, (4, 5, 7), "어텐션 가중치")
            for t in range(5):
                assert_close(s_logits[:, t], r_logits[:, t], atol=1e-5, rtol=1e-4,
                             name=f"{t + 1}번째 단계의 logits" + (" (입력은 tgt_in[:, t]여야 합니다)" if tf and t else ""))
            assert_close(s_w, r_w, atol=1e-5, rtol=1e-4, name="어텐션 가중치 (B, T, S)")
            gl = torch.randn(r_logits.shape, generator=generator(seed + 2))
            (r_logits * gl).sum().backward()
            (s_logits * gl).sum().backward()
            assert_true(s_mem.grad is not None, "memory까지 그래디언트가 흐르지 않습니다.")
            assert_close(s_mem.grad, r_mem.grad, atol=1e-4, rtol=1e-3, name="memory에 대한 그래디언트")
            s_params = dict(student.named_parameters())
            for name, p in reference.named_parameters():
                if p.grad is not None:
                    assert_true(s_params[name].grad is not None, f"매개변수 {name}에 그래디언트가 없습니다.")
                    assert_close(s_params[name].grad, p.grad, atol=1e-4, rtol=1e-3, name=f"{name}의 그래디언트")
            student.zero_grad()
            reference.zero_grad()


@register("w05-att-decoder-test")
def decoder(AttnDecoder) -> None:
    _decoder_case(AttnDecoder, lambda h, k: ref.GeneralAttention(h, k), "AttnDecoder + GeneralAttention", seed=1200)
    _decoder_case(AttnDecoder, lambda h, k: ref.LocationAwareAttention(h, k, 4, 2, 3),
                  "AttnDecoder + LocationAwareAttention (상태를 단계마다 넘겨야 합니다)", seed=1210)
    with case("AttnDecoder: train()과 eval()에서 dropout"):
        torch.manual_seed(1220)
        dec = AttnDecoder(9, 4, 6, 5, ref.GeneralAttention(6, 5), 0.5).eval()
        g = generator(1221)
        memory, hidden = torch.randn(2, 3, 5, generator=g), torch.randn(2, 6, generator=g)
        tgt = torch.randint(4, 9, (2, 4), generator=g)
        a, _ = dec(tgt, memory, torch.ones(2, 3, dtype=torch.bool), hidden)
        b, _ = dec(tgt, memory, torch.ones(2, 3, dtype=torch.bool), hidden)
        assert_close(a, b, atol=0, rtol=0, name="eval 모드의 두 번 실행 (dropout은 eval에서 꺼져야 합니다)")
