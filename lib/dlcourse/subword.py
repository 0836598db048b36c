"""Subword tokenisation with Hugging Face ``tokenizers``: one helper for every notebook that
reads real text (Multi30k English/German, NSMC Korean reviews, Tiny Shakespeare).

A tokenizer is trained on the *training split only* (BPE or Unigram, sentencepiece-style
``▁`` word boundaries, so Korean and German need no language-specific rules), saved as one
JSON file next to the model that uses it, and cached by a hash of its training text and
settings, so that reruns reuse it. Special tokens have the same ids as :mod:`dlcourse.text`:
``<pad>=0, <sos>=1, <eos>=2, <unk>=3``.

    tok = dl.subword.train(train_sentences, vocab_size=8000, model="bpe")
    ids = tok.encode_batch(["Two dogs play."], add_eos=True)      # list of id lists
    text = tok.decode(ids[0])                                     # "Two dogs play."
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .checks import require_choice, require_positive_int
from .runtime import cache_dir
from .text import PAD, PAD_ID, SOS, SOS_ID, EOS, EOS_ID, UNK, UNK_ID, SPECIALS

MODELS = ("bpe", "unigram")


class SubwordTokenizer:
    """A trained ``tokenizers.Tokenizer`` with the course's special tokens and batch helpers."""

    def __init__(self, tokenizer, settings: dict | None = None):
        self.tk = tokenizer
        self.settings = dict(settings or {})
        for token, want in zip(SPECIALS, (PAD_ID, SOS_ID, EOS_ID, UNK_ID)):
            got = self.tk.token_to_id(token)
            if got != want:
                raise ValueError(f"특수 토큰 {token}의 id가 {want}여야 합니다 (받은 값: {got}).")

    # --- sizes and ids --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.tk.get_vocab_size()

    @property
    def vocab_size(self) -> int:
        return len(self)

    pad_id, sos_id, eos_id, unk_id = PAD_ID, SOS_ID, EOS_ID, UNK_ID

    def tokens(self, text: str) -> list[str]:
        """The subword pieces of one text (for plots and tables)."""
        return self.tk.encode(text).tokens

    def id_to_token(self, i: int) -> str:
        return self.tk.id_to_token(int(i))

    # --- encode / decode ------------------------------------------------------------------------
    def encode(self, text: str, *, add_sos: bool = False, add_eos: bool = False, max_len: int | None = None) -> list[int]:
        if not isinstance(text, str):
            raise ValueError(f"encode에는 문자열(str)을 넘겨야 합니다 (받은 타입: {type(text).__name__}).")
        ids = self.tk.encode(text).ids
        if max_len is not None:
            ids = ids[: max(0, max_len - add_sos - add_eos)]
        return [SOS_ID] * add_sos + ids + [EOS_ID] * add_eos

    def encode_batch(self, texts: Sequence[str], *, add_sos: bool = False, add_eos: bool = False,
                     max_len: int | None = None) -> list[list[int]]:
        out = []
        for enc in self.tk.encode_batch(list(texts)):
            ids = enc.ids if max_len is None else enc.ids[: max(0, max_len - add_sos - add_eos)]
            out.append([SOS_ID] * add_sos + ids + [EOS_ID] * add_eos)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of an id sequence; stops at the first ``<eos>``, skips ``<pad>``/``<sos>``."""
        keep = []
        for i in (int(t) for t in ids):
            if i == EOS_ID:
                break
            if i not in (PAD_ID, SOS_ID):
                keep.append(i)
        return self.tk.decode(keep, skip_special_tokens=False).strip()

    def decode_batch(self, batch) -> list[str]:
        rows = batch.tolist() if isinstance(batch, torch.Tensor) else batch
        return [self.decode(r) for r in rows]

    def pad(self, seqs: Sequence[Sequence[int]], *, max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) long ids padded with ``<pad>``, and the lengths (B,)."""
        if not seqs:
            raise ValueError("빈 배치는 패딩할 수 없습니다 (empty batch).")
        lengths = [len(s) if max_len is None else min(len(s), max_len) for s in seqs]
        T = max(1, max(lengths))
        out = torch.full((len(seqs), T), PAD_ID, dtype=torch.long)
        for b, (s, n) in enumerate(zip(seqs, lengths)):
            if n:
                out[b, :n] = torch.tensor(list(s)[:n], dtype=torch.long)
        return out, torch.tensor(lengths, dtype=torch.long)

    # --- files ----------------------------------------------------------------------------------
    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tk.save(str(path))
        path.with_suffix(".settings.json").write_text(json.dumps(self.settings, ensure_ascii=False, indent=1),
                                                     encoding="utf-8")
        return path

    @classmethod
    def load(cls, path) -> "SubwordTokenizer":
        from tokenizers import Tokenizer

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"토크나이저 파일이 없습니다: {path}")
        settings_path = path.with_suffix(".settings.json")
        settings = json.loads(settings_path.read_text(encoding="utf-8")) if settings_path.exists() else {}
        return cls(Tokenizer.from_file(str(path)), settings)


def train(texts: Sequence[str], *, vocab_size: int = 8000, model: str = "bpe", min_frequency: int = 2,
          lowercase: bool = False, cache: bool = True) -> SubwordTokenizer:
    """Train a BPE or Unigram tokenizer on ``texts`` (the training split only).

    The result is cached under the course's cache folder by a hash of the texts and settings:
    the same call on the same data loads the saved tokenizer instead of training again."""
    require_positive_int(vocab_size, "vocab_size")
    require_choice(model, MODELS, "model")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts는 문자열(str)의 비어 있지 않은 목록이어야 합니다.")
    settings = {"vocab_size": vocab_size, "model": model, "min_frequency": min_frequency,
                "lowercase": lowercase, "n_texts": len(texts)}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for t in texts:
        digest.update(t.encode("utf-8"))
        digest.update(b"\n")
    path = cache_dir() / "tokenizers" / f"{model}-{vocab_size}-{digest.hexdigest()[:16]}.json"
    if cache and path.exists():
        return SubwordTokenizer.load(path)
    tok = SubwordTokenizer(_train(texts, settings), settings)
    if cache:
        tok.save(path)
    return tok


def _train(texts, settings):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = list(SPECIALS)
    if settings["model"] == "bpe":
        tk = Tokenizer(models.BPE(unk_token=UNK))
        trainer = trainers.BpeTrainer(vocab_size=settings["vocab_size"], min_frequency=settings["min_frequency"],
                                      special_tokens=specials, show_progress=False)
    else:
        tk = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=settings["vocab_size"], special_tokens=specials,
                                          unk_token=UNK, show_progress=False)
    norms = [normalizers.NFKC()] + ([normalizers.Lowercase()] if settings["lowercase"] else [])
    tk.normalizer = normalizers.Sequence(norms)
    tk.pre_tokenizer = pre_tokenizers.Metaspace()   # sentencepiece-style: "▁" marks a word start
    tk.decoder = decoders.Metaspace()
    tk.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tk
