"""Multi30k (Elliott et al., 2016), task 1: English ↔ German image-caption translation.

Files, per split (``train`` 29,000 / ``val`` 1,014 / ``test`` = ``test_2016_flickr`` 1,000 pairs),
one sentence a line, line *i* of one language translating line *i* of the other:

1. ``<data_root>/multi30k/<file>.<lang>.gz`` (the course copy; uncompressed ``<file>.<lang>`` works too);
2. ``<cache_dir>/multi30k/<file>.<lang>.gz``, downloaded from the canonical repository
   (github.com/multi30k/dataset, ``data/task1/raw/``) only when online and not grading.

Otherwise :class:`DataNotFound` says what to put where. Sentences come back as raw text: the
notebook tokenises them with :mod:`dlcourse.text`, so BLEU can be scored on detokenised output.
"""
from __future__ import annotations

import gzip
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import runtime
from ..checks import require_choice, require_positive_int
from ._common import DataNotFound, first_existing, online

MULTI30K_FILES = {"train": "train", "val": "val", "test": "test_2016_flickr"}
MULTI30K_SIZES = {"train": 29000, "val": 1014, "test": 1000}
LANGUAGES = ("en", "de", "fr", "cs")
CANONICAL_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{name}.gz"


@dataclass
class TranslationPairs:
    """Raw sentence pairs of one split: ``src[i]`` translates to ``tgt[i]``."""

    src: list
    tgt: list
    split: str
    src_lang: str
    tgt_lang: str
    source: str

    def __len__(self) -> int:
        return len(self.src)


def _candidates(root: Path, name: str):
    return [root / "multi30k" / f"{name}.gz", root / "multi30k" / name, root / f"{name}.gz"]


def _read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n").strip() for line in fh]


def _download(name: str) -> Path:
    dest = runtime.cache_dir() / "multi30k" / f"{name}.gz"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = CANONICAL_URL.format(name=name)
    print(f"[dlcourse] Multi30k 내려받는 중 (downloading): {url}")
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part.gz")  # .gz: read back through gzip
    os.close(fd)
    try:
        urllib.request.urlretrieve(url, tmp)
        _read_lines(Path(tmp))  # a broken download fails here, before it is kept
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def _missing_message(root: Path, names) -> str:
    files = "\n".join(f"     {root / 'multi30k' / (n + '.gz')}" for n in names)
    return (
        "Multi30k 데이터를 찾을 수 없습니다 (Multi30k data not found).\n"
        "다음 파일을 준비하세요 (한 줄에 한 문장, UTF-8, gzip 압축; 같은 줄 번호끼리 서로의 번역):\n"
        f"{files}\n"
        "  원본(canonical source): https://github.com/multi30k/dataset 의 data/task1/raw/ 폴더\n"
        "  (train 29,000줄, val 1,014줄, test_2016_flickr 1,000줄).\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 (현재: {root}). "
        "인터넷이 되는 곳에서는 채점 모드가 아니면 자동으로 내려받습니다."
    )


def _resolve(root: Path, name: str) -> Path | None:
    found = first_existing(_candidates(root, name))
    if found is None:
        cached = runtime.cache_dir() / "multi30k" / f"{name}.gz"
        found = cached if cached.exists() else None
    return found


def load_multi30k(split: str, *, src_lang: str = "en", tgt_lang: str = "de", limit: int | None = None) -> TranslationPairs:
    """Raw sentence pairs of ``split`` (``'train'``, ``'val'``, ``'test'``), ``src_lang`` → ``tgt_lang``.

    ``limit``: keep the first ``limit`` pairs (the files' order), for quick runs.
    """
    require_choice(split, tuple(MULTI30K_FILES), "split")
    require_choice(src_lang, LANGUAGES, "src_lang")
    require_choice(tgt_lang, LANGUAGES, "tgt_lang")
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang과 tgt_lang은 달라야 합니다 (받은 값: {src_lang!r}).")
    if limit is not None:
        require_positive_int(limit, "limit")
    root = runtime.data_root()
    names = [f"{MULTI30K_FILES[split]}.{lang}" for lang in (src_lang, tgt_lang)]
    paths = [_resolve(root, n) for n in names]
    if any(p is None for p in paths):
        if not online("raw.githubusercontent.com"):
            raise DataNotFound(_missing_message(root, names))
        paths = [p if p is not None else _download(n) for p, n in zip(paths, names)]
    src, tgt = (_read_lines(p) for p in paths)
    if len(src) != len(tgt):
        raise ValueError(f"{paths[0]}({len(src)}줄)와 {paths[1]}({len(tgt)}줄)의 줄 수가 다릅니다: "
                         "두 파일은 한 줄씩 짝이어야 합니다.")
    if limit is not None:
        src, tgt = src[:limit], tgt[:limit]
    return TranslationPairs(src=src, tgt=tgt, split=split, src_lang=src_lang, tgt_lang=tgt_lang,
                            source=", ".join(str(p) for p in paths))
