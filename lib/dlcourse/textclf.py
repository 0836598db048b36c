"""Text classification for the week-8 project: padded id batches, metrics, baselines.

* :class:`TokenBatches` - padded ``(ids (B, L), labels (B,))`` batches of encoded texts, bucketed by
  length (little padding is computed), reshuffled every epoch from a seed; works with
  :func:`dlcourse.training.fit`.
* :func:`predict` / :func:`scores` - predictions of a classifier and accuracy + macro-F1.
* :class:`LSTMClassifier` - the week-5 recurrent baseline: embedding, bidirectional LSTM over the
  real tokens (packed), mean + max pooling, linear head.
* :func:`tfidf_logreg` - the bag-of-n-grams baseline: TF-IDF features and logistic regression
  (scikit-learn).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .checks import require_positive_int
from .text import PAD_ID


def encode_texts(tokenizer, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """Subword ids of every text, cut to ``max_len`` tokens (an empty text becomes ``[<unk>]``,
    so that no row is all padding)."""
    require_positive_int(max_len, "max_len")
    out = tokenizer.encode_batch(list(texts), max_len=max_len)
    return [ids if ids else [tokenizer.unk_id] for ids in out]


def pad_ids(seqs: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> torch.Tensor:
    """(B, L_max) int64, right-padded with ``pad_id``."""
    if len(seqs) == 0:
        raise ValueError("빈 목록은 패딩할 수 없습니다 (empty batch).")
    out = torch.full((len(seqs), max(1, max(len(s) for s in seqs))), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            out[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out


class TokenBatches:
    """Padded batches ``(ids (B, L), labels (B,))`` of encoded texts.

    Without ``shuffle`` the order is by length (evaluation: least padding). With ``shuffle``
    the texts are drawn in a new order every epoch (``seed`` + epoch), sorted by length inside
    chunks of ``bucket`` batches, and the batches are shuffled again."""

    def __init__(self, ids: Sequence[Sequence[int]], labels, batch_size: int, *, shuffle: bool = False,
                 seed: int = 0, device="cpu", bucket: int = 50, pad_id: int = PAD_ID):
        require_positive_int(batch_size, "batch_size")
        labels = torch.as_tensor(labels, dtype=torch.long)
        if len(ids) != len(labels) or len(ids) == 0:
            raise ValueError(f"텍스트와 레이블의 수가 같고 0보다 커야 합니다 (받은 값: {len(ids)}, {len(labels)}).")
        self.ids, self.labels = [list(s) for s in ids], labels
        self.batch_size, self.shuffle, self.seed, self.bucket = batch_size, shuffle, seed, bucket
        self.device, self.pad_id, self.epoch = torch.device(device), pad_id, 0

    def __len__(self) -> int:
        return math.ceil(len(self.ids) / self.batch_size)

    def order(self) -> list[list[int]]:
        n, bs = len(self.ids), self.batch_size
        if not self.shuffle:
            idx = sorted(range(n), key=lambda i: len(self.ids[i]))
            return [idx[i:i + bs] for i in range(0, n, bs)]
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(n, generator=g).tolist()
        batches = []
        for start in range(0, n, bs * self.bucket):
            part = sorted(perm[start:start + bs * self.bucket], key=lambda i: len(self.ids[i]))
            batches += [part[i:i + bs] for i in range(0, len(part), bs)]
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def __iter__(self):
        batches = self.order()
        self.epoch += 1
        for idx in batches:
            x = pad_ids([self.ids[i] for i in idx], self.pad_id)
            yield x.to(self.device, non_blocking=True), self.labels[idx].to(self.device, non_blocking=True)


@torch.no_grad()
def predict(model: nn.Module, ids: Sequence[Sequence[int]], *, batch_size: int = 256, device="cpu",
            pad_id: int = PAD_ID) -> torch.Tensor:
    """Class probabilities ``(N, C)`` of ``model`` for every encoded text, in the given order."""
    model.eval()
    device = torch.device(device)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    probs = None
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        logits = model(pad_ids([ids[i] for i in idx], pad_id).to(device)).float()
        p = torch.softmax(logits, dim=-1).cpu()
        if probs is None:
            probs = torch.empty(len(ids), p.shape[1])
        probs[idx] = p
    if probs is None:
        raise ValueError("예측할 텍스트가 없습니다 (ids가 비어 있습니다).")
    return probs


def scores(y_true, y_pred, n_classes: int | None = None) -> dict:
    """Accuracy (%) and macro-F1 (%): the F1 of every class, averaged with equal weights (a class
    with no true and no predicted example is left out of the average)."""
    y_true = torch.as_tensor(y_true).long().flatten()
    y_pred = torch.as_tensor(y_pred).long().flatten()
    if y_true.shape != y_pred.shape or y_true.numel() == 0:
        raise ValueError(f"y_true와 y_pred의 길이가 같고 0보다 커야 합니다 (받은 값: {y_true.numel()}, {y_pred.numel()}).")
    n = n_classes or int(max(y_true.max(), y_pred.max())) + 1
    f1s = []
    for c in range(n):
        tp = int(((y_pred == c) & (y_true == c)).sum())
        fp = int(((y_pred == c) & (y_true != c)).sum())
        fn = int(((y_pred != c) & (y_true == c)).sum())
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return {"accuracy": 100.0 * float((y_true == y_pred).float().mean()), "macro_f1": 100.0 * sum(f1s) / len(f1s)}


class LSTMClassifier(nn.Module):
    """The week-5 recurrent baseline: embedding → bidirectional LSTM over the real tokens
    (packed, so padding is never read) → [mean; max] over time → dropout → linear head."""

    def __init__(self, vocab_size: int, n_classes: int = 2, emb_dim: int = 128, hidden: int = 128,
                 num_layers: int = 1, dropout: float = 0.3, pad_id: int = PAD_ID):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        real = ids != self.pad_id                                           # (B, T)
        lengths = real.sum(1).clamp_min(1).cpu()
        x = self.dropout(self.embed(ids))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # (B, T, 2H)
        keep = real.unsqueeze(-1)
        mean = (out * keep).sum(1) / keep.sum(1).clamp_min(1)
        peak = out.masked_fill(~keep, float("-inf")).amax(1).nan_to_num(0.0, neginf=0.0)
        return self.head(self.dropout(torch.cat([mean, peak], dim=-1)))


def tfidf_logreg(texts: Sequence[str], labels, *, analyzer: str = "char_wb", ngram_range=(1, 3),
                 min_df: int = 2, max_features: int | None = 300_000, C: float = 2.0, seed: int = 0):
    """A fitted scikit-learn pipeline: TF-IDF of character (``char_wb``) or word n-grams with
    sub-linear term frequency, then logistic regression. ``.predict(texts)`` gives labels."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngram_range), min_df=min_df,
                                 max_features=max_features, sublinear_tf=True)
    model = make_pipeline(vectorizer, LogisticRegression(C=C, max_iter=1000, random_state=seed))
    model.fit(list(texts), torch.as_tensor(labels).numpy())
    return model


class AttentionGRU(nn.Module):
    """The week-5 translation baseline for the Multi30k option: a bidirectional GRU encoder and a
    GRU decoder with dot-product (Luong) attention over the encoder states, teacher-forced.

    ``forward(src (B, S), src_lens (B,), tgt_in (B, T)) → logits (B, T, V)`` (the call of
    :func:`dlcourse.text.fit_seq2seq`); ``greedy(src, src_lens, max_len) → ids (B, max_len)``."""

    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int = 128, hidden: int = 128, dropout: float = 0.2,
                 pad_id: int = PAD_ID):
        super().__init__()
        self.pad_id = pad_id
        self.src_embed = nn.Embedding(src_vocab, emb, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb, padding_idx=pad_id)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.keys = nn.Linear(2 * hidden, hidden, bias=False)
        self.decoder = nn.GRUCell(emb + 2 * hidden, hidden)
        self.out = nn.Linear(hidden + 2 * hidden, tgt_vocab)
        self.dropout = nn.Dropout(dropout)

    def encode(self, src, src_lens):
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(self.src_embed(src)), src_lens.cpu().clamp_min(1),
                                                   batch_first=True, enforce_sorted=False)
        states, _ = self.encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=src.shape[1])
        mask = src != self.pad_id                                               # (B, S)
        mean = (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return states, mask, torch.tanh(self.bridge(mean))

    def step(self, token, h, context, states, keys, mask):
        h = self.decoder(torch.cat([self.dropout(self.tgt_embed(token)), context], -1), h)
        scores = (keys @ h.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, float("-inf"))
        context = (torch.softmax(scores, -1).unsqueeze(1) @ states).squeeze(1)
        return self.out(self.dropout(torch.cat([h, context], -1))), h, context

    def forward(self, src, src_lens, tgt_in):
        states, mask, h = self.encode(src, src_lens)
        keys = self.keys(states)
        context = torch.zeros(src.shape[0], states.shape[-1], device=src.device, dtype=states.dtype)
        logits = []
        for t in range(tgt_in.shape[1]):
            out, h, context = self.step(tgt_in[:, t], h, context, states, keys, mask)
            logits.append(out)
        return torch.stack(logits, 1)

    @torch.no_grad()
    def greedy(self, src, src_lens, max_len: int, sos_id: int = 1):
        states, mask, h = self.encode(src, src_lens)
        keys = self.keys(states)
        context = torch.zeros(src.shape[0], states.shape[-1], device=src.device, dtype=states.dtype)
        token = torch.full((src.shape[0],), sos_id, dtype=torch.long, device=src.device)
        out = []
        for _ in range(max_len):
            logits, h, context = self.step(token, h, context, states, keys, mask)
            token = logits.argmax(-1)
            out.append(token)
        return torch.stack(out, 1)
