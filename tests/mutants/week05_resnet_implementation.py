"""Mutants of week05/resnet_implementation.ipynb: realistic wrong versions of the student cells.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week05/resnet_implementation.ipynb"
ROUND_TRIP = "basic-relu-before-add"

MUTANTS = [
    # --- BasicBlock -------------------------------------------------------------------------
    dict(name="basic-relu-before-add", cell="w05-basic-block",
         why="ReLU on F(x) before the addition, none after it",
         edits=[("return F.relu(out + self.shortcut(x))", "return F.relu(out) + self.shortcut(x)")]),
    dict(name="basic-no-relu-after-add", cell="w05-basic-block",
         why="no ReLU after the addition",
         edits=[("return F.relu(out + self.shortcut(x))", "return out + self.shortcut(x)")]),
    dict(name="basic-no-shortcut-on-stride", cell="w05-basic-block",
         why="projection only when channels change; a stride-2 block keeps an identity shortcut",
         edits=[("if stride != 1 or in_planes != planes * self.expansion:",
                 "if in_planes != planes * self.expansion:")]),
    dict(name="basic-stride-on-conv2", cell="w05-basic-block",
         why="downsampling on the second 3x3 convolution instead of the first",
         edits=[("self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)",
                 "self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=1, padding=1, bias=False)"),
                ("self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)",
                 "self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)")]),
    dict(name="basic-projection-3x3", cell="w05-basic-block",
         why="projection shortcut with a 3x3 instead of a 1x1 convolution",
         edits=[("nn.Conv2d(in_planes, planes * self.expansion, kernel_size=1, stride=stride, bias=False)",
                 "nn.Conv2d(in_planes, planes * self.expansion, kernel_size=3, stride=stride, padding=1, bias=False)")]),
    dict(name="basic-bn2-skipped", cell="w05-basic-block",
         why="second BatchNorm defined but never applied",
         edits=[("out = self.bn2(self.conv2(out))", "out = self.conv2(out)")]),
    # --- Bottleneck -------------------------------------------------------------------------
    dict(name="bottle-expansion-2", cell="w05-bottleneck",
         why="bottleneck expands by 2 instead of 4",
         edits=[("width = planes * self.expansion", "width = planes * 2")]),
    dict(name="bottle-stride-on-1x1", cell="w05-bottleneck",
         why="stride on the first 1x1 convolution (ResNet v1) instead of the 3x3",
         edits=[("self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)",
                 "self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False)"),
                ("self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)",
                 "self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)")]),
    dict(name="bottle-no-mid-relu", cell="w05-bottleneck",
         why="no ReLU after the 3x3 convolution",
         edits=[("out = F.relu(self.bn2(self.conv2(out)))", "out = self.bn2(self.conv2(out))")]),
    dict(name="bottle-identity-when-width-changes", cell="w05-bottleneck",
         why="shortcut compares in_planes with planes, not with the expanded width",
         edits=[("if stride != 1 or in_planes != width:", "if stride != 1 or in_planes != planes:")]),
    # --- ResNet ------------------------------------------------------------------------------
    dict(name="resnet-first-stage-stride-2", cell="w05-resnet",
         why="every stage, the first too, starts with stride 2",
         edits=[("strides = [1 if i == 0 else 2] + [1] * (n - 1)", "strides = [2] + [1] * (n - 1)")]),
    dict(name="resnet-ignores-expansion", cell="w05-resnet",
         why="next block's input width forgets block.expansion",
         edits=[("in_planes = planes * block.expansion", "in_planes = planes")]),
    dict(name="resnet-no-stem-relu", cell="w05-resnet",
         why="stem without its ReLU",
         edits=[("            nn.BatchNorm2d(widths[0]),\n            nn.ReLU(inplace=True),\n",
                 "            nn.BatchNorm2d(widths[0]),\n")]),
    dict(name="resnet-imagenet-maxpool", cell="w05-resnet",
         why="ImageNet habit: a max-pool after the stem of a 32x32 network",
         edits=[("            nn.ReLU(inplace=True),\n", "            nn.ReLU(inplace=True),\n            nn.MaxPool2d(3, stride=2, padding=1),\n")]),
    # --- augmentation ------------------------------------------------------------------------
    dict(name="aug-vertical-flip", cell="w05-augment",
         why="flips upside down (height axis) instead of left-right",
         edits=[("out.flip(3)", "out.flip(2)")]),
    dict(name="aug-one-offset-per-batch", cell="w05-augment",
         why="one crop position drawn for the whole batch",
         edits=[("dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dy = torch.randint(0, 2 * padding + 1, (1,), generator=generator)"),
                ("dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dx = torch.randint(0, 2 * padding + 1, (1,), generator=generator)")]),
    dict(name="aug-half-range", cell="w05-augment",
         why="offsets drawn from 0..padding instead of 0..2*padding",
         edits=[("dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dy = torch.randint(0, padding + 1, (b,), generator=generator)"),
                ("dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dx = torch.randint(0, padding + 1, (b,), generator=generator)")]),
    dict(name="aug-always-flip", cell="w05-augment",
         why="every image is mirrored",
         edits=[("flip = (torch.rand(b, generator=generator) < 0.5)", "flip = (torch.rand(b, generator=generator) < 1.0)")]),
    dict(name="aug-reflect-padding", cell="w05-augment",
         why="reflect padding instead of zeros",
         edits=[("padded = F.pad(x, (padding, padding, padding, padding))",
                 "padded = F.pad(x, (padding, padding, padding, padding), mode=\"reflect\")")]),
    dict(name="aug-ignores-generator", cell="w05-augment",
         why="random draws ignore the generator (not reproducible)",
         edits=[("flip = (torch.rand(b, generator=generator) < 0.5)", "flip = (torch.rand(b) < 0.5)")]),
    # --- learning-rate schedule ---------------------------------------------------------------
    dict(name="lr-warmup-off-by-one", cell="w05-lr-schedule",
         why="warm-up starts at 0 (step / warmup instead of (step + 1) / warmup)",
         edits=[("return base_lr * (step + 1) / warmup_steps", "return base_lr * step / warmup_steps")]),
    dict(name="lr-cosine-over-total", cell="w05-lr-schedule",
         why="cosine progress measured over all steps, warm-up included",
         edits=[("t = (step - warmup_steps) / (total_steps - warmup_steps)", "t = step / total_steps")]),
    dict(name="lr-no-min-lr", cell="w05-lr-schedule",
         why="cosine decays to 0, ignoring min_lr",
         edits=[("return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))",
                 "return base_lr * 0.5 * (1.0 + math.cos(math.pi * t))")]),
    dict(name="lr-rises-after-end", cell="w05-lr-schedule",
         why="no clamp after total_steps: the cosine climbs again",
         edits=[("    if step >= total_steps:\n        return float(min_lr)\n", "")]),
    # --- CAM -------------------------------------------------------------------------------------
    dict(name="cam-last-conv-weights", cell="w05-cam",
         why="weights of the last convolution instead of the classifier's",
         edits=[("weights = model.fc.weight[class_idx]",
                 "weights = model.stages[-1][-1].conv2.weight.mean(dim=(2, 3))[class_idx]")]),
    dict(name="cam-batch-normalisation", cell="w05-cam",
         why="min-max over the whole batch instead of per image",
         edits=[("lo = cams.amin(dim=(1, 2), keepdim=True)", "lo = cams.min()"),
                ("hi = cams.amax(dim=(1, 2), keepdim=True)", "hi = cams.max()")]),
    dict(name="cam-ignores-class-idx", cell="w05-cam",
         why="always explains the predicted class",
         edits=[("if class_idx is None:", "if True:")]),
    dict(name="cam-relu", cell="w05-cam",
         why="Grad-CAM habit: ReLU on the map before normalising",
         edits=[("cams = torch.einsum(\"bc,bchw->bhw\", weights, feats)", "cams = F.relu(torch.einsum(\"bc,bchw->bhw\", weights, feats))")]),
    dict(name="cam-divides-by-zero", cell="w05-cam",
         why="no guard: a constant map becomes NaN",
         edits=[("cams = (cams - lo) / (hi - lo).clamp_min(1e-12)", "cams = (cams - lo) / (hi - lo)")]),
    # --- added (issue 12): batch of 1, non-square inputs, empty edges, dtype, side effects ------------
    dict(name="basic-conv-bias", cell="w05-basic-block",
         why="convolutions with a bias in front of BatchNorm (extra parameters the layout does not have)",
         edits=[("self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)",
                 "self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1)")]),
    dict(name="basic-adds-into-input", cell="w05-basic-block",
         why="adds F(x) into the shortcut in place: with an identity shortcut that is the caller's x",
         edits=[("return F.relu(out + self.shortcut(x))  # ReLU after the addition, as in He et al.",
                 "identity = self.shortcut(x)\n        identity += out\n        return F.relu(identity)")]),
    dict(name="basic-projection-without-stride", cell="w05-basic-block",
         why="the 1x1 projection forgets the stride: the shortcut keeps the input's size",
         edits=[("nn.Conv2d(in_planes, planes * self.expansion, kernel_size=1, stride=stride, bias=False)",
                 "nn.Conv2d(in_planes, planes * self.expansion, kernel_size=1, bias=False)")]),
    dict(name="bottle-no-projection-on-stride", cell="w05-bottleneck",
         why="projection only when the width changes: stride 2 with in_planes = 4·planes keeps an identity",
         edits=[("if stride != 1 or in_planes != width:", "if in_planes != width:")]),
    dict(name="bottle-relu-before-add", cell="w05-bottleneck",
         why="ReLU on the residual branch before the addition, none after it",
         edits=[("        return F.relu(out + self.shortcut(x))\n", "        return F.relu(out) + self.shortcut(x)\n")]),
    dict(name="resnet-squeeze-batch-1", cell="w05-resnet",
         why="squeeze() after pooling: a batch of one loses its batch axis",
         edits=[("return self.fc(torch.flatten(self.pool(self.features(x)), 1))",
                 "return self.fc(self.pool(self.features(x)).squeeze())")]),
    dict(name="resnet-ignores-num-classes", cell="w05-resnet",
         why="constructor argument num_classes ignored: always 10 outputs",
         edits=[("self.fc = nn.Linear(in_planes, num_classes)", "self.fc = nn.Linear(in_planes, 10)")]),
    dict(name="resnet-all-blocks-strided", cell="w05-resnet",
         why="every block of a later stage has stride 2, not only its first",
         edits=[("strides = [1 if i == 0 else 2] + [1] * (n - 1)", "strides = [1 if i == 0 else 2] * n")]),
    dict(name="aug-rounded-offsets", cell="w05-augment",
         why="offsets round(U·2p) from a float draw: not uniform, both ends come half as often",
         edits=[("dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dy = torch.round(torch.rand(b, generator=generator) * 2 * padding).long()"),
                ("dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator)",
                 "dx = torch.round(torch.rand(b, generator=generator) * 2 * padding).long()")]),
    dict(name="aug-same-offset-both-axes", cell="w05-augment",
         why="one draw used for both axes: crops only move along the diagonal",
         edits=[("dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)", "dx = dy")]),
    dict(name="aug-hw-swapped", cell="w05-augment",
         why="height and width read in the wrong order: right only for square images",
         edits=[("b, _, h, w = x.shape", "b, _, w, h = x.shape")]),
    dict(name="aug-float32-copy", cell="w05-augment",
         why="pads a float32 copy (x.float()): float64 images come back rounded to float32",
         edits=[("padded = F.pad(x, (padding, padding, padding, padding))", "padded = F.pad(x.float(), (padding, padding, padding, padding))")]),
    dict(name="lr-returns-tensor", cell="w05-lr-schedule",
         why="torch.cos on a tensor: the learning rate comes back as a tensor, not a float",
         edits=[("return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))",
                 "return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + torch.cos(torch.tensor(math.pi * t)))")]),
    dict(name="lr-warmup-inclusive", cell="w05-lr-schedule",
         why="warm-up condition step <= warmup_steps: one step too long, divides by zero without warm-up",
         edits=[("if step < warmup_steps:", "if step <= warmup_steps:")]),
    dict(name="cam-integer-scale-factor", cell="w05-cam",
         why="upsamples with an integer scale_factor: right only when H and W are multiples of the map",
         edits=[("cams = F.interpolate(cams[:, None], size=x.shape[-2:], mode=\"bilinear\", align_corners=False)[:, 0]",
                 "cams = F.interpolate(cams[:, None], scale_factor=x.shape[-1] // cams.shape[-1], mode=\"bilinear\", "
                 "align_corners=False)[:, 0]")]),
    dict(name="cam-square-size", cell="w05-cam",
         why="upsamples to (W, W): right only for square inputs",
         edits=[("size=x.shape[-2:]", "size=(x.shape[-1], x.shape[-1])")]),
    dict(name="cam-squeeze-batch-1", cell="w05-cam",
         why="squeeze() after interpolation: a batch of one comes back as (H, W)",
         edits=[("align_corners=False)[:, 0]", "align_corners=False).squeeze()")]),
    dict(name="cam-sets-eval", cell="w05-cam",
         why="calls model.eval() and leaves the model in eval mode",
         edits=[("    with torch.no_grad():\n        feats = model.features(x)",
                 "    model.eval()\n    with torch.no_grad():\n        feats = model.features(x)")]),
    dict(name="cam-with-grad", cell="w05-cam",
         why="no torch.no_grad(): the maps come back still requiring grad",
         edits=[("    with torch.no_grad():\n", "    if True:\n")]),
    dict(name="cam-loop-float32-buffer", cell="w05-cam",
         why="sums the channels into a torch.zeros buffer: float64 features are accumulated in float32",
         edits=[("cams = torch.einsum(\"bc,bchw->bhw\", weights, feats)         # (B, h, w)",
                 "cams = torch.zeros(feats.shape[0], *feats.shape[2:])\n"
                 "        for c in range(feats.shape[1]):\n"
                 "            cams += weights[:, c, None, None] * feats[:, c]")]),
]

# Correct code written differently from the reference: every check must give it full marks.
VARIANTS = [
    # --- BasicBlock ---------------------------------------------------------------------------
    dict(name="basic-kuangliu", cell="w05-basic-block",
         why="the classic public CIFAR BasicBlock (kuangliu/pytorch-cifar): empty Sequential shortcut, out += shortcut",
         source='''class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out
'''),
    dict(name="basic-torchvision-style", cell="w05-basic-block",
         why="torchvision style: nn.ReLU(inplace=True) module, identity variable, shortcut None when shapes agree",
         source='''class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, (3, 3), padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=(stride, stride), bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + identity
        return self.relu(out)
'''),
    dict(name="basic-functional-relu-", cell="w05-basic-block",
         why="in-place F.relu_ on the block's own temporaries, shortcut chosen by a conditional expression",
         edits=[("out = F.relu(self.bn1(self.conv1(x)))  # (B, planes, H/s, W/s)", "out = F.relu_(self.bn1(self.conv1(x)))"),
                ("return F.relu(out + self.shortcut(x))  # ReLU after the addition, as in He et al.",
                 "return F.relu_(self.shortcut(x) + out)")]),
    # --- Bottleneck ----------------------------------------------------------------------------
    dict(name="bottle-kuangliu", cell="w05-bottleneck",
         why="the classic public CIFAR Bottleneck (kuangliu/pytorch-cifar, stride on the 3x3)",
         source='''class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super(Bottleneck, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out
'''),
    dict(name="bottle-torchvision-style", cell="w05-bottleneck",
         why="torchvision style: one nn.ReLU(inplace=True) module reused, identity variable, in-place add",
         source='''class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        out_planes = planes * Bottleneck.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        needs_projection = stride > 1 or in_planes != out_planes
        self.shortcut = (nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))
                         if needs_projection else nn.Identity())

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)
'''),
    # --- ResNet ---------------------------------------------------------------------------------
    dict(name="resnet-make-layer", cell="w05-resnet",
         why="kuangliu's _make_layer with self.in_planes, strides list per stage, out.view(out.size(0), -1)",
         source='''class ResNet(nn.Module):
    def __init__(self, block, num_blocks, widths=(64, 128, 256, 512), num_classes=10):
        super(ResNet, self).__init__()
        self.in_planes = widths[0]
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.stages = nn.ModuleList([self._make_layer(block, w, n, 1 if i == 0 else 2)
                                     for i, (w, n) in enumerate(zip(widths, num_blocks))])
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def features(self, x):
        out = self.stem(x)
        for layer in self.stages:
            out = layer(out)
        return out

    def forward(self, x):
        out = self.pool(self.features(x))
        out = out.view(out.size(0), -1)
        return self.fc(out)
'''),
    dict(name="resnet-mean-pool", cell="w05-resnet",
         why="global average pooling as a mean over (H, W) in forward; stages built by a nested comprehension",
         source='''class ResNet(nn.Module):
    def __init__(self, block, num_blocks, widths=(64, 128, 256, 512), num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        ins = [widths[0]] + [w * block.expansion for w in widths[:-1]]
        self.stages = nn.ModuleList(
            nn.Sequential(*[block(cin if j == 0 else w * block.expansion, w, 2 if (j == 0 and i > 0) else 1)
                            for j in range(n)])
            for i, (cin, w, n) in enumerate(zip(ins, widths, num_blocks)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)

    def features(self, x):
        for module in [self.stem, *self.stages]:
            x = module(x)
        return x

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))
'''),
    # --- augmentation ---------------------------------------------------------------------------
    dict(name="aug-loop-per-image", cell="w05-augment",
         why="a loop over the images with slicing and torch.flip, draws made once for the batch",
         source='''def random_crop_flip(x, padding=4, generator=None):
    b, c, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator)
    flips = torch.rand(b, generator=generator) < 0.5
    padded = torch.zeros(b, c, h + 2 * padding, w + 2 * padding, dtype=x.dtype, device=x.device)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    out = torch.empty_like(x)
    for i in range(b):
        dy, dx = int(offsets[0, i]), int(offsets[1, i])
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = torch.flip(crop, dims=[-1]) if flips[i] else crop
    return out
'''),
    dict(name="aug-draws-inside-loop", cell="w05-augment",
         why="one randint/rand per image inside the loop (.item()), F.pad per image",
         source='''def random_crop_flip(x, padding=4, generator=None):
    results = []
    for img in x:
        dy = torch.randint(2 * padding + 1, (1,), generator=generator).item()
        dx = torch.randint(2 * padding + 1, (1,), generator=generator).item()
        img = F.pad(img, [padding] * 4)[:, dy:dy + x.shape[2], dx:dx + x.shape[3]]
        if torch.rand(1, generator=generator).item() < 0.5:
            img = img.flip(-1)
        results.append(img)
    return torch.stack(results)
'''),
    dict(name="aug-unfold-index", cell="w05-augment",
         why="all windows as an unfold view, picked by advanced indexing; flip drawn with randint",
         source='''def random_crop_flip(x, padding=4, generator=None):
    b, c, h, w = x.shape
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    flip = torch.randint(0, 2, (b,), generator=generator).bool().to(x.device)
    windows = F.pad(x, (padding,) * 4).unfold(2, h, 1).unfold(3, w, 1)   # (B, C, 2p+1, 2p+1, H, W)
    out = windows[torch.arange(b), :, dy.to(x.device), dx.to(x.device)]    # (B, C, H, W)
    out = out.clone()
    out[flip] = out[flip].flip(-1)
    return out
'''),
    # --- learning-rate schedule -------------------------------------------------------------------
    dict(name="lr-min-and-cos-squared", cell="w05-lr-schedule",
         why="warm-up as base_lr·min(1, (step+1)/warmup); cosine written as cos²(π t / 2)",
         source='''def warmup_cosine_lr(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step >= total_steps:
        return float(min_lr)
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * min(1.0, (step + 1) / warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return float(min_lr + (base_lr - min_lr) * math.cos(math.pi * progress / 2) ** 2)
'''),
    dict(name="lr-numpy-cos", cell="w05-lr-schedule",
         why="np.cos: the result is a NumPy float64, which is a Python float subclass",
         source='''import numpy as np


def warmup_cosine_lr(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step >= total_steps:
        return min_lr * 1.0
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1 + np.cos(np.pi * t)) / 2
'''),
    # --- CAM ----------------------------------------------------------------------------------------
    dict(name="cam-broadcast-sum", cell="w05-cam",
         why="weighted sum by broadcasting, class from model(x).argmax, flatten-based min-max, torch.where guard",
         source='''@torch.no_grad()
def class_activation_map(model, x, class_idx=None):
    feats = model.features(x)
    if class_idx is None:
        class_idx = model(x).argmax(dim=1)
    w = model.fc.weight[class_idx]                                        # (B, C)
    maps = (w[:, :, None, None] * feats).sum(dim=1, keepdim=True)         # (B, 1, h, w)
    maps = F.interpolate(maps, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False).squeeze(1)
    flat = maps.flatten(1)
    lo = flat.min(dim=1).values[:, None, None]
    hi = flat.max(dim=1).values[:, None, None]
    maps = torch.where(hi > lo, (maps - lo) / (hi - lo), torch.zeros_like(maps))
    return maps, class_idx
'''),
    dict(name="cam-bmm-restores-mode", cell="w05-cam",
         why="bmm over flattened maps; switches to eval for the forward and restores the caller's mode; loops per image",
         source='''def class_activation_map(model, x, class_idx=None):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            feats = model.features(x)
            b, c, h, w = feats.shape
            if class_idx is None:
                class_idx = model.fc(feats.mean(dim=(2, 3))).argmax(-1)
            cams = torch.bmm(model.fc.weight[class_idx].unsqueeze(1), feats.reshape(b, c, h * w)).reshape(b, 1, h, w)
            cams = F.interpolate(cams, size=tuple(x.shape[-2:]), mode="bilinear")[:, 0]
            out = torch.zeros_like(cams)
            for i in range(b):
                span = cams[i].max() - cams[i].min()
                if span > 0:
                    out[i] = (cams[i] - cams[i].min()) / span
    finally:
        model.train(was_training)
    return out, class_idx
'''),
]
