"""Hidden checks of week08/midterm_transformer.ipynb (Part 1: the transformer from scratch).

Each check compares the student's object with the reference on seeded inputs whose sizes differ
from the visible checks: outputs and gradients (input and parameters), train and eval mode,
masks, dtypes, dropout. One wrong part costs only its own points: multi-head attention is graded
with the grader's scaled dot-product attention (an oracle), the blocks with a stand-in attention,
the encoder–decoder and the classifier with stand-in blocks and positional encoding
(:mod:`dlcourse.probe_parts`). The reference is built here from the same stand-ins.
"""
from __future__ import annotations

import contextlib
import copy
import math

import torch
import torch.nn as nn

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..probe import RemoteError
from ..solutions import w08_midterm as ref
from ._registry import register
from ._tools import call_label, case, compare_call, compare_module, expect_tensor, fail, generator, meta, randomize, same_layout


def _randn(*shape, seed, scale=1.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * scale).to(dtype)


def _lengths_mask(lengths, T):
    """(B, 1, T) bool: True at the first lengths[b] positions."""
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(1)


def _ids(lengths, T, vocab, seed, pad_id=0):
    """(B, T) ids in [0, vocab) without pad_id at real positions, pad_id after lengths[b]."""
    g = generator(seed)
    ids = torch.randint(0, vocab - 1, (len(lengths), T), generator=g)
    ids = ids + (ids >= pad_id).long()                 # skip pad_id
    for b, n in enumerate(lengths):
        ids[b, n:] = pad_id
    return ids


@contextlib.contextmanager
def parts(k, **names):
    """While the block runs, notebook names (e.g. ``MultiHeadAttention``) are the probe parts
    given, in the kernel and in the reference module alike."""
    saved = {n: getattr(ref, n) for n in names}
    k.request("bind", names={n: k.part(p) for n, p in names.items()})
    for n, p in names.items():
        setattr(ref, n, getattr(probe_parts, p))
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(ref, n, v)
        with contextlib.suppress(RemoteError):
            k.request("unbind")


def _pair(value, what):
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        fail(f"{what}: (out, weights) 두 값을 돌려줘야 합니다.")
    return expect_tensor(value[0], "out"), expect_tensor(value[1], "weights")


# --- 1.1 scaled dot-product attention ---------------------------------------------------------------
@register("w08-mt-sdpa-test")
def sdpa(k, scaled_dot_product_attention) -> None:
    fn = scaled_dot_product_attention
    B, H, Tq, Tk, d, dv = 2, 3, 5, 7, 4, 6                    # d ≠ dv: the scale uses the key size
    q, kk, v = _randn(B, H, Tq, d, seed=800), _randn(B, H, Tk, d, seed=801), _randn(B, H, Tk, dv, seed=802)
    pad = _lengths_mask([7, 4], Tk).unsqueeze(1)             # (B, 1, 1, Tk)
    band = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=2)
    with case(f"마스크 없음, q {tuple(q.shape)}, k {tuple(kk.shape)}, v {tuple(v.shape)}"):
        compare_call(k, fn, ref.scaled_dot_product_attention, (q, kk, v), seed=803, names=["q", "k", "v"])
    with case("패딩 마스크 (B, 1, 1, Tk)"):
        compare_call(k, fn, ref.scaled_dot_product_attention, (q, kk, v, pad), seed=804, names=["q", "k", "v"])
    with case("(Tq, Tk) 마스크와 패딩 마스크의 조합"):
        compare_call(k, fn, ref.scaled_dot_product_attention, (q, kk, v, band & pad), seed=805, names=["q", "k", "v"])
    with case("앞 차원이 없는 2차원 입력 (Tq, d)"):
        compare_call(k, fn, ref.scaled_dot_product_attention, (q[0, 0], kk[0, 0], v[0, 0]), seed=806,
                     names=["q", "k", "v"])
    with case("허용된 키가 하나도 없는 쿼리 행"):
        blocked = band & pad
        blocked = blocked.expand(B, 1, Tq, Tk).clone()
        blocked[1, 0, 2] = False
        res = fn.invoke(k.leaf(q), k.leaf(kk), k.leaf(v), blocked, return_args=True)
        out, w = _pair(res.value, "반환값")
        assert_true(bool(torch.isfinite(out).all() and torch.isfinite(w).all()),
                    "허용된 키가 없는 행에서 NaN/inf가 나왔습니다: 그 행의 가중치와 출력은 0이어야 합니다.")
        assert_close(w[1, :, 2], torch.zeros(H, Tk), atol=1e-7, name="키가 없는 행의 가중치")
        assert_close(out[1, :, 2], torch.zeros(H, dv), atol=1e-7, name="키가 없는 행의 출력")
        compare_call(k, fn, ref.scaled_dot_product_attention, (q, kk, v, blocked), seed=807, names=["q", "k", "v"])
        assert_true(torch.equal(res.args[3], blocked), "mask가 바뀌었습니다: 입력을 제자리에서 바꾸지 마세요.")
    with case("아주 큰 점수 (q, k × 300, float64)"):
        big = (q.double() * 300, kk.double() * 300, v.double())
        out = compare_call(k, fn, ref.scaled_dot_product_attention, big + (pad,), seed=808, names=["q", "k", "v"])
        assert_true(all(t.dtype == torch.float64 for t in out), "float64 입력이면 출력도 float64여야 합니다.")
    with case("float16 입력"):
        half = tuple(t.half() for t in (q, kk, v))
        out, w = _pair(fn.call(*half, pad), "반환값")
        assert_true(out.dtype == torch.float16 and w.dtype == torch.float16,
                    f"float16 입력이면 출력도 float16이어야 합니다 (받은 dtype: {out.dtype}, {w.dtype}).")
        want_out, want_w = ref.scaled_dot_product_attention(*(t.float() for t in half), pad)
        assert_close(out.float(), want_out, atol=3e-2, rtol=3e-2, name="float16 출력")
        assert_close(w.float(), want_w, atol=3e-2, rtol=3e-2, name="float16 가중치")
    with case("dropout_p=0.5 (쿼리 40개, 키 400개, 균일한 점수, v = 1)"):
        qz, kz, ones = torch.zeros(1, 40, 8), _randn(1, 400, 8, seed=809), torch.ones(1, 400, 1)
        k.seed(810)
        out, w = _pair(fn.call(qz, kz, ones, None, 0.5), "반환값")
        assert_close(w.sum(-1), torch.ones(1, 40), atol=1e-5, name="반환한 가중치의 행 합 (드롭아웃 전 가중치여야 합니다)")
        mean = float(out.mean())
        assert_true(not torch.allclose(out, torch.ones_like(out)),
                    "dropout_p=0.5인데 출력이 드롭아웃 없는 결과와 같습니다: dropout_p를 쓰세요.")
        assert_true(0.9 < mean < 1.1, f"드롭아웃 뒤 출력의 평균이 {mean:.3f}입니다: 남은 가중치를 1/(1-p)로 키워 "
                                      "기댓값을 유지해야 합니다 (inverted dropout).")
        out0, _ = _pair(fn.call(qz, kz, ones, None, 0.0), "반환값")
        assert_close(out0, torch.ones(1, 40, 1), atol=1e-5, name="dropout_p=0.0의 출력")


# --- 1.2 multi-head attention --------------------------------------------------------------------
def _sdpa_oracle(q, k, v, mask=None, dropout_p=0.0):
    return ref.scaled_dot_product_attention(q, k, v, mask, dropout_p)


MHA_CASES = [
    # (d_model, n_heads, B, Tq, Tk, mask kind)
    (12, 3, 2, 5, 7, "padding"),
    (8, 1, 1, 6, 6, "causal"),
    (6, 6, 3, 4, 5, None),
    (16, 4, 2, 6, 6, "causal+padding"),
]


def _mha_mask(kind, B, Tq, Tk):
    if kind is None:
        return None
    pad = _lengths_mask([Tk] + [max(1, Tk - 2 - b) for b in range(B - 1)], Tk)     # (B, 1, Tk)
    if kind == "padding":
        return pad
    causal = torch.ones(Tq, Tk, dtype=torch.bool).tril()
    return causal if kind == "causal" else causal & pad


@register("w08-mt-mha-test")
def mha(k, MultiHeadAttention) -> None:
    with k.oracles(scaled_dot_product_attention=_sdpa_oracle):
        for i, (D, H, B, Tq, Tk, kind) in enumerate(MHA_CASES):
            mask = _mha_mask(kind, B, Tq, Tk)
            label = f"MultiHeadAttention(d_model={D}, n_heads={H}), query {(B, Tq, D)}, key/value {(B, Tk, D)}, 마스크 {kind}"
            with case(label):
                inputs = (_randn(B, Tq, D, seed=820 + i), _randn(B, Tk, D, seed=830 + i), _randn(B, Tk, D, seed=840 + i))
                student, reference = MultiHeadAttention(D, H), ref.MultiHeadAttention(D, H)
                compare_module(k, student, reference, inputs + (mask,), seed=850 + i)
        D, H, B, T = 12, 3, 2, 5
        x, y, z = _randn(B, T, D, seed=860), _randn(B, T + 2, D, seed=861), _randn(B, T + 2, D, seed=862)
        mask = _mha_mask("padding", B, T, T + 2)
        with case("nn.MultiheadAttention(12, 3, batch_first=True)와 같은 가중치로 비교 (평가 모드)"):
            student = MultiHeadAttention(D, H)
            reference = ref.MultiHeadAttention(D, H)
            randomize(reference, 863)
            student.load_state(reference.state_dict())
            torch_mha = nn.MultiheadAttention(D, H, batch_first=True).eval()
            with torch.no_grad():
                torch_mha.in_proj_weight.copy_(torch.cat([reference.w_q.weight, reference.w_k.weight, reference.w_v.weight]))
                torch_mha.in_proj_bias.copy_(torch.cat([reference.w_q.bias, reference.w_k.bias, reference.w_v.bias]))
                torch_mha.out_proj.weight.copy_(reference.w_o.weight)
                torch_mha.out_proj.bias.copy_(reference.w_o.bias)
                want, want_w = torch_mha(x, y, z, key_padding_mask=~mask[:, 0], average_attn_weights=False)
            res = student.invoke(x, y, z, mask, train=False, no_grad=True)
            out, w = _pair(res.value, "반환값")
            assert_close(out, want, atol=1e-5, name="출력 (nn.MultiheadAttention과 비교)")
            assert_close(w, want_w, atol=1e-5, name="헤드별 어텐션 가중치 (B, H, Tq, Tk)")
        with case("float64로 바꾼 모듈 (module.double())"):
            student, reference = MultiHeadAttention(D, H), ref.MultiHeadAttention(D, H)
            compare_module(k, student, reference, (x, y, z, mask), seed=864, modes=(False,))
            student.method("double")
            out = compare_module(k, student, copy.deepcopy(reference).double(),
                                 (x.double(), y.double(), z.double(), mask), seed=865, modes=(False,), load=False)
            got = student.invoke(x.double(), y.double(), z.double(), mask, train=False).value
            assert_true(_pair(got, "반환값")[0].dtype == torch.float64, "float64 모듈과 입력이면 출력도 float64여야 합니다.")
        with case("MultiHeadAttention(12, 3, dropout=0.5)"):
            student, reference = MultiHeadAttention(D, H, 0.5), ref.MultiHeadAttention(D, H, 0.5)
            randomize(reference, 866)
            student.load_state(reference.state_dict())
            reference.eval()
            with torch.no_grad():
                want, _ = reference(x, y, z, mask)
            got_eval, _ = _pair(student.invoke(x, y, z, mask, train=False, no_grad=True).value, "반환값")
            assert_close(got_eval, want, atol=1e-5, name="평가 모드 출력 (드롭아웃은 학습 모드에서만)")
            got_train, w_train = _pair(student.invoke(x, y, z, mask, train=True, no_grad=True, seed=867).value, "반환값")
            assert_true(not torch.allclose(got_train, got_eval, atol=1e-6),
                        "학습 모드인데 dropout=0.5가 아무 효과가 없습니다: 생성자의 dropout을 어텐션 가중치에 쓰세요.")
            assert_close(w_train.sum(-1), torch.ones_like(w_train.sum(-1)), atol=1e-5,
                         name="학습 모드에서 돌려준 가중치의 행 합 (드롭아웃 전 가중치)")


# --- 1.3 positional encoding ------------------------------------------------------------------------
def _pe_table(max_len, d):
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float64)
    angle = pos / 10000.0 ** (i / d)
    pe = torch.zeros(max_len, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe


@register("w08-mt-posenc-test")
def posenc(k, PositionalEncoding) -> None:
    for i, (d, max_len, B, T) in enumerate([(10, 60, 3, 17), (2, 9, 1, 9), (32, 200, 2, 1), (6, 120, 2, 120)]):
        with case(f"PositionalEncoding(d_model={d}, max_len={max_len}), x {(B, T, d)}"):
            student = PositionalEncoding(d, max_len)
            x = _randn(B, T, d, seed=870 + i)
            want = (x.double() + _pe_table(max_len, d)[:T]).float()
            leaf = k.leaf(x)
            res = student.invoke(leaf, train=True)
            got = expect_tensor(res.value, "출력")
            assert_shape(got, (B, T, d), "출력")
            assert_close(got, want, atol=2e-5, rtol=1e-5, name="x + pe[:T]")
            w = _randn(B, T, d, seed=880 + i)
            k.backward(res.out, [w])
            g = leaf.grad()
            if g is None:
                fail("입력 x까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
            assert_close(g, w, atol=1e-6, name="x에 대한 그래디언트")
            bufs = student.buffers()
            if "pe" in bufs:
                assert_shape(expect_tensor(bufs["pe"], "pe 버퍼"), (max_len, d), "pe 버퍼")
                assert_close(bufs["pe"].double(), _pe_table(max_len, d), atol=5e-5, name="pe 버퍼")
    with case("위치 0과 1의 값 (x = 0)"):
        got = expect_tensor(PositionalEncoding(4, 10).call(torch.zeros(1, 2, 4)), "출력")
        want = torch.tensor([[[0.0, 1.0, 0.0, 1.0], [math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)]]])
        assert_close(got, want, atol=1e-5, name="pe[0:2] (짝수 열 sin, 홀수 열 cos, 주파수 1/10000^(2i/d))")
    with case("dtype: float64와 float16 입력"):
        student = PositionalEncoding(8, 30)
        x = _randn(2, 11, 8, seed=890)
        got64 = expect_tensor(student.call(x.double()), "출력")
        assert_true(got64.dtype == torch.float64, f"float64 입력이면 출력도 float64여야 합니다 (받은 dtype: {got64.dtype}).")
        assert_close(got64, x.double() + _pe_table(30, 8)[:11], atol=5e-5, name="float64 출력")
        got16 = expect_tensor(student.call(x.half()), "출력")
        assert_true(got16.dtype == torch.float16, f"float16 입력이면 출력도 float16이어야 합니다 (받은 dtype: {got16.dtype}): "
                                                  "pe를 x.dtype으로 바꿔 더하세요.")
    with case("PositionalEncoding(16, 40, dropout=0.5)"):
        student = PositionalEncoding(16, 40, 0.5)
        x = _randn(4, 30, 16, seed=891) + 3.0
        want = (x.double() + _pe_table(40, 16)[:30]).float()
        got_eval = expect_tensor(student.invoke(x, train=False).value, "출력")
        assert_close(got_eval, want, atol=2e-5, name="평가 모드 출력 (드롭아웃 없음)")
        got_train = expect_tensor(student.invoke(x, train=True, seed=892).value, "출력")
        zeros = float((got_train == 0).float().mean())
        assert_true(0.4 < zeros < 0.6, f"학습 모드에서 0이 된 원소의 비율이 {zeros:.2f}입니다: x + pe에 dropout(p=0.5)을 적용하세요.")
        kept = got_train != 0
        assert_close(got_train[kept], 2.0 * want[kept], atol=1e-4, rtol=1e-4, name="남은 원소 (1/(1-p)배)")


# --- 1.4 encoder block -----------------------------------------------------------------------------
def _weights_attr(res, name, want, label):
    got = res.target.getattr(name, None)
    if got is None:
        fail(f"forward 뒤 self.{name}에 어텐션 가중치를 저장해야 합니다.")
    got = expect_tensor(got, f"self.{name}")
    assert_true(not meta(got)["requires_grad"], f"self.{name}은 detach()한 텐서여야 합니다 (그래프를 붙잡아 두지 않도록).")
    assert_close(got, want, atol=1e-5, name=f"self.{name}")


@register("w08-mt-encoder-test")
def encoder(k, EncoderBlock) -> None:
    with parts(k, MultiHeadAttention="ProbeAttention"):
        cases = [(12, 3, 20, 2, 6, True, False), (12, 3, 20, 2, 6, True, True), (8, 2, 16, 1, 5, False, False),
                 (8, 4, 8, 3, 4, "causal", True)]
        for i, (D, H, Fd, B, T, masked, norm_first) in enumerate(cases):
            if masked == "causal":
                mask = torch.ones(T, T, dtype=torch.bool).tril()
            else:
                mask = _lengths_mask([T] + [T - 1 - b for b in range(B - 1)], T) if masked else None
            label = f"EncoderBlock(d_model={D}, n_heads={H}, d_ff={Fd}, dropout=0.0, norm_first={norm_first}), x {(B, T, D)}"
            with case(label):
                student, reference = EncoderBlock(D, H, Fd, 0.0, norm_first), ref.EncoderBlock(D, H, Fd, 0.0, norm_first)
                x = _randn(B, T, D, seed=900 + i)
                compare_module(k, student, reference, (x, mask), seed=910 + i)
                reference.eval()
                with torch.no_grad():
                    reference(x, mask)
                res = student.invoke(x, mask, copy=True, train=False, no_grad=False)
                _weights_attr(res, "attn_weights", reference.attn_weights, "attn_weights")
        with case("EncoderBlock(12, 3, 20, dropout=0.4)"):
            _dropout_effect(k, EncoderBlock(12, 3, 20, 0.4), ref.EncoderBlock(12, 3, 20, 0.4),
                            (_randn(2, 6, 12, seed=920), None), seed=921)


def _dropout_effect(k, student, reference, inputs, seed):
    same_layout(student.layout(), reference)
    randomize(reference, seed)
    student.load_state(reference.state_dict())
    reference.eval()
    with torch.no_grad():
        want = reference(*inputs)
    got_eval = expect_tensor(student.invoke(*inputs, train=False, no_grad=True).value, "출력")
    assert_close(got_eval, want, atol=1e-4, name="평가 모드 출력 (드롭아웃은 학습 모드에서만)")
    got_train = expect_tensor(student.invoke(*inputs, train=True, no_grad=True, seed=seed + 1).value, "출력")
    assert_true(not torch.allclose(got_train, got_eval, atol=1e-5),
                "학습 모드인데 dropout이 아무 효과가 없습니다: 생성자의 dropout을 nn.Dropout 층에 쓰세요.")


# --- 1.5 decoder block -----------------------------------------------------------------------------
@register("w08-mt-decoder-test")
def decoder(k, DecoderBlock) -> None:
    with parts(k, MultiHeadAttention="ProbeAttention"):
        cases = [(12, 3, 20, 2, 5, 7, False), (12, 3, 20, 2, 5, 7, True), (8, 2, 16, 1, 4, 3, False),
                 (8, 4, 12, 3, 6, 6, True)]
        for i, (D, H, Fd, B, T, S, norm_first) in enumerate(cases):
            tgt_mask = torch.ones(T, T, dtype=torch.bool).tril() & _lengths_mask([T] + [max(1, T - 2)] * (B - 1), T)
            mem_mask = _lengths_mask([S] + [max(1, S - 3 + b) for b in range(B - 1)], S)
            label = (f"DecoderBlock(d_model={D}, n_heads={H}, d_ff={Fd}, dropout=0.0, norm_first={norm_first}), "
                     f"x {(B, T, D)}, memory {(B, S, D)}")
            with case(label):
                student, reference = DecoderBlock(D, H, Fd, 0.0, norm_first), ref.DecoderBlock(D, H, Fd, 0.0, norm_first)
                x, memory = _randn(B, T, D, seed=930 + i), _randn(B, S, D, seed=940 + i)
                compare_module(k, student, reference, (x, memory, tgt_mask, mem_mask), seed=950 + i)
                reference.eval()
                with torch.no_grad():
                    reference(x, memory, tgt_mask, mem_mask)
                res = student.invoke(x, memory, tgt_mask, mem_mask, copy=True, train=False)
                _weights_attr(res, "self_attn_weights", reference.self_attn_weights, "self_attn_weights")
                _weights_attr(res, "cross_attn_weights", reference.cross_attn_weights, "cross_attn_weights")
        with case("DecoderBlock(12, 3, 20, dropout=0.4)"):
            x, memory = _randn(2, 5, 12, seed=960), _randn(2, 7, 12, seed=961)
            _dropout_effect(k, DecoderBlock(12, 3, 20, 0.4), ref.DecoderBlock(12, 3, 20, 0.4),
                            (x, memory, torch.ones(5, 5, dtype=torch.bool).tril(), None), seed=962)


# --- 1.6 encoder–decoder ---------------------------------------------------------------------------
STAND_INS = dict(EncoderBlock="ProbeEncoderBlock", DecoderBlock="ProbeDecoderBlock", PositionalEncoding="ProbePositions")


def _config_reaches_parts(k, student, stacks, dropout, max_len):
    """The constructor's dropout and max_len reach the blocks and the positional encoding."""
    for stack in stacks:
        p = student.attr(stack).item(0).getattr("p", None)
        assert_true(p == dropout, f"{stack}의 블록에 dropout={dropout}을 넘겨야 합니다 (받은 값: {p!r}).")
    pos = student.attr("pos")
    got = (pos.getattr("max_len", None), pos.getattr("p", None))
    assert_true(got == (max_len, dropout), f"PositionalEncoding(d_model, max_len={max_len}, dropout={dropout})로 "
                                          f"만들어야 합니다 (받은 max_len, dropout: {got}).")


@register("w08-mt-transformer-test")
def transformer(k, Transformer) -> None:
    with parts(k, **STAND_INS):
        configs = [
            dict(src_vocab=11, tgt_vocab=13, d_model=8, n_heads=2, d_ff=12, n_layers=2, dropout=0.0, max_len=20,
                 norm_first=False, pad_id=0),
            dict(src_vocab=9, tgt_vocab=7, d_model=6, n_heads=3, d_ff=10, n_layers=1, dropout=0.0, max_len=12,
                 norm_first=True, pad_id=2),
            dict(src_vocab=10, tgt_vocab=10, d_model=8, n_heads=4, d_ff=8, n_layers=3, dropout=0.0, max_len=16,
                 norm_first=False, pad_id=1),
        ]
        for i, cfg in enumerate(configs):
            label = call_label("Transformer", cfg)
            with case(label):
                B, S, T = 3, 7, 5
                src = _ids([7, 5, 2], S, cfg["src_vocab"], 970 + i, cfg["pad_id"])
                tgt = _ids([5, 3, 1], T, cfg["tgt_vocab"], 975 + i, cfg["pad_id"])
                student, reference = Transformer(**cfg), ref.Transformer(**cfg)
                compare_module(k, student, reference, (src, tgt), seed=980 + i)
                compare_module(k, student, reference, (src,), seed=985 + i, method="encode", load=False)
                memory, src_mask = reference.encode(src)
                got = student.method("encode", src)
                if not (isinstance(got, (tuple, list)) and len(got) == 2):
                    fail("encode는 (memory, src_mask) 두 값을 돌려줘야 합니다.")
                mask = expect_tensor(got[1], "src_mask")
                assert_true(mask.dtype == torch.bool and tuple(mask.shape) == (B, 1, S) and torch.equal(mask, src_mask),
                            f"src_mask는 padding_mask(src, pad_id) 모양 (B, 1, S)의 bool 텐서여야 합니다 (pad_id={cfg['pad_id']}).")
                compare_module(k, student, reference, (tgt, memory.detach(), src_mask), seed=990 + i, method="decode",
                               load=False)
        with case("Transformer(..., dropout=0.3, max_len=24)"):
            cfg = dict(configs[0], dropout=0.3, max_len=24)
            _config_reaches_parts(k, Transformer(**cfg), ("encoder", "decoder"), 0.3, 24)


# --- 1.7 encoder-only classifier ----------------------------------------------------------------------
@register("w08-mt-classifier-test")
def classifier(k, TransformerClassifier) -> None:
    with parts(k, **STAND_INS):
        configs = [
            dict(vocab_size=17, n_classes=3, d_model=8, n_heads=2, d_ff=12, n_layers=2, dropout=0.0, max_len=16,
                 norm_first=True, pad_id=0),
            dict(vocab_size=11, n_classes=2, d_model=6, n_heads=3, d_ff=6, n_layers=1, dropout=0.0, max_len=10,
                 norm_first=False, pad_id=3),
        ]
        for i, cfg in enumerate(configs):
            label = call_label("TransformerClassifier", cfg)
            with case(label + ", 길이 9·5·1·3"):
                ids = _ids([9, 5, 1, 3], 9, cfg["vocab_size"], 1000 + i, cfg["pad_id"])
                compare_module(k, TransformerClassifier(**cfg), ref.TransformerClassifier(**cfg), (ids,), seed=1010 + i)
            with case(label + ", 배치 1, 패딩 없음"):
                ids = _ids([6], 6, cfg["vocab_size"], 1020 + i, cfg["pad_id"])
                compare_module(k, TransformerClassifier(**cfg), ref.TransformerClassifier(**cfg), (ids,), seed=1030 + i)
        with case("패딩만 있는 행 (길이 0)"):
            cfg = configs[0]
            ids = _ids([4, 0], 5, cfg["vocab_size"], 1040, cfg["pad_id"])
            student, reference = TransformerClassifier(**cfg), ref.TransformerClassifier(**cfg)
            randomize(reference, 1041)
            student.load_state(reference.state_dict())
            got = expect_tensor(student.invoke(ids, train=False, no_grad=True).value, "로짓")
            assert_true(bool(torch.isfinite(got).all()), "패딩만 있는 행의 로짓에 NaN/inf가 있습니다: 실제 토큰 수가 0이면 "
                                                          "평균을 0으로 두세요 (개수를 1 이상으로 clamp).")
            compare_module(k, student, reference, (ids,), seed=1042, load=False)
        with case("TransformerClassifier(..., dropout=0.3, max_len=20)"):
            cfg = dict(configs[0], dropout=0.3, max_len=20)
            _config_reaches_parts(k, TransformerClassifier(**cfg), ("blocks",), 0.3, 20)
