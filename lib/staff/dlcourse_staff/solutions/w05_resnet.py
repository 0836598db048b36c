"""Reference solutions for week05/resnet_implementation.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week05/resnet_implementation.ipynb"


class BasicBlock(nn.Module):
    """Basic residual block: two 3×3 convolutions and a shortcut, ``relu(F(x) + shortcut(x))``.

    F(x) = bn2(conv2(relu(bn1(conv1(x))))). Contract (the checks verify shapes and parameter counts):
        conv1, conv2: 3×3 convolutions without bias that keep H×W, except that conv1 carries ``stride``;
            conv1 maps in_planes → planes, conv2 planes → planes. bn1, bn2: batch normalisation.
        shortcut: nn.Identity() when the shape is unchanged (stride 1 and in_planes == planes * expansion),
            otherwise a projection: an nn.Sequential of a strided 1×1 convolution without bias and a
            batch normalisation.
    The attribute names are fixed: the grader copies weights by name.

    Inputs:  x (B, in_planes, H, W)
    Returns: (B, planes, ceil(H / stride), ceil(W / stride))
    """

    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != planes * self.expansion:  # shape changes: project x
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes * self.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))  # (B, planes, H/s, W/s)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))  # ReLU after the addition, as in He et al.


class Bottleneck(nn.Module):
    """Bottleneck residual block: 1×1 (reduce) → 3×3 → 1×1 (expand ×4), plus a shortcut.

    Contract (the checks verify shapes and parameter counts):
        conv1 (1×1, in_planes → planes), conv2 (3×3, planes → planes, keeps H×W except for ``stride``),
        conv3 (1×1, planes → planes * expansion), all without bias, each followed by its batch
        normalisation bn1, bn2, bn3; ReLU after bn1 and bn2, and after the addition.
        shortcut: the same rule as BasicBlock's, with output width planes * expansion.
    The stride sits on the 3×3 convolution (as in torchvision's ResNet). The attribute names are fixed.

    Inputs:  x (B, in_planes, H, W)
    Returns: (B, planes * 4, ceil(H / stride), ceil(W / stride))
    """

    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        width = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, width, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != width:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, width, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(width),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))    # (B, planes, H, W): cheap 1×1 reduction
        out = F.relu(self.bn2(self.conv2(out)))  # (B, planes, H/s, W/s)
        out = self.bn3(self.conv3(out))          # (B, 4·planes, H/s, W/s)
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet for 32×32 images: a 3×3 stem, one stage per width, global average pooling, a linear head.

    Inputs:
        block: BasicBlock or Bottleneck (the class); num_blocks: blocks per stage, e.g. [2, 2, 2, 2];
        widths: ``planes`` of each stage, e.g. (64, 128, 256, 512); num_classes: output classes.
    Attributes (names are fixed):
        stem: an nn.Sequential of a 3×3 convolution without bias (3 → widths[0], keeps H×W), a batch
            normalisation and a ReLU.
        stages: ModuleList of Sequential stages; stage i has num_blocks[i] blocks of width widths[i];
            its first block has stride 1 for i == 0 and 2 otherwise, all others stride 1.
        pool: global average pooling to 1×1; fc: the linear head, widths[-1] * block.expansion → num_classes.
    Methods:
        features(x): (B, 3, H, W) → (B, widths[-1] * expansion, h, w), the last stage's output.
        forward(x):  (B, 3, H, W) → logits (B, num_classes).
    """

    def __init__(self, block, num_blocks, widths=(64, 128, 256, 512), num_classes=10):
        super().__init__()
        if len(num_blocks) != len(widths):
            raise ValueError(f"num_blocks({len(num_blocks)}개)와 widths({len(widths)}개)의 길이가 같아야 합니다.")
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        in_planes = widths[0]
        stages = []
        for i, (planes, n) in enumerate(zip(widths, num_blocks)):
            strides = [1 if i == 0 else 2] + [1] * (n - 1)
            blocks = []
            for stride in strides:
                blocks.append(block(in_planes, planes, stride))
                in_planes = planes * block.expansion  # the next block sees the expanded width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def features(self, x):
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"입력은 (B, 3, H, W) 모양이어야 합니다 (받은 모양(shape): {tuple(x.shape)}).")
        out = self.stem(x)
        for stage in self.stages:
            out = stage(out)
        return out  # (B, C, h, w)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def random_crop_flip(x, padding=4, generator=None):
    """Random crop with zero padding and random horizontal flip, drawn independently per image.

    Each image is padded with ``padding`` zeros on every side; an H×W window is cut at offsets
    (dy, dx), each drawn uniformly from {0, …, 2·padding}; the result is mirrored left-right
    with probability 0.5.

    Inputs:
        x: (B, C, H, W) float tensor (on any device; it is not modified).
        padding: int ≥ 0.
        generator: optional CPU ``torch.Generator`` for reproducible draws.
    Returns:
        (B, C, H, W) tensor on x's device.
    """
    if x.dim() != 4:
        raise ValueError(f"x는 (B, C, H, W) 4차원이어야 합니다 (받은 모양(shape): {tuple(x.shape)}).")
    if padding < 0:
        raise ValueError(f"padding은 0 이상이어야 합니다 (받은 값: {padding}).")
    b, _, h, w = x.shape
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))           # (B, C, H+2p, W+2p)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # gather the windows
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def warmup_cosine_lr(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    """Learning rate at optimiser step ``step`` (0-based): linear warm-up, then cosine decay.

    * step < warmup_steps:  base_lr · (step + 1) / warmup_steps
    * otherwise:            min_lr + (base_lr − min_lr) · ½ · (1 + cos(π · t)),
      t = (step − warmup_steps) / (total_steps − warmup_steps)
    * step ≥ total_steps:   min_lr

    Inputs: step ≥ 0, total_steps ≥ 1, 0 ≤ warmup_steps < total_steps, base_lr ≥ min_lr ≥ 0.
    Returns: the learning rate (float).
    """
    if step < 0 or total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"0 ≤ warmup_steps < total_steps, step ≥ 0 이어야 합니다 "
            f"(받은 값: step={step}, warmup_steps={warmup_steps}, total_steps={total_steps})."
        )
    if step >= total_steps:
        return float(min_lr)
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def class_activation_map(model, x, class_idx=None):
    """Class activation maps (Zhou et al., 2016) of a model ending in global average pooling → fc.

    For image b and class k = class_idx[b]: M_b = Σ_c fc.weight[k, c] · features[b, c], upsampled
    bilinearly (align_corners=False) to the input's H×W, then min-max normalised per image to
    [0, 1] (a constant map becomes all zeros). Runs without gradients; does not change the
    model's train/eval mode.

    Inputs:
        model: has ``features(x)`` → (B, C, h, w) and ``fc`` = Linear(C, K).
        x: (B, 3, H, W). class_idx: (B,) long, or None for the model's predicted classes.
    Returns:
        cams (B, H, W) in [0, 1], and the class indices used (B,).
    """
    with torch.no_grad():
        feats = model.features(x)                                   # (B, C, h, w)
        if class_idx is None:
            class_idx = model.fc(feats.mean(dim=(2, 3))).argmax(1)  # = fc(global average pool)
        weights = model.fc.weight[class_idx]                        # (B, C)
        cams = torch.einsum("bc,bchw->bhw", weights, feats)         # (B, h, w)
        cams = F.interpolate(cams[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        lo = cams.amin(dim=(1, 2), keepdim=True)
        hi = cams.amax(dim=(1, 2), keepdim=True)
        cams = (cams - lo) / (hi - lo).clamp_min(1e-12)
    return cams, class_idx
