"""Mutants of week05/attention_mechanisms.ipynb: realistic wrong versions of the student cells.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week05/attention_mechanisms.ipynb"
ROUND_TRIP = "decoder-own-prediction-under-teacher-forcing"

MUTANTS = [
    # --- masked softmax + context ---------------------------------------------------------------
    dict(name="masked-softmax-wrong-dim", cell="w05-att-masked",
         why="softmax over the batch axis instead of the source positions",
         edits=[("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=0)")]),
    dict(name="masked-padding-not-masked", cell="w05-att-masked",
         why="padding positions are never masked",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores")]),
    dict(name="masked-fill-zero", cell="w05-att-masked",
         why="padding scores set to 0 instead of -inf (exp(0) = 1: padding still gets weight)",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores.masked_fill(~mask, 0.0)")]),
    dict(name="masked-weights-after-softmax", cell="w05-att-masked",
         why="softmax first, then zero the padding: the weights no longer sum to 1",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores"),
                ("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-1) * mask")]),
    # --- content-based scores ----------------------------------------------------------------------
    dict(name="additive-no-tanh", cell="w05-att-content",
         why="tanh missing in the additive score",
         edits=[("energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))",
                 "energy = self.W_q(query).unsqueeze(1) + self.W_k(keys)")]),
    dict(name="dot-scaled", cell="w05-att-content",
         why="transformer habit: the dot score divided by sqrt(d)",
         edits=[("return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S, D) @ (B, D, 1) → (B, S)",
                 "return torch.bmm(keys, query.unsqueeze(2)).squeeze(2) / keys.shape[-1] ** 0.5")]),
    dict(name="general-without-W", cell="w05-att-content",
         why="general score forgets W (falls back to a dot product)",
         edits=[("return torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2)",
                 "return torch.bmm(keys, query[:, : keys.shape[2]].unsqueeze(2)).squeeze(2) + 0 * self.W(query).sum()")]),
    dict(name="content-softmax-over-batch", cell="w05-att-content",
         why="forward normalises the scores itself, over the wrong axis",
         edits=[("context, weights = masked_attention(self.score(query, keys), keys, mask)",
                 "weights = torch.softmax(self.score(query, keys).masked_fill(~mask, float('-inf')), dim=0)\n"
                 "        context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)")]),
    # --- location-based ---------------------------------------------------------------------------
    dict(name="location-softmax-before-slice", cell="w05-att-location",
         why="softmax over all max_len positions, then cut to S (weights do not sum to 1)",
         edits=[("scores = self.W_a(query)[:, : keys.shape[1]]", "scores = self.W_a(query)"),
                ("context, weights = masked_attention(scores, keys, mask)",
                 "weights = torch.softmax(scores, dim=-1)[:, : keys.shape[1]] * mask\n"
                 "        context = torch.bmm(weights.unsqueeze(1), keys).squeeze(1)")]),
    dict(name="location-last-positions", cell="w05-att-location",
         why="uses the last S position scores instead of the first S",
         edits=[("scores = self.W_a(query)[:, : keys.shape[1]]", "scores = self.W_a(query)[:, self.max_len - keys.shape[1]:]")]),
    # --- hybrid (location-aware) ------------------------------------------------------------------
    dict(name="hybrid-state-not-updated", cell="w05-att-hybrid",
         why="returns the old alignment as the new state: the location features never move",
         edits=[('return context, weights, weights  # this step\'s alignment is the next step\'s "previous"',
                 "return context, weights, state")]),
    dict(name="hybrid-zero-initial-alignment", cell="w05-att-hybrid",
         why="first previous alignment all zeros instead of uniform over the real tokens",
         edits=[("state = mask.to(keys.dtype) / mask.sum(dim=1, keepdim=True)", "state = torch.zeros_like(mask, dtype=keys.dtype)")]),
    dict(name="hybrid-no-location-term", cell="w05-att-hybrid",
         why="location features computed but never added (plain additive attention)",
         edits=[("energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys) + location)",
                 "energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys) + 0 * location)")]),
    # --- local-p ------------------------------------------------------------------------------------
    dict(name="local-centre-padded-length", cell="w05-att-local",
         why="window centred with the padded length S instead of each row's real length L",
         edits=[("centre = (lengths - 1) * torch.sigmoid(", "centre = (keys.shape[1] - 1) * torch.sigmoid(")]),
    dict(name="local-no-window", cell="w05-att-local",
         why="Gaussian only: positions outside the window keep a weight",
         edits=[("masked_attention(scores, keys, mask & in_window)", "masked_attention(scores, keys, mask)")]),
    dict(name="local-sigma-equals-window", cell="w05-att-local",
         why="sigma = D instead of D / 2",
         edits=[("sigma = self.window / 2", "sigma = self.window")]),
    # --- coverage -----------------------------------------------------------------------------------
    dict(name="coverage-not-accumulated", cell="w05-att-coverage",
         why="coverage not accumulated across steps: the state is only this step's weights",
         edits=[("return context, weights, coverage + weights", "return context, weights, weights")]),
    dict(name="coverage-loss-includes-current", cell="w05-att-coverage",
         why="coverage for step t includes step t's own weights",
         edits=[("coverage = weights.cumsum(dim=1) - weights", "coverage = weights.cumsum(dim=1)")]),
    dict(name="coverage-loss-max", cell="w05-att-coverage",
         why="max instead of min in the coverage loss",
         edits=[("per_step = torch.minimum(weights, coverage).sum(dim=2)", "per_step = torch.maximum(weights, coverage).sum(dim=2)")]),
    dict(name="coverage-loss-counts-padding", cell="w05-att-coverage",
         why="averages over every target position, padding included",
         edits=[("return (per_step * tgt_mask).sum() / tgt_mask.sum()", "return per_step.mean()")]),
    # --- encoder ------------------------------------------------------------------------------------
    dict(name="encoder-no-packing", cell="w05-att-encoder",
         why="GRU runs over the padding (no packed sequence)",
         edits=[("packed = nn.utils.rnn.pack_padded_sequence(emb, src_lens.cpu(), batch_first=True, enforce_sorted=False)",
                 "packed = emb"),
                ("memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])",
                 "memory = out")]),
    dict(name="encoder-bridge-from-last-position", cell="w05-att-encoder",
         why="decoder start state from the output at the last (possibly padded) position",
         edits=[("hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))",
                 "hidden = torch.tanh(self.bridge(memory[:, -1]))")]),
    # --- decoder ------------------------------------------------------------------------------------
    dict(name="decoder-own-prediction-under-teacher-forcing", cell="w05-att-decoder",
         why="the decoder is fed its own prediction where teacher forcing was asked for",
         edits=[("y = tgt_in[:, t + 1] if teacher_forcing else logits.argmax(dim=1)", "y = logits.argmax(dim=1)")]),
    dict(name="decoder-teacher-forcing-off-by-one", cell="w05-att-decoder",
         why="teacher forcing feeds tgt_in[:, t] again instead of tgt_in[:, t + 1]",
         edits=[("y = tgt_in[:, t + 1] if teacher_forcing else logits.argmax(dim=1)",
                 "y = tgt_in[:, t] if teacher_forcing else logits.argmax(dim=1)")]),
    dict(name="decoder-state-reset", cell="w05-att-decoder",
         why="the attention state is not passed on (None at every step)",
         edits=[("context, weights, state = self.attention(hidden, memory, mask, state)",
                 "context, weights, _ = self.attention(hidden, memory, mask, None)")]),
    dict(name="decoder-no-input-feeding", cell="w05-att-decoder",
         why="previous attentional vector not fed back (zeros every step)",
         edits=[("hidden = self.rnn(torch.cat([emb, feed], dim=1), hidden)",
                 "hidden = self.rnn(torch.cat([emb, torch.zeros_like(feed)], dim=1), hidden)")]),
    # --- added (issue 12): extreme scores, float64 kept, batch of 1 / one token, dropout, side effects -
    dict(name="masked-fill-minus-1e9", cell="w05-att-masked",
         why="padding filled with -1e9 instead of -inf: when every real score is far below zero, padding wins",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores.masked_fill(~mask, -1e9)")]),
    dict(name="masked-subtract-large", cell="w05-att-masked",
         why="padding pushed down by subtracting 1e9: a padding score far above the rest still wins",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores - 1e9 * (~mask)")]),
    dict(name="masked-float32-softmax", cell="w05-att-masked",
         why="softmax forced to float32: float64 inputs lose their precision (and dtype)",
         edits=[("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-1, dtype=torch.float32)")]),
    dict(name="masked-squeeze-context", cell="w05-att-masked",
         why="squeeze() on the context: a batch of one comes back as (D,)",
         edits=[("context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)", "context = torch.bmm(weights.unsqueeze(1), values).squeeze()")]),
    dict(name="dot-squeeze-all", cell="w05-att-content",
         why="squeeze() in the dot score: (B, S) breaks for a batch of one or a single source token",
         edits=[("return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S, D) @ (B, D, 1) → (B, S)",
                 "return torch.bmm(keys, query.unsqueeze(2)).squeeze()")]),
    dict(name="additive-squeeze-all", cell="w05-att-content",
         why="squeeze() in the additive score: breaks for a batch of one or a single source token",
         edits=[("return self.v(energy).squeeze(2)                                     # (B, S)",
                 "return self.v(energy).squeeze()")]),
    dict(name="location-ignores-max-len", cell="w05-att-location",
         why="constructor argument max_len ignored: W_a always scores 50 positions",
         edits=[("self.W_a = nn.Linear(query_dim, max_len)", "self.W_a = nn.Linear(query_dim, 50)")]),
    dict(name="hybrid-float32-initial-state", cell="w05-att-hybrid",
         why="first alignment built with mask.float(): float64 modules get a float32 state",
         edits=[("state = mask.to(keys.dtype) / mask.sum(dim=1, keepdim=True)", "state = mask.float() / mask.sum(dim=1, keepdim=True)")]),
    dict(name="hybrid-ignores-kernel-size", cell="w05-att-hybrid",
         why="constructor argument kernel_size ignored: the location filter is always 5 wide",
         edits=[("self.conv = nn.Conv1d(1, n_filters, kernel_size, padding=kernel_size // 2, bias=False)",
                 "self.conv = nn.Conv1d(1, n_filters, 5, padding=2, bias=False)")]),
    dict(name="hybrid-squeeze-all", cell="w05-att-hybrid",
         why="squeeze() on the energies' scores: breaks for a batch of one or a single source token",
         edits=[("masked_attention(self.v(energy).squeeze(2), keys, mask)", "masked_attention(self.v(energy).squeeze(), keys, mask)")]),
    dict(name="local-positions-not-detached", cell="w05-att-local",
         why="last_positions stored without detach(): the stored tensor keeps the graph",
         edits=[("self.last_positions = centre.squeeze(1).detach()", "self.last_positions = centre.squeeze(1)")]),
    dict(name="local-squeeze-all", cell="w05-att-local",
         why="squeeze() in the general score: breaks for a batch of one or a single source token",
         edits=[("scores = torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2) - offset",
                 "scores = torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze() - offset")]),
    dict(name="coverage-float32-init", cell="w05-att-coverage",
         why="initial coverage torch.zeros(mask.shape): float32 even for a float64 module",
         edits=[("coverage = torch.zeros_like(mask, dtype=keys.dtype) if state is None else state",
                 "coverage = torch.zeros(mask.shape) if state is None else state")]),
    dict(name="coverage-loss-returns-float", cell="w05-att-coverage",
         why="coverage_loss returns a Python float (.item()): no gradient, not the scalar tensor the stub asks for",
         edits=[("return (per_step * tgt_mask).sum() / tgt_mask.sum()", "return ((per_step * tgt_mask).sum() / tgt_mask.sum()).item()")]),
    dict(name="encoder-no-dropout", cell="w05-att-encoder",
         why="dropout defined but never applied",
         edits=[("emb = self.dropout(self.embedding(src))", "emb = self.embedding(src)")]),
    dict(name="encoder-dropout-on-memory", cell="w05-att-encoder",
         why="dropout misplaced: on the GRU's outputs instead of the embeddings",
         edits=[("emb = self.dropout(self.embedding(src))", "emb = self.embedding(src)"),
                ("memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])",
                 "memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])\n"
                 "        memory = self.dropout(memory)")]),
    dict(name="encoder-squeeze-batch-1", cell="w05-att-encoder",
         why="squeezes the final states before concatenating: a batch of one loses its batch axis",
         edits=[("hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))",
                 "hidden = torch.tanh(self.bridge(torch.cat([h_n[0].squeeze(), h_n[1].squeeze()], dim=-1)))")]),
    dict(name="decoder-no-output-dropout", cell="w05-att-decoder",
         why="no dropout before the output layer: logits = out(h̃_t)",
         edits=[("logits = self.out(self.dropout(feed))", "logits = self.out(feed)")]),
    dict(name="decoder-dropout-after-out", cell="w05-att-decoder",
         why="dropout misplaced on the logits instead of h̃_t",
         edits=[("logits = self.out(self.dropout(feed))", "logits = self.dropout(self.out(feed))")]),
    dict(name="decoder-no-embedding-dropout", cell="w05-att-decoder",
         why="no dropout on the embedding of y_t",
         edits=[("emb = self.dropout(self.embedding(y))", "emb = self.embedding(y)")]),
    dict(name="decoder-dropout-fed-back", cell="w05-att-decoder",
         why="the dropped-out h̃_t is also fed back as the next step's input",
         edits=[("feed = torch.tanh(self.combine(torch.cat([context, hidden], dim=1)))",
                 "feed = self.dropout(torch.tanh(self.combine(torch.cat([context, hidden], dim=1))))"),
                ("logits = self.out(self.dropout(feed))", "logits = self.out(feed)")]),
    dict(name="decoder-argmax-squeeze", cell="w05-att-decoder",
         why="squeeze() on the predicted tokens: a batch of one feeds a 0-dim token",
         edits=[("else logits.argmax(dim=1)", "else logits.argmax(dim=1).squeeze()")]),
]

# Correct code written differently from the reference: every check must give it full marks.
VARIANTS = [
    # --- masked softmax + context ------------------------------------------------------------------
    dict(name="masked-where-einsum", cell="w05-att-masked",
         why="torch.where for the mask, F.softmax, einsum for the context",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', 'scores = torch.where(mask, scores, float("-inf"))'),
                ("weights = torch.softmax(scores, dim=-1)", "weights = F.softmax(scores, dim=1)"),
                ("context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)", 'context = torch.einsum("bs,bsd->bd", weights, values)')]),
    dict(name="masked-manual-softmax", cell="w05-att-masked",
         why="softmax written out with the max shift, context as a broadcast weighted sum",
         source='''import torch.nn.functional as F


def masked_attention(scores, values, mask):
    s = scores.masked_fill(mask.logical_not(), float("-inf"))
    e = torch.exp(s - s.max(dim=-1, keepdim=True).values)
    weights = e / e.sum(dim=-1, keepdim=True)
    context = (weights.unsqueeze(-1) * values).sum(dim=1)
    return context, weights
'''),
    dict(name="masked-finfo-min", cell="w05-att-masked",
         why="padding filled with the dtype's most negative finite number (exactly 0 after softmax), matmul context",
         edits=[('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)"),
                ("context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)", "context = (weights[:, None, :] @ values)[:, 0]")]),
    # --- content-based scores -------------------------------------------------------------------------
    dict(name="content-einsum", cell="w05-att-content",
         why="einsum scores; the general score projects the keys (k W) instead of the query; v as a vector",
         edits=[("return torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, S, D) @ (B, D, 1) → (B, S)",
                 'return torch.einsum("bsd,bd->bs", keys, query)'),
                ("return torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2)  # project the query once, not every key",
                 'return torch.einsum("bsk,kq,bq->bs", keys, self.W.weight, query)'),
                ("return self.v(energy).squeeze(2)                                     # (B, S)",
                 "return energy @ self.v.weight.squeeze(0)")]),
    dict(name="content-own-forwards", cell="w05-att-content",
         why="each class with its own forward calling masked_attention; broadcast products; F.linear",
         source='''class ContentAttention(nn.Module):
    def forward(self, query, keys, mask, state=None):
        context, weights = masked_attention(self.score(query, keys), keys, mask)
        return context, weights, state


class DotAttention(nn.Module):
    def __init__(self, query_dim, key_dim):
        super().__init__()
        if query_dim != key_dim:
            raise ValueError("query_dim must equal key_dim")

    def score(self, query, keys):
        return (keys * query[:, None, :]).sum(dim=-1)

    def forward(self, query, keys, mask, state=None):
        return (*masked_attention(self.score(query, keys), keys, mask), state)


class GeneralAttention(nn.Module):
    def __init__(self, query_dim, key_dim):
        super().__init__()
        self.W = nn.Linear(query_dim, key_dim, bias=False)

    def score(self, query, keys):
        return self.W(query).unsqueeze(1).mul(keys).sum(-1)

    def forward(self, query, keys, mask, state=None):
        context, weights = masked_attention(self.score(query, keys), keys, mask)
        return context, weights, state


class AdditiveAttention(ContentAttention):
    def __init__(self, query_dim, key_dim, attn_dim):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def score(self, query, keys):
        energy = torch.tanh(F.linear(keys, self.W_k.weight, self.W_k.bias) + F.linear(query, self.W_q.weight)[:, None])
        return F.linear(energy, self.v.weight)[..., 0]
'''),
    # --- location-based ------------------------------------------------------------------------------
    dict(name="location-sliced-weights", cell="w05-att-location",
         why="only the first S rows of W_a are used (F.linear on sliced weights)",
         edits=[("scores = self.W_a(query)[:, : keys.shape[1]]",
                 "S = keys.size(1)\n        scores = F.linear(query, self.W_a.weight[:S], self.W_a.bias[:S])")]),
    dict(name="location-narrow", cell="w05-att-location",
         why="narrow() on the last axis, the tuple unpacked from masked_attention directly",
         edits=[("scores = self.W_a(query)[:, : keys.shape[1]]", "scores = self.W_a(query).narrow(-1, 0, keys.size(1))"),
                ("        context, weights = masked_attention(scores, keys, mask)\n        return context, weights, state\n",
                 "        return (*masked_attention(scores, keys, mask), state)\n")]),
    # --- hybrid (location-aware) ------------------------------------------------------------------
    dict(name="hybrid-functional-conv", cell="w05-att-hybrid",
         why="F.conv1d with the module's weight, the first alignment by torch.where, einsum for U",
         edits=[("state = mask.to(keys.dtype) / mask.sum(dim=1, keepdim=True)",
                 "state = torch.where(mask, 1.0, 0.0).to(keys) / mask.sum(-1, keepdim=True)"),
                ("location = self.U(self.conv(state.unsqueeze(1)).transpose(1, 2))",
                 "f = F.conv1d(state[:, None, :], self.conv.weight, padding=self.conv.padding)  # (B, F, S)\n"
                 "        location = torch.einsum('bfs,af->bsa', f, self.U.weight)")]),
    dict(name="hybrid-stacked-terms", cell="w05-att-hybrid",
         why="the three terms summed by torch.stack(...).sum(0); v applied as a matrix product",
         edits=[("energy = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys) + location)",
                 "terms = torch.broadcast_tensors(self.W_q(query)[:, None], self.W_k(keys), location)\n"
                 "        energy = torch.stack(terms).sum(0).tanh()"),
                ("masked_attention(self.v(energy).squeeze(2), keys, mask)",
                 "masked_attention((energy @ self.v.weight.T)[..., 0], keys, mask)")]),
    # --- local-p ---------------------------------------------------------------------------------------
    dict(name="local-standardised-gaussian", cell="w05-att-local",
         why="Gaussian term as -½((j − p)/σ)², einsum general score, lengths via .to(keys)",
         edits=[("lengths = mask.sum(dim=1, keepdim=True).to(keys.dtype)", "lengths = mask.sum(-1, keepdim=True).to(keys)"),
                ("scores = torch.bmm(keys, self.W(query).unsqueeze(2)).squeeze(2) - offset ** 2 / (2 * sigma ** 2)",
                 "scores = torch.einsum('bsk,bk->bs', keys, self.W(query)) - 0.5 * (offset / sigma) ** 2")]),
    dict(name="local-logical-and", cell="w05-att-local",
         why="torch.logical_and for the window, positions from arange(...).to(keys), positions stored detached then cloned",
         edits=[("positions = torch.arange(keys.shape[1], device=keys.device, dtype=keys.dtype)",
                 "positions = torch.arange(keys.shape[1]).to(keys)"),
                ("context, weights = masked_attention(scores, keys, mask & in_window)",
                 "context, weights = masked_attention(scores, keys, torch.logical_and(mask, in_window))"),
                ("self.last_positions = centre.squeeze(1).detach()", "self.last_positions = centre.detach()[:, 0].clone()")]),
    # --- coverage -----------------------------------------------------------------------------------------
    dict(name="coverage-loss-loop", cell="w05-att-coverage",
         why="coverage loss with a loop over target steps and a running coverage; keys.new_zeros for the state",
         edits=[("coverage = torch.zeros_like(mask, dtype=keys.dtype) if state is None else state",
                 "coverage = keys.new_zeros(mask.shape) if state is None else state"),
                ("    coverage = weights.cumsum(dim=1) - weights                # (B, T, S): attention before step t\n"
                 "    per_step = torch.minimum(weights, coverage).sum(dim=2)    # (B, T): re-attention penalty\n"
                 "    return (per_step * tgt_mask).sum() / tgt_mask.sum()\n",
                 "    running = torch.zeros_like(weights[:, 0])\n"
                 "    total = weights.new_zeros(())\n"
                 "    for t in range(weights.shape[1]):\n"
                 "        step = torch.min(weights[:, t], running).sum(dim=-1)\n"
                 "        total = total + (step * tgt_mask[:, t]).sum()\n"
                 "        running = running + weights[:, t]\n"
                 "    return total / tgt_mask.sum()\n")]),
    dict(name="coverage-loss-shifted-cumsum", cell="w05-att-coverage",
         why="exclusive cumsum by F.pad, mean over the real steps with masked_select",
         edits=[("coverage = weights.cumsum(dim=1) - weights", "coverage = F.pad(weights.cumsum(dim=1)[:, :-1], (0, 0, 1, 0))"),
                ("return (per_step * tgt_mask).sum() / tgt_mask.sum()", "return torch.masked_select(per_step, tgt_mask.bool()).mean()")]),
    # --- encoder ---------------------------------------------------------------------------------------------
    dict(name="encoder-sorted-by-hand", cell="w05-att-encoder",
         why="the classic pre-enforce_sorted way: sort by length, pack sorted, unsort; F.dropout with the module's p",
         edits=[("        emb = self.dropout(self.embedding(src))                                           # (B, S, E)\n"
                 "        packed = nn.utils.rnn.pack_padded_sequence(emb, src_lens.cpu(), batch_first=True, enforce_sorted=False)\n"
                 "        out, h_n = self.rnn(packed)                                                       # h_n: (2, B, H)\n"
                 "        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])\n",
                 "        emb = F.dropout(self.embedding(src), p=self.dropout.p, training=self.training)\n"
                 "        lens, order = src_lens.sort(descending=True)\n"
                 "        packed = nn.utils.rnn.pack_padded_sequence(emb[order], lens.cpu(), batch_first=True)\n"
                 "        out, h_n = self.rnn(packed)\n"
                 "        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])\n"
                 "        undo = order.argsort()\n"
                 "        memory, h_n = memory[undo], h_n[:, undo]\n")]),
    dict(name="encoder-lengths-list", cell="w05-att-encoder",
         why="lengths as a Python list, final states by transpose/reshape, mask by broadcasting",
         edits=[("src_lens.cpu(), batch_first=True", "src_lens.tolist(), batch_first=True"),
                ("hidden = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))",
                 "hidden = torch.tanh(self.bridge(h_n.transpose(0, 1).reshape(src.shape[0], -1)))")]),
    # --- decoder -----------------------------------------------------------------------------------------------
    dict(name="decoder-embed-upfront", cell="w05-att-decoder",
         why="with teacher forcing every input token is embedded (and dropped out) before the loop",
         edits=[("        all_logits, all_weights = [], []\n        for t in range(steps):\n"
                 "            emb = self.dropout(self.embedding(y))                                    # (B, E)\n",
                 "        all_logits, all_weights = [], []\n"
                 "        embedded = self.dropout(self.embedding(tgt_in)) if teacher_forcing else None\n"
                 "        for t in range(steps):\n"
                 "            emb = embedded[:, t] if teacher_forcing else self.dropout(self.embedding(y))\n")]),
    dict(name="decoder-preallocated", cell="w05-att-decoder",
         why="outputs written into preallocated tensors, argmax by max().indices, F.dropout with the module's p",
         edits=[("        all_logits, all_weights = [], []\n",
                 "        all_logits = memory.new_zeros(batch, steps, self.out.out_features)\n"
                 "        all_weights = memory.new_zeros(batch, steps, memory.shape[1])\n"),
                ("            logits = self.out(self.dropout(feed))                                    # (B, V)\n"
                 "            all_logits.append(logits)\n"
                 "            all_weights.append(weights)\n",
                 "            logits = self.out(F.dropout(feed, self.dropout.p, self.training))\n"
                 "            all_logits[:, t] = logits\n"
                 "            all_weights[:, t] = weights\n"),
                ("y = tgt_in[:, t + 1] if teacher_forcing else logits.argmax(dim=1)",
                 "y = tgt_in[:, t + 1] if teacher_forcing else logits.max(dim=1).indices"),
                ("return torch.stack(all_logits, dim=1), torch.stack(all_weights, dim=1)", "return all_logits, all_weights")]),
]
