"""Hidden checks of week05/resnet_implementation.ipynb.

Each check compares the student's code with the reference on seeded inputs whose sizes differ
from the visible checks, so hard-coded answers cannot pass. The student's objects live in the
kernel (Remotes); the reference and every comparison live here. The assembly is graded with a
stand-in block and CAM with a stand-in network (dlcourse.probe_parts), never with the reference.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from dlcourse import probe_parts
from dlcourse.checks import assert_close, assert_shape, assert_true
from dlcourse.probe import NumpyScalar

from ..solutions import w05_resnet as ref
from ._registry import register
from ._tools import case, compare_module, expect_float, expect_tensor, fail, generator, meta, randomize

# (in_planes, planes, stride): identity shortcut, projection for both changes, stride only, channels only.
BLOCK_CASES = [(8, 8, 1), (8, 16, 2), (12, 12, 2), (6, 10, 1)]


def _check_block(k, student_cls, ref_cls, expansion: int, name: str, seed: int) -> None:
    with case(f"{name}.expansion"):
        got = student_cls.getattr("expansion", None)
        assert_true(got == expansion and type(got) is int,
                    f"{name}.expansion은 {expansion}이어야 합니다 (받은 값: {got!r}).")
    for i, (cin, planes, stride) in enumerate(BLOCK_CASES):
        label = f"{name}(in_planes={cin}, planes={planes}, stride={stride})"
        with case(label):
            student = student_cls(cin, planes, stride)
            reference = ref_cls(cin, planes, stride)
            x = torch.randn(4, cin, 9, 7, generator=generator(seed + 10 + i))  # odd, non-square
            compare_module(k, student, reference, (x,), seed=seed + 20 + i)
    with case(f"{name}(8, 8, stride=2), 배치 1, 1×1 입력"):
        compare_module(k, student_cls(8, 8, 2), ref_cls(8, 8, 2), (torch.randn(1, 8, 1, 1, generator=generator(seed + 40)),),
                       seed=seed + 41, modes=(False,))


@register("w05-basic-block-test")
def basic_block(k, BasicBlock) -> None:
    _check_block(k, BasicBlock, ref.BasicBlock, 1, "BasicBlock", seed=100)


@register("w05-bottleneck-test")
def bottleneck(k, Bottleneck) -> None:
    _check_block(k, Bottleneck, ref.Bottleneck, 4, "Bottleneck", seed=200)
    with case("Bottleneck(in_planes=16, planes=4, stride=1) (입력 폭 = 4·planes, 항등 숏컷)"):
        compare_module(k, Bottleneck(16, 4, 1), ref.Bottleneck(16, 4, 1),
                       (torch.randn(3, 16, 6, 6, generator=generator(250)),), seed=251)
    with case("Bottleneck(in_planes=16, planes=4, stride=2) (입력 폭 = 4·planes지만 스트라이드 2: 사영 숏컷)"):
        compare_module(k, Bottleneck(16, 4, 2), ref.Bottleneck(16, 4, 2),
                       (torch.randn(2, 16, 5, 6, generator=generator(252)),), seed=253)


RESNET_CASES = [
    ([1, 2], (8, 16), 7, (2, 3, 20, 20)),
    ([2, 1, 1], (4, 8, 12), 3, (2, 3, 17, 13)),   # three stages, odd and non-square input
    ([1], (5,), 2, (1, 3, 9, 9)),                  # one stage, batch of 1
]


@register("w05-resnet-test")
def resnet(k, ResNet) -> None:
    # A stand-in block (expansion 2, one convolution) is passed in: a wrong block never costs
    # the assembly's points, and an assembly that ignores block.expansion shows.
    for i, (num_blocks, widths, classes, size) in enumerate(RESNET_CASES):
        label = f"ResNet(블록, num_blocks={num_blocks}, widths={widths}, num_classes={classes}), 입력 {size}"
        with case(label):
            student = ResNet(k.part("ProbeBlock"), num_blocks, widths=widths, num_classes=classes)
            reference = ref.ResNet(probe_parts.ProbeBlock, num_blocks, widths=widths, num_classes=classes)
            x = torch.randn(*size, generator=generator(310 + i))
            compare_module(k, student, reference, (x,), seed=320 + i)
            compare_module(k, student, reference, (x,), seed=330 + i, method="features", load=False)


def _all_crops(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Every zero-padded crop of each image and its mirror image: (B, 2·(2p+1)², C, H, W)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)            # (B, C, 2p+1, 2p+1, H, W)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c, h, w)
    return torch.cat([windows, windows.flip(-1)], dim=1)


def _chi2_p(counts: torch.Tensor) -> float:
    """p-value of Pearson's chi-square test that ``counts`` come from a uniform distribution."""
    counts = counts.double()
    expected = counts.sum() / counts.numel()
    stat = ((counts - expected) ** 2 / expected).sum()
    df = counts.numel() - 1
    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64), stat / 2))


def _identify(out: torch.Tensor, image: torch.Tensor, padding: int, label: str):
    """Which crop (dy, dx) and flip of ``image`` (C, H, W) each output image is; fails when one is none."""
    side = 2 * padding + 1
    crops = _all_crops(image[None], padding)[0].flatten(1).double()        # (2·side², C·H·W)
    dist = torch.cdist(out.flatten(1).double(), crops)                       # (B, 2·side²)
    best = dist.argmin(1)
    bad = torch.nonzero(dist.gather(1, best[:, None])[:, 0] > 1e-9).flatten()
    if len(bad):
        fail(f"{label}: 이미지 {int(bad[0])}번 결과가 '0으로 패딩 → {image.shape[1]}×{image.shape[2]} 잘라내기 → (선택적) "
             f"좌우 뒤집기'로 만들 수 있는 어떤 이미지와도 같지 않습니다 ({len(bad)}/{len(out)}장). 패딩 값, 뒤집는 축, "
             "잘라내는 범위, 높이·너비 순서를 확인하세요.")
    flipped = best >= side * side
    offsets = best % (side * side)
    return offsets // side, offsets % side, flipped


# Every image of the batch is the same position-coded picture (channel 0: 1, 2, 3, … row by row;
# channel 1: its negative, doubled), so each output tells exactly which crop and flip produced
# it; with thousands of images the draws can be tested for uniformity.
AUG_N, AUG_PAD, AUG_H, AUG_W = 3000, 2, 5, 6


@register("w05-augment-test")
def augment(k, random_crop_flip) -> None:
    pad, side = AUG_PAD, 2 * AUG_PAD + 1
    code = torch.arange(1, AUG_H * AUG_W + 1, dtype=torch.float32).view(AUG_H, AUG_W)
    image = torch.stack([code, -2.0 * code])                                 # (2, H, W), non-square
    x = image.expand(AUG_N, -1, -1, -1).contiguous()
    label = f"random_crop_flip(x: {tuple(x.shape)}, padding={pad})"
    with case(label):
        res = random_crop_flip.invoke(x, kwargs=dict(padding=pad, generator=k.generator(401)), return_args=True)
        out = expect_tensor(res.value, "출력")
        assert_shape(out, tuple(x.shape), "출력")
        assert_true(out.dtype == x.dtype, f"출력 dtype은 입력과 같은 {x.dtype}여야 합니다 (받은 dtype: {out.dtype}).")
        assert_true(torch.equal(res.args[0], x), "입력 x가 바뀌었습니다: 새 텐서를 만들어 돌려주세요.")
        dy, dx, flipped = _identify(out, image, pad, "결과")
        frac = flipped.double().mean().item()
        assert_true(0.45 <= frac <= 0.55, f"좌우 뒤집기 비율이 {frac:.3f}입니다: 이미지마다 확률 0.5로 뒤집어야 합니다.")
        for axis, d in (("세로(dy)", dy), ("가로(dx)", dx)):
            counts = torch.bincount(d, minlength=side)
            assert_true(bool((counts > 0).all()),
                        f"{axis} 잘라내기 위치가 0…{2 * pad} 전체에서 뽑히지 않습니다 (위치별 횟수: {counts.tolist()}).")
            p_value = _chi2_p(counts)
            assert_true(p_value > 1e-6, f"{axis} 잘라내기 위치가 0…{2 * pad}에서 균등하게 뽑히지 않습니다 "
                                        f"({AUG_N}장에서 위치별 횟수 {counts.tolist()}, 카이제곱 검정 p = {p_value:.1e}): "
                                        "torch.randint(0, 2·padding + 1, …)처럼 정수를 균등하게 뽑으세요 (반올림하면 양 끝이 덜 나옵니다).")
        pairs = torch.bincount(dy * side + dx, minlength=side * side)
        p_value = _chi2_p(pairs)
        assert_true(p_value > 1e-6, f"(dy, dx) 쌍이 {side}×{side}개 위치에서 균등하게 나오지 않습니다 (카이제곱 검정 p = "
                                    f"{p_value:.1e}, 가장 적게 나온 위치 {int(pairs.min())}번, 가장 많이 {int(pairs.max())}번): "
                                    "이미지마다, 축마다 따로 뽑아야 합니다.")
        again = random_crop_flip.call(x, padding=pad, generator=k.generator(401))
        assert_true(torch.equal(expect_tensor(again, "출력"), out), "같은 시드의 generator로 두 번 부르면 결과가 같아야 합니다 "
                                                                  "(generator를 난수 함수에 넘기세요).")
    with case("random_crop_flip(x: float64 (8, 3, 7, 4), padding=3)"):
        g = generator(403)
        x64 = 1.0 + 1e-12 * torch.randn(8, 3, 7, 4, generator=g, dtype=torch.float64)  # float32 would round these
        out64 = expect_tensor(random_crop_flip.call(x64, padding=3, generator=k.generator(404)), "출력")
        assert_true(out64.dtype == torch.float64, f"float64 입력이면 출력도 float64여야 합니다 (받은 dtype: {out64.dtype}).")
        assert_shape(out64, tuple(x64.shape), "출력")
        crops = _all_crops(x64, 3)                                           # (B, 98, C, H, W)
        dist = (crops - out64[:, None]).abs().flatten(2).amax(-1).amin(1)
        assert_true(bool((dist == 0).all()), "float64 입력의 결과가 어떤 패딩·잘라내기·뒤집기 결과와도 정확히 같지 않습니다 "
                                             "(중간에 float32로 바꾸면 값이 반올림됩니다).")
    with case("random_crop_flip(padding=0)"):
        small = torch.randn(40, 3, 5, 3, generator=generator(402))
        out0 = expect_tensor(random_crop_flip.call(small, padding=0, generator=k.generator(402)), "출력")
        assert_shape(out0, tuple(small.shape), "출력")
        same = (out0 - small).flatten(1).abs().amax(1) < 1e-6
        mirrored = (out0 - small.flip(-1)).flatten(1).abs().amax(1) < 1e-6
        assert_true(bool((same | mirrored).all()), "padding=0이면 결과는 원본이나 좌우 뒤집힌 원본이어야 합니다.")


LR_CASES = [
    dict(total_steps=100, warmup_steps=10, base_lr=0.1, min_lr=0.0),
    dict(total_steps=37, warmup_steps=0, base_lr=0.4, min_lr=0.01),
    dict(total_steps=20, warmup_steps=19, base_lr=1.0, min_lr=0.2),
    dict(total_steps=1, warmup_steps=0, base_lr=0.05, min_lr=0.0),
]


def _plain_float(value):
    """A NumPy float64 scalar is a Python float (a subclass): its value. Anything else as it came."""
    if isinstance(value, NumpyScalar) and value.dtype == "float64":
        return float(value.value)
    return value


@register("w05-lr-schedule-test")
def lr_schedule(k, warmup_cosine_lr) -> None:
    for cfg in LR_CASES:
        with case(f"warmup_cosine_lr({', '.join(f'{name}={v}' for name, v in cfg.items())})"):
            table = k.run_part("over_steps", warmup_cosine_lr, cfg["total_steps"] + 3, **cfg)
            for step, got in enumerate(table):
                want = ref.warmup_cosine_lr(step, **cfg)
                got = expect_float(_plain_float(got), f"step={step}의 학습률")
                assert_true(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12),
                            f"step={step}: 학습률이 {got:.6g}, 기대값은 {want:.6g}입니다.")


def _cam_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = probe_parts.GapNet(channels=6, num_classes=5)
    randomize(model, seed)
    return model.eval()


def _pair(result, what):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        fail(f"{what}: (cams, class_idx) 두 값을 돌려줘야 합니다.")
    return expect_tensor(result[0], "cams"), result[1]


@register("w05-cam-test")
def cam(k, class_activation_map) -> None:
    model = _cam_model(500)
    student_model = k.make("GapNet", channels=6, num_classes=5, state=model.state_dict())
    student_model.train(False)
    x = torch.randn(4, 3, 14, 18, generator=generator(501))
    given = torch.tensor([4, 0, 2, 2])
    with case("class_activation_map(model, x, class_idx=[4, 0, 2, 2])"):
        cams, used = _pair(class_activation_map.call(student_model, x, given), "반환값")
        want, _ = ref.class_activation_map(model, x, given)
        assert_shape(cams, (4, 14, 18), "CAM")
        assert_true(isinstance(used, torch.Tensor) and torch.equal(used.long(), given),
                    "주어진 class_idx를 그대로 써서 돌려줘야 합니다.")
        assert_true(bool(torch.isfinite(cams).all()), "CAM에 NaN이나 inf가 있습니다.")
        assert_close(cams, want, atol=1e-5, rtol=1e-4, name="CAM")
    with case("class_activation_map(model, x, class_idx=None)"):
        cams, used = _pair(class_activation_map.call(student_model, x, None), "반환값")
        want, want_idx = ref.class_activation_map(model, x, None)
        assert_true(isinstance(used, torch.Tensor) and torch.equal(used.long(), want_idx),
                    f"class_idx=None이면 모델이 예측한 클래스 {want_idx.tolist()}를 써야 합니다.")
        assert_close(cams, want, atol=1e-5, rtol=1e-4, name="예측 클래스의 CAM")
    with case("입력 13×15 (특징 맵 7×8: 배율이 정수가 아님)"):
        odd = torch.randn(3, 3, 13, 15, generator=generator(503))
        idx = torch.tensor([1, 4, 0])
        cams, _ = _pair(class_activation_map.call(student_model, odd, idx), "반환값")
        assert_shape(cams, (3, 13, 15), "CAM (입력과 같은 H×W로 보간해야 합니다: scale_factor 대신 size=를 쓰세요)")
        assert_close(cams, ref.class_activation_map(model, odd, idx)[0], atol=1e-5, rtol=1e-4,
                     name="CAM (정수 배가 아닌 크기로 쌍선형 보간)")
    with case("float64 모델과 입력"):
        model64 = copy.deepcopy(model).double()
        student64 = student_model.copy()
        student64.invoke(torch.float64, method="to")
        x64 = torch.randn(2, 3, 10, 12, generator=generator(504), dtype=torch.float64)
        cams, _ = _pair(class_activation_map.call(student64, x64, torch.tensor([2, 3])), "반환값")
        assert_true(cams.dtype == torch.float64, f"float64 모델·입력이면 CAM도 float64여야 합니다 (받은 dtype: {cams.dtype}).")
        assert_close(cams, ref.class_activation_map(model64, x64, torch.tensor([2, 3]))[0], atol=1e-10, rtol=1e-9,
                     name="float64 CAM (중간에 float32로 계산하면 정밀도를 잃습니다)")
    with case("배치 1, 정사각형이 아닌 7×11 입력"):
        one = torch.randn(1, 3, 7, 11, generator=generator(502))
        cams, _ = _pair(class_activation_map.call(student_model, one, torch.tensor([3])), "반환값")
        assert_close(cams, ref.class_activation_map(model, one, torch.tensor([3]))[0], atol=1e-5, rtol=1e-4,
                     name="CAM (배치 1)")
    with case("학습 모드(train)의 모델"):
        train_model = student_model.copy()
        train_model.train(True)
        res = class_activation_map.invoke(train_model, x, given)
        assert_true(train_model.getattr("training") is True, "class_activation_map이 모델의 train/eval 모드를 바꾸면 안 됩니다.")
        cams = _pair(res.value, "반환값")[0]
        assert_true(not meta(cams)["requires_grad"],
                    "CAM은 그래디언트 없이(torch.no_grad) 계산해야 합니다 (requires_grad=True인 텐서가 나왔습니다).")
    with case("가중치가 0인 클래스 (CAM이 상수)"):
        flat = copy.deepcopy(model)
        with torch.no_grad():
            flat.fc.weight[1].zero_()
        flat_model = k.make("GapNet", channels=6, num_classes=5, state=flat.state_dict())
        flat_model.train(False)
        cams, _ = _pair(class_activation_map.call(flat_model, x[:2], torch.tensor([1, 1])), "반환값")
        assert_true(bool(torch.isfinite(cams).all()) and float(cams.abs().max()) == 0.0,
                    "상수 CAM은 NaN이 아니라 0으로 정규화되어야 합니다 (0으로 나누기를 막으세요).")
