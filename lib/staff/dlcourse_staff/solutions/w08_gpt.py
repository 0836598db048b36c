"""Reference solutions for week08/gpt_generation_lab.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOTEBOOK = "week08/gpt_generation_lab.ipynb"


def tie_weights(embedding, unembedding):
    """Weight tying: make the unembedding (``nn.Linear(d, V, bias=False)``) use the very same
    parameter as the token embedding (``nn.Embedding(V, d)``), so that logits = h · Eᵀ.

    Shared, not copied: afterwards ``unembedding.weight is embedding.weight``, the model counts the
    V·d numbers once, and both uses add to one gradient. Returns None.
    """
    unembedding.weight = embedding.weight    # one nn.Parameter, two uses


def attention_mask(t_q, t_k, causal=True, device=None):
    """Which keys each query may attend to, as a (t_q, t_k) bool tensor (True = may attend).

    The queries are the last t_q of the t_k positions (a KV cache holds the first t_k − t_q):
    query i sits at position t_k − t_q + i. Causal (decoder self-attention): key j is allowed
    when j ≤ t_k − t_q + i. Not causal (cross-attention, or an encoder): every key is allowed.
    """
    if t_k < t_q:
        raise ValueError(f"t_k({t_k})는 t_q({t_q}) 이상이어야 합니다.")
    allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=device)
    return allowed.tril(diagonal=t_k - t_q) if causal else allowed


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention of a GPT block, with an optional KV cache.

    Attributes (names are fixed): c_attn = nn.Linear(n_embd, 3 * n_embd) (queries, keys, values in
    that order), c_proj = nn.Linear(n_embd, n_embd), n_head.
    forward(x (B, T, C), cache=None) → (y (B, T, C), (k, v)):
        cache: None, or (k_past, v_past), each (B, n_head, P, C // n_head), the keys and values of
        the P earlier positions. The new keys/values are appended after them, the queries attend
        with attention_mask(T, P + T) (causal), and the returned (k, v) are (B, n_head, P + T, hd).
    The same positions give the same outputs with or without a cache.
    """

    def __init__(self, n_embd, n_head):
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd({n_embd})은 n_head({n_head})로 나누어떨어져야 합니다.")
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)              # (B, H, P + T, hd): the past first
            v = torch.cat([cache[1], v], dim=2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])          # (B, H, T, P + T)
        scores = scores.masked_fill(~attention_mask(T, k.shape[2], True, x.device), float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v                              # (B, H, T, hd)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)


def softmax_with_temperature(logits, temperature=1.0):
    """softmax(logits / T) over the last axis, numerically stable for any T > 0.

    T → 0 approaches one-hot on the largest logit (greedy), T = 1 is the plain softmax, large T
    approaches the uniform distribution. Keeps the input's dtype; does not modify the input.
    """
    if temperature <= 0:
        raise ValueError(f"temperature는 0보다 커야 합니다 (받은 값: {temperature}).")
    z = logits / temperature
    z = z - z.amax(dim=-1, keepdim=True)           # the largest term becomes e^0 = 1: no overflow
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


def top_k_filter(logits, k):
    """Keep the k largest logits of each row (last axis) and set the others to −inf.

    A logit equal to the k-th largest is kept (ties at the boundary stay). k ≥ the vocabulary
    size keeps everything. Returns a new tensor; the input is not modified.
    """
    if k < 1:
        raise ValueError(f"k는 1 이상이어야 합니다 (받은 값: {k}).")
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[..., -1:]                      # (..., 1): the k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus (top-p) filtering over the last axis: keep the most probable tokens until their
    probability first reaches p, and set every other logit to −inf.

    Sort the probabilities (softmax of the logits) in descending order; a token is kept when the
    total probability of the tokens before it is < p. So the token whose probability makes the
    sum cross p is kept, once, and the most probable token is always kept. 0 < p ≤ 1.
    Returns a new tensor in the original (unsorted) order.
    """
    if not 0 < p <= 1:
        raise ValueError(f"p는 0 < p ≤ 1이어야 합니다 (받은 값: {p}).")
    probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True, stable=True)
    before = probs.cumsum(dim=-1) - probs                              # mass of the tokens ahead of each one
    remove_sorted = before >= p
    remove = remove_sorted.scatter(-1, order, remove_sorted)           # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def beam_search(step_logprobs, bos_id, eos_id, beam_width=4, max_len=20, length_penalty=1.0):
    """Beam search with length normalisation.

    step_logprobs(seqs) takes a (N, t) LongTensor of N prefixes and returns (N, V) log-probabilities
    of the next token. Start from [bos_id] with score 0. At every step (at most max_len), extend every
    live hypothesis by every token, add the log-probability, and keep the beam_width best extensions
    over all of them (ties: the earlier hypothesis, then the smaller token id). An extension that ends
    in eos_id is finished and leaves the beam; stop when no hypothesis is live. Hypotheses still live
    after max_len steps count as finished. Rank the finished ones by score / length ** length_penalty,
    length = number of tokens after bos (eos included).
    Returns (tokens, score): the best hypothesis without bos, as a list of ints, and its normalised score.
    """
    live = [([bos_id], 0.0)]
    finished = []
    for _ in range(max_len):
        seqs = torch.tensor([s for s, _ in live], dtype=torch.long)
        logp = step_logprobs(seqs).double()                              # (N, V)
        total = torch.tensor([score for _, score in live], dtype=torch.float64)[:, None] + logp
        flat = total.flatten()
        order = sorted(range(flat.numel()), key=lambda i: -float(flat[i]))[:beam_width]   # stable: ties by index
        vocab = logp.shape[1]
        live = []
        for i in order:
            hyp, token = divmod(i, vocab)
            seq = seqs[hyp].tolist() + [token]
            (finished if token == eos_id else live).append((seq, float(flat[i])))
        if not live:
            break
    finished += live
    best, score = max(finished, key=lambda h: h[1] / (len(h[0]) - 1) ** length_penalty)
    return best[1:], score / (len(best) - 1) ** length_penalty


def count_gpt_params(vocab_size, block_size, n_layer, n_head, n_embd, tied=True):
    """Parameters of this lab's GPT, by formula (no model built), as a dict of ints:

        embeddings: token embedding V·d + learned positions block_size·d (+ the unembedding V·d if not tied)
        attention:  per layer c_attn (d·3d + 3d) + c_proj (d·d + d), times n_layer
        mlp:        per layer c_fc (d·4d + 4d) + c_proj (4d·d + d), times n_layer
        layernorm:  2 per layer (weight and bias, 2d each) + the final one
        total:      the sum
    n_head changes no count (the heads split d, they do not add parameters).
    """
    d = n_embd
    embeddings = vocab_size * d + block_size * d + (0 if tied else vocab_size * d)
    attention = n_layer * ((d * 3 * d + 3 * d) + (d * d + d))
    mlp = n_layer * ((d * 4 * d + 4 * d) + (4 * d * d + d))
    layernorm = n_layer * 2 * (2 * d) + 2 * d
    return {"embeddings": embeddings, "attention": attention, "mlp": mlp, "layernorm": layernorm,
            "total": embeddings + attention + mlp + layernorm}
