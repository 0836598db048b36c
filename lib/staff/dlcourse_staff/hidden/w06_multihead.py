"""Hidden checks of week06/multihead_analysis.ipynb.

The student's objects live in the kernel (Remotes); the references and every comparison live
here. The attention module is compared with torch's own ``nn.MultiheadAttention`` (forward and
backward, with and without ``key_padding_mask`` and ``attn_mask``) and, where gates are involved,
with the reference module. The importance functions are graded on a stand-in model
(``dlcourse.probe_parts.GatedProbeModel``), never on the student's attention, so one wrong part
costs that part's points only. The statistics are graded on seeded synthetic attention maps.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true

from ..solutions import w06_multihead as ref
from ._registry import register
from ._tools import case, expect_tensor, fail, generator, meta, output_weights, randomize



def _tensor(x, what: str) -> torch.Tensor:
    """A torch tensor (a NumPy array that came back is refused: the docstrings ask for tensors)."""
    x = expect_tensor(x, what)
    if meta(x)["numpy"]:
        fail(f"{what}은(는) torch.Tensor여야 합니다 (NumPy 배열이 왔습니다).")
    return x


# --------------------------------------------------------------------------------------------
# 1.1 MultiHeadAttention
# --------------------------------------------------------------------------------------------
LAYOUTS = {
    "separate": lambda bias: {"q_proj.weight", "k_proj.weight", "v_proj.weight"}
    | ({"q_proj.bias", "k_proj.bias", "v_proj.bias"} if bias else set()),
    "fused": lambda bias: {"qkv_proj.weight"} | ({"qkv_proj.bias"} if bias else set()),
    "torch": lambda bias: {"in_proj_weight"} | ({"in_proj_bias"} if bias else set()),
}


def _layout_kind(layout: dict, dim: int, heads: int, bias: bool) -> str:
    """Which of the accepted parameter layouts the student's module has (shapes checked too)."""
    keys = set(layout)
    base = {"out_proj.weight", "gate"} | ({"out_proj.bias"} if bias else set())
    for kind, names in LAYOUTS.items():
        if keys == base | names(bias):
            break
    else:
        want = sorted(base | LAYOUTS["separate"](bias))
        fail(f"매개변수 이름이 기대한 구조와 다릅니다 (bias={bias}): 기대 {want} "
             f"(또는 q/k/v 대신 융합된 qkv_proj.weight{', qkv_proj.bias' if bias else ''}), 실제 {sorted(keys)}. "
             "bias 인자를 모든 Linear에 넘겼는지, gate를 nn.Parameter로 만들었는지 확인하세요.")
    shapes = {"out_proj.weight": (dim, dim), "out_proj.bias": (dim,), "gate": (heads,),
              "q_proj.weight": (dim, dim), "k_proj.weight": (dim, dim), "v_proj.weight": (dim, dim),
              "q_proj.bias": (dim,), "k_proj.bias": (dim,), "v_proj.bias": (dim,),
              "qkv_proj.weight": (3 * dim, dim), "qkv_proj.bias": (3 * dim,),
              "in_proj_weight": (3 * dim, dim), "in_proj_bias": (3 * dim,)}
    for name in keys:
        assert_true(tuple(layout[name][0]) == shapes[name],
                    f"{name}의 모양(shape)이 다릅니다: 기대 {shapes[name]}, 실제 {tuple(layout[name][0])}.")
    return kind


def _student_state(kind: str, tm: nn.MultiheadAttention, gate: torch.Tensor) -> dict:
    """torch's weights in the student's layout."""
    d = tm.embed_dim
    w, b = tm.in_proj_weight.detach(), tm.in_proj_bias
    sd = {"out_proj.weight": tm.out_proj.weight.detach(), "gate": gate.detach().to(w.dtype)}
    if tm.out_proj.bias is not None:
        sd["out_proj.bias"] = tm.out_proj.bias.detach()
    if kind == "separate":
        for i, role in enumerate("qkv"):
            sd[f"{role}_proj.weight"] = w[i * d:(i + 1) * d]
            if b is not None:
                sd[f"{role}_proj.bias"] = b.detach()[i * d:(i + 1) * d]
    else:
        prefix = "qkv_proj." if kind == "fused" else "in_proj_"
        sd[prefix + "weight"] = w
        if b is not None:
            sd[prefix + "bias"] = b.detach()
    return {k: v.clone() for k, v in sd.items()}


def _canonical_grads(kind: str, grads: dict) -> dict:
    """The student's parameter gradients under torch's names (in_proj_weight, …)."""
    def cat(names):
        parts = [grads.get(n) for n in names]
        if any(p is None for p in parts):
            return None
        return torch.cat(parts)

    out = {"out_proj.weight": grads.get("out_proj.weight"), "out_proj.bias": grads.get("out_proj.bias"),
           "gate": grads.get("gate")}
    if kind == "separate":
        out["in_proj_weight"] = cat([f"{r}_proj.weight" for r in "qkv"])
        out["in_proj_bias"] = cat([f"{r}_proj.bias" for r in "qkv"])
    elif kind == "fused":
        out["in_proj_weight"], out["in_proj_bias"] = grads.get("qkv_proj.weight"), grads.get("qkv_proj.bias")
    else:
        out["in_proj_weight"], out["in_proj_bias"] = grads.get("in_proj_weight"), grads.get("in_proj_bias")
    return out


def _torch_mha(dim, heads, bias, seed, dtype=torch.float32, qk_scale=1.0):
    torch.manual_seed(seed)
    tm = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True).to(dtype)
    randomize(tm, seed)
    if qk_scale != 1.0:
        with torch.no_grad():
            tm.in_proj_weight[: 2 * dim] *= qk_scale  # large logits
    return tm.eval()


def _ref_module(tm, gate):
    rm = ref.MultiHeadAttention(tm.embed_dim, tm.num_heads, bias=tm.in_proj_bias is not None).to(tm.in_proj_weight.dtype)
    rm.load_state_dict(_student_state("separate", tm, gate))
    return rm


def _pair(value, what="반환값"):
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        fail(f"{what}: forward는 (out, weights) 두 값을 돌려줘야 합니다.")
    return _tensor(value[0], "out"), _tensor(value[1], "weights")


def _mha_case(k, MHA, *, dim, heads, bias, batch, tq, tk, seed, kpm=None, am=None, gate=None, head_gate=None,
              self_attention=False, train=False, dtype=torch.float32, qk_scale=1.0, atol=1e-5, rtol=1e-4,
              autocast=None):
    """Build the student's module with torch's weights, run forward and backward, compare."""
    g = generator(seed)
    tm = _torch_mha(dim, heads, bias, seed, dtype, qk_scale)
    gate = torch.ones(heads) if gate is None else gate
    student = MHA(dim, heads, bias=bias)
    kind = _layout_kind(student.layout(), dim, heads, bias)
    if dtype != torch.float32:
        student.invoke(dtype, method="to")
    student.load_state(_student_state(kind, tm, gate))
    x = torch.randn(batch, tq, dim, generator=g, dtype=torch.float64).to(dtype)
    if self_attention:
        leaves = [k.leaf(x)] * 3
        refs = [x.clone().requires_grad_(True)] * 3
    else:
        kv = [torch.randn(batch, tk, dim, generator=g, dtype=torch.float64).to(dtype) for _ in range(2)]
        leaves = [k.leaf(x), k.leaf(kv[0]), k.leaf(kv[1])]
        refs = [t.clone().requires_grad_(True) for t in (x, *kv)]
    kwargs = {"key_padding_mask": kpm, "attn_mask": am}
    hg_ref = None
    if head_gate is not None:
        hg_ref = head_gate.clone().to(dtype).requires_grad_(True)
        kwargs["head_gate"] = k.leaf(head_gate.to(dtype))
    inputs = [a.detach().clone() for a in refs]

    res = student.invoke(*leaves, kwargs=kwargs, copy=True, train=train, return_args=True, report_training=True,
                         autocast=autocast)
    out_s, w_s = _pair(res.value)

    rm = _ref_module(tm, gate)
    use_torch = head_gate is None and bool((gate == 1).all()) and autocast is None
    if use_torch:
        out_r, w_r = tm(*refs, key_padding_mask=kpm, attn_mask=am, need_weights=True, average_attn_weights=False)
    else:
        out_r, w_r = rm(*refs, key_padding_mask=kpm, attn_mask=am, head_gate=hg_ref)
    assert_shape(out_s, tuple(out_r.shape), "out")
    assert_shape(w_s, (batch, heads, tq, tk), "weights (B, H, Tq, Tk)")
    if autocast is None:
        assert_true(out_s.dtype == dtype and w_s.dtype == dtype,
                    f"입력이 {dtype}이면 out과 weights도 {dtype}이어야 합니다 (받은 dtype: {out_s.dtype}, {w_s.dtype}).")
    assert_true(bool(torch.isfinite(out_s.float()).all()), "out에 NaN이나 inf가 있습니다.")
    assert_close(w_s, w_r, atol=atol, rtol=rtol, name="weights (헤드별 어텐션 확률)")
    assert_close(out_s, out_r, atol=atol, rtol=rtol, name="out")
    if autocast is not None:
        return

    # backward: the same seeded weighted sum of (out, weights) here and in the kernel
    ws = output_weights((out_r, w_r), seed + 1)
    ((out_r * ws[0]).sum() + (w_r * ws[1]).sum()).backward()
    if use_torch:
        # the gate's gradient: from the reference module (nn.MultiheadAttention has no gates)
        rrefs = [a.detach().clone() for a in refs]
        o2, w2 = rm(*rrefs, key_padding_mask=kpm, attn_mask=am)
        ((o2 * ws[0]).sum() + (w2 * ws[1]).sum()).backward()
    k.backward(res.out, ws)
    gtol = dict(atol=10 * atol, rtol=10 * rtol)
    seen = set()
    names = ["query", "key", "value"]
    for i, (leaf, r) in enumerate(zip(leaves, refs)):
        if id(leaf) in seen:
            continue
        seen.add(id(leaf))
        got = leaf.grad()
        if got is None:
            fail(f"{names[i]}까지 그래디언트가 흐르지 않습니다 (계산 그래프가 끊겼습니다).")
        assert_close(got, r.grad, name=f"{'입력 x' if self_attention else names[i]}에 대한 그래디언트", **gtol)
    grads = _canonical_grads(_layout_kind(res.target.layout(), dim, heads, bias), res.target.grads())
    if use_torch:
        want_grads = {n: p.grad for n, p in tm.named_parameters()}
    else:
        qkv = [getattr(rm, f"{r}_proj") for r in "qkv"]
        want_grads = {"in_proj_weight": torch.cat([m.weight.grad for m in qkv]),
                      "in_proj_bias": torch.cat([m.bias.grad for m in qkv]) if bias else None,
                      "out_proj.weight": rm.out_proj.weight.grad,
                      "out_proj.bias": rm.out_proj.bias.grad if bias else None}
    for name, want in want_grads.items():
        if want is None:
            continue
        if grads.get(name) is None:
            fail(f"{name}에 해당하는 매개변수에 그래디언트가 없습니다 (forward에서 쓰이지 않았습니다).")
        assert_close(grads[name], want, name=f"{name}의 그래디언트", **gtol)
    if head_gate is None:
        if grads.get("gate") is None:
            fail("gate에 그래디언트가 없습니다: 헤드 출력에 gate를 곱해야 합니다.")
        assert_close(grads["gate"], rm.gate.grad, name="gate의 그래디언트", **gtol)
    else:
        got = kwargs["head_gate"].grad()
        if got is None:
            fail("head_gate까지 그래디언트가 흐르지 않습니다: head_gate가 주어지면 self.gate 대신 써야 합니다.")
        assert_close(got, hg_ref.grad, name="head_gate의 그래디언트", **gtol)
        own = grads.get("gate")
        assert_true(own is None or float(own.abs().max()) == 0.0,
                    "head_gate가 주어졌는데 self.gate도 쓰였습니다: head_gate는 self.gate를 대신합니다.")

    # side effects
    after = res.args
    for i, (before, now) in enumerate(zip(inputs, after)):
        if isinstance(now, torch.Tensor):
            assert_true(torch.equal(now.detach(), before), f"{names[i]} 입력이 바뀌었습니다 (in-place 연산을 확인하세요).")
    for name, mask in (("key_padding_mask", kpm), ("attn_mask", am)):
        if mask is not None and isinstance(res.kwargs, dict) and isinstance(res.kwargs.get(name), torch.Tensor):
            assert_true(torch.equal(res.kwargs[name], mask), f"{name}가 바뀌었습니다 (in-place 연산을 확인하세요).")
    assert_true(res.training is train, "forward가 모듈의 train/eval 모드를 바꾸면 안 됩니다.")


def _lengths_mask(lengths, t):
    return torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]  # True = padding


@register("w06-mh-attention-test")
def attention(k, MultiHeadAttention) -> None:
    MHA = MultiHeadAttention
    with case("MultiHeadAttention(12, 3) 새로 만든 모듈"):
        fresh = MHA(12, 3)
        _layout_kind(fresh.layout(), 12, 3, True)
        params = fresh.params()
        assert_true("gate" in params, "gate는 nn.Parameter여야 합니다 (학습되어야 하므로).")
        assert_close(params["gate"], torch.ones(3), atol=0, rtol=0, name="처음의 gate (모두 1)")
        assert_true(fresh.getattr("num_heads", None) == 3 and fresh.getattr("head_dim", None) == 4,
                    "num_heads와 head_dim 속성이 있어야 합니다 (num_heads=3, head_dim=12 // 3 = 4).")
    with case("셀프 어텐션 D=12, H=3, 마스크 없음, 학습 모드"):
        _mha_case(k, MHA, dim=12, heads=3, bias=True, batch=2, tq=5, tk=5, seed=11, self_attention=True, train=True)
    with case("크로스 어텐션 D=16, H=4, bias=False, Tq=4 ≠ Tk=7, bool key_padding_mask와 attn_mask"):
        kpm = _lengths_mask([7, 3, 5], 7)
        am = torch.arange(7)[None, :] > torch.arange(4)[:, None] + 3      # True = blocked; key 0 always allowed
        am[1, 2] = True
        _mha_case(k, MHA, dim=16, heads=4, bias=False, batch=3, tq=4, tk=7, seed=12, kpm=kpm, am=am)
    with case("D=8, H=8 (head_dim=1), 배치 1, float 마스크 (인과 -inf + 거리 편향, 키 편향)"):
        t = 6
        dist = (torch.arange(t)[:, None] - torch.arange(t)[None, :]).float()
        am = (-0.3 * dist.abs()).masked_fill(dist < 0, -math.inf)
        kpm = torch.tensor([[0.0, 0.5, -1.0, 0.0, 2.0, -math.inf]])
        _mha_case(k, MHA, dim=8, heads=8, bias=True, batch=1, tq=t, tk=t, seed=13, kpm=kpm, am=am, self_attention=True)
    with case("D=6, H=1, 키가 하나 (Tk=1)"):
        _mha_case(k, MHA, dim=6, heads=1, bias=True, batch=2, tq=3, tk=1, seed=14)
    with case("큰 로짓 (q, k 투영 × 20)"):
        _mha_case(k, MHA, dim=12, heads=2, bias=True, batch=2, tq=6, tk=6, seed=15, qk_scale=20.0,
                  am=torch.ones(6, 6, dtype=torch.bool).triu(1), self_attention=True, atol=1e-4)
    with case("float64 모듈과 입력 (D=10, H=5, 마스크)"):
        _mha_case(k, MHA, dim=10, heads=5, bias=True, batch=2, tq=3, tk=4, seed=16, dtype=torch.float64,
                  kpm=_lengths_mask([4, 2], 4), am=torch.tensor([[False, True, False, False]] * 3), atol=1e-10,
                  rtol=1e-8)
    with case("bf16 autocast (D=16, H=4): fp32 결과와 가까워야 합니다"):
        _mha_case(k, MHA, dim=16, heads=4, bias=True, batch=2, tq=5, tk=5, seed=17, autocast="bfloat16",
                  kpm=_lengths_mask([5, 3], 5), atol=6e-2, rtol=6e-2)
    with case("게이트 [1.5, 0, -0.5, 0.7] (D=12, H=4), 마스크"):
        _mha_case(k, MHA, dim=12, heads=4, bias=True, batch=2, tq=5, tk=6, seed=18,
                  gate=torch.tensor([1.5, 0.0, -0.5, 0.7]), kpm=_lengths_mask([6, 4], 6),
                  am=torch.arange(6)[None, :] > torch.arange(5)[:, None] + 1)
    with case("head_gate (B, H)가 self.gate를 대신 (D=8, H=2, B=3)"):
        _mha_case(k, MHA, dim=8, heads=2, bias=True, batch=3, tq=4, tk=4, seed=19, self_attention=True,
                  gate=torch.tensor([2.0, 3.0]), head_gate=torch.tensor([[0.5, 1.0], [0.0, 2.0], [1.0, -1.0]]))
    with case("head_gate (H,)가 self.gate를 대신 (D=8, H=4)"):
        _mha_case(k, MHA, dim=8, heads=4, bias=False, batch=2, tq=3, tk=5, seed=20,
                  gate=torch.tensor([2.0, 3.0, 0.0, 1.0]), head_gate=torch.tensor([0.5, 1.0, 1.0, 0.0]))
    with case("한 시퀀스의 키가 모두 패딩 (완전히 가려진 행은 NaN이 아니라 0)"):
        kpm = _lengths_mask([4, 0], 4)
        _mha_case(k, MHA, dim=8, heads=2, bias=True, batch=2, tq=3, tk=4, seed=21, kpm=kpm,
                  gate=torch.tensor([1.0, 0.999]))
    with case("gate가 0인 헤드는 정확히 사라져야 합니다 (D=12, H=3, 헤드 1의 가중치를 바꿔도 출력이 같아야 함)"):
        tm = _torch_mha(12, 3, True, 22)
        student = MHA(12, 3)
        kind = _layout_kind(student.layout(), 12, 3, True)
        gate = torch.tensor([1.0, 0.0, 1.0])
        x = torch.randn(2, 5, 12, generator=generator(23))
        outs = []
        for variant in range(2):
            if variant:
                with torch.no_grad():
                    for i in range(3):  # head 1's query, key and value rows get new values
                        tm.in_proj_weight[i * 12 + 4:i * 12 + 8] = torch.randn(4, 12, generator=generator(24 + i))
                        tm.in_proj_bias[i * 12 + 4:i * 12 + 8] = torch.randn(4, generator=generator(30 + i))
            student.load_state(_student_state(kind, tm, gate))
            outs.append(_pair(student.invoke(x, x, x, no_grad=True).value)[0])
        assert_close(outs[1], outs[0], atol=1e-6, rtol=0,
                     name="gate[1]=0일 때 헤드 1의 q/k/v 가중치를 바꾼 뒤의 출력 (헤드 1이 정확히 빠져야 함)")


# --------------------------------------------------------------------------------------------
# 1.2 head importance (gradient and ablation)
# --------------------------------------------------------------------------------------------
IMPORTANCE_CASES = [
    # (vocab, dim, heads, layers, gates, batch shapes)
    (11, 8, 4, 2, None, [(4, 6), (4, 6), (3, 5)]),
    (7, 6, 2, 3, [[1.0, 0.0], [0.6, -0.4], [1.3, 1.0]], [(2, 5), (2, 5), (1, 3), (2, 4)]),
    (5, 4, 1, 1, None, [(1, 4)]),
]


def _probe_model(seed, vocab, dim, heads, layers, gates):
    torch.manual_seed(seed)
    model = probe_parts.GatedProbeModel(vocab=vocab, dim=dim, num_heads=heads, num_layers=layers)
    randomize(model, seed)
    with torch.no_grad():
        for l, layer in enumerate(model.layers):
            layer.gate.copy_(torch.ones(heads) if gates is None else torch.tensor(gates[l]))
    return model


def _check_model_untouched(km, state, training: bool, name: str):
    assert_true(km.getattr("training") is training,
                f"{name}가 모델의 train/eval 모드를 되돌려 놓지 않았습니다 (처음 모드: {'train' if training else 'eval'}).")
    params = km.params()
    for key, value in params.items():
        if key in state and not torch.equal(value, state[key]):
            fail(f"{name}를 부른 뒤 모델의 매개변수 {key}가 바뀌었습니다: 게이트를 원래 값으로 되돌리세요.")
    for key, grad in km.grads().items():
        if grad is not None and float(grad.abs().max()) != 0.0:
            fail(f"{name}를 부른 뒤 매개변수 {key}에 .grad가 남아 있습니다: 게이트의 그래디언트만 "
                 "torch.autograd.grad로 구하거나, 다 쓴 뒤 model.zero_grad()로 지우세요.")


def _importance_case(k, fn, ref_fn, name, i, cfg, training):
    vocab, dim, heads, layers, gates, shapes = cfg
    seed = 600 + 10 * i
    model = _probe_model(seed, vocab, dim, heads, layers, gates)
    state = {key: v.clone() for key, v in model.state_dict().items()}
    km = k.make("GatedProbeModel", vocab=vocab, dim=dim, num_heads=heads, num_layers=layers, state=state)
    km.train(training)
    g = generator(seed + 1)
    batches = [torch.randint(vocab, shape, generator=g) for shape in shapes]
    got = _tensor(fn.invoke(km, batches).value, "반환값")
    want = ref_fn(model, batches)
    assert_shape(got, (layers, heads), f"{name} 결과 (L, H)")
    assert_true(bool(torch.isfinite(got).all()), f"{name} 결과에 NaN이나 inf가 있습니다.")
    assert_close(got, want, atol=1e-5, rtol=1e-4, name=f"{name} 결과")
    _check_model_untouched(km, state, training, name)


@register("w06-mh-importance-test")
def importance(k, head_importance, ablation_importance) -> None:
    for i, cfg in enumerate(IMPORTANCE_CASES):
        vocab, dim, heads, layers, gates, shapes = cfg
        label = f"층 {layers}개 × 헤드 {heads}개, 배치 {len(shapes)}개" + (", 게이트가 1이 아닌 값 포함" if gates else "")
        with case(f"head_importance: {label}, 모델이 학습 모드"):
            _importance_case(k, head_importance, ref.head_importance, "head_importance", i, cfg, training=True)
        with case(f"ablation_importance: {label}, 모델이 학습 모드"):
            _importance_case(k, ablation_importance, ref.ablation_importance, "ablation_importance", i, cfg,
                             training=True)
    with case("head_importance: 모델이 평가 모드"):
        _importance_case(k, head_importance, ref.head_importance, "head_importance", 0, IMPORTANCE_CASES[0],
                         training=False)
    with case("ablation_importance: 모델이 평가 모드"):
        _importance_case(k, ablation_importance, ref.ablation_importance, "ablation_importance", 1,
                         IMPORTANCE_CASES[1], training=False)


# --------------------------------------------------------------------------------------------
# 1.3 pruning
# --------------------------------------------------------------------------------------------
@register("w06-mh-prune-test")
def prune(k, prune_mask) -> None:
    g = generator(700)
    distinct = torch.rand(3, 4, generator=g)
    cases = [("(3, 4)", distinct, n) for n in (0, 1, 5, 12)]
    cases.append(("(1, 6), float64", torch.rand(1, 6, generator=g, dtype=torch.float64), 2))
    cases.append(("(4, 3) 연속이 아닌(non-contiguous) 텐서", torch.rand(3, 4, generator=g).t(), 7))
    cases.append(("(5, 1), 음수 포함", torch.randn(5, 1, generator=g), 3))
    for label, imp, n in cases:
        with case(f"prune_mask(importance {label}, num_pruned={n})"):
            res = prune_mask.invoke(imp, n, return_args=True)
            got = _tensor(res.value, "반환값")
            assert_shape(got, tuple(imp.shape), "반환값")
            assert_true(got.dtype == imp.dtype, f"반환값의 dtype은 importance와 같아야 합니다 ({imp.dtype}; 받은 {got.dtype}).")
            assert_true(bool(((got == 0) | (got == 1)).all()), "반환값은 0.0(끈 헤드)과 1.0(남긴 헤드)만 가져야 합니다.")
            pruned = int((got == 0).sum())
            assert_true(pruned == n, f"꺼진 헤드가 {n}개여야 하는데 {pruned}개입니다.")
            want = ref.prune_mask(imp, n)
            if not torch.equal(got, want):
                fail("가장 덜 중요한(importance가 가장 작은) 헤드들을 꺼야 합니다: 꺼진 헤드의 위치가 다릅니다 "
                     "(층을 나누지 말고 전체에서 고르세요).")
            assert_true(torch.equal(res.args[0], imp), "importance 입력이 바뀌었습니다: 새 텐서를 만들어 돌려주세요.")
    with case("같은 값이 여럿인 importance (동점): 어느 것을 골라도 되지만 정확히 num_pruned개"):
        tied = torch.tensor([[0.1, 0.1, 0.1], [0.5, 0.1, 0.9]])
        for n in (2, 4, 5):
            got = _tensor(prune_mask.call(tied, n), "반환값")
            assert_true(int((got == 0).sum()) == n, f"num_pruned={n}: 꺼진 헤드가 {int((got == 0).sum())}개입니다.")
            assert_true(float(tied[got == 0].max()) <= float(tied[got == 1].min()),
                        f"num_pruned={n}: 남긴 헤드보다 더 중요한 헤드를 껐습니다.")


# --------------------------------------------------------------------------------------------
# 1.4 hard-concrete gates
# --------------------------------------------------------------------------------------------
def _hc_ref(heads, log_alpha, **hyper):
    gate = ref.HardConcreteGate(heads, **hyper)
    with torch.no_grad():
        gate.log_alpha.copy_(log_alpha)
    return gate


def _hc_compare(k, student, refm, u, train, label, log_alpha):
    student.load_state({"log_alpha": log_alpha})
    leaf = k.leaf(u) if train else None
    args = (leaf,) if train else ()
    res = student.invoke(*args, copy=True, train=train, report_training=True)
    got = _tensor(res.value, label)
    refm.train(train)
    la = refm.log_alpha
    la.grad = None
    ur = u.clone().requires_grad_(True)
    want = refm(ur) if train else refm()
    assert_shape(got, tuple(want.shape), label)
    assert_close(got, want, atol=1e-6, rtol=1e-5, name=label)
    assert_true(res.training is train, "forward가 모듈의 train/eval 모드를 바꾸면 안 됩니다.")
    w = output_weights(want, 5)[0]
    (want * w).sum().backward()
    if la.grad is not None and float(la.grad.abs().max()) > 0:
        k.backward(res.out, [w])
        got_grad = res.target.grads().get("log_alpha")
        if got_grad is None:
            fail(f"{label}: log_alpha까지 그래디언트가 흐르지 않습니다.")
        assert_close(got_grad, la.grad, atol=1e-5, rtol=1e-4, name=f"{label}: log_alpha의 그래디언트")
        if train:
            assert_close(leaf.grad(), ur.grad, atol=1e-5, rtol=1e-4, name=f"{label}: u에 대한 그래디언트")


@register("w06-mh-hard-concrete-test")
def hard_concrete(k, HardConcreteGate) -> None:
    with case("HardConcreteGate(5, init_log_alpha=-1.5) 새로 만든 모듈"):
        fresh = HardConcreteGate(5, init_log_alpha=-1.5)
        params = fresh.params()
        assert_true(set(params) == {"log_alpha"}, f"학습되는 매개변수는 log_alpha 하나여야 합니다 (실제: {sorted(params)}).")
        assert_close(params["log_alpha"], torch.full((5,), -1.5), atol=0, rtol=0, name="처음의 log_alpha")
        default = HardConcreteGate(3).params().get("log_alpha")
        assert_close(_tensor(default, "log_alpha"), torch.full((3,), 3.0), atol=0, rtol=0,
                     name="기본값으로 만든 log_alpha (init_log_alpha=3.0)")
    log_alpha = torch.tensor([-4.0, -1.0, 0.0, 0.5, 2.0, 5.0])
    u = torch.tensor([0.01, 0.3, 0.5, 0.7, 0.2, 0.99])
    for hyper in ({}, dict(beta=0.5, gamma=-0.2, zeta=1.3)):
        tag = "기본 하이퍼파라미터" if not hyper else "beta=0.5, gamma=-0.2, zeta=1.3"
        with case(f"HardConcreteGate(6, {tag})"):
            student = HardConcreteGate(6, **hyper)
            refm = _hc_ref(6, log_alpha, **hyper)
            _hc_compare(k, student, refm, u, True, "학습 모드 forward(u)", log_alpha)
            _hc_compare(k, student, refm, u, False, "평가 모드 forward()", log_alpha)
            res = student.invoke(u, copy=True, train=False)
            assert_close(_tensor(res.value, "평가 모드 forward(u)"), refm.eval()(), atol=1e-6, rtol=1e-5,
                         name="평가 모드 forward(u) (u는 무시하고 결정적인 게이트)")
            res = student.invoke(method="l0_penalty", copy=True)
            got = _tensor(res.value, "l0_penalty()")
            refm.log_alpha.grad = None
            want = refm.l0_penalty()
            assert_shape(got, (), "l0_penalty() (스칼라)")
            assert_close(got, want, atol=1e-6, rtol=1e-5, name="l0_penalty()")
            want.backward()
            k.backward(res.out, [torch.ones(())])
            got_grad = res.target.grads().get("log_alpha")
            if got_grad is None:
                fail("l0_penalty에서 log_alpha까지 그래디언트가 흐르지 않습니다.")
            assert_close(got_grad, refm.log_alpha.grad, atol=1e-6, rtol=1e-5, name="l0_penalty의 log_alpha 그래디언트")
    with case("학습 모드 forward() (u를 직접 뽑음), 헤드 400개, log_alpha = 0"):
        student = HardConcreteGate(400, init_log_alpha=0.0)
        draws = []
        for seed in (1, 2):
            z = _tensor(student.invoke(train=True, seed=seed).value, "게이트")
            assert_shape(z, (400,), "게이트")
            assert_true(bool(torch.isfinite(z).all()) and float(z.min()) >= 0.0 and float(z.max()) <= 1.0,
                        "게이트는 0과 1 사이의 유한한 값이어야 합니다.")
            draws.append(z)
        p0 = float(torch.sigmoid(torch.tensor(2 / 3 * math.log(0.1 / 1.1))))   # P(z = 0) at log_alpha = 0
        for z in draws:
            zeros, ones = float((z == 0).float().mean()), float((z == 1).float().mean())
            assert_true(abs(zeros - p0) < 0.08 and abs(ones - p0) < 0.08,
                        f"정확히 0인 게이트 비율 {zeros:.2f}, 1인 비율 {ones:.2f}: 둘 다 약 {p0:.2f}여야 합니다 "
                        "(늘린(stretch) 뒤 [0, 1]로 자르기(clamp)를 확인하세요).")
            assert_true(abs(float(z.mean()) - 0.5) < 0.08, f"게이트 평균이 {float(z.mean()):.2f}입니다: log_alpha=0이면 약 0.5여야 합니다.")
        assert_true(not torch.equal(draws[0], draws[1]), "학습 모드에서는 부를 때마다 새 잡음 u를 뽑아야 합니다.")


# --------------------------------------------------------------------------------------------
# 1.5–1.6 head statistics and Jensen–Shannon divergence
# --------------------------------------------------------------------------------------------
def _maps(seed, batch, heads, tq, tk, *, causal=False, holes=0.3, dtype=torch.float32):
    """Seeded attention maps with exact zeros (blocked keys) and every row summing to 1."""
    g = generator(seed)
    scores = 2.0 * torch.randn(batch, heads, tq, tk, generator=g, dtype=torch.float64)
    keep = torch.rand(batch, heads, tq, tk, generator=g, dtype=torch.float64) > holes
    if causal:
        keep &= torch.ones(tq, tk, dtype=torch.bool).tril()
    keep[..., 0] = True
    return torch.softmax(scores.masked_fill(~keep, -math.inf), dim=-1).to(dtype)


STAT_KEYS = ("entropy", "distance", "previous", "same")


@register("w06-mh-statistics-test")
def statistics(k, head_statistics) -> None:
    lengths_mask = lambda lengths, t: torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]  # noqa: E731
    cases = [
        ("B=2, H=3, T=6, 양방향(비인과) 맵, 0인 가중치 포함", _maps(800, 2, 3, 6, 6), None, 1e-6),
        ("B=3, H=2, T=5, 인과 맵, query_mask (길이 5, 2, 4; 패딩 행은 쓰레기 값)",
         _maps(801, 3, 2, 5, 5, causal=True), lengths_mask([5, 2, 4], 5), 1e-6),
        ("B=1, H=4, T=1 (토큰 하나: 이전 토큰이 없음)", _maps(802, 1, 4, 1, 1), None, 1e-6),
        ("float64, B=2, H=2, T=4", _maps(803, 2, 2, 4, 4, dtype=torch.float64), None, 1e-12),
        ("모든 시퀀스의 길이가 1 (previous는 0)", _maps(804, 2, 3, 4, 4), lengths_mask([1, 1], 4), 1e-6),
        ("한 시퀀스는 전부 패딩 (길이 0)", _maps(805, 2, 2, 5, 5, causal=True), lengths_mask([5, 0], 5), 1e-6),
    ]
    for label, weights, qmask, atol in cases:
        with case(f"head_statistics: {label}"):
            res = head_statistics.invoke(weights, qmask, return_args=True)
            got = res.value
            if not isinstance(got, dict) or not all(key in got for key in STAT_KEYS):
                fail(f"반환값은 {list(STAT_KEYS)} 키를 가진 dict여야 합니다"
                     f" (받은 {type(got).__name__}{': ' + str(sorted(got))[:80] if isinstance(got, dict) else ''}).")
            want = ref.head_statistics(weights, qmask)
            for key in STAT_KEYS:
                value = _tensor(got[key], f'"{key}"')
                assert_shape(value, (weights.shape[1],), f'"{key}" (H,)')
                assert_true(value.dtype == weights.dtype, f'"{key}"의 dtype은 weights와 같아야 합니다 ({weights.dtype}).')
                assert_true(bool(torch.isfinite(value).all()), f'"{key}"에 NaN이나 inf가 있습니다 (0·log 0, 0으로 나누기를 확인하세요).')
                assert_close(value, want[key], atol=atol, rtol=1e-5, name=f'"{key}"')
            assert_true(torch.equal(res.args[0], weights), "weights 입력이 바뀌었습니다.")


@register("w06-mh-js-divergence-test")
def js_divergence(k, head_js_divergence) -> None:
    same = _maps(900, 2, 1, 4, 4)
    disjoint = torch.zeros(1, 2, 3, 4)
    disjoint[0, 0, :, :2] = 0.5
    disjoint[0, 1, :, 2:] = 0.5
    cases = [
        ("B=2, H=3, T=5, 0인 가중치 포함", _maps(901, 2, 3, 5, 5), None, 1e-6),
        ("B=2, H=4, Tq=3 ≠ Tk=6, query_mask (길이 3, 1)", _maps(902, 2, 4, 3, 6),
         torch.tensor([[True, True, True], [True, False, False]]), 1e-6),
        ("H=1", _maps(903, 3, 1, 4, 4), None, 1e-6),
        ("같은 맵을 가진 헤드 두 개 + 다른 헤드", torch.cat([same, same, _maps(904, 2, 1, 4, 4)], dim=1), None, 1e-6),
        ("겹치지 않는 두 맵 (JS = ln 2)", disjoint, None, 1e-6),
        ("float64, 인과 맵", _maps(905, 2, 3, 5, 5, causal=True, dtype=torch.float64), None, 1e-12),
    ]
    for label, weights, qmask, atol in cases:
        with case(f"head_js_divergence: {label}"):
            res = head_js_divergence.invoke(weights, qmask, return_args=True)
            got = _tensor(res.value, "반환값")
            h = weights.shape[1]
            assert_shape(got, (h, h), "반환값 (H, H)")
            assert_true(got.dtype == weights.dtype, f"반환값의 dtype은 weights와 같아야 합니다 ({weights.dtype}).")
            assert_true(bool(torch.isfinite(got).all()), "NaN이나 inf가 있습니다 (0·log 0을 0으로 다루세요).")
            assert_close(got, got.transpose(0, 1), atol=atol, rtol=0, name="대칭성 js[i, j] = js[j, i]")
            assert_close(got, ref.head_js_divergence(weights, qmask), atol=atol, rtol=1e-5, name="JS 발산")
            assert_true(torch.equal(res.args[0], weights), "weights 입력이 바뀌었습니다.")
