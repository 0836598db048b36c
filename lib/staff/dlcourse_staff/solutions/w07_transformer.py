"""Reference solutions for week07/transformer_enc_dec.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal). The last two
definitions (IncrementalDecoder, generation_times) are the notebook's bonus B3 cell: the benchmark
script benchmarks/transformer_bleu.py imports this module for the model, the training step and the
decoders, and decodes through the KV cache.

This file is generated from the notebook's cells; edit both together.
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week07/transformer_enc_dec.ipynb"


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention; equals nn.MultiheadAttention(d_model, n_heads, dropout,
    bias=bias, batch_first=True) given the same weights.

        head_i = softmax(Q_i K_iᵀ / √d_head, blocked positions → −∞) V_i,  out = Concat(head_1, …, head_h) W_O

    Attributes (names are fixed: the grader copies weights by name):
        q_proj, k_proj, v_proj, out_proj: Linear(d_model, d_model, bias=bias)
            (instead of the first three you may use one fused in_proj: Linear(d_model, 3 * d_model, bias=bias)
            whose output is [q | k | v], as nn.MultiheadAttention does)
        dropout: Dropout(dropout), applied to the attention weights in training mode
        n_heads, d_head: the number of heads and d_model // n_heads (set below)
    forward(query, key, value, key_padding_mask=None, attn_mask=None)
        query (B, T, D); key, value (B, S, D)
        key_padding_mask: None or (B, S) bool, True at the keys to ignore (padding)
        attn_mask: None or (T, S) bool, True where query t may NOT look at key s (e.g. the causal mask)
    Returns:
        out (B, T, D) and weights (B, n_heads, T, S), the softmax probabilities before dropout. A query whose
        keys are all blocked gets all-zero weights (so its output is out_proj's bias), never NaN, also in the
        gradients.
    """

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model({d_model})은 n_heads({n_heads})로 나누어떨어져야 합니다.")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        def split_heads(x):
            return x.unflatten(-1, (self.n_heads, self.d_head)).transpose(1, 2)  # (B, L, D) → (B, h, L, d_head)

        q = split_heads(self.q_proj(query))                        # (B, h, T, d_head)
        k = split_heads(self.k_proj(key))                          # (B, h, S, d_head)
        v = split_heads(self.v_proj(value))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, h, T, S)
        blocked = torch.zeros(scores.shape[-2:], dtype=torch.bool, device=scores.device)  # (T, S)
        if attn_mask is not None:
            blocked = blocked | attn_mask
        if key_padding_mask is not None:
            blocked = blocked | key_padding_mask[:, None, None, :]  # (B, 1, T, S)
        empty = blocked.all(dim=-1, keepdim=True)                  # queries with no key to look at
        # −∞ makes a blocked weight exactly 0; an empty row is softmaxed on zeros and then zeroed, so that
        # neither the weights nor their gradients become NaN.
        scores = scores.masked_fill(blocked, float("-inf")).masked_fill(empty, 0.0)
        weights = torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)
        context = self.dropout(weights) @ v                        # (B, h, T, d_head)
        context = context.transpose(1, 2).flatten(-2)              # (B, T, D): heads side by side
        return self.out_proj(context), weights


class EncoderLayer(nn.Module):
    """One transformer encoder layer; equals nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout,
    batch_first=True, norm_first=norm_first) given the same weights (ReLU, LayerNorm eps 1e-5).

    post-norm (norm_first=False, the paper):  x = norm1(x + drop(SelfAttn(x)));   x = norm2(x + drop(FF(x)))
    pre-norm  (norm_first=True):              x = x + drop(SelfAttn(norm1(x)));   x = x + drop(FF(norm2(x)))
    FF(x) = linear2(drop(relu(linear1(x))))

    Attributes (names are fixed):
        self_attn: MultiHeadAttention(d_model, n_heads, dropout)
        linear1: Linear(d_model, d_ff); linear2: Linear(d_ff, d_model)
        norm1, norm2: LayerNorm(d_model); dropout: Dropout(dropout)
    forward(x (B, S, D), src_key_padding_mask=None (B, S) bool, True at padding) → (B, S, D)
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, src_key_padding_mask=None):
        def self_attention(h):
            return self.dropout(self.self_attn(h, h, h, key_padding_mask=src_key_padding_mask)[0])

        def feed_forward(h):
            return self.dropout(self.linear2(self.dropout(F.relu(self.linear1(h)))))

        if self.norm_first:
            x = x + self_attention(self.norm1(x))
            return x + feed_forward(self.norm2(x))
        x = self.norm1(x + self_attention(x))      # post-norm: LayerNorm after the residual sum
        return self.norm2(x + feed_forward(x))


class DecoderLayer(nn.Module):
    """One transformer decoder layer; equals nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout,
    batch_first=True, norm_first=norm_first) given the same weights.

    post-norm:  x = norm1(x + drop(SelfAttn(x, causal)));  x = norm2(x + drop(CrossAttn(x, memory)));
                x = norm3(x + drop(FF(x)))
    pre-norm:   x = x + drop(SelfAttn(norm1(x)));  x = x + drop(CrossAttn(norm2(x), memory));  x = x + drop(FF(norm3(x)))

    Attributes (names are fixed):
        self_attn, cross_attn: MultiHeadAttention(d_model, n_heads, dropout)
            (cross_attn is nn.TransformerDecoderLayer's multihead_attn: queries from x, keys and values from memory)
        linear1: Linear(d_model, d_ff); linear2: Linear(d_ff, d_model)
        norm1, norm2, norm3: LayerNorm(d_model); dropout: Dropout(dropout)
    forward(x (B, T, D), memory (B, S, D), tgt_mask=None (T, T) bool, True = blocked,
            tgt_key_padding_mask=None (B, T) bool, memory_key_padding_mask=None (B, S) bool) → (B, T, D)
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        def self_attention(h):
            return self.dropout(self.self_attn(h, h, h, key_padding_mask=tgt_key_padding_mask, attn_mask=tgt_mask)[0])

        def cross_attention(h):
            return self.dropout(self.cross_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask)[0])

        def feed_forward(h):
            return self.dropout(self.linear2(self.dropout(F.relu(self.linear1(h)))))

        if self.norm_first:
            x = x + self_attention(self.norm1(x))
            x = x + cross_attention(self.norm2(x))
            return x + feed_forward(self.norm3(x))
        x = self.norm1(x + self_attention(x))
        x = self.norm2(x + cross_attention(x))
        return self.norm3(x + feed_forward(x))


def sinusoidal_positions(max_len, d_model):
    """PE[p, 2i] = sin(p / 10000^(2i / d_model)), PE[p, 2i + 1] = cos(p / 10000^(2i / d_model)).

    Returns: (max_len, d_model) float32 (d_model even).
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]                       # (L, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * inv_freq)                                        # (L, d/2)
    pe[:, 1::2] = torch.cos(position * inv_freq)
    return pe


def causal_mask(size, device=None):
    """(size, size) bool, True above the diagonal: position t may look at positions ≤ t only."""
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder transformer for translation (Vaswani et al., 2017). Its core equals
    nn.Transformer(d_model, n_heads, n_layers, n_layers, d_ff, dropout, batch_first=True, norm_first=norm_first)
    given the same weights; around it sit the embeddings, the positional encoding and the output layer.

    Attributes (names are fixed):
        src_embed: Embedding(src_vocab, d_model, padding_idx=pad_id)
        tgt_embed: Embedding(tgt_vocab, d_model, padding_idx=pad_id), or the very same module as src_embed
            when share_embeddings (then src_vocab must equal tgt_vocab)
        pe: buffer sinusoidal_positions(max_len, d_model), registered with persistent=False
        dropout: Dropout(dropout) on embedding · √d_model + PE (source and target)
        encoder_layers: ModuleList of n_layers EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
        decoder_layers: ModuleList of n_layers DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
        encoder_norm, decoder_norm: LayerNorm(d_model) after the last layer of each stack (as in nn.Transformer)
        generator: Linear(d_model, tgt_vocab); when tie_output its weight is tgt_embed.weight (one Parameter)
    Methods:
        embed(ids (B, L), table) → dropout(table(ids) · √d_model + pe[:L]) (B, L, D)
        encode(src (B, S) long) → memory (B, S, D), src_pad (B, S) bool (True where src == pad_id)
        decode(tgt_in (B, T) long, memory, src_pad) → states (B, T, D) after decoder_norm: position t sees
            target positions ≤ t (causal_mask(T, device)) and every real source position (src_pad masked in
            cross-attention); target padding is masked too (tgt_in == pad_id)
        forward(src, tgt_in) → logits (B, T, tgt_vocab) = generator(decode(tgt_in, *encode(src)))
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=256, n_heads=4, n_layers=3, d_ff=1024, dropout=0.1,
                 max_len=256, pad_id=0, norm_first=False, share_embeddings=False, tie_output=True):
        super().__init__()
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(f"share_embeddings에는 같은 어휘가 필요합니다 (src {src_vocab}, tgt {tgt_vocab}).")
        if d_model % 2:
            raise ValueError(f"사인파 위치 인코딩에는 짝수 d_model이 필요합니다 (받은 값: {d_model}).")
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=pad_id)
        self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)
        self.register_buffer("pe", sinusoidal_positions(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder_layers = nn.ModuleList(
            [EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])
        self.decoder_layers = nn.ModuleList(
            [DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)
        self.generator = nn.Linear(d_model, tgt_vocab)
        if tie_output:
            self.generator.weight = self.tgt_embed.weight  # one matrix for reading and writing target tokens
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        # Xavier for every matrix (as nn.Transformer does); embeddings ~ N(0, 1/d_model), so that after × √d_model
        # they are on the scale of the positional encoding and tied output logits start near 0 (loss ≈ ln V).
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for table in (self.src_embed, self.tgt_embed):
            nn.init.normal_(table.weight, std=self.d_model ** -0.5)
            table.weight[self.pad_id].zero_()
        nn.init.zeros_(self.generator.bias)

    def embed(self, ids, table):
        # √d_model brings embeddings initialised ~N(0, 1/d_model) to the scale of the positional encoding
        return self.dropout(table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])  # (B, L, D)

    def encode(self, src):
        src_pad = src == self.pad_id                     # (B, S)
        x = self.embed(src, self.src_embed)
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=src_pad)
        return self.encoder_norm(x), src_pad

    def decode(self, tgt_in, memory, src_pad):
        mask = causal_mask(tgt_in.shape[1], tgt_in.device)
        x = self.embed(tgt_in, self.tgt_embed)
        for layer in self.decoder_layers:
            x = layer(x, memory, tgt_mask=mask, tgt_key_padding_mask=tgt_in == self.pad_id,
                      memory_key_padding_mask=src_pad)
        return self.decoder_norm(x)                      # (B, T, D)

    def forward(self, src, tgt_in):
        return self.generator(self.decode(tgt_in, *self.encode(src)))   # (B, T, V)


def teacher_forcing_loss(model, src, tgt, pad_id=0, label_smoothing=0.1):
    """Cross-entropy of one teacher-forced pass, averaged over the real target tokens.

    Inputs:
        model: called as model(src, tgt_in) → logits (B, T, V)
        src (B, S) long; tgt (B, T + 1) long: <sos> y_1 … y_n <eos> followed by pad_id
    The decoder reads tgt without its last column and must predict tgt without its first column (the target
    shifted by one). Positions whose target is pad_id count for nothing. Label smoothing is that of
    F.cross_entropy(label_smoothing=ε): the target distribution (1 − ε)·one-hot + ε/V on every class.
    Returns: the loss, a scalar tensor (float32 or wider) that can be back-propagated. The model's train/eval
    mode is left as it is.
    """
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]           # (B, T): <sos> y … and y … <eos>
    logits = model(src, tgt_in)                         # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), tgt_out.flatten(), ignore_index=pad_id,
                           label_smoothing=label_smoothing)


def noam_lr(step, d_model, warmup_steps, factor=1.0):
    """Learning rate of Vaswani et al. (2017, eq. 3) at optimiser step ``step`` (1-based):

        lr = factor · d_model^(−1/2) · min(step^(−1/2), step · warmup_steps^(−3/2))

    Linear warm-up for warmup_steps steps, peak factor / √(d_model · warmup_steps), then decay ∝ 1/√step.
    Returns a float.
    """
    if step < 1 or warmup_steps < 1:
        raise ValueError(f"step과 warmup_steps는 1 이상이어야 합니다 (받은 값: step={step}, warmup_steps={warmup_steps}).")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


@torch.no_grad()
def greedy_decode(model, src, max_len, sos_id=1, eos_id=2, pad_id=0):
    """Greedy decoding, batched: at every step each sentence takes its most probable next token.

    model.encode(src) → (memory, src_pad) is called once; at every step the next token's logits are
    model.generator(model.decode(prefix, memory, src_pad)[:, -1]) → (B, V). A sentence is finished once it has
    produced eos_id; afterwards it only gets pad_id. Decoding stops when every sentence is finished or after
    max_len steps. Runs without gradients and leaves the model's train/eval mode as it is.

    Returns: (B, L) long on src's device, the generated tokens without <sos> (eos included where produced,
    then padding); L ≤ max_len is the number of steps taken, so the longest sentence fills the last column.
    """
    if max_len < 1:
        raise ValueError(f"max_len은 1 이상이어야 합니다 (받은 값: {max_len}).")
    memory, src_pad = model.encode(src)
    batch = src.shape[0]
    out = torch.full((batch, 1), sos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        if done.all():
            break
        logits = model.generator(model.decode(out, memory, src_pad)[:, -1])   # (B, V): the last position only
        next_token = logits.argmax(dim=-1)
        next_token = next_token.masked_fill(done, pad_id)  # a finished sentence only grows padding
        out = torch.cat([out, next_token[:, None]], dim=1)
        done = done | (next_token == eos_id)
    return out[:, 1:]


@torch.no_grad()
def beam_search(model, src, beam_size, max_len, alpha=1.0, sos_id=1, eos_id=2, pad_id=0):
    """Beam search, batched over sentences, with length normalisation and early stopping.

    For every sentence independently (all sentences computed together, B · beam_size rows):
        alive = [(<sos>, 0)], finished = []
        for t = 1 … max_len:
            width = beam_size − len(finished)
            expand every alive hypothesis (tokens, s) by every token w: (tokens + w, s + log p(w | tokens, src))
            keep the `width` expansions with the highest s
            a kept expansion that ends in eos_id is finished, with normalised score s / t**alpha;
            the other kept expansions are the new alive hypotheses
            stop when nothing is alive (beam_size hypotheses finished: early stopping)
        after max_len steps every hypothesis still alive is finished with score s / max_len**alpha (no eos)
        the answer is the finished hypothesis with the highest normalised score.
    log p = log_softmax(model.generator(model.decode(prefix, memory, src_pad)[:, -1])); model.encode(src) is
    called once. A finished hypothesis is never extended. Runs without gradients and leaves the model's
    train/eval mode as it is. beam_size=1 gives exactly greedy_decode's tokens.

    Returns: tokens (B, L) long on src's device (without <sos>, eos included where produced, pad_id after;
    L = the longest answer's length) and scores (B,) float, the answers' normalised scores.
    """
    if beam_size < 1 or max_len < 1:
        raise ValueError(f"beam_size와 max_len은 1 이상이어야 합니다 (받은 값: {beam_size}, {max_len}).")
    batch, device = src.shape[0], src.device
    memory, src_pad = model.encode(src)
    memory = memory.repeat_interleave(beam_size, dim=0)     # (B·K, S, D): row b·K + k is beam k of sentence b
    src_pad = src_pad.repeat_interleave(beam_size, dim=0)
    prefix = torch.full((batch * beam_size, 1), sos_id, dtype=torch.long, device=device)
    score = torch.full((batch, beam_size), float("-inf"), device=device)
    score[:, 0] = 0.0                                     # one live hypothesis to start; the other slots are empty
    n_finished = torch.zeros(batch, dtype=torch.long, device=device)
    best_score = torch.full((batch,), float("-inf"), device=device)
    best_tokens = torch.full((batch, max_len), pad_id, dtype=torch.long, device=device)
    best_length = torch.zeros(batch, dtype=torch.long, device=device)
    rank = torch.arange(beam_size, device=device)
    rows = torch.arange(batch, device=device)
    offset = rows[:, None] * beam_size                    # (B, 1)

    def finish(candidates, scores, t):
        # candidates (B, K, t + 1) start with <sos>; keep each sentence's best normalised score so far
        top, k = (scores / t ** alpha).max(dim=1)         # (B,); −∞ where nothing finished
        better = top > best_score
        best_score[better] = top[better]
        best_length[better] = t
        best_tokens[better, :t] = candidates[rows, k][better, 1:]

    for t in range(1, max_len + 1):
        logits = model.generator(model.decode(prefix, memory, src_pad)[:, -1])   # (B·K, V)
        vocab = logits.shape[-1]
        expanded = score[:, :, None] + F.log_softmax(logits.float(), dim=-1).view(batch, beam_size, vocab)
        top, index = expanded.view(batch, -1).topk(beam_size, dim=1)     # (B, K), best first
        width = beam_size - n_finished                                   # (B,)
        kept = (rank[None] < width[:, None]) & torch.isfinite(top)
        token = index % vocab
        parent = offset + index // vocab                                 # (B, K): rows of the prefixes
        candidates = torch.cat([prefix[parent], token[..., None]], dim=-1)   # (B, K, t + 1)
        ended = kept & (token == eos_id)
        finish(candidates, top.masked_fill(~ended, float("-inf")), t)
        n_finished += ended.sum(dim=1)
        alive = kept & ~ended                                            # finished hypotheses leave the beam
        score = top.masked_fill(~alive, float("-inf"))
        prefix = candidates.view(batch * beam_size, t + 1)
        if not alive.any():
            break
    else:
        finish(prefix.view(batch, beam_size, -1), score, max_len)       # out of steps: the alive ones end here
    return best_tokens[:, : int(best_length.max())], best_score


class IncrementalDecoder:
    """Bonus B3 — a KV cache. Wraps a Seq2SeqTransformer (in eval mode) for generation with the interface that
    greedy_decode and beam_search use (encode, decode, generator), but decode computes only the newest position:
    every decoder layer keeps the keys and values of the earlier positions (self-attention) and computes the
    memory's keys and values once (cross-attention). decode returns (N, 1, D), the newest position's state.

    Beam search reorders its rows every step: the rows of a call are matched with the previous call's rows by
    their prefix without the newest token and by their memory row, and the caches are reordered to match. When a
    row has no match (a new search, a new memory), the caches are rebuilt from the whole prefix.
    """

    def __init__(self, model):
        self.model = model
        self.generator = model.generator
        self.state = None

    def encode(self, src):
        self.state = None
        return self.model.encode(src)

    @staticmethod
    def _heads(attention, x):
        """(N, L, D) → (N, h, L, d_head) with the attention's number of heads."""
        return x.unflatten(-1, (attention.n_heads, -1)).transpose(1, 2)

    def _attend(self, attention, query, k, v, blocked):
        """attention's output for query (N, L, D) over cached keys/values k, v (N, h, total, d_head);
        blocked (N, L or 1, total) bool, True = may not look."""
        q = self._heads(attention, attention.q_proj(query))                    # (N, h, L, d_head)
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(blocked[:, None], float("-inf"))
        weights = torch.nan_to_num(torch.softmax(scores, dim=-1))              # an all-blocked row → 0
        return attention.out_proj((weights @ v).transpose(1, 2).flatten(-2))

    def _start(self, memory, src_pad):
        """A fresh cache for this memory: the cross-attention keys and values of every layer, computed once."""
        rows = memory.detach().flatten(1).cpu().numpy()
        layers = [{"k": None, "v": None,
                   "mk": self._heads(layer.cross_attn, layer.cross_attn.k_proj(memory)),
                   "mv": self._heads(layer.cross_attn, layer.cross_attn.v_proj(memory))}
                  for layer in self.model.decoder_layers]
        return {"memory": memory, "src_pad": src_pad, "rows": [hash(r.tobytes()) for r in rows],
                "layers": layers, "prefix": None, "pad": None}

    def _run(self, tokens, start, state):
        """tokens (N, L) at positions start … start + L − 1 → their decoder states (N, L, D); the caches grow by L."""
        m = self.model
        x = m.tgt_embed(tokens) * math.sqrt(m.d_model) + m.pe[start:start + tokens.shape[1]]
        new_pad = tokens == m.pad_id
        state["pad"] = new_pad if state["pad"] is None else torch.cat([state["pad"], new_pad], dim=1)
        total = state["pad"].shape[1]
        future = torch.arange(total, device=tokens.device)[None] > torch.arange(start, total, device=tokens.device)[:, None]
        blocked_self = future[None] | state["pad"][:, None, :]                 # (N, L, total)
        blocked_cross = state["src_pad"][:, None, :]                           # (N, 1, S)
        for layer, cache in zip(m.decoder_layers, state["layers"]):
            h = layer.norm1(x) if layer.norm_first else x
            k = self._heads(layer.self_attn, layer.self_attn.k_proj(h))
            v = self._heads(layer.self_attn, layer.self_attn.v_proj(h))
            cache["k"] = k if cache["k"] is None else torch.cat([cache["k"], k], dim=2)
            cache["v"] = v if cache["v"] is None else torch.cat([cache["v"], v], dim=2)
            a = self._attend(layer.self_attn, h, cache["k"], cache["v"], blocked_self)
            x = x + a if layer.norm_first else layer.norm1(x + a)
            h = layer.norm2(x) if layer.norm_first else x
            a = self._attend(layer.cross_attn, h, cache["mk"], cache["mv"], blocked_cross)
            x = x + a if layer.norm_first else layer.norm2(x + a)
            h = layer.norm3(x) if layer.norm_first else x
            a = layer.linear2(F.relu(layer.linear1(h)))
            x = x + a if layer.norm_first else layer.norm3(x + a)
        return m.decoder_norm(x)

    def _parents(self, prefix):
        """For every row of prefix (N, t): the row of the previous call's prefix (N, t − 1) it extends (same tokens
        and same memory row), as a (N,) long tensor; None when some row has none."""
        state = self.state
        old = state["prefix"]
        if old is None or old.shape[1] != prefix.shape[1] - 1 or old.shape[0] != prefix.shape[0]:
            return None
        rows = state["rows"]
        where = {}
        for i, tokens in enumerate(old.tolist()):
            where.setdefault((rows[i], tuple(tokens)), i)
        parents = [where.get((rows[i], tuple(tokens))) for i, tokens in enumerate(prefix[:, :-1].tolist())]
        return None if None in parents else torch.tensor(parents, device=prefix.device)

    @torch.no_grad()
    def decode(self, prefix, memory, src_pad):
        if self.state is None or self.state["memory"] is not memory:
            self.state = self._start(memory, src_pad)
        parents = self._parents(prefix)
        if parents is None:                                   # rebuild the caches from the whole prefix
            self.state = self._start(memory, src_pad)
            out = self._run(prefix, 0, self.state)
        else:
            for cache in self.state["layers"]:
                cache["k"], cache["v"] = cache["k"][parents], cache["v"][parents]
            self.state["pad"] = self.state["pad"][parents]
            out = self._run(prefix[:, -1:], prefix.shape[1] - 1, self.state)
        self.state["prefix"] = prefix
        return out[:, -1:]


def generation_times(model, src, lengths, repeat=3):
    """Seconds per greedy generation of exactly L tokens (no sentence may stop: eos_id=−1), recomputing
    every step vs with IncrementalDecoder, for every L in lengths; the model is put in eval mode."""
    model.eval()
    rows = []
    for length in lengths:
        timings = {}
        for name, decoder in (("recompute", model), ("kv_cache", IncrementalDecoder(model))):
            runs = []
            for _ in range(repeat):
                start = time.perf_counter()
                greedy_decode(decoder, src, length, eos_id=-1)
                runs.append(time.perf_counter() - start)
            timings[name] = sorted(runs)[len(runs) // 2]
        rows.append({"tokens": length, **timings, "speedup": timings["recompute"] / timings["kv_cache"]})
    return rows
