"""Text for sequence-to-sequence notebooks: tokenising, vocabularies, padded batches, BLEU,
a training loop for translation models and attention heatmaps with real tokens on the axes.

Tokenisation is rule-based and needs no downloaded model, so every run (and every grader) gets
the same tokens: lower-casing (optional), words with inner hyphens or apostrophes kept whole,
every other punctuation mark a token of its own. :func:`detokenize` undoes the spacing so that
BLEU is computed by sacreBLEU on ordinary text, as published Multi30k numbers are.
"""
from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .checks import require_positive_int

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3

# A word (letters/digits, inner - ' ’ allowed: "t-shirt", "man's") or one punctuation mark.
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]", re.UNICODE)
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")
_QUOTES = re.compile(r'" (.*?) "')


def tokenize(text: str, lower: bool = False) -> list[str]:
    """Split a sentence into word and punctuation tokens (``lower``: lower-case first)."""
    if not isinstance(text, str):
        raise ValueError(f"tokenize에는 문자열(str)을 넘겨야 합니다 (받은 타입: {type(text).__name__}).")
    return _TOKEN.findall(text.lower() if lower else text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens into text: no space before closing punctuation or after opening brackets."""
    text = " ".join(tokens)
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    text = _NO_SPACE_AFTER.sub(r"\1", text)
    return _QUOTES.sub(r'"\1"', text)


class Vocab:
    """Token ↔ id table with the specials ``<pad>=0, <sos>=1, <eos>=2, <unk>=3``."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"어휘의 처음 네 토큰은 {list(SPECIALS)}여야 합니다 (받은 값: {tokens[:4]}).")
        if len(set(tokens)) != len(tokens):
            raise ValueError("어휘(vocabulary)에 중복된 토큰이 있습니다.")
        self.itos = tokens
        self.stoi = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_freq: int = 2, max_size: int | None = None) -> "Vocab":
        """Tokens seen at least ``min_freq`` times, most frequent first (ties alphabetical),
        at most ``max_size`` of them besides the specials."""
        require_positive_int(min_freq, "min_freq")
        if max_size is not None:
            require_positive_int(max_size, "max_size")
        counts = Counter(tok for sent in sentences for tok in sent)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str], *, sos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens`` (unknown ones become ``<unk>``), optionally wrapped in ``<sos> … <eos>``."""
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return ([SOS_ID] if sos else []) + ids + ([EOS_ID] if eos else [])

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Tokens of ``ids``. With ``strip``: stop at the first ``<eos>``, drop ``<pad>`` and ``<sos>``."""
        out = []
        for i in (int(x) for x in ids):
            if strip and i == EOS_ID:
                break
            if strip and i in (PAD_ID, SOS_ID):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out

    def to_dict(self) -> dict:
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        return cls(d["itos"])


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``(B, L_max)`` int64 and return it with the lengths ``(B,)``."""
    if len(seqs) == 0:
        raise ValueError("pad_batch에 빈 목록을 넘겼습니다.")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out, lengths


@dataclass
class TranslationBatch:
    """One batch: ``src (B, S)``, ``src_lens (B,)``, ``tgt_in = <sos> y (B, T)``, ``tgt_out = y <eos> (B, T)``
    and the batch's positions in its data set ``index (B,)``."""

    src: torch.Tensor
    src_lens: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    index: torch.Tensor

    def to(self, device) -> "TranslationBatch":
        # lengths stay on the CPU: pack_padded_sequence wants them there
        return TranslationBatch(self.src.to(device, non_blocking=True), self.src_lens,
                                self.tgt_in.to(device, non_blocking=True),
                                self.tgt_out.to(device, non_blocking=True), self.index)

    def __len__(self) -> int:
        return int(self.src.shape[0])


class TranslationBatches:
    """Padded batches of encoded pairs, bucketed by length so that little padding is computed.

    ``src_ids`` / ``tgt_ids``: lists of id lists; targets get ``<sos>``/``<eos>`` here. With
    ``shuffle`` the buckets are re-drawn every epoch from ``seed`` + epoch (reproducible).
    """

    def __init__(self, src_ids, tgt_ids, batch_size: int, *, shuffle: bool = False, device="cpu",
                 seed: int = 0, bucket: int = 50):
        require_positive_int(batch_size, "batch_size")
        if len(src_ids) != len(tgt_ids) or len(src_ids) == 0:
            raise ValueError(f"원문과 번역의 문장 수가 같고 0보다 커야 합니다 (받은 값: {len(src_ids)}, {len(tgt_ids)}).")
        self.src_ids, self.tgt_ids = list(src_ids), list(tgt_ids)
        self.batch_size, self.shuffle, self.device = batch_size, shuffle, torch.device(device)
        self.seed, self.bucket, self.epoch = seed, bucket, 0

    def __len__(self) -> int:
        return math.ceil(len(self.src_ids) / self.batch_size)

    def _order(self) -> list[list[int]]:
        n = len(self.src_ids)
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: len(self.src_ids[i]))
            return [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(n, generator=g).tolist()
        chunk = self.batch_size * self.bucket  # sort inside large random chunks: similar lengths per batch
        batches = []
        for start in range(0, n, chunk):
            part = sorted(perm[start:start + chunk], key=lambda i: len(self.src_ids[i]))
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        for idx in order:
            src, src_lens = pad_batch([self.src_ids[i] for i in idx])
            tgt, _ = pad_batch([[SOS_ID] + list(self.tgt_ids[i]) + [EOS_ID] for i in idx])
            yield TranslationBatch(src, src_lens, tgt[:, :-1], tgt[:, 1:], torch.tensor(idx)).to(self.device)


def bleu(hypotheses: Sequence[str], references: Sequence[str], *, lowercase: bool = False):
    """Corpus BLEU of detokenised ``hypotheses`` against one reference each (sacreBLEU, 13a).

    Returns sacreBLEU's result: ``.score`` (0–100) and its signature via :func:`bleu_signature`.
    """
    import sacrebleu  # only the notebooks that score translations need it

    if len(hypotheses) != len(references):
        raise ValueError(f"번역 {len(hypotheses)}개와 참조 {len(references)}개의 수가 다릅니다.")
    metric = sacrebleu.metrics.BLEU(lowercase=lowercase)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    result.signature = str(metric.get_signature())
    return result


def masked_token_stats(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = PAD_ID):
    """(sum of cross-entropy, number of real tokens, number predicted right) over non-pad targets."""
    flat_t = targets.reshape(-1)
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_t,
                                       ignore_index=pad_id, reduction="sum")
    real = flat_t != pad_id
    correct = int(((logits.reshape(-1, logits.shape[-1]).argmax(-1) == flat_t) & real).sum())
    return loss, int(real.sum()), correct


def default_seq2seq_loss(model, batch: TranslationBatch, label_smoothing: float = 0.0):
    """Teacher-forced cross-entropy per real target token; returns (loss, logits)."""
    out = model(batch.src, batch.src_lens, batch.tgt_in)
    logits = out[0] if isinstance(out, tuple) else out
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), batch.tgt_out.reshape(-1),
                                       ignore_index=PAD_ID, label_smoothing=label_smoothing)
    return loss, logits


@torch.no_grad()
def evaluate_seq2seq(model: nn.Module, batches: Iterable[TranslationBatch]) -> tuple[float, float]:
    """Teacher-forced mean loss per token and token accuracy (%) on ``batches``."""
    model.eval()
    loss_sum, n_tok, n_right = 0.0, 0, 0
    for batch in batches:
        out = model(batch.src, batch.src_lens, batch.tgt_in)
        logits = out[0] if isinstance(out, tuple) else out
        loss, n, right = masked_token_stats(logits, batch.tgt_out)
        loss_sum, n_tok, n_right = loss_sum + float(loss), n_tok + n, n_right + right
    if n_tok == 0:
        raise ValueError("평가할 토큰이 없습니다 (batches가 비어 있습니다).")
    return loss_sum / n_tok, 100.0 * n_right / n_tok


def fit_seq2seq(model: nn.Module, train_batches: Iterable[TranslationBatch], *, epochs: int,
                optimizer: torch.optim.Optimizer, loss_fn: Callable | None = None, scheduler=None,
                eval_batches: Iterable[TranslationBatch] | None = None, grad_clip: float | None = 1.0,
                desc: str = "seq2seq", max_steps: int | None = None):
    """Train a translation model with teacher forcing; returns :class:`dlcourse.training.History`.

    ``loss_fn(model, batch) -> (loss, logits)`` (default: :func:`default_seq2seq_loss`). Per epoch
    the history keeps the train loss per token and token accuracy, and the same on ``eval_batches``
    (``test_loss`` / ``test_acc``); ``history.steps["loss"]`` keeps every step's loss.
    """
    from .training import EpochRecord, History, optimizer_step, progress

    require_positive_int(epochs, "epochs")
    loss_fn = loss_fn or default_seq2seq_loss
    history = History(steps={"loss": []})
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        loss_sum, n_tok, n_right = 0.0, 0, 0
        bar = progress(train_batches, f"{desc} {epoch}/{epochs}")
        for batch in bar:
            loss, logits = loss_fn(model, batch)
            optimizer_step(model, loss, optimizer, grad_clip, scheduler)
            with torch.no_grad():
                tok_loss, n, right = masked_token_stats(logits.detach(), batch.tgt_out)
            loss_sum, n_tok, n_right = loss_sum + float(tok_loss), n_tok + n, n_right + right
            history.steps["loss"].append(float(loss.detach()))
            step += 1
            bar.set_postfix(loss=f"{loss_sum / max(n_tok, 1):.3f}")
            if max_steps is not None and step >= max_steps:
                break
        record = EpochRecord(epoch=epoch, train_loss=loss_sum / max(n_tok, 1), train_acc=100.0 * n_right / max(n_tok, 1),
                             lr=float(optimizer.param_groups[0]["lr"]), seconds=0.0)
        if eval_batches is not None:
            record.test_loss, record.test_acc = evaluate_seq2seq(model, eval_batches)
        record.seconds = time.perf_counter() - start
        history.epochs.append(record)
        val = f", val loss {record.test_loss:.4f} (ppl {math.exp(min(record.test_loss, 50)):.1f})" \
            if record.test_loss is not None else ""
        print(f"[{desc}] epoch {epoch}/{epochs}: train loss {record.train_loss:.4f}{val} ({record.seconds:.1f}s)")
        if max_steps is not None and step >= max_steps:
            break
    return history


def attention_heatmaps(maps: Sequence, src_tokens: Sequence[Sequence[str]], tgt_tokens: Sequence[Sequence[str]], *,
                       title: str, titles: Sequence[str] | None = None, ncols: int = 3, xlabel: str = "source",
                       ylabel: str = "output", path=None):
    """Attention weights ``(T_i, S_i)`` of several sentences, source tokens on x, output tokens on y."""
    import matplotlib.pyplot as plt

    from .plotting import save_figure

    n = len(maps)
    if n == 0 or len(src_tokens) != n or len(tgt_tokens) != n:
        raise ValueError(f"maps, src_tokens, tgt_tokens의 개수가 같고 0보다 커야 합니다 "
                         f"(받은 값: {n}, {len(src_tokens)}, {len(tgt_tokens)}).")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.2 * nrows + 0.4), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        w = maps[i].detach().float().cpu().numpy() if isinstance(maps[i], torch.Tensor) else maps[i]
        src, tgt = list(src_tokens[i]), list(tgt_tokens[i])
        if w.shape != (len(tgt), len(src)):
            raise ValueError(f"{i}번 맵의 모양 {tuple(w.shape)}이 (출력 토큰 {len(tgt)}, 원문 토큰 {len(src)})과 다릅니다.")
        ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(src)))
        ax.set_xticklabels(src, rotation=90, fontsize=7)
        ax.set_yticks(range(len(tgt)))
        ax.set_yticklabels(tgt, fontsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
