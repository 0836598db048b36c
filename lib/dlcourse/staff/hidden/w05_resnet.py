"""Hidden checks of week05/resnet_implementation.ipynb.

Each check compares the student's code with the reference on seeded inputs whose sizes differ
from the visible checks, so hard-coded answers cannot pass.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from ...checks import assert_close, assert_shape, assert_true
from ..solutions import w05_resnet as ref
from ._registry import register
from ._tools import case, compare_modules, fail, generator, randomize

# (in_planes, planes, stride): identity shortcut, projection for both changes, stride only, channels only.
BLOCK_CASES = [(8, 8, 1), (8, 16, 2), (12, 12, 2), (6, 10, 1)]


def _check_block(student_cls, ref_cls, expansion: int, name: str, seed: int) -> None:
    assert_true(getattr(student_cls, "expansion", None) == expansion,
                f"{name}.expansion은 {expansion}이어야 합니다 (받은 값: {getattr(student_cls, 'expansion', None)!r}).")
    for i, (cin, planes, stride) in enumerate(BLOCK_CASES):
        label = f"{name}(in_planes={cin}, planes={planes}, stride={stride})"
        with case(label):
            torch.manual_seed(seed + i)
            student = student_cls(cin, planes, stride)
            reference = ref_cls(cin, planes, stride)
            x = torch.randn(4, cin, 9, 7, generator=generator(seed + 10 + i))  # odd, non-square
            compare_modules(student, reference, x, seed=seed + 20 + i)


@register("w05-basic-block-test")
def basic_block(BasicBlock) -> None:
    _check_block(BasicBlock, ref.BasicBlock, 1, "BasicBlock", seed=100)


@register("w05-bottleneck-test")
def bottleneck(Bottleneck) -> None:
    _check_block(Bottleneck, ref.Bottleneck, 4, "Bottleneck", seed=200)
    with case("Bottleneck(in_planes=16, planes=4, stride=1) (입력 폭 = 4·planes, 항등 숏컷)"):
        compare_modules(Bottleneck(16, 4, 1), ref.Bottleneck(16, 4, 1),
                        torch.randn(3, 16, 6, 6, generator=generator(250)), seed=251)


RESNET_CASES = [
    ("BasicBlock", [1, 2], (8, 16), 7),
    ("BasicBlock", [2, 1, 1], (4, 8, 12), 3),
    ("Bottleneck", [1, 1], (4, 8), 5),
]


@register("w05-resnet-test")
def resnet(ResNet) -> None:
    # The reference blocks are passed in, so a wrong block never costs the assembly's points.
    for i, (block_name, num_blocks, widths, classes) in enumerate(RESNET_CASES):
        block = getattr(ref, block_name)
        label = f"ResNet({block_name}, num_blocks={num_blocks}, widths={widths}, num_classes={classes})"
        with case(label):
            torch.manual_seed(300 + i)
            student = ResNet(block, num_blocks, widths=widths, num_classes=classes)
            reference = ref.ResNet(block, num_blocks, widths=widths, num_classes=classes)
            x = torch.randn(2, 3, 20, 20, generator=generator(310 + i))
            compare_modules(student, reference, x, seed=320 + i)
            compare_modules(student, reference, x, seed=330 + i, call=lambda m, inp: m.features(inp))


def _all_crops(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Every zero-padded crop and its mirror image: (B, 2·(2p+1)², C, H, W)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)            # (B, C, 2p+1, 2p+1, H, W)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c, h, w)
    return torch.cat([windows, windows.flip(-1)], dim=1)


@register("w05-augment-test")
def augment(random_crop_flip) -> None:
    pad = 3
    x = torch.randn(300, 3, 11, 9, generator=generator(400))  # non-square: catches H/W mix-ups
    before = x.clone()
    with case(f"random_crop_flip(x: {tuple(x.shape)}, padding={pad})"):
        out = random_crop_flip(x, padding=pad, generator=generator(401))
        assert_shape(out, tuple(x.shape), "출력")
        assert_true(torch.equal(x, before), "입력 x가 바뀌었습니다: 새 텐서를 만들어 돌려주세요.")
        crops = _all_crops(x, pad)                                # (B, 2·49, C, H, W)
        dist = (crops - out[:, None]).abs().flatten(2).amax(-1)   # (B, 98)
        best = dist.argmin(1)
        bad = torch.nonzero(dist.gather(1, best[:, None])[:, 0] > 1e-5).flatten()
        if len(bad):
            fail(f"이미지 {int(bad[0])}번 결과가 '0으로 패딩 → {x.shape[2]}×{x.shape[3]} 잘라내기 → (선택적) 좌우 뒤집기'로 "
                 f"만들 수 있는 어떤 이미지와도 같지 않습니다 ({len(bad)}/{len(x)}장). 패딩 값, 뒤집는 축, 잘라내는 범위를 확인하세요.")
        side = 2 * pad + 1
        flipped = best >= side * side
        offsets = best % (side * side)
        dy, dx = offsets // side, offsets % side
        frac = flipped.float().mean().item()
        assert_true(0.3 <= frac <= 0.7, f"좌우 뒤집기 비율이 {frac:.2f}입니다: 이미지마다 확률 0.5로 뒤집어야 합니다.")
        for axis, d in (("세로(dy)", dy), ("가로(dx)", dx)):
            seen = set(d.tolist())
            assert_true(0 in seen and 2 * pad in seen,
                        f"{axis} 잘라내기 위치가 0…{2 * pad} 전체에서 뽑히지 않습니다 (나온 값: {sorted(seen)}).")
        pairs = len(set(zip(dy.tolist(), dx.tolist())))
        assert_true(pairs >= side * side // 2,
                    f"300장에서 서로 다른 (dy, dx) 위치가 {pairs}개뿐입니다: 이미지마다 따로 뽑아야 합니다.")
        again = random_crop_flip(x, padding=pad, generator=generator(401))
        assert_true(torch.equal(again, out), "같은 시드의 generator로 두 번 부르면 결과가 같아야 합니다 "
                                             "(generator를 난수 함수에 넘기세요).")
    with case("random_crop_flip(padding=0)"):
        out0 = random_crop_flip(x[:40], padding=0, generator=generator(402))
        same = (out0 - x[:40]).flatten(1).abs().amax(1) < 1e-6
        mirrored = (out0 - x[:40].flip(-1)).flatten(1).abs().amax(1) < 1e-6
        assert_true(bool((same | mirrored).all()), "padding=0이면 결과는 원본이나 좌우 뒤집힌 원본이어야 합니다.")


LR_CASES = [
    dict(total_steps=100, warmup_steps=10, base_lr=0.1, min_lr=0.0),
    dict(total_steps=37, warmup_steps=0, base_lr=0.4, min_lr=0.01),
    dict(total_steps=20, warmup_steps=19, base_lr=1.0, min_lr=0.2),
    dict(total_steps=1, warmup_steps=0, base_lr=0.05, min_lr=0.0),
]


@register("w05-lr-schedule-test")
def lr_schedule(warmup_cosine_lr) -> None:
    for cfg in LR_CASES:
        with case(f"warmup_cosine_lr({', '.join(f'{k}={v}' for k, v in cfg.items())})"):
            for step in range(cfg["total_steps"] + 3):
                got = warmup_cosine_lr(step, **cfg)
                want = ref.warmup_cosine_lr(step, **cfg)
                assert_true(isinstance(got, (int, float)) and math.isfinite(got),
                            f"step={step}: 실수 하나(float)를 돌려줘야 합니다 (받은 값: {got!r}).")
                assert_true(math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12),
                            f"step={step}: 학습률이 {got:.6g}, 기대값은 {want:.6g}입니다.")


def _cam_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = ref.ResNet(ref.BasicBlock, [1, 1], widths=(6, 10), num_classes=5)
    randomize(model, seed)
    return model.eval()


@register("w05-cam-test")
def cam(class_activation_map) -> None:
    model = _cam_model(500)
    x = torch.randn(4, 3, 14, 18, generator=generator(501))
    given = torch.tensor([4, 0, 2, 2])
    with case("class_activation_map(model, x, class_idx=[4, 0, 2, 2])"):
        cams, used = class_activation_map(model, x, given)
        want, _ = ref.class_activation_map(model, x, given)
        assert_shape(cams, (4, 14, 18), "CAM")
        assert_true(torch.equal(torch.as_tensor(used), given), "주어진 class_idx를 그대로 써서 돌려줘야 합니다.")
        assert_true(bool(torch.isfinite(cams).all()), "CAM에 NaN이나 inf가 있습니다.")
        assert_close(cams, want, atol=1e-5, rtol=1e-4, name="CAM")
    with case("class_activation_map(model, x, class_idx=None)"):
        cams, used = class_activation_map(model, x, None)
        want, want_idx = ref.class_activation_map(model, x, None)
        assert_true(torch.equal(torch.as_tensor(used), want_idx),
                    f"class_idx=None이면 모델이 예측한 클래스 {want_idx.tolist()}를 써야 합니다 (받은 값: {used}).")
        assert_close(cams, want, atol=1e-5, rtol=1e-4, name="예측 클래스의 CAM")
    with case("학습 모드(train)의 모델"):
        train_model = copy.deepcopy(model).train()
        class_activation_map(train_model, x, given)
        assert_true(train_model.training, "class_activation_map이 모델의 train/eval 모드를 바꾸면 안 됩니다.")
    with case("가중치가 0인 클래스 (CAM이 상수)"):
        flat = copy.deepcopy(model)
        with torch.no_grad():
            flat.fc.weight[1].zero_()
        cams, _ = class_activation_map(flat, x[:2], torch.tensor([1, 1]))
        assert_true(bool(torch.isfinite(cams).all()) and float(cams.abs().max()) == 0.0,
                    "상수 CAM은 NaN이 아니라 0으로 정규화되어야 합니다 (0으로 나누기를 막으세요).")
