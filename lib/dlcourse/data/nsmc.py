"""NSMC (Naver Sentiment Movie Corpus, Lucy Park, CC0 1.0): Korean movie reviews, 1 = positive.

Files (the course copy in the data root; see its README for how it was rebuilt from the raw crawl):

    <data_root>/nsmc/ratings_train.tsv.gz   150,000 reviews
    <data_root>/nsmc/ratings_test.tsv.gz     50,000 reviews

tab-separated with a header ``id document label`` (uncompressed ``.tsv`` files work too). Both
classes are balanced. The validation split is carved out of the training file with a seeded,
class-stratified draw, so model selection never touches the test file:

    train = dl.data.load_nsmc("train")            # 135,000 reviews (150,000 − val_size)
    val = dl.data.load_nsmc("val")                #  15,000 reviews, disjoint from train
    test = dl.data.load_nsmc("test")              #  50,000 reviews
"""
from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import runtime
from ..checks import require_choice, require_positive_int
from ._common import DataNotFound, first_existing

NSMC_FILES = {"train": "ratings_train.tsv", "test": "ratings_test.tsv"}
NSMC_SIZES = {"train": 150_000, "test": 50_000}
NSMC_CLASSES = ("negative", "positive")
SPLITS = ("train", "val", "test")
DEFAULT_VAL_SIZE = 15_000

_CACHE: dict = {}


@dataclass
class Reviews:
    """Reviews of one split: ``texts[i]`` has label ``labels[i]`` (0 negative, 1 positive)."""

    texts: list
    labels: torch.Tensor
    ids: list
    split: str
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> "Reviews":
        """The reviews at the positions in ``index`` (a list or a 1-D tensor), in that order."""
        index = [int(i) for i in (index.tolist() if isinstance(index, torch.Tensor) else index)]
        return Reviews([self.texts[i] for i in index], self.labels[index], [self.ids[i] for i in index],
                       self.split, self.source)


def _missing_message(root: Path) -> str:
    files = "\n".join(f"     {root / 'nsmc' / (name + '.gz')}" for name in NSMC_FILES.values())
    return (
        "NSMC 데이터를 찾을 수 없습니다 (NSMC data not found).\n"
        "다음 파일을 준비하세요 (탭으로 구분, 머리줄 'id\tdocument\tlabel', UTF-8, gzip 압축; label 1 = 긍정):\n"
        f"{files}\n"
        "  원본(canonical source): https://github.com/e9t/nsmc (ratings_train.txt 150,000개, ratings_test.txt 50,000개).\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 (현재: {root})."
    )


def _read(path: Path) -> tuple[list, list, list]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:3]] != ["id", "document", "label"]:
        raise ValueError(f"{path}: 머리줄이 'id\\tdocument\\tlabel'이어야 합니다 (받은 값: {header!r}).")
    ids, texts, labels = [], [], []
    for n, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 3 or row[2] not in ("0", "1"):
            raise ValueError(f"{path}, {n}번째 줄: 'id, 리뷰, 0/1 레이블' 세 칸이어야 합니다 (받은 값: {row[:3]!r}).")
        ids.append(int(row[0]))
        texts.append(row[1].strip())
        labels.append(int(row[2]))
    return ids, texts, labels


def _file(split_file: str) -> tuple[list, list, list, str]:
    root = runtime.data_root()
    name = NSMC_FILES[split_file]
    path = first_existing([root / "nsmc" / f"{name}.gz", root / "nsmc" / name, root / f"{name}.gz"])
    if path is None:
        raise DataNotFound(_missing_message(root))
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _CACHE:
        _CACHE.clear() if len(_CACHE) > 4 else None
        _CACHE[key] = (*_read(path), str(path))
    return _CACHE[key]


def split_indices(labels: torch.Tensor, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) positions: ``val_size`` drawn per class in proportion (stratified), seeded;
    both sorted, so the files' order is kept inside each split."""
    n = len(labels)
    if not 0 < val_size < n:
        raise ValueError(f"val_size는 1 이상 {n - 1} 이하여야 합니다 (받은 값: {val_size}).")
    g = torch.Generator().manual_seed(seed)
    val = []
    classes = sorted(set(labels.tolist()))
    left = val_size
    for i, c in enumerate(classes):
        members = torch.nonzero(labels == c).flatten()
        take = left if i == len(classes) - 1 else round(val_size * len(members) / n)
        take = min(take, len(members))
        val.append(members[torch.randperm(len(members), generator=g)[:take]])
        left -= take
    val = torch.sort(torch.cat(val)).values
    keep = torch.ones(n, dtype=torch.bool)
    keep[val] = False
    return torch.nonzero(keep).flatten(), val


def load_nsmc(split: str, *, val_size: int = DEFAULT_VAL_SIZE, seed: int = 0, limit: int | None = None,
              per_class: int | None = None) -> Reviews:
    """Reviews of ``split``: ``'train'`` (the training file minus the validation reviews), ``'val'``
    (``val_size`` reviews drawn from the training file, stratified, with ``seed``) or ``'test'``.

    ``per_class``: keep the first ``per_class`` reviews of each class (balanced small subsets);
    ``limit``: keep the first ``limit`` reviews after that (quick runs).
    """
    require_choice(split, SPLITS, "split")
    require_positive_int(val_size, "val_size")
    if limit is not None:
        require_positive_int(limit, "limit")
    if per_class is not None:
        require_positive_int(per_class, "per_class")
    ids, texts, labels, source = _file("test" if split == "test" else "train")
    y = torch.tensor(labels, dtype=torch.long)
    if split == "test":
        index = torch.arange(len(y))
    else:
        train_idx, val_idx = split_indices(y, val_size, seed)
        index = train_idx if split == "train" else val_idx
    if per_class is not None:
        index = torch.sort(torch.cat([index[y[index] == c][:per_class] for c in (0, 1)])).values
    if limit is not None:
        index = index[:limit]
    index = index.tolist()
    return Reviews([texts[i] for i in index], y[index], [ids[i] for i in index], split, source)
