"""Tiny Shakespeare (Karpathy's char-rnn corpus; the plays are in the public domain) and a
character vocabulary for character-level language models.

File: ``<data_root>/tinyshakespeare/input.txt.gz`` (1,115,394 characters; an uncompressed
``input.txt`` works too). :func:`char_corpus` turns any text (also Korean reviews) into ids with a
character vocabulary and a train/validation split by position (the first 90 % trains)."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import runtime
from ._common import DataNotFound, first_existing

SHAKESPEARE_CHARS = 1_115_394


class CharVocab:
    """Character ↔ id table: the sorted distinct characters of a text."""

    def __init__(self, chars):
        chars = list(chars)
        if not chars or len(set(chars)) != len(chars) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("문자 어휘(chars)는 서로 다른 한 글자 문자열들의 비어 있지 않은 목록이어야 합니다.")
        self.itos = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def build(cls, text: str) -> "CharVocab":
        if not isinstance(text, str) or not text:
            raise ValueError("text는 비어 있지 않은 문자열이어야 합니다.")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> torch.Tensor:
        """(len(text),) int64 ids; a character outside the vocabulary is a ValueError."""
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        except KeyError as err:
            raise ValueError(f"어휘에 없는 문자입니다: {err.args[0]!r}") from None

    def decode(self, ids) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return "".join(self.itos[int(i)] for i in ids)


@dataclass
class CharCorpus:
    """A text as ids: ``train`` (first part) and ``val`` (the rest), with its vocabulary."""

    text: str
    vocab: CharVocab
    train: torch.Tensor
    val: torch.Tensor
    source: str


def char_corpus(text: str, *, val_fraction: float = 0.1, source: str = "") -> CharCorpus:
    """Character ids of ``text`` split by position: the first ``1 - val_fraction`` trains."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction은 0과 1 사이여야 합니다 (받은 값: {val_fraction}).")
    vocab = CharVocab.build(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * (1.0 - val_fraction))
    if cut < 2 or len(ids) - cut < 2:
        raise ValueError(f"텍스트가 너무 짧아 나눌 수 없습니다 ({len(ids)}자).")
    return CharCorpus(text, vocab, ids[:cut], ids[cut:], source)


def _missing_message(root: Path) -> str:
    return (
        "Tiny Shakespeare 데이터를 찾을 수 없습니다 (tinyshakespeare not found).\n"
        f"다음 파일을 준비하세요 (UTF-8 텍스트, gzip 압축): {root / 'tinyshakespeare' / 'input.txt.gz'}\n"
        "  원본(canonical source): https://github.com/karpathy/char-rnn 의 data/tinyshakespeare/input.txt "
        f"({SHAKESPEARE_CHARS:,}자).\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 (현재: {root})."
    )


def load_shakespeare_text(*, limit: int | None = None) -> tuple[str, str]:
    """(text, path) of Tiny Shakespeare; ``limit`` keeps the first ``limit`` characters."""
    root = runtime.data_root()
    path = first_existing([root / "tinyshakespeare" / "input.txt.gz", root / "tinyshakespeare" / "input.txt"])
    if path is None:
        raise DataNotFound(_missing_message(root))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        text = fh.read()
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 4:
            raise ValueError(f"limit은 4 이상의 정수여야 합니다 (받은 값: {limit!r}).")
        text = text[:limit]
    return text, str(path)


def load_shakespeare(*, val_fraction: float = 0.1, limit: int | None = None) -> CharCorpus:
    """Tiny Shakespeare as character ids: vocabulary of its distinct characters (65), the first
    90 % for training and the last 10 % for validation."""
    text, path = load_shakespeare_text(limit=limit)
    return char_corpus(text, val_fraction=val_fraction, source=path)
