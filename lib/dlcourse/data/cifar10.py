"""CIFAR-10, decoded once into a uint8 tensor cache so that an epoch never touches JPEG or pickle.

Sources, in order:

1. the cache ``<cache_dir>/cifar10-uint8.pt`` (made by this module);
2. the course archive ``<data_root>/cifar10/cifar10-jpg.tar.gz`` (``train/<class>/*.jpg``,
   ``test/<class>/*.jpg``);
3. torchvision's ``cifar-10-batches-py`` folder under ``<data_root>/cifar10/`` or ``<data_root>/``;
4. torchvision's download, only when online and not grading.

Otherwise :class:`DataNotFound` says what to put where.
"""
from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .. import runtime
from ..checks import require_choice, require_positive_int
from ._common import DataNotFound, first_existing, online, save_atomic

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CACHE_NAME = "cifar10-uint8.pt"
CACHE_VERSION = 1
ARCHIVE_NAME = "cifar10-jpg.tar.gz"
CANONICAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@dataclass
class ImageSet:
    """Images as uint8 ``(N, 3, 32, 32)`` and labels as int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple = CIFAR10_CLASSES

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _archive_candidates(root: Path):
    return [root / "cifar10" / ARCHIVE_NAME, root / ARCHIVE_NAME]


def _batches_candidates(root: Path):
    return [root / "cifar10" / "cifar-10-batches-py", root / "cifar-10-batches-py"]


def _decode_archive(path: Path) -> dict:
    """Decode the course's JPEG archive; order: class index, then file name."""
    from PIL import Image  # pillow comes with torchvision

    with gzip.open(path, "rb") as fh:
        raw = fh.read()  # ~90 MB decompressed: random access below is then free
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")]
        for split in ("train", "test"):
            chosen = []
            for m in members:
                parts = Path(m.name).parts
                if len(parts) == 3 and parts[0] == split and parts[1] in CIFAR10_CLASSES:
                    chosen.append((CIFAR10_CLASSES.index(parts[1]), parts[2], m))
            chosen.sort(key=lambda t: (t[0], t[1]))
            images = np.empty((len(chosen), 32, 32, 3), dtype=np.uint8)
            for i, (_, _, m) in enumerate(chosen):
                with Image.open(io.BytesIO(tar.extractfile(m).read())) as im:
                    images[i] = np.asarray(im.convert("RGB"))
            labels = np.fromiter((c for c, _, _ in chosen), dtype=np.int64, count=len(chosen))
            out[split] = (torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels))
    return out


def _decode_batches(folder: Path) -> dict:
    """Decode torchvision's / the original ``cifar-10-batches-py`` pickles."""
    def read(names):
        xs, ys = [], []
        for name in names:
            with open(folder / name, "rb") as fh:
                d = pickle.load(fh, encoding="latin1")
            xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d["labels"], dtype=np.int64))
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    return {"train": read([f"data_batch_{i}" for i in range(1, 6)]), "test": read(["test_batch"])}


def _missing_message(root: Path) -> str:
    return (
        "CIFAR-10 데이터를 찾을 수 없습니다 (CIFAR-10 data not found).\n"
        "다음 중 하나를 준비하세요:\n"
        f"  1) 과정 배포본(course archive): {root / 'cifar10' / ARCHIVE_NAME}\n"
        "     (안에 train/<class>/*.jpg 50,000장, test/<class>/*.jpg 10,000장)\n"
        f"  2) torchvision 형식: {root / 'cifar10' / 'cifar-10-batches-py'}/\n"
        f"     ({CANONICAL_URL} 를 받아 그 폴더에 압축 해제)\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 "
        f"(현재: {root}). 인터넷이 되는 곳에서는 채점 모드가 아니면 자동으로 내려받습니다."
    )


def _build(root: Path) -> dict:
    archive = first_existing(_archive_candidates(root))
    if archive is not None:
        return {"source": str(archive), "splits": _decode_archive(archive)}
    batches = first_existing(_batches_candidates(root))
    if batches is not None:
        return {"source": str(batches), "splits": _decode_batches(batches)}
    if online("www.cs.toronto.edu"):
        import torchvision

        target = root / "cifar10"
        print(f"[dlcourse] CIFAR-10을 내려받습니다 → {target}")
        torchvision.datasets.CIFAR10(str(target), train=True, download=True)
        return {"source": str(target / "cifar-10-batches-py"),
                "splits": _decode_batches(target / "cifar-10-batches-py")}
    raise DataNotFound(_missing_message(root))


_MEMO: dict = {}


def _load_all(root: Path | None = None) -> dict:
    root = Path(root).expanduser().resolve() if root is not None else runtime.data_root()
    cache = runtime.cache_dir() / CACHE_NAME
    key = (str(root), str(cache))
    if key in _MEMO:  # one decoded copy per process, however many subsets a notebook asks for
        return _MEMO[key]
    blob = torch.load(cache, weights_only=True) if cache.exists() else None
    if blob is None or blob.get("version") != CACHE_VERSION:
        blob = _build(root)
        blob["version"] = CACHE_VERSION
        save_atomic(blob, cache)
    _MEMO[key] = blob
    return blob


def load_cifar10(split: str = "train", *, per_class: int | None = None, root=None) -> ImageSet:
    """Load a CIFAR-10 split as uint8 tensors.

    Inputs:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000 images).
        per_class: keep only the first ``per_class`` images of every class (balanced subsets
            for fast and grade modes); ``None`` keeps everything.
        root: data root; defaults to the ``DLCOURSE_DATA_ROOT`` setting.
    Returns:
        :class:`ImageSet` with ``images`` ``(N, 3, 32, 32)`` uint8 and ``labels`` ``(N,)`` int64.
    """
    require_choice(split, ("train", "test"), "split")
    if per_class is not None:
        require_positive_int(per_class, "per_class")
    images, labels = _load_all(root)["splits"][split]
    if per_class is not None:
        keep = torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)])
        keep, _ = torch.sort(keep)
        images, labels = images[keep], labels[keep]
    return ImageSet(images=images, labels=labels)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` → float, scaled to [0, 1] and standardised per channel."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images는 (B, 3, H, W) 모양이어야 합니다 (받은 모양(shape): {tuple(images.shape)}).")
    mean = torch.tensor(CIFAR10_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


class TensorBatches:
    """Mini-batches straight from an in-memory :class:`ImageSet` on the training device.

    Far faster than a PIL ``DataLoader`` for 32×32 images: the whole set is moved to the device
    once, and augmentation (``augment``, a function on a float batch) runs batched on the device.
    """

    def __init__(self, data: ImageSet, batch_size: int, *, shuffle: bool, device="cpu",
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None, drop_last: bool = False,
                 seed: int = 0):
        require_positive_int(batch_size, "batch_size")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.images.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = normalize(self.images[idx])
            if self.augment is not None:
                x = self.augment(x)
            yield x, self.labels[idx]
