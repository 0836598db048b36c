"""Mutants of week08/gpt_generation_lab.ipynb (the practice lab), and correct variants.

Each edit replaces text of the reference solution cell (it must occur exactly once there).
"""
NOTEBOOK = "week08/gpt_generation_lab.ipynb"
ROUND_TRIP = "temp-after-softmax"

MUTANTS = [
    # --- 1.1 weight tying ---------------------------------------------------------------------------
    dict(name="tie-clone", cell="w08-gpt-tie", why="a new Parameter holding a copy: two matrices that drift apart",
         edits=[("unembedding.weight = embedding.weight", "unembedding.weight = nn.Parameter(embedding.weight.detach().clone())")]),
    dict(name="tie-data-share", cell="w08-gpt-tie", why="shares the storage through .data but keeps two Parameters (two gradients)",
         edits=[("unembedding.weight = embedding.weight", "unembedding.weight.data = embedding.weight.data")]),
    dict(name="tie-copy-values", cell="w08-gpt-tie", why="copies the values once",
         edits=[("unembedding.weight = embedding.weight", "with torch.no_grad():\n        unembedding.weight.copy_(embedding.weight)")]),
    # --- 1.2 attention mask ---------------------------------------------------------------------------
    dict(name="mask-no-offset", cell="w08-gpt-mask", why="plain lower triangle: ignores the cached positions",
         edits=[("allowed.tril(diagonal=t_k - t_q)", "allowed.tril()")]),
    dict(name="mask-offset-sign", cell="w08-gpt-mask", why="diagonal moved the wrong way",
         edits=[("allowed.tril(diagonal=t_k - t_q)", "allowed.tril(diagonal=t_q - t_k)")]),
    dict(name="mask-cross-causal", cell="w08-gpt-mask", why="cross-attention masked causally too",
         edits=[("return allowed.tril(diagonal=t_k - t_q) if causal else allowed", "return allowed.tril(diagonal=t_k - t_q)")]),
    # --- 1.3 causal self-attention with a KV cache --------------------------------------------------------
    dict(name="attn-cache-keys-only", cell="w08-gpt-attention", why="the cache appends the keys but not the values",
         edits=[("            v = torch.cat([cache[1], v], dim=2)\n", "")]),
    dict(name="attn-cache-returns-new", cell="w08-gpt-attention", why="returns only the new keys/values: the history is lost",
         edits=[("return self.c_proj(y.transpose(1, 2).reshape(B, T, C)), (k, v)",
                 "return self.c_proj(y.transpose(1, 2).reshape(B, T, C)), (k[:, :, -T:], v[:, :, -T:])")]),
    dict(name="attn-cache-appended-first", cell="w08-gpt-attention", why="new keys/values put before the cached ones",
         edits=[("k = torch.cat([cache[0], k], dim=2)", "k = torch.cat([k, cache[0]], dim=2)"),
                ("v = torch.cat([cache[1], v], dim=2)", "v = torch.cat([v, cache[1]], dim=2)")]),
    dict(name="attn-mask-without-offset", cell="w08-gpt-attention", why="own lower-triangular mask that ignores the cache length",
         edits=[("~attention_mask(T, k.shape[2], True, x.device)",
                 "~torch.ones(T, k.shape[2], dtype=torch.bool, device=x.device).tril()")]),
    dict(name="attn-no-mask", cell="w08-gpt-attention", why="no causal mask: every position sees the future",
         edits=[('        scores = scores.masked_fill(~attention_mask(T, k.shape[2], True, x.device), float("-inf"))\n', "")]),
    dict(name="attn-scale-by-width", cell="w08-gpt-attention", why="scores divided by sqrt(n_embd) instead of sqrt(head size)",
         edits=[("/ math.sqrt(q.shape[-1])", "/ math.sqrt(C)")]),
    dict(name="attn-qk-swapped", cell="w08-gpt-attention", why="keys and queries taken from the wrong thirds of c_attn",
         edits=[("q, k, v = self.c_attn(x).split(C, dim=-1)", "k, q, v = self.c_attn(x).split(C, dim=-1)")]),
    dict(name="attn-heads-no-transpose", cell="w08-gpt-attention", why="heads split by view(B, H, T, hd) straight from (B, T, C)",
         edits=[("t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)", "t.view(B, self.n_head, T, C // self.n_head)")]),
    # --- 1.4 softmax with temperature ------------------------------------------------------------------
    dict(name="temp-after-softmax", cell="w08-gpt-softmax", why="temperature applied to the probabilities, after the softmax",
         edits=[("z = logits / temperature", "z = logits"),
                ("return e / e.sum(dim=-1, keepdim=True)", "return e / e.sum(dim=-1, keepdim=True) / temperature")]),
    dict(name="temp-power-unnormalised", cell="w08-gpt-softmax", why="p ** (1/T) after the softmax without renormalising",
         edits=[("z = logits / temperature", "z = logits"),
                ("return e / e.sum(dim=-1, keepdim=True)", "return (e / e.sum(dim=-1, keepdim=True)) ** (1 / temperature)")]),
    dict(name="temp-unstable", cell="w08-gpt-softmax", why="no max subtraction (the 3Blue1Brown lecture notes' version): overflow",
         edits=[("    z = z - z.amax(dim=-1, keepdim=True)           # the largest term becomes e^0 = 1: no overflow\n", "")]),
    dict(name="temp-multiplied", cell="w08-gpt-softmax", why="logits multiplied by T",
         edits=[("z = logits / temperature", "z = logits * temperature")]),
    dict(name="temp-in-place", cell="w08-gpt-softmax", why="divides the caller's logits in place",
         edits=[("z = logits / temperature", "logits /= temperature\n    z = logits")]),
    # --- 1.5 top-k ------------------------------------------------------------------------------------
    dict(name="topk-drops-kth", cell="w08-gpt-topk", why="removes the k-th largest too (keeps k − 1)",
         edits=[("logits.masked_fill(logits < kth", "logits.masked_fill(logits <= kth")]),
    dict(name="topk-zero-fill", cell="w08-gpt-topk", why="removed logits set to 0 (still sampled) instead of −inf",
         edits=[('logits.masked_fill(logits < kth, float("-inf"))', "logits.masked_fill(logits < kth, 0.0)")]),
    dict(name="topk-in-place", cell="w08-gpt-topk", why="filters the caller's tensor in place",
         edits=[('return logits.masked_fill(logits < kth, float("-inf"))', 'return logits.masked_fill_(logits < kth, float("-inf"))')]),
    # --- 1.6 top-p ------------------------------------------------------------------------------------
    dict(name="topp-drops-crossing-token", cell="w08-gpt-topp", why="the token that crosses p is not kept",
         edits=[("before = probs.cumsum(dim=-1) - probs", "before = probs.cumsum(dim=-1)")]),
    dict(name="topp-keeps-one-more", cell="w08-gpt-topp", why="shifted twice: keeps one token past the crossing one",
         edits=[("before = probs.cumsum(dim=-1) - probs", "before = F.pad(probs.cumsum(dim=-1), (2, 0))[..., :-2]")]),
    dict(name="topp-no-scatter", cell="w08-gpt-topp", why="the sorted-order mask applied to the unsorted logits",
         edits=[("remove = remove_sorted.scatter(-1, order, remove_sorted)", "remove = remove_sorted")]),
    dict(name="topp-logit-mass", cell="w08-gpt-topp", why="accumulates logits instead of probabilities",
         edits=[("probs, order = torch.softmax(logits, dim=-1).sort(", "probs, order = logits.sort(")]),
    # --- 1.7 beam search ------------------------------------------------------------------------------
    dict(name="beam-no-length-norm", cell="w08-gpt-beam", why="ranks by the raw total log-probability (favours short outputs)",
         edits=[("key=lambda h: h[1] / (len(h[0]) - 1) ** length_penalty", "key=lambda h: h[1]")]),
    dict(name="beam-length-counts-bos", cell="w08-gpt-beam", why="length counted with the bos token",
         edits=[("key=lambda h: h[1] / (len(h[0]) - 1) ** length_penalty", "key=lambda h: h[1] / len(h[0]) ** length_penalty"),
                ("score / (len(best) - 1) ** length_penalty", "score / len(best) ** length_penalty")]),
    dict(name="beam-eos-stays-live", cell="w08-gpt-beam", why="a hypothesis that ended in eos keeps its beam slot and grows",
         edits=[("(finished if token == eos_id else live).append(", "live.append(")]),
    dict(name="beam-stop-at-first-eos", cell="w08-gpt-beam", why="stops as soon as one hypothesis is finished",
         edits=[("        if not live:\n            break", "        if not live or finished:\n            break")]),
    dict(name="beam-unfinished-dropped", cell="w08-gpt-beam", why="hypotheses still live at max_len are thrown away",
         edits=[("    finished += live\n", "    finished = finished or live\n")]),
    # --- 1.8 parameter count --------------------------------------------------------------------------
    dict(name="count-one-head-qkv", cell="w08-gpt-count", why="Q/K/V of one head only (the 3Blue1Brown lecture notes)",
         edits=[("(d * 3 * d + 3 * d)", "(d * 3 * (d // n_head) + 3 * d)")]),
    dict(name="count-second-ffn-dxd", cell="w08-gpt-count", why="second feed-forward matrix counted as d × d (the lecture notes)",
         edits=[("(4 * d * d + d)", "(d * d + d)")]),
    dict(name="count-no-biases", cell="w08-gpt-count", why="biases left out of attention and MLP",
         edits=[("attention = n_layer * ((d * 3 * d + 3 * d) + (d * d + d))", "attention = n_layer * (d * 3 * d + d * d)"),
                ("mlp = n_layer * ((d * 4 * d + 4 * d) + (4 * d * d + d))", "mlp = n_layer * (d * 4 * d + 4 * d * d)")]),
    dict(name="count-no-layernorm", cell="w08-gpt-count", why="LayerNorms left out",
         edits=[("layernorm = n_layer * 2 * (2 * d) + 2 * d", "layernorm = 0")]),
    dict(name="count-no-positions", cell="w08-gpt-count", why="learned position embeddings left out",
         edits=[("embeddings = vocab_size * d + block_size * d + ", "embeddings = vocab_size * d + ")]),
    dict(name="count-tying-ignored", cell="w08-gpt-count", why="unembedding counted even when tied",
         edits=[("(0 if tied else vocab_size * d)", "vocab_size * d")]),
]

VARIANTS = [
    dict(name="tie-other-direction", cell="w08-gpt-tie", why="the embedding takes the unembedding's parameter",
         edits=[("unembedding.weight = embedding.weight", "embedding.weight = unembedding.weight")]),
    dict(name="attn-torch-sdpa", cell="w08-gpt-attention", why="PyTorch's scaled_dot_product_attention with the boolean mask",
         edits=[("        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])          # (B, H, T, P + T)\n"
                 '        scores = scores.masked_fill(~attention_mask(T, k.shape[2], True, x.device), float("-inf"))\n'
                 "        y = torch.softmax(scores, dim=-1) @ v                              # (B, H, T, hd)\n",
                 "        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask(T, k.shape[2], True, x.device))\n")]),
    dict(name="temp-torch-softmax", cell="w08-gpt-softmax", why="torch.softmax of the scaled logits",
         edits=[("    z = z - z.amax(dim=-1, keepdim=True)           # the largest term becomes e^0 = 1: no overflow\n"
                 "    e = z.exp()\n    return e / e.sum(dim=-1, keepdim=True)", "    return torch.softmax(z, dim=-1)")]),
    dict(name="topk-sort-threshold", cell="w08-gpt-topk", why="threshold from a descending sort, torch.where",
         edits=[("kth = logits.topk(k, dim=-1).values[..., -1:]", "kth = logits.sort(dim=-1, descending=True).values[..., k - 1:k]"),
                ('return logits.masked_fill(logits < kth, float("-inf"))',
                 'return torch.where(logits >= kth, logits, torch.full_like(logits, float("-inf")))')]),
    dict(name="topp-gather-back", cell="w08-gpt-topp", why="mask moved back with gather and the inverse permutation",
         edits=[("remove = remove_sorted.scatter(-1, order, remove_sorted)",
                 "remove = remove_sorted.gather(-1, order.argsort(dim=-1))")]),
]
