"""Reference solutions for week05/attention_mechanisms.ipynb.

Each definition here is, text for text, the solution cell of the source notebook with the
nbgrader markers removed (tests/test_solutions_sync.py keeps the two equal).
"""
import torch
import torch.nn as nn

NOTEBOOK = "week05/attention_mechanisms.ipynb"


def masked_attention(scores, values, mask):
    """Softmax of the scores over the real source positions, and the weighted sum of the values.

    Inputs:
        scores: (B, S) float, one score per source position.
        values: (B, S, D) float.
        mask:   (B, S) bool, True at real tokens and False at padding; every row has a True.
    Returns:
        context (B, D) = Σ_j weights[:, j] · values[:, j], and
        weights (B, S): a softmax over each row's True positions, exactly 0 at padding.
    """
    if scores.shape != mask.shape or values.shape[:2] != scores.shape:
        raise ValueError(f"scores {tuple(scores.shape)}, mask {tuple(mask.shape)}는 (B, S), "
                         f"values {tuple(values.shape)}는 (B, S, D) 모양이어야 합니다.")
    scores = scores.masked_fill(~mask, float("-inf"))             # exp(-inf) = 0: padding gets no weight
    weights = torch.softmax(scores, dim=-1)                        # (B, S), over source positions
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, 1, S) @ (B, S, D) → (B, D)
    return context, weights


class ContentAttention(nn.Module):
    """Content-based attention: the weights come from comparing the query with every key.

    Subclasses define ``score(query, keys) → (B, S)``. Every attention module of this notebook
    has the same call, so the decoder can use any of them:

        forward(query (B, Dq), keys (B, S, Dk), mask (B, S) bool, state=None)
            → context (B, Dk), weights (B, S), state

    ``state`` is what the module carries from one decoder step to the next; content-based
    attention carries nothing and returns the ``state`` it was given, unchanged.
    """

    def forward(self, query, keys, mask, state=None):
        context, weights = masked_attention(self.score(query, keys), keys, mask)
        return context, weights, state


class DotAttention(ContentAttention):
    """Luong's dot score: score(q, k_j) = q · k_j (no parameters; query_dim must equal key_dim)."""

    def __init__(self, query_dim, key_dim):
        super().__init__()
        if query_dim != key_dim:
            raise ValueError(f"dot 점수는 query_dim과 key_dim이 같아야 합니다 (받은 값: {query_dim}, {key_dim}).")

    def score(self, query, keys):
        return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S, D) @ (B, D, 1) → (B, S)


class GeneralAttention(ContentAttention):
    """Luong's general (bilinear) score: score(q, k_j) = k_j · (W q).

    Attributes: W: Linear(query_dim, key_dim, bias=False).
    """

    def __init__(self, query_dim, key_dim):
        super().__init__()
        self.W = nn.Linear(query_dim, key_dim, bias=False)

    def score(self, query, keys):
        return torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2)  # project the query once, not every key


class AdditiveAttention(ContentAttention):
    """Bahdanau's additive (concat) score: score(q, k_j) = v · tanh(W_q q + W_k k_j).

    Attributes: W_q: Linear(query_dim, attn_dim, bias=False); W_k: Linear(key_dim, attn_dim) (with bias);
        v: Linear(attn_dim, 1, bias=False).
    """

    def __init__(self, query_dim, key_dim, attn_dim):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def score(self, query, keys):
        energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))  # (B, 1, A) + (B, S, A)
        return self.v(energy).squeeze(2)                                     # (B, S)


class LocationAttention(nn.Module):
    """Luong's location-based attention: the scores come from the query alone, a_t = softmax(W_a q_t).

    W_a scores each of the first ``max_len`` source positions; a batch whose keys have S ≤ max_len
    positions uses the first S scores. The keys are only averaged, never compared with the query.

    Attributes: W_a: Linear(query_dim, max_len) (with bias).
    forward(query (B, Dq), keys (B, S, Dk), mask (B, S), state=None) → context (B, Dk), weights (B, S), state.
    """

    def __init__(self, query_dim, max_len):
        super().__init__()
        self.max_len = max_len
        self.W_a = nn.Linear(query_dim, max_len)

    def forward(self, query, keys, mask, state=None):
        if keys.shape[1] > self.max_len:
            raise ValueError(f"원문 길이 {keys.shape[1]}이(가) max_len={self.max_len}보다 깁니다.")
        scores = self.W_a(query)[:, : keys.shape[1]]  # (B, S): one score per position, content-blind
        context, weights = masked_attention(scores, keys, mask)
        return context, weights, state


class LocationAwareAttention(nn.Module):
    """Hybrid, location-aware attention (Chorowski et al., 2015): content plus the previous alignment.

        f_t = Conv1d(α_{t-1})                                 (B, n_filters, S) → (B, S, n_filters)
        e_{t,j} = v · tanh(W_q q_t + W_k k_j + U f_{t,j})

    ``state`` is the previous step's weights α_{t-1} (B, S); at the first step (state None) the
    previous alignment is uniform over each row's real tokens (mask / number of real tokens).

    Attributes: W_q: Linear(query_dim, attn_dim, bias=False); W_k: Linear(key_dim, attn_dim);
        conv: Conv1d(1, n_filters, kernel_size, padding=kernel_size // 2, bias=False);
        U: Linear(n_filters, attn_dim, bias=False); v: Linear(attn_dim, 1, bias=False).
    forward(query, keys, mask, state=None) → context (B, Dk), weights (B, S), new state = weights.
    """

    def __init__(self, query_dim, key_dim, attn_dim, n_filters=8, kernel_size=5):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size는 홀수여야 합니다 (길이가 그대로 유지되도록; 받은 값: {kernel_size}).")
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.conv = nn.Conv1d(1, n_filters, kernel_size, padding=kernel_size // 2, bias=False)
        self.U = nn.Linear(n_filters, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query, keys, mask, state=None):
        if state is None:  # no alignment yet: spread it evenly over the real tokens
            state = mask.to(keys.dtype) / mask.sum(dim=1, keepdim=True)
        location = self.U(self.conv(state.unsqueeze(1)).transpose(1, 2))              # (B, S, A)
        energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys) + location)  # (B, S, A)
        context, weights = masked_attention(self.v(energy).squeeze(2), keys, mask)
        return context, weights, weights  # this step's alignment is the next step's "previous"


class LocalAttention(nn.Module):
    """Luong's local-p attention: predict a centre p_t, attend to a window around it (general score).

        p_t = (L − 1) · sigmoid(v_p · tanh(W_p q_t)),   L = the row's number of real source tokens
        a_{t,j} ∝ exp(score(q_t, k_j) − (j − p_t)² / (2σ²)),   σ = window / 2,
        over the real positions j with |j − p_t| ≤ window (exactly 0 elsewhere).

    Unlike the paper (softmax, then a Gaussian factor), the Gaussian enters the scores, so the
    weights still sum to 1; gradients reach W_p and v_p through (j − p_t)².

    Attributes: W: Linear(query_dim, key_dim, bias=False) (the general score k_j · W q);
        W_p: Linear(query_dim, attn_dim, bias=False); v_p: Linear(attn_dim, 1, bias=False); window (int ≥ 1).
        After every call ``last_positions`` holds p_t (B,), detached, for plots.
    forward(query, keys, mask, state=None) → context (B, Dk), weights (B, S), state (unchanged).
    """

    def __init__(self, query_dim, key_dim, attn_dim, window=3):
        super().__init__()
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window는 1 이상의 정수여야 합니다 (받은 값: {window!r}).")
        self.window = window
        self.W = nn.Linear(query_dim, key_dim, bias=False)
        self.W_p = nn.Linear(query_dim, attn_dim, bias=False)
        self.v_p = nn.Linear(attn_dim, 1, bias=False)
        self.last_positions = None

    def forward(self, query, keys, mask, state=None):
        lengths = mask.sum(dim=1, keepdim=True).to(keys.dtype)                        # (B, 1)
        centre = (lengths - 1) * torch.sigmoid(self.v_p(torch.tanh(self.W_p(query))))  # (B, 1), in [0, L − 1]
        positions = torch.arange(keys.shape[1], device=keys.device, dtype=keys.dtype)
        offset = positions.unsqueeze(0) - centre                                      # (B, S): j − p_t
        sigma = self.window / 2
        scores = torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2) - offset ** 2 / (2 * sigma ** 2)
        in_window = offset.abs() <= self.window
        context, weights = masked_attention(scores, keys, mask & in_window)
        self.last_positions = centre.squeeze(1).detach()
        return context, weights, state


class CoverageAttention(nn.Module):
    """Additive attention with a coverage vector (Tu et al., 2016; See et al., 2017).

        c_t = Σ_{t' < t} α_{t'}                       (B, S): attention each position has had so far
        e_{t,j} = v · tanh(W_q q_t + W_k k_j + w_c c_{t,j})

    ``state`` is the coverage c_t (None at the first step = zeros).
    Attributes: W_q: Linear(query_dim, attn_dim, bias=False); W_k: Linear(key_dim, attn_dim);
        w_c: Linear(1, attn_dim, bias=False); v: Linear(attn_dim, 1, bias=False).
    forward(query, keys, mask, state=None) → context (B, Dk), weights (B, S), c_{t+1} = c_t + weights.
    """

    def __init__(self, query_dim, key_dim, attn_dim):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.w_c = nn.Linear(1, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query, keys, mask, state=None):
        coverage = torch.zeros_like(mask, dtype=keys.dtype) if state is None else state  # (B, S)
        energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys) + self.w_c(coverage.unsqueeze(2)))
        context, weights = masked_attention(self.v(energy).squeeze(2), keys, mask)
        return context, weights, coverage + weights  # the next step knows what was attended so far


def coverage_loss(weights, tgt_mask):
    """See et al.'s coverage loss, averaged over the real target steps.

        covloss_t = Σ_j min(α_{t,j}, c_{t,j}),   c_t = Σ_{t' < t} α_{t'}

    Inputs:
        weights:  (B, T, S) attention weights of every decoder step.
        tgt_mask: (B, T) bool, True at real target steps (not padding).
    Returns:
        a scalar tensor: the sum of covloss_t over real steps / the number of real steps.
    """
    coverage = weights.cumsum(dim=1) - weights                # (B, T, S): attention before step t
    per_step = torch.minimum(weights, coverage).sum(dim=2)    # (B, T): re-attention penalty
    return (per_step * tgt_mask).sum() / tgt_mask.sum()


class Encoder(nn.Module):
    """Bidirectional GRU encoder.

    Attributes (names are fixed: the grader copies weights by name):
        embedding: Embedding(vocab_size, emb_dim, padding_idx=pad_id); dropout: Dropout(dropout)
        rnn: GRU(emb_dim, hidden_dim, batch_first=True, bidirectional=True)
        bridge: Linear(2 * hidden_dim, dec_hidden_dim)
    The GRU reads dropout(embedding(src)): dropout acts on the embeddings, nowhere else.

    forward(src (B, S) long, src_lens (B,) long) returns
        memory (B, S, 2 · hidden_dim): [forward; backward] GRU state at every position, exactly 0 at padding;
        mask (B, S) bool: True at the first src_lens[b] positions of row b;
        hidden (B, dec_hidden_dim) = tanh(bridge([forward state after the last real token;
                                                  backward state after the first token])).
    Padding must change nothing: the GRU runs on a packed sequence (``pack_padded_sequence`` with
    ``enforce_sorted=False``), so the backward direction starts at each row's own last token.
    """

    def __init__(self, vocab_size, emb_dim, hidden_dim, dec_hidden_dim, dropout=0.0, pad_id=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(emb_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_dim, dec_hidden_dim)

    def forward(self, src, src_lens):
        emb = self.dropout(self.embedding(src))                                           # (B, S, E)
        packed = nn.utils.rnn.pack_padded_sequence(emb, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)                                                       # h_n: (2, B, H)
        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        positions = torch.arange(src.shape[1], device=src.device)
        mask = positions.unsqueeze(0) < src_lens.to(src.device).unsqueeze(1)             # (B, S)
        hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))            # (B, dec_hidden)
        return memory, mask, hidden


class AttnDecoder(nn.Module):
    """GRU decoder with attention and input feeding (Luong et al., 2015).

    Attributes (names are fixed):
        embedding: Embedding(vocab_size, emb_dim, padding_idx=pad_id); dropout: Dropout(dropout)
        rnn: GRUCell(emb_dim + hidden_dim, hidden_dim): its input is [dropout(embedding of y_t) ; h̃_{t-1}]
        attention: the given module, called attention(h_t, memory, mask, state) → context, weights, state
        combine: Linear(key_dim + hidden_dim, hidden_dim): h̃_t = tanh(combine([context_t ; h_t]))
        out: Linear(hidden_dim, vocab_size): logits_t = out(dropout(h̃_t))

    forward(tgt_in (B, T) long, memory (B, S, key_dim), mask (B, S) bool, hidden (B, hidden_dim),
            teacher_forcing=True) runs T steps. The input token of step 0 is tgt_in[:, 0] (<sos>); of
    step t > 0 it is tgt_in[:, t] with teacher forcing, otherwise the argmax of step t−1's logits.
    h̃_{-1} is zeros; the attention state starts as None and goes from each step to the next.
    Returns logits (B, T, vocab_size) and the attention weights (B, T, S).
    """

    def __init__(self, vocab_size, emb_dim, hidden_dim, key_dim, attention, dropout=0.0, pad_id=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRUCell(emb_dim + hidden_dim, hidden_dim)
        self.attention = attention
        self.combine = nn.Linear(key_dim + hidden_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def forward(self, tgt_in, memory, mask, hidden, teacher_forcing=True):
        batch, steps = tgt_in.shape
        feed = memory.new_zeros(batch, self.rnn.hidden_size)  # h̃_{-1}
        state, y = None, tgt_in[:, 0]
        all_logits, all_weights = [], []
        for t in range(steps):
            emb = self.dropout(self.embedding(y))                                    # (B, E)
            hidden = self.rnn(torch.cat([emb, feed], dim=1), hidden)                 # (B, H)
            context, weights, state = self.attention(hidden, memory, mask, state)    # (B, K), (B, S)
            feed = torch.tanh(self.combine(torch.cat([context, hidden], dim=1)))     # (B, H)
            logits = self.out(self.dropout(feed))                                    # (B, V)
            all_logits.append(logits)
            all_weights.append(weights)
            if t + 1 < steps:
                y = tgt_in[:, t + 1] if teacher_forcing else logits.argmax(dim=1)
        return torch.stack(all_logits, dim=1), torch.stack(all_weights, dim=1)
