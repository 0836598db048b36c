"""Hidden checks of week07/transformer_enc_dec.ipynb.

Each check compares the student's code with the reference on seeded inputs whose sizes differ
from the visible checks (batches with padding, a batch of one, T ≠ S, float64, bfloat16 autocast,
dropout on and off, non-default special-token ids). The student's objects live in the kernel; the
references and every comparison live here.

Independence: while a layer is checked, the notebook's name ``MultiHeadAttention`` is bound to a
stand-in (dlcourse.probe_parts.ProbeMaskedAttention, a cosine-score attention with the same interface);
the whole model is checked with stand-in layers (ProbeEncoderLayer, ProbeDecoderLayer), and the loss
and the decoders with a small GRU translator (ProbeTranslator). The grader builds its reference from
the same stand-ins, so a wrong attention or layer costs only its own part. The attention itself is
compared with the reference, which equals ``nn.MultiheadAttention`` (a test keeps the two equal).
"""
from __future__ import annotations

import contextlib
import copy
import math

import torch
from torch import nn

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..probe import RemoteError
from ..solutions import w07_transformer as ref
from ._registry import register
from ._tools import (case, compare_module, expect_float, expect_tensor, fail, generator, meta, output_weights, randomize,
                     same_layout)

QKV = ("q_proj", "k_proj", "v_proj")


@contextlib.contextmanager
def substituted(k, **parts):
    """Bind names of the notebook to stand-ins of dlcourse.probe_parts while the block runs."""
    k.request("bind", names={name: k.part(part) for name, part in parts.items()})
    try:
        yield
    finally:
        with contextlib.suppress(RemoteError):
            k.request("unbind")


def _lengths_mask(lengths, total):
    """(B, total) bool, True at the padding after each row's length."""
    return torch.arange(total)[None] >= torch.tensor(lengths)[:, None]


# --- multi-head attention -------------------------------------------------------------------------
def to_layout(values: dict, layout) -> dict:
    """Reference names (q_proj/k_proj/v_proj) → the student's, where the student fused them into in_proj."""
    out = dict(values)
    for key in list(layout):
        if key.endswith("in_proj.weight") or key.endswith("in_proj.bias"):
            prefix, kind = key[: -len("in_proj.weight" if key.endswith("weight") else "in_proj.bias")], key.rsplit(".", 1)[1]
            parts = [out.pop(f"{prefix}{name}.{kind}", None) for name in QKV]
            if all(p is not None for p in parts):
                out[key] = torch.cat(parts)
    return out


def _transplant(student, reference: nn.Module, seed: int, scale: float = 1.0) -> None:
    layout = student.layout()
    if any(key.endswith("in_proj.weight") for key in layout):
        want = to_layout(reference.state_dict(), layout)
        if sorted(want) != sorted(layout):
            fail("매개변수 이름이 기대한 구조와 다릅니다 (q_proj, k_proj, v_proj 또는 in_proj, 그리고 out_proj): "
                 f"받은 이름 {sorted(layout)[:6]}.")
    else:
        same_layout(layout, reference)
    randomize(reference, seed)
    if scale != 1.0:
        with torch.no_grad():
            reference.q_proj.weight.mul_(scale)
    for key, (shape, _) in layout.items():
        want = to_layout(reference.state_dict(), layout)[key]
        if tuple(want.shape) != tuple(shape):
            fail(f"{key}의 모양(shape)이 다릅니다: 기대 {tuple(want.shape)}, 실제 {tuple(shape)}.")
    student.load_state(to_layout(reference.state_dict(), layout))


def _compare_attention(k, student, reference, query, key, value, *, seed, kpm=None, attn=None, modes=(True, False),
                       atol=1e-5, rtol=1e-4, dtype=None, autocast=None):
    """Outputs (out, weights) and gradients (inputs, parameters) of the student's attention vs the reference."""
    layout = student.layout()
    kwargs = {"key_padding_mask": kpm, "attn_mask": attn}
    for training in modes:
        mode = "학습 모드(train)" if training else "평가 모드(eval)"
        r = copy.deepcopy(reference).train(training)
        if dtype is not None:
            r = r.to(dtype)
        xs = [t.detach().clone().to(dtype or t.dtype).requires_grad_(True) for t in (query, key, value)]
        if autocast:
            with torch.autocast("cpu", dtype=getattr(torch, autocast)):
                out_r, w_r = r(*xs, **kwargs)
        else:
            out_r, w_r = r(*xs, **kwargs)
        target = student.copy()
        if dtype is not None:
            target.invoke(method="double" if dtype == torch.float64 else "float")
        leaves = [k.leaf(x.detach()) for x in xs]
        res = target.invoke(*leaves, train=training, autocast=autocast, kwargs=kwargs)
        got = res.out.get()
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail(f"{mode}: (out, weights) 두 값을 돌려줘야 합니다.")
        out_s, w_s = expect_tensor(got[0], "out"), expect_tensor(got[1], "weights")
        assert_shape(out_s, tuple(out_r.shape), f"{mode} out")
        assert_shape(w_s, tuple(w_r.shape), f"{mode} weights")
        if dtype is not None:
            assert_true(out_s.dtype == dtype, f"{mode}: {dtype} 입력의 출력은 {dtype}여야 합니다 (받은 dtype: {out_s.dtype}).")
        assert_true(bool(torch.isfinite(out_s.float()).all() and torch.isfinite(w_s.float()).all()),
                    f"{mode}: 출력이나 가중치에 NaN/inf가 있습니다.")
        assert_close(w_s.float(), w_r.float(), atol=atol, rtol=rtol, name=f"{mode} 어텐션 가중치(weights)")
        assert_close(out_s.float(), out_r.float(), atol=atol, rtol=rtol, name=f"{mode} out")
        if autocast:
            continue
        weights = output_weights((out_r, w_r), seed + 1)
        (out_r * weights[0]).sum().add((w_r * weights[1]).sum()).backward()
        k.backward(res.out, weights)
        for name, x, leaf in zip(("query", "key", "value"), xs, leaves):
            g = leaf.grad()
            if g is None:
                fail(f"{mode}: {name}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
            assert_true(bool(torch.isfinite(g).all()), f"{mode}: {name}의 그래디언트에 NaN/inf가 있습니다.")
            assert_close(g, x.grad, atol=atol, rtol=rtol, name=f"{mode} {name}에 대한 그래디언트")
        want = to_layout({n: p.grad for n, p in r.named_parameters()}, layout)
        got_grads = target.grads()
        for name, g in want.items():
            if got_grads.get(name) is None:
                fail(f"{mode}: 매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
            assert_close(got_grads[name], g, atol=atol, rtol=rtol, name=f"{mode} {name}의 그래디언트")


def _mha(k, cls, args, kwargs, inputs, seed, scale=1.0, **opts):
    """Build the student's attention and the reference with the same (seeded) weights, then compare."""
    student, reference = cls(*args, **kwargs), ref.MultiHeadAttention(*args, **kwargs)
    _transplant(student, reference, seed, scale)
    _compare_attention(k, student, reference, *inputs, seed=seed, **opts)
    return student, reference


@register("w07-tf-mha-test")
def mha(k, MultiHeadAttention) -> None:
    g = generator(700)
    B, T, S = 3, 5, 7
    cross = (torch.randn(B, T, 12, generator=g), torch.randn(B, S, 12, generator=g), torch.randn(B, S, 12, generator=g))
    kpm = _lengths_mask([7, 4, 1], S)
    with case("MultiHeadAttention(12, 3): 교차 어텐션 T=5, S=7, 키 패딩 마스크"):
        _mha(k, MultiHeadAttention, (12, 3), {}, cross, 701, kpm=kpm)
    with case("MultiHeadAttention(12, 3): 마스크 없음"):
        _mha(k, MultiHeadAttention, (12, 3), {}, cross, 702, modes=(False,))
    x = torch.randn(2, 6, 8, generator=g)
    own = (x, x, x)
    causal = torch.ones(6, 6, dtype=torch.bool).triu(1)
    padded = _lengths_mask([6, 3], 6)
    with case("MultiHeadAttention(8, 2): 셀프 어텐션, 인과 마스크 attn_mask(6×6) + 키 패딩 마스크"):
        _mha(k, MultiHeadAttention, (8, 2), {}, own, 703, kpm=padded, attn=causal)
    with case("MultiHeadAttention(6, 1): 헤드 1개, 배치 1, T=1, S=4"):
        one = (torch.randn(1, 1, 6, generator=g), torch.randn(1, 4, 6, generator=g), torch.randn(1, 4, 6, generator=g))
        _mha(k, MultiHeadAttention, (6, 1), {}, one, 704)
    with case("MultiHeadAttention(8, 4, bias=False)"):
        _mha(k, MultiHeadAttention, (8, 4), {"bias": False}, own, 705, modes=(False,), attn=causal)
    with case("MultiHeadAttention(8, 2): 모든 키가 가려진 쿼리 (가중치 0, NaN 없음)"):
        empty = torch.zeros(2, 6, dtype=torch.bool)
        empty[1] = True                                  # the second sentence has no real key at all
        _mha(k, MultiHeadAttention, (8, 2), {}, own, 706, kpm=empty, modes=(False,))
    with case("MultiHeadAttention(8, 2): 큰 점수 (q_proj 가중치 ×300)"):
        _mha(k, MultiHeadAttention, (8, 2), {}, own, 707, scale=300.0, kpm=padded, attn=causal, modes=(False,),
             atol=1e-4)
    with case("MultiHeadAttention(8, 2): float64 입력과 모듈"):
        _mha(k, MultiHeadAttention, (8, 2), {}, own, 709, kpm=padded, attn=causal, modes=(False,),
             dtype=torch.float64, atol=1e-10, rtol=1e-9)
    with case("MultiHeadAttention(8, 2): bfloat16 autocast"):
        _mha(k, MultiHeadAttention, (8, 2), {}, own, 711, kpm=padded, attn=causal, modes=(False,),
             autocast="bfloat16", atol=6e-2, rtol=6e-2)
    with case("MultiHeadAttention(8, 2, dropout=0.5)"):
        student, reference = _mha(k, MultiHeadAttention, (8, 2), {"dropout": 0.5}, own, 713, kpm=padded,
                                  modes=(False,))
        train = student.invoke(*own, copy=True, train=True, seed=715).value
        evaluated = student.invoke(*own, copy=True, train=False).value
        if not (isinstance(train, (tuple, list)) and len(train) == 2):
            fail("학습 모드: (out, weights) 두 값을 돌려줘야 합니다.")
        with torch.no_grad():
            want_w = reference.eval()(*own)[1]
        assert_close(expect_tensor(train[1], "weights"), want_w, name="학습 모드의 weights (드롭아웃 전의 확률)")
        assert_true(not torch.allclose(expect_tensor(train[0], "out"), expect_tensor(evaluated[0], "out")),
                    "dropout=0.5인데 학습 모드와 평가 모드의 out이 같습니다: 어텐션 가중치에 드롭아웃을 적용하세요.")
    with case("입력 보존"):
        res = MultiHeadAttention(8, 2).invoke(*own, kwargs={"key_padding_mask": padded, "attn_mask": causal},
                                              return_args=True)
        assert_true(all(torch.equal(a, x) for a in res.args), "입력 텐서가 바뀌었습니다: 제자리(in-place) 연산을 쓰지 마세요.")
        kw = res.kwargs or {}
        assert_true(torch.equal(kw.get("key_padding_mask"), padded) and torch.equal(kw.get("attn_mask"), causal),
                    "마스크가 바뀌었습니다: 제자리(in-place) 연산을 쓰지 마세요.")


# --- encoder and decoder layers ---------------------------------------------------------------------
def _probe_args(remote, attr) -> dict:
    got = remote.attr(attr).getattr("args", None)
    if not isinstance(got, dict):
        fail(f"{attr}이(가) MultiHeadAttention(...)으로 만들어지지 않았습니다 (독스트링의 속성 이름을 지키세요).")
    return got


def _check_layer(k, cls, make_ref, label, args, inputs, kwargs, seed):
    with case(label):
        student, reference = cls(*args), make_ref(*args)
        compare_module(k, student, reference, inputs, seed=seed, kwargs=kwargs, atol=1e-5, rtol=1e-4)
        return student


def _ref_encoder_layer(d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
    layer = ref.EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
    layer.self_attn = probe_parts.ProbeMaskedAttention(d_model, n_heads, dropout)
    return layer


def _ref_decoder_layer(d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
    layer = ref.DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
    layer.self_attn = probe_parts.ProbeMaskedAttention(d_model, n_heads, dropout)
    layer.cross_attn = probe_parts.ProbeMaskedAttention(d_model, n_heads, dropout)
    return layer


def _dropout_case(k, student, make_ref, args, inputs, kwargs, seed, attrs):
    """With dropout p > 0: eval equals the reference, train differs from eval, and the attention got p."""
    p = args[3]
    for attr in attrs:
        got = _probe_args(student, attr)
        assert_true(got.get("dropout") == p and got.get("d_model") == args[0] and got.get("n_heads") == args[1],
                    f"{attr} = MultiHeadAttention(d_model={args[0]}, n_heads={args[1]}, dropout={p})이어야 합니다 "
                    f"(받은 인자: d_model={got.get('d_model')}, n_heads={got.get('n_heads')}, dropout={got.get('dropout')}).")
    reference = make_ref(*args)
    same_layout(student.layout(), reference)
    randomize(reference, seed)
    student.load_state(reference.state_dict())
    with torch.no_grad():
        want = reference.eval()(*inputs, **kwargs)
    evaluated = expect_tensor(student.invoke(*inputs, copy=True, train=False, kwargs=kwargs).value, "출력")
    assert_close(evaluated, want, name="평가 모드 출력 (dropout>0이어도 평가 모드에서는 드롭아웃이 없어야 합니다)")
    trained = expect_tensor(student.invoke(*inputs, copy=True, train=True, seed=seed, kwargs=kwargs).value, "출력")
    assert_true(not torch.allclose(trained, evaluated),
                f"dropout={p}인데 학습 모드와 평가 모드의 출력이 같습니다: 드롭아웃을 적용하세요.")


@register("w07-tf-encoder-layer-test")
def encoder_layer(k, EncoderLayer) -> None:
    g = generator(720)
    x = torch.randn(3, 6, 8, generator=g)
    kpm = _lengths_mask([6, 4, 2], 6)
    with substituted(k, MultiHeadAttention="ProbeMaskedAttention"):
        _check_layer(k, EncoderLayer, _ref_encoder_layer, "EncoderLayer(8, 2, 16, dropout=0.0) (post-norm), 패딩 마스크",
                     (8, 2, 16, 0.0), (x,), {"src_key_padding_mask": kpm}, 721)
        _check_layer(k, EncoderLayer, _ref_encoder_layer, "EncoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 패딩 마스크",
                     (8, 2, 16, 0.0, True), (x,), {"src_key_padding_mask": kpm}, 722)
        _check_layer(k, EncoderLayer, _ref_encoder_layer, "EncoderLayer(12, 3, 20, dropout=0.0), 마스크 없음, 배치 1, S=1",
                     (12, 3, 20, 0.0), (torch.randn(1, 1, 12, generator=g),), {}, 723)
        with case("EncoderLayer(8, 2, 16, dropout=0.3)"):
            args = (8, 2, 16, 0.3, False)
            _dropout_case(k, EncoderLayer(*args), _ref_encoder_layer, args, (x,), {"src_key_padding_mask": kpm}, 724,
                          ("self_attn",))
        with case("입력 보존"):
            res = EncoderLayer(8, 2, 16, 0.0).invoke(x, kwargs={"src_key_padding_mask": kpm}, return_args=True)
            assert_true(torch.equal(res.args[0], x), "입력 x가 바뀌었습니다: 제자리(in-place) 연산을 쓰지 마세요.")


@register("w07-tf-decoder-layer-test")
def decoder_layer(k, DecoderLayer) -> None:
    g = generator(740)
    y, memory = torch.randn(3, 5, 8, generator=g), torch.randn(3, 7, 8, generator=g)
    masks = {"tgt_mask": torch.ones(5, 5, dtype=torch.bool).triu(1), "tgt_key_padding_mask": _lengths_mask([5, 3, 4], 5),
             "memory_key_padding_mask": _lengths_mask([7, 2, 5], 7)}
    with substituted(k, MultiHeadAttention="ProbeMaskedAttention"):
        _check_layer(k, DecoderLayer, _ref_decoder_layer, "DecoderLayer(8, 2, 16, dropout=0.0) (post-norm), 인과·패딩 마스크",
                     (8, 2, 16, 0.0), (y, memory), masks, 741)
        _check_layer(k, DecoderLayer, _ref_decoder_layer, "DecoderLayer(8, 2, 16, dropout=0.0, norm_first=True), 인과·패딩 마스크",
                     (8, 2, 16, 0.0, True), (y, memory), masks, 742)
        only_memory = {"memory_key_padding_mask": masks["memory_key_padding_mask"]}
        _check_layer(k, DecoderLayer, _ref_decoder_layer, "DecoderLayer(8, 2, 16, dropout=0.0): 원문 패딩 마스크만",
                     (8, 2, 16, 0.0), (y, memory), only_memory, 743)
        _check_layer(k, DecoderLayer, _ref_decoder_layer, "DecoderLayer(12, 4, 10, dropout=0.0): 마스크 없음, 배치 1, T=1, S=3",
                     (12, 4, 10, 0.0), (torch.randn(1, 1, 12, generator=g), torch.randn(1, 3, 12, generator=g)), {}, 744)
        with case("DecoderLayer(8, 2, 16, dropout=0.3)"):
            args = (8, 2, 16, 0.3, False)
            _dropout_case(k, DecoderLayer(*args), _ref_decoder_layer, args, (y, memory), masks, 745,
                          ("self_attn", "cross_attn"))
        with case("입력 보존"):
            res = DecoderLayer(8, 2, 16, 0.0).invoke(y, memory, kwargs=masks, return_args=True)
            assert_true(torch.equal(res.args[0], y) and torch.equal(res.args[1], memory),
                        "입력 x나 memory가 바뀌었습니다: 제자리(in-place) 연산을 쓰지 마세요.")


# --- the whole model ------------------------------------------------------------------------------------
def _ref_model(src_vocab, tgt_vocab, d_model, n_heads, n_layers, d_ff, dropout, **kw):
    model = ref.Seq2SeqTransformer(src_vocab, tgt_vocab, d_model, n_heads, n_layers, d_ff, dropout, **kw)
    nf = kw.get("norm_first", False)
    model.encoder_layers = nn.ModuleList(
        [probe_parts.ProbeEncoderLayer(d_model, n_heads, d_ff, dropout, nf) for _ in range(n_layers)])
    model.decoder_layers = nn.ModuleList(
        [probe_parts.ProbeDecoderLayer(d_model, n_heads, d_ff, dropout, nf) for _ in range(n_layers)])
    return model


def _tokens(g, lengths, total, vocab, pad_id, first=None):
    """(B, total) ids in [0, vocab) without pad_id, padded with pad_id after each length."""
    ids = torch.randint(0, vocab - 1, (len(lengths), total), generator=g)
    ids = ids + (ids >= pad_id).long()                       # skip pad_id
    if first is not None:
        ids[:, 0] = first
    return ids.masked_fill(_lengths_mask(lengths, total), pad_id)


def _compare_model(k, student, reference, src, tgt_in, *, seed, pad_id, modes=(True, False)):
    """logits at the real target positions and every parameter's gradient; encode and decode too."""
    keep = (tgt_in != pad_id)[..., None]                     # padded target positions may differ
    same_layout(student.layout(), reference)
    randomize(reference, seed)
    student.load_state(reference.state_dict())
    names = {n for n, _ in reference.named_parameters()}
    for training in modes:
        mode = "학습 모드(train)" if training else "평가 모드(eval)"
        r = copy.deepcopy(reference).train(training)
        out_r = r(src, tgt_in)
        res = student.invoke(src, tgt_in, copy=True, train=training)
        out_s = expect_tensor(res.out.get(), "logits")
        assert_shape(out_s, tuple(out_r.shape), f"{mode} logits")
        assert_close(out_s * keep, out_r.detach() * keep, atol=1e-4, rtol=1e-4, name=f"{mode} logits (실제 목표 위치)")
        weights = output_weights(out_r, seed + 1)[0] * keep
        (out_r * weights).sum().backward()
        k.backward(res.out, [weights])
        got = res.target.grads()
        extra, missing = sorted(set(got) - names), sorted(names - set(got))
        if extra or missing:
            fail(f"{mode}: 학습되는 매개변수가 다릅니다 (예상 밖: {extra[:3]}, 없음: {missing[:3]}). "
                 "임베딩 공유(share_embeddings)와 출력층 묶기(tie_output: generator.weight가 tgt_embed.weight와 같은 "
                 "Parameter)를 확인하세요.")
        for name, p in r.named_parameters():
            if p.grad is None:
                continue
            if got.get(name) is None:
                fail(f"{mode}: 매개변수 {name}에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
            assert_close(got[name], p.grad, atol=1e-4, rtol=1e-4, name=f"{mode} {name}의 그래디언트")
    with torch.no_grad():
        r = copy.deepcopy(reference).eval()
        memory_r, pad_r = r.encode(src)
        states_r = r.decode(tgt_in, memory_r, pad_r)
    target = student.copy()
    target.train(False)
    enc = target.method("encode", src)
    if not (isinstance(enc, (tuple, list)) and len(enc) == 2):
        fail("encode(src)는 (memory, src_pad) 두 값을 돌려줘야 합니다.")
    memory_s, pad_s = expect_tensor(enc[0], "memory"), expect_tensor(enc[1], "src_pad")
    assert_true(pad_s.dtype == torch.bool and torch.equal(pad_s, pad_r),
                f"src_pad는 src == pad_id({pad_id})인 bool 텐서 (B, S)여야 합니다.")
    real = (~pad_r)[..., None]
    assert_close(memory_s * real, memory_r * real, atol=1e-4, rtol=1e-4, name="encode의 memory (실제 원문 위치)")
    states_s = expect_tensor(target.method("decode", tgt_in, memory_r, pad_r), "decode의 출력")
    assert_shape(states_s, tuple(states_r.shape), "decode(tgt_in, memory, src_pad)")
    assert_close(states_s * keep, states_r * keep, atol=1e-4, rtol=1e-4, name="decode의 출력 (실제 목표 위치)")


@register("w07-tf-model-test")
def model(k, Seq2SeqTransformer, sinusoidal_positions, causal_mask) -> None:
    with case("sinusoidal_positions(9, 10)"):
        got = expect_tensor(sinusoidal_positions.call(9, 10), "위치 인코딩")
        assert_shape(got, (9, 10), "sinusoidal_positions(9, 10)")
        assert_close(got, ref.sinusoidal_positions(9, 10), atol=1e-5, name="sinusoidal_positions(9, 10)")
    with case("causal_mask(5)"):
        got = expect_tensor(causal_mask.call(5), "마스크")
        assert_true(got.dtype == torch.bool and tuple(got.shape) == (5, 5) and torch.equal(got, ref.causal_mask(5)),
                    "causal_mask(5)는 (5, 5) bool, 대각선 위(미래)만 True여야 합니다.")
    g = generator(760)
    with substituted(k, EncoderLayer="ProbeEncoderLayer", DecoderLayer="ProbeDecoderLayer"):
        cases = [
            ("Seq2SeqTransformer(13, 11, d_model=8, n_heads=2, n_layers=2, d_ff=12, dropout=0.0)",
             (13, 11, 8, 2, 2, 12, 0.0), {}, 0, [6, 4, 1], [5, 2, 4]),
            ("Seq2SeqTransformer(10, 10, d_model=6, n_heads=3, n_layers=1, d_ff=8, dropout=0.0, norm_first=True, "
             "share_embeddings=True, pad_id=3)",
             (10, 10, 6, 3, 1, 8, 0.0), dict(norm_first=True, share_embeddings=True, pad_id=3), 3, [5, 5], [4, 1]),
            ("Seq2SeqTransformer(9, 12, d_model=8, n_heads=2, n_layers=1, d_ff=8, dropout=0.0, tie_output=False), "
             "배치 1, T=1",
             (9, 12, 8, 2, 1, 8, 0.0), dict(tie_output=False), 0, [3], [1]),
        ]
        for i, (label, args, kw, pad_id, src_lens, tgt_lens) in enumerate(cases):
            with case(label):
                src = _tokens(g, src_lens, max(src_lens), args[0], pad_id)
                tgt_in = _tokens(g, tgt_lens, max(tgt_lens), args[1], pad_id, first=1 if pad_id != 1 else 2)
                student = Seq2SeqTransformer(*args, **kw)
                _compare_model(k, student, _ref_model(*args, **kw), src, tgt_in, seed=770 + i, pad_id=pad_id)
                table = student.attr("src_embed").getattr("padding_idx", None)
                assert_true(table == pad_id, f"src_embed는 padding_idx={pad_id}인 nn.Embedding이어야 합니다 (받은 값: {table}).")
        with case("Seq2SeqTransformer(…, max_len=12): 위치 인코딩 버퍼 pe"):
            student = Seq2SeqTransformer(7, 7, 6, 2, 1, 8, 0.0, max_len=12)
            pe = expect_tensor(student.getattr("pe", None), "pe")
            assert_close(pe, ref.sinusoidal_positions(12, 6), atol=1e-5, name="pe (max_len=12, d_model=6)")
        with case("Seq2SeqTransformer(11, 11, d_model=8, n_heads=4, n_layers=2, d_ff=6, dropout=0.4, norm_first=True)"):
            args, kw = (11, 11, 8, 4, 2, 6, 0.4), dict(norm_first=True)
            student = Seq2SeqTransformer(*args, **kw)
            layers = student.attr("encoder_layers")
            n = layers.len()
            assert_true(n == 2, f"encoder_layers에 층이 {n}개 있습니다 (n_layers=2).")
            for stack in ("encoder_layers", "decoder_layers"):
                got = student.attr(stack).item(0).getattr("args", None)
                want = dict(d_model=8, n_heads=4, d_ff=6, dropout=0.4, norm_first=True)
                assert_true(got == want, f"{stack}의 층을 {want}로 만들어야 합니다 (받은 인자: {got}).")
            reference = _ref_model(*args, **kw)
            same_layout(student.layout(), reference)
            randomize(reference, 780)
            student.load_state(reference.state_dict())
            src, tgt_in = _tokens(g, [5, 3], 5, 11, 0), _tokens(g, [4, 4], 4, 11, 0, first=1)
            with torch.no_grad():
                want = reference.eval()(src, tgt_in)
            evaluated = expect_tensor(student.invoke(src, tgt_in, copy=True, train=False).value, "logits")
            assert_close(evaluated, want, atol=1e-4, rtol=1e-4, name="평가 모드 logits")
            trained = expect_tensor(student.invoke(src, tgt_in, copy=True, train=True, seed=781).value, "logits")
            assert_true(not torch.allclose(trained, evaluated),
                        "dropout=0.4인데 학습 모드와 평가 모드의 logits가 같습니다: 임베딩 + 위치 인코딩 뒤에 드롭아웃을 적용하세요.")


# --- teacher-forced loss and the schedule -----------------------------------------------------------------
def _translator(k, seed, src_vocab=9, tgt_vocab=11, d_model=6, pad_id=0, eos_id=2, eos_bias=0.0):
    torch.manual_seed(seed)
    local = probe_parts.ProbeTranslator(src_vocab, tgt_vocab, d_model, pad_id)
    randomize(local, seed)
    with torch.no_grad():
        local.generator.weight.mul_(4.0)                   # peaked next-token distributions
        local.generator.bias[pad_id] = -30.0               # padding is never a likely token
        local.generator.bias[eos_id] += eos_bias
    remote = k.make("ProbeTranslator", src_vocab, tgt_vocab, d_model, pad_id, state=local.state_dict())
    return local.eval(), remote


def _targets(g, lengths, vocab, pad_id, sos_id=1, eos_id=2):
    """(B, max + 2): <sos> y … <eos> then pad_id; the tokens avoid the special ids."""
    specials = {pad_id, sos_id, eos_id}
    allowed = torch.tensor([t for t in range(vocab) if t not in specials])
    rows = []
    for n in lengths:
        body = allowed[torch.randint(0, len(allowed), (n,), generator=g)].tolist()
        rows.append([sos_id] + body + [eos_id])
    width = max(map(len, rows))
    return torch.tensor([r + [pad_id] * (width - len(r)) for r in rows])


@register("w07-tf-train-step-test")
def train_step(k, teacher_forcing_loss, noam_lr) -> None:
    g = generator(800)
    cases = [("label_smoothing=0.1, pad_id=0", 0, 0.1, [5, 2, 7, 1]), ("label_smoothing=0.0, pad_id=0", 0, 0.0, [3, 6]),
             ("label_smoothing=0.25, pad_id=3, 배치 1", 3, 0.25, [4])]
    for i, (label, pad_id, eps, lengths) in enumerate(cases):
        with case(f"teacher_forcing_loss ({label})"):
            local, remote = _translator(k, 801 + i, pad_id=pad_id)
            src = _tokens(g, [6, 3, 5, 2][: len(lengths)], 6, 9, pad_id)
            tgt = _targets(g, lengths, 11, pad_id)
            remote.train(True)
            res = teacher_forcing_loss.invoke(remote, src, tgt, kwargs=dict(pad_id=pad_id, label_smoothing=eps),
                                              return_args=True)
            loss = expect_tensor(res.value, "손실")
            assert_true(loss.numel() == 1 and loss.dim() == 0, f"손실은 스칼라 텐서여야 합니다 (받은 모양: {tuple(loss.shape)}).")
            assert_true(meta(loss)["requires_grad"], "손실이 그래디언트를 갖지 않습니다 (계산 그래프가 끊겼습니다).")
            local.zero_grad()
            local.train()
            want = ref.teacher_forcing_loss(local, src, tgt, pad_id=pad_id, label_smoothing=eps)
            assert_close(loss.double(), want.detach().double(), atol=1e-5, rtol=1e-5, name="손실")
            assert_true(torch.equal(res.args[1], src) and torch.equal(res.args[2], tgt), "src나 tgt가 바뀌었습니다.")
            assert_true(remote.getattr("training") is True, "teacher_forcing_loss가 모델의 train/eval 모드를 바꾸면 안 됩니다.")
            want.backward()
            k.backward(res.out, [torch.ones(())])
            got = remote.grads()
            for name, p in local.named_parameters():
                assert_close(got.get(name) if got.get(name) is not None else torch.zeros_like(p), p.grad,
                             atol=1e-5, rtol=1e-4, name=f"{name}의 그래디언트")
    schedules = [dict(d_model=512, warmup_steps=4000, factor=1.0, n=9000), dict(d_model=64, warmup_steps=10, factor=2.0, n=40),
                 dict(d_model=256, warmup_steps=1, factor=0.5, n=5)]
    for cfg in schedules:
        n = cfg.pop("n")
        with case(f"noam_lr(step = 1 … {n}, {', '.join(f'{a}={b}' for a, b in cfg.items())})"):
            # the steps that tell the schedules apart, in one request (not the whole table: a student's
            # function may be slow, and the step is an argument, so a function that counts its calls fails)
            steps = sorted({1, 2, cfg["warmup_steps"] - 1, cfg["warmup_steps"], cfg["warmup_steps"] + 1, n // 2, n} - {0})
            table = k.run_part("at_steps", noam_lr, steps, **cfg)
            if not isinstance(table, list) or len(table) != len(steps):
                fail("noam_lr가 숫자를 돌려주지 않습니다.")
            for step, value in zip(steps, table):
                got = expect_float(value, f"step={step}의 학습률")
                want = ref.noam_lr(step, **cfg)
                assert_true(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15),
                            f"step={step}: 학습률이 {got:.6g}, 기대값은 {want:.6g}입니다.")


# --- decoding -------------------------------------------------------------------------------------------
def _check_mode_kept(remote, was: bool, fn: str) -> None:
    assert_true(remote.getattr("training") is was, f"{fn}이(가) 모델의 train/eval 모드를 바꾸면 안 됩니다 "
                                                   "(호출하는 쪽이 model.eval()을 부릅니다).")


def _tokens_equal(got, want, what):
    got = expect_tensor(got, what)
    assert_true(got.dtype == torch.long, f"{what}은(는) long 텐서여야 합니다 (받은 dtype: {got.dtype}).")
    assert_shape(got, tuple(want.shape), what)
    if not torch.equal(got, want):
        row, col = (int(i) for i in torch.nonzero(got != want)[0])
        fail(f"{what}이(가) 기대와 다릅니다 (문장 {row}의 {col + 1}번째 토큰: 받은 {int(got[row, col])}, "
             f"기대 {int(want[row, col])}; 다른 토큰 {int((got != want).sum())}개).")


def _markov(k, seed, *, ids=(1, 2, 0), vocab=9, src_vocab=10, after_eos="word", eos_shift=(4.0, 0.0, -4.0)):
    """A ProbeMarkovTranslator with (sos, eos, pad) = ids and seeded, peaked transitions. The source moves only
    the <eos> logit: source tokens 1–3 by eos_shift[0] (sentences that end early), 4–6 by eos_shift[1], 7–9 by
    eos_shift[2] (sentences that may never end). <pad> and <sos> are never likely. After <eos> the chain goes to
    one word (after_eos="word") or stays at <eos> with probability 0.9 (after_eos="eos")."""
    sos, eos, pad = ids
    g = generator(seed)
    local = probe_parts.ProbeMarkovTranslator(src_vocab, vocab, pad)
    words = [t for t in range(vocab) if t not in ids]
    with torch.no_grad():
        table = 2.0 * torch.randn(vocab, vocab, generator=g)
        table[:, [pad, sos]] = -30.0
        table[eos] = -30.0
        if after_eos == "word":
            table[eos, words[0]] = 5.0
        else:
            table[eos, eos], table[eos, words[0]] = math.log(0.9), math.log(0.1)
        local.table.copy_(table)
        emb = 0.3 * torch.randn(src_vocab, vocab, generator=g)
        shift = torch.tensor([0.0] + [eos_shift[0]] * 3 + [eos_shift[1]] * 3 + [eos_shift[2]] * 3)[:src_vocab]
        emb[:, eos] = shift
        local.src_embed.weight.copy_(emb)
    remote = k.make("ProbeMarkovTranslator", src_vocab, vocab, pad, state=local.state_dict())
    return local.eval(), remote


def _sources(lengths, groups, pad, g):
    """(B, max) source ids: sentence i draws its tokens from group groups[i] (0: ids 1–3, 1: 4–6, 2: 7–9),
    avoiding pad; padded with pad after lengths[i]."""
    rows = []
    for n, group in zip(lengths, groups):
        choices = [t for t in range(1 + 3 * group, 4 + 3 * group) if t != pad]
        rows.append([choices[int(i)] for i in torch.randint(0, len(choices), (n,), generator=g)])
    width = max(lengths)
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows])


DECODE_CASES = [
    # label, source lengths, groups (when each sentence ends), max_len, ids (sos, eos, pad), seed
    ("배치 4, 문장마다 끝나는 시점이 다름", [5, 3, 4, 2], [0, 1, 2, 1], 9, (1, 2, 0), 830),
    ("max_len=3 (끝나기 전에 멈춤)", [4, 4, 2], [2, 1, 2], 3, (1, 2, 0), 831),
    ("배치 1", [5], [1], 8, (1, 2, 0), 832),
    ("sos_id=4, eos_id=5, pad_id=2", [3, 6, 2], [0, 1, 1], 8, (4, 5, 2), 833),
    ("모든 문장이 곧 끝남", [2, 3], [0, 0], 6, (1, 2, 0), 834),
]


def _decode_steps(remote, local, what):
    got = remote.getattr("calls", None)
    assert_true(isinstance(got, list) and len(got) == len(local.calls),
                f"{what}: model.decode를 {len(local.calls)}번(디코딩 단계마다 한 번) 불러야 하는데 "
                f"{len(got) if isinstance(got, list) else got}번 불렀습니다 (조기 종료 규칙과 max_len을 확인하세요).")


@register("w07-tf-greedy-test")
def greedy(k, greedy_decode) -> None:
    g = generator(820)
    for i, (label, lengths, groups, max_len, (sos, eos, pad), seed) in enumerate(DECODE_CASES):
        with case(f"greedy_decode ({label})"):
            local, remote = _markov(k, seed, ids=(sos, eos, pad), eos_shift=(40.0, 40.0, 40.0) if i == 4 else (4.0, 0.0, -4.0))
            src = _sources(lengths, groups, pad, g)
            training = i % 2 == 0
            remote.train(training)
            got = greedy_decode.call(remote, src, max_len, sos_id=sos, eos_id=eos, pad_id=pad)
            want = ref.greedy_decode(local, src, max_len, sos_id=sos, eos_id=eos, pad_id=pad)
            _tokens_equal(got, want, "생성된 토큰")
            _decode_steps(remote, local, "greedy_decode")
            _check_mode_kept(remote, training, "greedy_decode")


@register("w07-tf-beam-test")
def beam(k, beam_search) -> None:
    g = generator(850)
    configs = [(3, 1.0), (1, 1.0), (4, 0.0), (2, 2.0), (5, 0.6)]
    for i, (label, lengths, groups, max_len, (sos, eos, pad), seed) in enumerate(DECODE_CASES):
        beam_size, alpha = configs[i]
        with case(f"beam_search (beam_size={beam_size}, alpha={alpha}, {label})"):
            local, remote = _markov(k, seed + 20, ids=(sos, eos, pad))
            src = _sources(lengths, groups, pad, g)
            training = i % 2 == 0
            remote.train(training)
            _beam_case(k, beam_search, local, remote, src, beam_size, max_len, alpha, (sos, eos, pad))
            _check_mode_kept(remote, training, "beam_search")
    with case("beam_search (beam_size=3, alpha=1.0): <eos> 뒤에도 <eos>가 올 확률이 0.9인 모델 (끝난 가설은 늘어나면 안 됨)"):
        local, remote = _markov(k, 870, after_eos="eos", eos_shift=(1.0, 0.0, -1.0))
        _beam_case(k, beam_search, local, remote, _sources([4, 3, 5], [0, 1, 0], 0, g), 3, 10, 1.0, (1, 2, 0))
    with case("beam_search (beam_size=6, alpha=1.0): 긴 문장과 짧은 문장이 섞인 배치"):
        local, remote = _markov(k, 871, eos_shift=(2.0, 0.5, -1.0))
        _beam_case(k, beam_search, local, remote, _sources([7, 2, 5, 3, 6, 1], [0, 1, 2, 1, 0, 2], 0, g), 6, 12, 1.0,
                   (1, 2, 0))


def _beam_case(k, beam_search, local, remote, src, beam_size, max_len, alpha, ids):
    sos, eos, pad = ids
    got = beam_search.call(remote, src, beam_size, max_len, alpha=alpha, sos_id=sos, eos_id=eos, pad_id=pad)
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        fail("(tokens, scores) 두 값을 돌려줘야 합니다.")
    want_tokens, want_scores = ref.beam_search(local, src, beam_size, max_len, alpha=alpha, sos_id=sos, eos_id=eos,
                                               pad_id=pad)
    _tokens_equal(got[0], want_tokens, "최고 가설의 토큰")
    scores = expect_tensor(got[1], "scores")
    assert_shape(scores, (src.shape[0],), "scores")
    assert_true(not meta(scores)["requires_grad"], "scores가 그래디언트를 갖습니다: torch.no_grad()로 탐색하세요.")
    assert_close(scores.double(), want_scores.double(), atol=1e-4, rtol=1e-4, name="정규화된 점수(scores)")
    if beam_size == 1:
        local.calls.clear()
        greedy_tokens = ref.greedy_decode(local, src, max_len, sos_id=sos, eos_id=eos, pad_id=pad)
        _tokens_equal(got[0], greedy_tokens, "beam_size=1의 토큰 (탐욕적 디코딩과 같아야 함)")
        local.calls.clear()
        ref.beam_search(local, src, beam_size, max_len, alpha=alpha, sos_id=sos, eos_id=eos, pad_id=pad)
    _decode_steps(remote, local, "beam_search")
