"""Mutants of week07/transformer_enc_dec.ipynb: realistic wrong versions of the student cells, and
correct variants written differently that every check must accept.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week07/transformer_enc_dec.ipynb"
ROUND_TRIP = "beam-no-length-normalisation"

MUTANTS = [
    # --- multi-head attention ----------------------------------------------------------------------
    dict(name="mha-no-scale", cell="w07-tf-mha",
         why="forgets the 1/sqrt(d_head) scaling",
         edits=[("scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)", "scores = q @ k.transpose(-2, -1)")]),
    dict(name="mha-scale-by-d-model", cell="w07-tf-mha",
         why="scales by sqrt(d_model) instead of sqrt(d_head)",
         edits=[("/ math.sqrt(self.d_head)", "/ math.sqrt(self.d_model)")]),
    dict(name="mha-padding-ignored", cell="w07-tf-mha",
         why="key_padding_mask accepted but never applied",
         edits=[("            blocked = blocked | key_padding_mask[:, None, None, :]  # (B, 1, T, S)\n", "            pass\n")]),
    dict(name="mha-padding-polarity", cell="w07-tf-mha",
         why="padding mask read as True = keep (the week-5 convention)",
         edits=[("blocked = blocked | key_padding_mask[:, None, None, :]", "blocked = blocked | ~key_padding_mask[:, None, None, :]")]),
    dict(name="mha-softmax-over-queries", cell="w07-tf-mha",
         why="softmax over the query axis instead of the keys",
         edits=[("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)")]),
    dict(name="mha-heads-without-transpose", cell="w07-tf-mha",
         why="splits heads with a bare view (B, h, L, d_head): mixes positions and heads",
         edits=[("return x.unflatten(-1, (self.n_heads, self.d_head)).transpose(1, 2)",
                 "return x.reshape(x.shape[0], self.n_heads, x.shape[1], self.d_head)")]),
    dict(name="mha-merge-without-transpose", cell="w07-tf-mha",
         why="merges heads without moving the head axis back next to d_head",
         edits=[("context = context.transpose(1, 2).flatten(-2)", "context = context.reshape(query.shape[0], query.shape[1], -1)")]),
    dict(name="mha-nan-empty-rows", cell="w07-tf-mha",
         why="no guard for a query whose keys are all masked: softmax of all -inf gives NaN",
         edits=[("scores = scores.masked_fill(blocked, float(\"-inf\")).masked_fill(empty, 0.0)",
                 "scores = scores.masked_fill(blocked, float(\"-inf\"))"),
                ("weights = torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)", "weights = torch.softmax(scores, dim=-1)")]),
    dict(name="mha-weights-after-dropout", cell="w07-tf-mha",
         why="returns the dropped-out weights instead of the probabilities",
         edits=[("context = self.dropout(weights) @ v", "weights = self.dropout(weights)\n        context = weights @ v")]),
    dict(name="mha-no-dropout", cell="w07-tf-mha",
         why="attention dropout defined but never applied",
         edits=[("context = self.dropout(weights) @ v", "context = weights @ v")]),
    dict(name="mha-keys-from-query", cell="w07-tf-mha",
         why="projects the keys from the query: right for self-attention only",
         edits=[("k = split_heads(self.k_proj(key))", "k = split_heads(self.k_proj(query))")]),
    dict(name="mha-bias-ignored", cell="w07-tf-mha",
         why="the bias argument is ignored: the projections always have a bias",
         edits=[("self.q_proj = nn.Linear(d_model, d_model, bias=bias)", "self.q_proj = nn.Linear(d_model, d_model)"),
                ("self.k_proj = nn.Linear(d_model, d_model, bias=bias)", "self.k_proj = nn.Linear(d_model, d_model)"),
                ("self.v_proj = nn.Linear(d_model, d_model, bias=bias)", "self.v_proj = nn.Linear(d_model, d_model)"),
                ("self.out_proj = nn.Linear(d_model, d_model, bias=bias)", "self.out_proj = nn.Linear(d_model, d_model)")]),
    dict(name="mha-naive-exp", cell="w07-tf-mha",
         why="softmax written as exp / sum without the max shift: overflows for large scores",
         edits=[("weights = torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)",
                 "weights = (scores.exp() / scores.exp().sum(-1, keepdim=True)).masked_fill(empty, 0.0)")]),
    # --- encoder layer ---------------------------------------------------------------------------------
    dict(name="enc-norm-before-residual", cell="w07-tf-encoder-layer",
         why="LayerNorm before the sublayer instead of after the residual sum, where post-norm is asked",
         edits=[("x = self.norm1(x + self_attention(x))      # post-norm: LayerNorm after the residual sum\n        return self.norm2(x + feed_forward(x))",
                 "x = x + self_attention(self.norm1(x))\n        return x + feed_forward(self.norm2(x))")]),
    dict(name="enc-no-residual", cell="w07-tf-encoder-layer",
         why="the attention sublayer has no residual connection",
         edits=[("x = self.norm1(x + self_attention(x))", "x = self.norm1(self_attention(x))")]),
    dict(name="enc-padding-not-passed", cell="w07-tf-encoder-layer",
         why="the source padding mask never reaches the attention",
         edits=[("return self.dropout(self.self_attn(h, h, h, key_padding_mask=src_key_padding_mask)[0])",
                 "return self.dropout(self.self_attn(h, h, h)[0])")]),
    dict(name="enc-no-relu", cell="w07-tf-encoder-layer",
         why="the feed-forward network has no activation",
         edits=[("self.dropout(F.relu(self.linear1(h)))", "self.dropout(self.linear1(h))")]),
    dict(name="enc-norm-first-ignored", cell="w07-tf-encoder-layer",
         why="norm_first is ignored: always post-norm",
         edits=[("        if self.norm_first:\n            x = x + self_attention(self.norm1(x))\n            return x + feed_forward(self.norm2(x))\n", "")]),
    dict(name="enc-dropout-zero", cell="w07-tf-encoder-layer",
         why="the dropout argument is ignored (no dropout at all)",
         edits=[("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Dropout(0.0)")]),
    dict(name="enc-attention-without-dropout", cell="w07-tf-encoder-layer",
         why="the attention is built without the layer's dropout",
         edits=[("self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)", "self.self_attn = MultiHeadAttention(d_model, n_heads)")]),
    # --- decoder layer ------------------------------------------------------------------------------------
    dict(name="dec-cross-padding-not-masked", cell="w07-tf-decoder-layer",
         why="encoder padding not masked in cross-attention",
         edits=[("self.cross_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask)[0]",
                 "self.cross_attn(h, memory, memory)[0]")]),
    dict(name="dec-no-causal-mask", cell="w07-tf-decoder-layer",
         why="tgt_mask never reaches the self-attention",
         edits=[("key_padding_mask=tgt_key_padding_mask, attn_mask=tgt_mask)[0]", "key_padding_mask=tgt_key_padding_mask)[0]")]),
    dict(name="dec-cross-query-from-memory", cell="w07-tf-decoder-layer",
         why="queries and keys swapped in cross-attention",
         edits=[("self.cross_attn(h, memory, memory, key_padding_mask=memory_key_padding_mask)[0]",
                 "self.cross_attn(memory, h, h)[0]")]),
    dict(name="dec-norm-before-residual", cell="w07-tf-decoder-layer",
         why="pre-norm arithmetic in the post-norm branch",
         edits=[("        x = self.norm1(x + self_attention(x))\n        x = self.norm2(x + cross_attention(x))\n        return self.norm3(x + feed_forward(x))",
                 "        x = x + self_attention(self.norm1(x))\n        x = x + cross_attention(self.norm2(x))\n        return x + feed_forward(self.norm3(x))")]),
    dict(name="dec-self-attention-twice", cell="w07-tf-decoder-layer",
         why="the cross-attention block calls the self-attention module",
         edits=[("return self.dropout(self.cross_attn(h, memory, memory", "return self.dropout(self.self_attn(h, memory, memory")]),
    dict(name="dec-cross-before-self", cell="w07-tf-decoder-layer",
         why="cross-attention before the masked self-attention",
         edits=[("        x = self.norm1(x + self_attention(x))\n        x = self.norm2(x + cross_attention(x))\n",
                 "        x = self.norm1(x + cross_attention(x))\n        x = self.norm2(x + self_attention(x))\n")]),
    # --- the whole model ----------------------------------------------------------------------------------
    dict(name="model-no-sqrt-d", cell="w07-tf-model",
         why="embeddings not scaled by sqrt(d_model)",
         edits=[("return self.dropout(table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])",
                 "return self.dropout(table(ids) + self.pe[: ids.shape[1]])")]),
    dict(name="model-causal-sees-next", cell="w07-tf-model",
         why="a causal mask that lets position t see t + 1",
         edits=[("return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)",
                 "return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=2)")]),
    dict(name="model-causal-blocks-itself", cell="w07-tf-model",
         why="the causal mask also hides the position itself (diagonal included)",
         edits=[("return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)",
                 "return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=0)")]),
    dict(name="model-source-padding-not-in-cross", cell="w07-tf-model",
         why="the decoder's cross-attention does not get the source padding mask",
         edits=[("                      memory_key_padding_mask=src_pad)", "                      memory_key_padding_mask=None)")]),
    dict(name="model-encoder-padding-not-masked", cell="w07-tf-model",
         why="the encoder layers do not get the source padding mask",
         edits=[("x = layer(x, src_key_padding_mask=src_pad)", "x = layer(x)")]),
    dict(name="model-no-encoder-norm", cell="w07-tf-model",
         why="no LayerNorm after the encoder stack",
         edits=[("return self.encoder_norm(x), src_pad", "return x, src_pad")]),
    dict(name="model-untied", cell="w07-tf-model",
         why="tie_output is ignored: the output layer keeps its own matrix",
         edits=[("        if tie_output:\n            self.generator.weight = self.tgt_embed.weight  # one matrix for reading and writing target tokens\n", "")]),
    dict(name="model-share-ignored", cell="w07-tf-model",
         why="share_embeddings is ignored: two embedding tables",
         edits=[("self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)",
                 "self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=pad_id)")]),
    dict(name="model-pe-persistent", cell="w07-tf-model",
         why="the positional encoding is saved in the state_dict (a persistent buffer)",
         edits=[("self.register_buffer(\"pe\", sinusoidal_positions(max_len, d_model), persistent=False)",
                 "self.register_buffer(\"pe\", sinusoidal_positions(max_len, d_model))")]),
    dict(name="model-pe-sin-cos-swapped", cell="w07-tf-model",
         why="cos on the even and sin on the odd dimensions",
         edits=[("pe[:, 0::2] = torch.sin(position * inv_freq)", "pe[:, 0::2] = torch.cos(position * inv_freq)"),
                ("pe[:, 1::2] = torch.cos(position * inv_freq)", "pe[:, 1::2] = torch.sin(position * inv_freq)")]),
    dict(name="model-pe-frequency-i", cell="w07-tf-model",
         why="frequencies 10000^(i/d) instead of 10000^(2i/d)",
         edits=[("torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)",
                 "torch.arange(0, d_model // 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)")]),
    dict(name="model-pad-id-zero", cell="w07-tf-model",
         why="the source padding mask is built with 0 instead of pad_id",
         edits=[("src_pad = src == self.pad_id", "src_pad = src == 0")]),
    dict(name="model-layers-shared", cell="w07-tf-model",
         why="one encoder layer repeated n_layers times (the same weights in every layer)",
         edits=[("[EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)])",
                 "[EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)] * n_layers)")]),
    dict(name="model-norm-first-not-passed", cell="w07-tf-model",
         why="the layers are built without norm_first",
         edits=[("[EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)]",
                 "[EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)]"),
                ("[DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)]",
                 "[DecoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)]")]),
    dict(name="model-no-embedding-dropout", cell="w07-tf-model",
         why="no dropout on embedding + positional encoding",
         edits=[("return self.dropout(table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]])",
                 "return table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]]")]),
    # --- teacher-forced loss and schedule --------------------------------------------------------------
    dict(name="loss-target-not-shifted", cell="w07-tf-train-step",
         why="the target not shifted: each position is asked for its own input token",
         edits=[("tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]", "tgt_in, tgt_out = tgt[:, :-1], tgt[:, :-1]")]),
    dict(name="loss-shift-backwards", cell="w07-tf-train-step",
         why="shifted the wrong way: reads tgt[:, 1:] and predicts tgt[:, :-1]",
         edits=[("tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]", "tgt_in, tgt_out = tgt[:, 1:], tgt[:, :-1]")]),
    dict(name="loss-counts-padding", cell="w07-tf-train-step",
         why="padding counted in the loss",
         edits=[("tgt_out.flatten(), ignore_index=pad_id,", "tgt_out.flatten(),")]),
    dict(name="loss-pad-id-zero", cell="w07-tf-train-step",
         why="ignores token 0 instead of pad_id",
         edits=[("ignore_index=pad_id,", "ignore_index=0,")]),
    dict(name="loss-smoothing-hardcoded", cell="w07-tf-train-step",
         why="label smoothing fixed at 0.1 whatever the argument",
         edits=[("label_smoothing=label_smoothing)", "label_smoothing=0.1)")]),
    dict(name="loss-sum", cell="w07-tf-train-step",
         why="sums over tokens instead of averaging",
         edits=[("label_smoothing=label_smoothing)", "label_smoothing=label_smoothing, reduction=\"sum\")")]),
    dict(name="noam-warmup-exponent", cell="w07-tf-train-step",
         why="warm-up slope uses warmup^-0.5 instead of warmup^-1.5",
         edits=[("step * warmup_steps ** -1.5", "step * warmup_steps ** -0.5")]),
    dict(name="noam-zero-based", cell="w07-tf-train-step",
         why="counts steps from 0: the schedule is one step late",
         edits=[("min(step ** -0.5, step * warmup_steps ** -1.5)", "min((step + 1) ** -0.5, (step + 1) * warmup_steps ** -1.5)")]),
    dict(name="noam-no-d-model", cell="w07-tf-train-step",
         why="forgets the d_model^-1/2 factor",
         edits=[("return factor * d_model ** -0.5 * min(", "return factor * min(")]),
    # --- greedy decoding ------------------------------------------------------------------------------------
    dict(name="greedy-no-padding-after-eos", cell="w07-tf-greedy",
         why="a finished sentence keeps generating instead of padding",
         edits=[("        next_token = next_token.masked_fill(done, pad_id)  # a finished sentence only grows padding\n", "")]),
    dict(name="greedy-no-early-stop", cell="w07-tf-greedy",
         why="always decodes max_len steps (trailing all-padding columns)",
         edits=[("        if done.all():\n            break\n", "")]),
    dict(name="greedy-eos-hardcoded", cell="w07-tf-greedy",
         why="eos_id ignored: token 2 ends every sentence",
         edits=[("done = done | (next_token == eos_id)", "done = done | (next_token == 2)")]),
    dict(name="greedy-sos-hardcoded", cell="w07-tf-greedy",
         why="sos_id ignored: every prefix starts with token 1",
         edits=[("out = torch.full((batch, 1), sos_id,", "out = torch.full((batch, 1), 1,")]),
    dict(name="greedy-returns-sos", cell="w07-tf-greedy",
         why="returns the <sos> column too",
         edits=[("    return out[:, 1:]", "    return out")]),
    dict(name="greedy-first-position", cell="w07-tf-greedy",
         why="reads the first position's state instead of the last",
         edits=[("model.decode(out, memory, src_pad)[:, -1]", "model.decode(out, memory, src_pad)[:, 0]")]),
    dict(name="greedy-sets-eval", cell="w07-tf-greedy",
         why="switches the caller's model to eval mode",
         edits=[("    memory, src_pad = model.encode(src)\n", "    model.eval()\n    memory, src_pad = model.encode(src)\n")]),
    # --- beam search --------------------------------------------------------------------------------------
    dict(name="beam-no-length-normalisation", cell="w07-tf-beam",
         why="beam scores not length-normalised",
         edits=[("top, k = (scores / t ** alpha).max(dim=1)", "top, k = scores.max(dim=1)")]),
    dict(name="beam-finished-extended", cell="w07-tf-beam",
         why="finished hypotheses still extended (they stay in the beam)",
         edits=[("alive = kept & ~ended", "alive = kept")]),
    dict(name="beam-width-not-shrinking", cell="w07-tf-beam",
         why="the beam keeps beam_size alive hypotheses however many have finished",
         edits=[("width = beam_size - n_finished", "width = torch.full_like(n_finished, beam_size)")]),
    dict(name="beam-length-without-eos", cell="w07-tf-beam",
         why="normalises by the length without the <eos> token",
         edits=[("top, k = (scores / t ** alpha).max(dim=1)", "top, k = (scores / max(t - 1, 1) ** alpha).max(dim=1)")]),
    dict(name="beam-rows-of-first-sentence", cell="w07-tf-beam",
         why="forgets the sentence offset: every sentence continues the first sentence's hypotheses",
         edits=[("parent = offset + index // vocab", "parent = index // vocab")]),
    dict(name="beam-unfinished-dropped", cell="w07-tf-beam",
         why="hypotheses still alive at max_len are never finished",
         edits=[("    else:\n        finish(prefix.view(batch, beam_size, -1), score, max_len)       # out of steps: the alive ones end here\n", "")]),
    dict(name="beam-eos-hardcoded", cell="w07-tf-beam",
         why="eos_id ignored",
         edits=[("ended = kept & (token == eos_id)", "ended = kept & (token == 2)")]),
]

# --- correct variants ------------------------------------------------------------------------------------
_MHA_FUSED = '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError("d_model must be divisible by n_heads")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)     # fused q | k | v
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        B, T, _ = query.shape
        S = key.shape[1]
        w_q, w_k, w_v = self.in_proj.weight.chunk(3)
        b_q, b_k, b_v = self.in_proj.bias.chunk(3) if self.in_proj.bias is not None else (None, None, None)
        q = F.linear(query, w_q, b_q).view(B, T, self.n_heads, self.d_head).permute(0, 2, 1, 3)
        k = F.linear(key, w_k, b_k).view(B, S, self.n_heads, self.d_head).permute(0, 2, 1, 3)
        v = F.linear(value, w_v, b_v).view(B, S, self.n_heads, self.d_head).permute(0, 2, 1, 3)
        scores = torch.einsum("bhtd,bhsd->bhts", q, k) * self.d_head ** -0.5
        blocked = torch.zeros(B, 1, T, S, dtype=torch.bool, device=query.device)
        if key_padding_mask is not None:
            blocked = blocked | key_padding_mask.view(B, 1, 1, S)
        if attn_mask is not None:
            blocked = blocked | attn_mask.view(1, 1, T, S)
        empty = blocked.all(-1, keepdim=True)
        scores = torch.where(blocked, torch.full_like(scores, float("-inf")), scores)
        scores = torch.where(empty, torch.zeros_like(scores), scores)
        weights = torch.where(empty, torch.zeros_like(scores), F.softmax(scores, dim=-1))
        context = torch.einsum("bhts,bhsd->bthd", self.dropout(weights), v).reshape(B, T, self.d_model)
        return self.out_proj(context), weights
'''

_MHA_ADDITIVE = '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError("d_model must be divisible by n_heads")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)

    def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
        B, T, S, h = query.shape[0], query.shape[1], key.shape[1], self.n_heads
        q = self.q_proj(query).reshape(B, T, h, -1).transpose(1, 2) / math.sqrt(self.d_head)   # scale q first
        k = self.k_proj(key).reshape(B, S, h, -1).transpose(1, 2)
        v = self.v_proj(value).reshape(B, S, h, -1).transpose(1, 2)
        bias = torch.zeros(B, 1, T, S, dtype=q.dtype, device=q.device)      # one additive mask, computed once
        if key_padding_mask is not None:
            bias = bias.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        if attn_mask is not None:
            bias = bias.masked_fill(attn_mask, float("-inf"))
        empty = torch.isinf(bias).all(dim=-1, keepdim=True)
        bias = bias.masked_fill(empty, 0.0)
        weights = torch.softmax(torch.matmul(q, k.transpose(2, 3)) + bias, dim=-1) * (~empty)
        out = torch.matmul(self.attn_dropout(weights), v).transpose(1, 2).reshape(B, T, self.d_model)
        return self.out_proj(out), weights
'''

_ENCODER_EXPLICIT = '''class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)        # inside the FFN
        self.dropout1 = nn.Dropout(dropout)       # after the attention
        self.dropout2 = nn.Dropout(dropout)       # after the FFN

    def forward(self, x, src_key_padding_mask=None):
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h, src_key_padding_mask)[0])
            x = x + self.dropout2(self.linear2(self.dropout(torch.relu(self.linear1(self.norm2(x))))))
        else:
            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, src_key_padding_mask)[0]))
            x = self.norm2(x + self.dropout2(self.linear2(self.dropout(torch.relu(self.linear1(x))))))
        return x
'''

_DECODER_EXPLICIT = '''class DecoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.1, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.drops = nn.ModuleList([nn.Dropout(dropout) for _ in range(3)])

    def _block(self, i, x, memory, masks):
        if i == 0:
            return self.self_attn(x, x, x, attn_mask=masks[0], key_padding_mask=masks[1])[0]
        if i == 1:
            return self.cross_attn(x, memory, memory, key_padding_mask=masks[2])[0]
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, x, memory, tgt_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None):
        masks = (tgt_mask, tgt_key_padding_mask, memory_key_padding_mask)
        for i, norm in enumerate((self.norm1, self.norm2, self.norm3)):
            if self.norm_first:
                x = x + self.drops[i](self._block(i, norm(x), memory, masks))
            else:
                x = norm(x + self.drops[i](self._block(i, x, memory, masks)))
        return x
'''

_LOSS_MANUAL = '''def teacher_forcing_loss(model, src, tgt, pad_id=0, label_smoothing=0.1):
    decoder_input = tgt[..., :-1]
    target = tgt[..., 1:]
    log_p = torch.log_softmax(model(src, decoder_input).double(), dim=-1)        # (B, T, V)
    nll = -log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1)                   # (B, T)
    uniform = -log_p.mean(dim=-1)                                               # cross-entropy with 1/V everywhere
    per_token = (1 - label_smoothing) * nll + label_smoothing * uniform
    real = (target != pad_id).double()
    return (per_token * real).sum() / real.sum()


def noam_lr(step, d_model, warmup_steps, factor=1.0):
    if step < 1 or warmup_steps < 1:
        raise ValueError("step and warmup_steps must be >= 1")
    if step < warmup_steps:
        return factor * step / (math.sqrt(d_model) * warmup_steps ** 1.5)
    return factor / math.sqrt(d_model * step)
'''

_GREEDY_LIST = '''@torch.no_grad()
def greedy_decode(model, src, max_len, sos_id=1, eos_id=2, pad_id=0):
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    memory, src_pad = model.encode(src)
    tokens = [torch.full((src.size(0),), sos_id, dtype=torch.long, device=src.device)]
    finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    step = 0
    while step < max_len and not bool(finished.all()):
        states = model.decode(torch.stack(tokens, dim=1), memory, src_pad)
        best = model.generator(states[:, -1:]).squeeze(1).argmax(-1)
        best = torch.where(finished, torch.full_like(best, pad_id), best)
        tokens.append(best)
        finished = finished | best.eq(eos_id)
        step += 1
    return torch.stack(tokens[1:], dim=1)
'''

_BEAM_LISTS = '''@torch.no_grad()
def beam_search(model, src, beam_size, max_len, alpha=1.0, sos_id=1, eos_id=2, pad_id=0):
    if beam_size < 1 or max_len < 1:
        raise ValueError("beam_size and max_len must be >= 1")
    B = src.shape[0]
    memory, src_pad = model.encode(src)
    alive = [[([sos_id], 0.0)] for _ in range(B)]          # per sentence: (tokens, summed log-probability)
    finished = [[] for _ in range(B)]
    for t in range(1, max_len + 1):
        rows = [(b, tokens, s) for b in range(B) for tokens, s in alive[b]]
        if not rows:
            break
        index = torch.tensor([b for b, _, _ in rows], device=src.device)
        prefix = torch.tensor([tokens for _, tokens, _ in rows], device=src.device)
        logp = F.log_softmax(model.generator(model.decode(prefix, memory[index], src_pad[index])[:, -1]).float(), -1)
        totals = logp + torch.tensor([s for _, _, s in rows], device=src.device)[:, None]
        for b in range(B):
            mine = [i for i, (bb, _, _) in enumerate(rows) if bb == b]
            width = beam_size - len(finished[b])
            if not mine or width <= 0:
                alive[b] = []
                continue
            flat = totals[mine].flatten()
            best = flat.topk(min(width, flat.numel())).indices.tolist()
            alive[b] = []
            for j in best:
                row, token = mine[j // logp.shape[1]], j % logp.shape[1]
                s = float(flat[j])
                tokens = rows[row][1] + [token]
                if token == eos_id:
                    finished[b].append((tokens[1:], s / t ** alpha))
                else:
                    alive[b].append((tokens, s))
    for b in range(B):
        finished[b] += [(tokens[1:], s / max_len ** alpha) for tokens, s in alive[b]]
    answers = [max(f, key=lambda pair: pair[1]) for f in finished]
    width = max(len(tokens) for tokens, _ in answers)
    out = torch.full((B, width), pad_id, dtype=torch.long, device=src.device)
    for b, (tokens, _) in enumerate(answers):
        out[b, : len(tokens)] = torch.tensor(tokens, device=src.device)
    return out, torch.tensor([s for _, s in answers], device=src.device)
'''

VARIANTS = [
    dict(name="mha-fused-qkv-einsum", cell="w07-tf-mha", why="one fused in_proj (as nn.MultiheadAttention), einsum, "
         "torch.where instead of masked_fill", source=_MHA_FUSED),
    dict(name="mha-precomputed-additive-mask", cell="w07-tf-mha", why="one additive float mask built once, "
         "queries scaled before the product, matmul, weights zeroed by multiplication", source=_MHA_ADDITIVE),
    dict(name="encoder-explicit-branches", cell="w07-tf-encoder-layer", why="no helper closures, three Dropout "
         "modules as in nn.TransformerEncoderLayer, positional mask argument", source=_ENCODER_EXPLICIT),
    dict(name="decoder-loop-over-sublayers", cell="w07-tf-decoder-layer", why="one loop over the three sublayers",
         source=_DECODER_EXPLICIT),
    dict(name="model-precomputed-causal-mask", cell="w07-tf-model", why="the causal mask precomputed once as a "
         "non-persistent buffer and sliced; target padding not masked (the causal mask already hides it)",
         edits=[("        self.register_buffer(\"pe\", sinusoidal_positions(max_len, d_model), persistent=False)\n",
                 "        self.register_buffer(\"pe\", sinusoidal_positions(max_len, d_model), persistent=False)\n"
                 "        self.register_buffer(\"future\", causal_mask(max_len), persistent=False)\n"),
                ("        mask = causal_mask(tgt_in.shape[1], tgt_in.device)\n",
                 "        mask = self.future[: tgt_in.shape[1], : tgt_in.shape[1]]\n"),
                ("x = layer(x, memory, tgt_mask=mask, tgt_key_padding_mask=tgt_in == self.pad_id,",
                 "x = layer(x, memory, tgt_mask=mask,")]),
    dict(name="loss-manual-smoothing-float64", cell="w07-tf-train-step", why="label smoothing written out with "
         "log_softmax in float64, a masked mean; the schedule as two branches", source=_LOSS_MANUAL),
    dict(name="greedy-list-of-columns", cell="w07-tf-greedy", why="a while loop over a list of token columns, "
         "torch.where for the padding", source=_GREEDY_LIST),
    dict(name="beam-python-bookkeeping", cell="w07-tf-beam", why="hypotheses kept in Python lists per sentence; "
         "one batched model call per step", source=_BEAM_LISTS),
]
