"""Neural machine translation with a transformer: the plumbing around the exercises of
week07/transformer_enc_dec (the notebook and benchmarks/transformer_bleu.py use the same code).

Nothing here is an exercise's solution: the model, the loss, the schedule and the decoders are
the student's, and are passed in. This module turns raw Multi30k pairs into subword ids, makes
length-bucketed batches by a token budget, runs the training loop, translates a corpus with any
decoder, scores BLEU by source length (the buckets of week 5) and copies the weights of torch's
own transformer modules into the notebook's layout, for the visible checks.

    tok = dl.subword.train(train.src + train.tgt, vocab_size=8000)       # training split only
    src_ids, tgt_ids = dl.nmt.encode_pairs(tok, train)
    batches = dl.nmt.TokenBatches(src_ids, tgt_ids, max_tokens=4096, shuffle=True)
    for batch in batches:            # batch.src (B, S), batch.tgt (B, T + 1) = <sos> y … <eos> <pad> …
        ...
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .checks import require_positive_int
from .text import EOS_ID, PAD_ID, SOS_ID, bleu, tokenize

# Source-length buckets in words (dlcourse.text.tokenize), the same as week05/attention_mechanisms.
LENGTH_BUCKETS = ((0, 8, "≤8"), (9, 12, "9-12"), (13, 16, "13-16"), (17, 20, "17-20"), (21, 10 ** 9, ">20"))


# --- configuration: one preset per run mode (the benchmark uses "full") ---------------------------------
@dataclass
class TransformerConfig:
    """One training run of the translation transformer (week07/transformer_enc_dec)."""

    vocab_size: int = 8000           # one BPE vocabulary for English and German, trained on the training split
    d_model: int = 256
    n_heads: int = 4
    n_layers: int = 3                # encoder layers = decoder layers
    d_ff: int = 1024
    dropout: float = 0.1
    label_smoothing: float = 0.1
    norm_first: bool = False         # post-norm, as in the paper
    max_tokens: int = 3000           # padded tokens per batch
    warmup_steps: int = 400
    lr_factor: float = 0.4           # peak learning rate factor / √(d_model · warmup_steps) ≈ 1.25e-3
    epochs: int = 20
    grad_clip: float = 1.0
    train_limit: int | None = None   # None: all 29,000 training pairs
    eval_limit: int | None = None    # None: all validation / test pairs
    val_bleu_limit: int = 300        # validation sentences translated (greedy) after every epoch
    beam_size: int = 4
    alphas: tuple = (0.0, 0.6, 1.0)  # length-normalisation exponents tried on the validation set
    max_len_a: float = 1.5           # decoding stops after a · S + b tokens (S: source length in subwords)
    max_len_b: int = 10


PRESETS = {
    "full": TransformerConfig(),
    "fast": TransformerConfig(vocab_size=800, d_model=48, n_heads=4, n_layers=1, d_ff=96, max_tokens=1200,
                              warmup_steps=40, lr_factor=0.5, epochs=3, train_limit=1500, eval_limit=60,
                              val_bleu_limit=30, max_len_a=1.0, max_len_b=4),
    "grade": TransformerConfig(vocab_size=300, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_tokens=800,
                               warmup_steps=10, lr_factor=1.0, epochs=1, train_limit=200, eval_limit=20,
                               val_bleu_limit=10),
}


def make_optimizer(model: nn.Module, schedule: Callable[[int], float]):
    """Adam with β = (0.9, 0.98), ε = 1e-9 (Vaswani et al.) and a per-step schedule: the learning rate of
    optimiser step s (1-based) is ``schedule(s)``. Returns (optimizer, scheduler); call scheduler.step()
    after every optimizer.step() (:func:`train_translation` does)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule(step + 1))
    return optimizer, scheduler


def max_decode_len(src: torch.Tensor, cfg: TransformerConfig) -> int:
    """The decoding budget of a batch of sources: a · S + b tokens."""
    return int(cfg.max_len_a * src.shape[1] + cfg.max_len_b)


# --- torch's modules → the notebook's layout -------------------------------------------------------
_RENAMES = (("multihead_attn.", "cross_attn."), ("encoder.layers.", "encoder_layers."),
            ("decoder.layers.", "decoder_layers."), ("encoder.norm.", "encoder_norm."),
            ("decoder.norm.", "decoder_norm."))


def _rename(key: str) -> str:
    for old, new in _RENAMES:
        key = key.replace(old, new)
    return key


def torch_to_course(values: dict, target_keys) -> dict:
    """Rename a state_dict (or a dict of gradients) of torch's transformer modules to the notebook's layout:
    ``in_proj_weight``/``in_proj_bias`` split into ``q_proj``/``k_proj``/``v_proj`` (or kept whole as a fused
    ``in_proj`` when ``target_keys`` has one), ``multihead_attn`` → ``cross_attn``, ``encoder.layers`` →
    ``encoder_layers``, ``encoder.norm`` → ``encoder_norm`` (the decoder alike)."""
    target_keys = set(target_keys)
    mapped = {}
    for key, value in values.items():
        head, _, leaf = key.rpartition(".")
        prefix = _rename(head + "." if head else "")
        if leaf in ("in_proj_weight", "in_proj_bias"):
            kind = "weight" if leaf.endswith("weight") else "bias"
            if f"{prefix}in_proj.{kind}" in target_keys:        # a fused layout
                mapped[f"{prefix}in_proj.{kind}"] = value
            elif value is None:
                mapped.update({f"{prefix}{name}.{kind}": None for name in ("q_proj", "k_proj", "v_proj")})
            else:
                for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3)):
                    mapped[f"{prefix}{name}.{kind}"] = part
        else:
            mapped[_rename(key)] = value
    return mapped


@torch.no_grad()
def copy_torch_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Load the weights of torch's ``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``,
    ``nn.TransformerDecoderLayer`` or ``nn.Transformer`` (``source``) into the notebook's module of the
    same kind (``target``), whose attention keeps ``q_proj``/``k_proj``/``v_proj`` (or one fused
    ``in_proj``) and ``out_proj``, and whose decoder calls torch's ``multihead_attn`` ``cross_attn``.

    Parameters of ``target`` that torch's module does not have (embeddings, output layer of a whole
    model) are left as they are. Returns ``target``."""
    if not isinstance(source, nn.Module) or not isinstance(target, nn.Module):
        raise ValueError("source와 target은 nn.Module이어야 합니다.")
    ours = target.state_dict()
    mapped = torch_to_course(source.state_dict(), ours)
    unknown = [k for k in mapped if k not in ours]
    if unknown:
        raise ValueError(f"target에 없는 가중치가 있습니다: {unknown[:4]} … 속성 이름(q_proj, k_proj, v_proj, "
                         f"out_proj, linear1, norm1, cross_attn, encoder_layers, …)을 확인하세요.")
    for key, value in mapped.items():
        if ours[key].shape != value.shape:
            raise ValueError(f"{key}의 모양이 다릅니다: torch {tuple(value.shape)}, target {tuple(ours[key].shape)}.")
    target.load_state_dict({**ours, **mapped})
    return target


def _torch_twin(kind: str, cls, d_model: int, n_heads: int, norm_first: bool):
    """(torch's module, the student's module with the same weights) of the given kind."""
    if kind == "attention":
        theirs, ours = nn.MultiheadAttention(d_model, n_heads, batch_first=True), cls(d_model, n_heads)
    elif kind == "encoder":
        theirs = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, 0.0, batch_first=True, norm_first=norm_first)
        ours = cls(d_model, n_heads, 2 * d_model, 0.0, norm_first)
    elif kind == "decoder":
        theirs = nn.TransformerDecoderLayer(d_model, n_heads, 2 * d_model, 0.0, batch_first=True, norm_first=norm_first)
        ours = cls(d_model, n_heads, 2 * d_model, 0.0, norm_first)
    else:
        raise ValueError(f"kind는 'attention', 'encoder', 'decoder' 중 하나여야 합니다 (받은 값: {kind!r}).")
    return theirs.eval(), copy_torch_weights(theirs, ours).eval()


@torch.no_grad()
def matches_torch(kind: str, cls) -> bool:
    """Whether the notebook's ``cls`` (a MultiHeadAttention, EncoderLayer or DecoderLayer class) computes
    what torch's module of that kind computes, given the same weights, on a small batch with padding
    and causal masks (post-norm and pre-norm for the layers). Visible checks of later parts use it to
    compare with torch only when the parts they build on already agree with torch."""
    import warnings

    if kind not in ("attention", "encoder", "decoder"):
        raise ValueError(f"kind는 'attention', 'encoder', 'decoder' 중 하나여야 합니다 (받은 값: {kind!r}).")
    g = torch.Generator().manual_seed(0)
    x, memory = torch.randn(2, 4, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    pad_x = torch.tensor([[False] * 4, [False, False, True, True]])
    pad_m = torch.tensor([[False] * 5, [False, False, False, True, True]])
    causal = torch.ones(4, 4, dtype=torch.bool).triu(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            for norm_first in ((False,) if kind == "attention" else (False, True)):
                theirs, ours = _torch_twin(kind, cls, 8, 2, norm_first)
                if kind == "attention":
                    want = theirs(x, memory, memory, key_padding_mask=pad_m, average_attn_weights=False)
                    got = ours(x, memory, memory, key_padding_mask=pad_m)
                    want2 = theirs(x, x, x, attn_mask=causal)[0]
                    got2 = ours(x, x, x, attn_mask=causal)[0]
                    ok = torch.allclose(got[0], want[0], atol=1e-5) and torch.allclose(got[1], want[1], atol=1e-5) \
                        and torch.allclose(got2, want2, atol=1e-5)
                elif kind == "encoder":
                    ok = torch.allclose(ours(x, src_key_padding_mask=pad_x), theirs(x, src_key_padding_mask=pad_x),
                                        atol=1e-5)
                else:
                    masks = dict(tgt_mask=causal, tgt_key_padding_mask=pad_x, memory_key_padding_mask=pad_m)
                    ok = torch.allclose(ours(x, memory, **masks), theirs(x, memory, **masks), atol=1e-5)
                if not ok:
                    return False
    except Exception:  # noqa: BLE001 - not implemented yet, wrong shapes, wrong names: not equal
        return False
    return True


class MarkovTranslator(nn.Module):
    """A toy model with the notebook's interface (encode, decode, generator, forward) for checks you can
    follow by hand: the next token depends on the previous token only, with next-token logits
    ``logits[previous, next]`` (V, V); the source is ignored.

        decode(prefix (B, T), memory, src_pad) → one-hot states (B, T, V);  generator(states) = states @ logits
    """

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
            raise ValueError(f"logits는 (V, V) 행렬이어야 합니다 (받은 모양: {tuple(logits.shape)}).")
        self.logits = nn.Parameter(logits.detach().clone().float())

    def encode(self, src):
        return torch.zeros(*src.shape, 1, device=src.device), src == PAD_ID

    def decode(self, tgt_in, memory, src_pad):
        return nn.functional.one_hot(tgt_in, self.logits.shape[0]).to(self.logits.dtype)

    def generator(self, states):
        return states @ self.logits

    def forward(self, src, tgt_in):
        return self.generator(self.decode(tgt_in, *self.encode(src)))


# --- data ------------------------------------------------------------------------------------------
def encode_pairs(tokenizer, pairs, max_len: int | None = None) -> tuple[list, list]:
    """Subword ids of a :class:`dlcourse.data.TranslationPairs` split: (source ids, target ids),
    without special tokens (the batches add ``<sos>``/``<eos>`` to the targets)."""
    return tokenizer.encode_batch(pairs.src, max_len=max_len), tokenizer.encode_batch(pairs.tgt, max_len=max_len)


@dataclass
class TokenBatch:
    """``src (B, S)`` long, ``tgt (B, T + 1)`` long = ``<sos> y_1 … y_n <eos>`` then ``<pad>``, and the
    batch's positions in its data set ``index (B,)``."""

    src: torch.Tensor
    tgt: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_tokens(self) -> int:
        """Target tokens the loss counts (everything after <sos> that is not padding)."""
        return int((self.tgt[:, 1:] != PAD_ID).sum())


def _pad(rows, width):
    out = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


class TokenBatches:
    """Batches holding at most ``max_tokens`` (padded) tokens, of sentences of similar length.

    Sentences are sorted by length inside large random chunks (``shuffle``, re-drawn every epoch
    from ``seed`` + epoch) or over the whole set (no shuffle), then cut greedily so that
    ``B · max(S, T + 1) ≤ max_tokens``. Little padding is computed and every batch costs about the
    same. ``tgt_ids`` may be empty lists (sources to translate)."""

    def __init__(self, src_ids, tgt_ids, max_tokens: int, *, shuffle: bool = False, seed: int = 0,
                 device="cpu", chunk: int = 100):
        require_positive_int(max_tokens, "max_tokens")
        if len(src_ids) != len(tgt_ids) or len(src_ids) == 0:
            raise ValueError(f"원문과 번역의 문장 수가 같고 0보다 커야 합니다 (받은 값: {len(src_ids)}, {len(tgt_ids)}).")
        self.src_ids, self.tgt_ids = list(src_ids), list(tgt_ids)
        self.max_tokens, self.shuffle, self.seed, self.chunk = max_tokens, shuffle, seed, chunk
        self.device = torch.device(device)
        self.epoch = 0
        self._plans: dict = {}

    def _cost(self, i: int) -> int:
        return max(len(self.src_ids[i]), len(self.tgt_ids[i]) + 2, 1)

    def plan(self, epoch: int | None = None) -> list[list[int]]:
        """The sentence indices of every batch of ``epoch`` (the current one by default)."""
        epoch = self.epoch if epoch is None else epoch
        key = epoch if self.shuffle else 0
        if key in self._plans:
            return self._plans[key]
        n = len(self.src_ids)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            perm = torch.randperm(n, generator=g).tolist()
        else:
            perm = list(range(n))
        per_chunk = max(1, self.max_tokens // 16) * self.chunk if self.shuffle else n
        batches = []
        for start in range(0, n, per_chunk):
            part = sorted(perm[start:start + per_chunk], key=lambda i: (len(self.src_ids[i]), len(self.tgt_ids[i])))
            current, longest = [], 0
            for i in part:
                cost = self._cost(i)
                if current and (len(current) + 1) * max(longest, cost) > self.max_tokens:
                    batches.append(current)
                    current, longest = [], 0
                current.append(i)
                longest = max(longest, cost)
            if current:
                batches.append(current)
        if self.shuffle:
            order = torch.randperm(len(batches), generator=g).tolist()
            batches = [batches[i] for i in order]
        self._plans = {key: batches}
        return batches

    def __len__(self) -> int:
        return len(self.plan())

    def __iter__(self):
        plan = self.plan()
        self.epoch += 1
        for idx in plan:
            src = [self.src_ids[i] for i in idx]
            tgt = [[SOS_ID] + list(self.tgt_ids[i]) + [EOS_ID] for i in idx]
            yield TokenBatch(_pad(src, max(1, max(map(len, src)))).to(self.device),
                             _pad(tgt, max(map(len, tgt))).to(self.device), torch.tensor(idx))


# --- training ----------------------------------------------------------------------------------------
@torch.no_grad()
def corpus_loss(model: nn.Module, batches, loss_fn: Callable) -> float:
    """Mean loss per real target token over ``batches``; ``loss_fn(model, src, tgt)`` returns the
    mean over a batch's real tokens (it is weighted back by their number)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch in batches:
            n = batch.n_tokens
            total += float(loss_fn(model, batch.src, batch.tgt)) * n
            count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("평가할 토큰이 없습니다 (batches가 비어 있습니다).")
    return total / count


def train_translation(model: nn.Module, train_batches, *, epochs: int, optimizer, loss_fn: Callable,
                      scheduler=None, eval_batches=None, eval_loss_fn: Callable | None = None,
                      on_epoch: Callable | None = None, grad_clip: float | None = 1.0, max_steps: int | None = None,
                      max_minutes: float | None = None, desc: str = "transformer", history=None):
    """Train with teacher forcing; returns :class:`dlcourse.training.History`.

    ``loss_fn(model, src, tgt)`` is the training loss of a batch (the student's teacher-forced loss);
    ``eval_loss_fn`` (default ``loss_fn``) is used on ``eval_batches`` after every epoch (``test_loss``:
    give it label_smoothing=0 to read a perplexity). ``on_epoch(epoch, record)`` may return a dict of
    extra numbers (e.g. validation BLEU) kept in ``history.steps[name]``. ``history.steps`` also keeps
    every step's ``loss`` and ``lr``. Training stops early after ``max_steps`` steps or at the end of
    the first epoch that finishes past ``max_minutes``. Passing a ``history`` continues it."""
    from .training import EpochRecord, History, optimizer_step, progress

    require_positive_int(epochs, "epochs")
    history = history or History(steps={"loss": [], "lr": []})
    eval_loss_fn = eval_loss_fn or loss_fn
    start_all, step = time.perf_counter(), len(history.steps.get("loss", []))
    first = len(history.epochs) + 1
    for epoch in range(first, first + epochs):
        model.train()
        start = time.perf_counter()
        loss_sum, n_tok = 0.0, 0
        bar = progress(train_batches, f"{desc} {epoch}/{first + epochs - 1}")
        stop = False
        for batch in bar:
            loss = loss_fn(model, batch.src, batch.tgt)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{epoch}번째 에폭의 {step + 1}번째 스텝에서 손실이 {float(loss)}입니다 "
                                         "(학습률이 너무 크거나 마스크에 문제가 있습니다).")
            history.steps["lr"].append(float(optimizer.param_groups[0]["lr"]))
            optimizer_step(model, loss, optimizer, grad_clip, scheduler)
            n = batch.n_tokens
            loss_sum, n_tok = loss_sum + float(loss.detach()) * n, n_tok + n
            history.steps["loss"].append(float(loss.detach()))
            step += 1
            bar.set_postfix(loss=f"{loss_sum / max(n_tok, 1):.3f}")
            if max_steps is not None and step >= max_steps:
                stop = True
                break
        record = EpochRecord(epoch=epoch, train_loss=loss_sum / max(n_tok, 1), train_acc=float("nan"),
                             lr=float(optimizer.param_groups[0]["lr"]), seconds=0.0)
        record.seconds = time.perf_counter() - start
        if eval_batches is not None:
            record.test_loss = corpus_loss(model, eval_batches, eval_loss_fn)
        extra = on_epoch(epoch, record) if on_epoch is not None else None
        for name, value in (extra or {}).items():
            history.steps.setdefault(name, []).append(value)
        history.epochs.append(record)
        shown = "".join(f", {k} {v:.2f}" for k, v in (extra or {}).items())
        val = f", val loss {record.test_loss:.3f} (ppl {math.exp(min(record.test_loss, 50)):.1f})" \
            if record.test_loss is not None else ""
        print(f"[{desc}] epoch {epoch}: train loss {record.train_loss:.3f}{val}{shown} ({record.seconds:.0f}s)")
        if stop or (max_minutes is not None and time.perf_counter() - start_all > 60 * max_minutes):
            break
    return history


# --- translating and scoring ---------------------------------------------------------------------------
def translate(decode: Callable, src_ids: Sequence[Sequence[int]], tokenizer, *, max_tokens: int = 2048,
              device="cpu") -> tuple[list[str], list[list[int]]]:
    """Translate every source with ``decode(src (B, S)) → tokens (B, L)`` (or a tuple whose first item is
    the tokens), in batches of similar length; returns the detokenised texts and the token ids (up to
    and without ``<eos>``), both in the order of ``src_ids``."""
    texts, ids = [""] * len(src_ids), [[] for _ in src_ids]
    for batch in TokenBatches(src_ids, [[]] * len(src_ids), max_tokens, device=device):
        out = decode(batch.src)
        tokens = out[0] if isinstance(out, (tuple, list)) else out
        for row, i in zip(tokens.tolist(), batch.index.tolist()):
            kept = []
            for t in row:
                if t == EOS_ID:
                    break
                if t not in (PAD_ID, SOS_ID):
                    kept.append(t)
            ids[i] = kept
            texts[i] = tokenizer.decode(kept)
    return texts, ids


def length_bucket(sentence: str) -> str:
    """The source-length bucket (in words, as week 5 counted them) of one sentence."""
    n = len(tokenize(sentence))
    for lo, hi, label in LENGTH_BUCKETS:
        if lo <= n <= hi:
            return label
    return LENGTH_BUCKETS[-1][2]


def bleu_by_length(hypotheses: Sequence[str], references: Sequence[str], sources: Sequence[str]) -> list[dict]:
    """Corpus BLEU and mean sentence BLEU per source-length bucket (week 5's buckets)."""
    import sacrebleu

    if not (len(hypotheses) == len(references) == len(sources)):
        raise ValueError(f"번역 {len(hypotheses)}개, 참조 {len(references)}개, 원문 {len(sources)}개의 수가 같아야 합니다.")
    groups: dict = {}
    for hyp, ref, src in zip(hypotheses, references, sources):
        groups.setdefault(length_bucket(src), []).append((hyp, ref))
    rows = []
    for _, _, label in LENGTH_BUCKETS:
        pairs = groups.get(label, [])
        if not pairs:
            continue
        hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
        rows.append({"length_bucket": label, "sentences": len(pairs), "corpus_bleu": bleu(hyps, refs).score,
                     "mean_sentence_bleu": sum(sacrebleu.sentence_bleu(h, [r]).score for h, r in pairs) / len(pairs)})
    return rows


def length_ratio(result) -> float:
    """Hypothesis length / reference length of a sacreBLEU result (BLEU's brevity penalty uses it)."""
    return float(result.sys_len) / max(float(result.ref_len), 1.0)


_VERB_FINAL = re.compile(r"\b(who|which|that|while|because|as|where|when)\b", re.I)


def subordinate_clause(sentence: str) -> bool:
    """Whether an English sentence has a relative or subordinate clause (who/which/that/while/…): its
    German translation puts the clause's verb last, away from the English word order."""
    return bool(_VERB_FINAL.search(sentence))
