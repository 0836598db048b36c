"""Full-mode quality of week07/transformer_enc_dec.ipynb: sacreBLEU EN→DE on Multi30k test_2016_flickr.

Trains the notebook's translation transformer with the notebook's code path — the reference modules
(lib/staff/dlcourse_staff/solutions/w07_transformer.py: layers, model, teacher-forced loss, Noam
schedule, greedy and beam search), the lib's data and training plumbing (dlcourse.nmt: joint BPE from
dl.subword trained on the training split only, token-budget batches, the training loop) and the
``full`` preset of the notebook (dlcourse.nmt.PRESETS["full"]). After every epoch it translates part of
the validation set greedily; at the end it picks the length-normalisation exponent on the validation
set, then scores the test set with greedy decoding and beam sizes 1, 2, 4, 8 (BLEU, length ratio,
seconds), BLEU by source length, and times generation with and without a KV cache.

Decoding here runs through the KV cache of the notebook's bonus (IncrementalDecoder): the same
greedy_decode / beam_search functions, only faster on a CPU; the script checks on 100 test sentences
that the tokens equal those of plain recomputation.

Targets: ≥ 35 BLEU with beam search; the full preset trains in ≤ 60 min on a 2-core CPU; beam ≥ greedy
+ 0.5 BLEU; the KV cache ≥ 3× faster than recomputation at 64 output tokens.

    python benchmarks/transformer_bleu.py                   # the full preset; resumes from its checkpoint
    python benchmarks/transformer_bleu.py --minutes 60      # stop after the epoch that ends past 60 min of training
    python benchmarks/transformer_bleu.py --epochs 6        # fewer epochs (a shortened preset; says so in the results)
    python benchmarks/transformer_bleu.py --quick           # 600 pairs, 1 epoch, a tiny model: a smoke run

Results: benchmarks/results/<device>/transformer_bleu.{json,md}; the checkpoint (model, optimiser,
tokenizer, log; not committed) sits beside them as transformer_bleu.ckpt.pt.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import dlcourse as dl
from dlcourse import nmt, text
from dlcourse_staff.solutions import w07_transformer as ref

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"bleu": 35.0, "train_minutes": 60.0, "beam_gain": 0.5, "kv_speedup": 3.0}
WEEK5 = ROOT / "benchmarks" / "results" / "cpu" / "seq2seq_bleu.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--minutes", type=float, default=None, help="stop after the epoch that ends past this much training")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads")
    ap.add_argument("--quick", action="store_true", help="600 pairs, 1 epoch, a tiny model (smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the results")
    ap.add_argument("--alpha-sentences", type=int, default=None,
                    help="choose α on the first N validation sentences only (default: all of them)")
    ap.add_argument("--note", default="", help="a sentence about the machine (e.g. shared with other jobs) for the report")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    out = a.out or ROOT / "benchmarks" / "results" / device.type
    out.mkdir(parents=True, exist_ok=True)
    name = "transformer_bleu_quick" if a.quick else "transformer_bleu"
    cfg = nmt.PRESETS["full"]
    if a.quick:
        cfg = replace(nmt.PRESETS["fast"], train_limit=600, eval_limit=60, val_bleu_limit=20, epochs=1, vocab_size=500)
    if a.epochs is not None:
        cfg = replace(cfg, epochs=a.epochs)
    shortened = cfg.epochs != nmt.PRESETS["full"].epochs or a.minutes is not None

    # data: the tokenizer sees the training split only
    train, val, test = (dl.data.load_multi30k(s, limit=cfg.train_limit if s == "train" else cfg.eval_limit)
                        for s in ("train", "val", "test"))
    tok = dl.subword.train(train.src + train.tgt, vocab_size=cfg.vocab_size, model="bpe")
    ids = {s: nmt.encode_pairs(tok, p) for s, p in (("train", train), ("val", val), ("test", test))}
    train_batches = nmt.TokenBatches(*ids["train"], cfg.max_tokens, shuffle=True, seed=0, device=device)
    val_batches = nmt.TokenBatches(*ids["val"], 4 * cfg.max_tokens, device=device)

    model = ref.Seq2SeqTransformer(len(tok), len(tok), cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.d_ff, cfg.dropout,
                                   norm_first=cfg.norm_first, share_embeddings=True).to(device)
    optimizer, scheduler = nmt.make_optimizer(model, lambda s: ref.noam_lr(s, cfg.d_model, cfg.warmup_steps, cfg.lr_factor))
    train_loss = lambda m, src, tgt: ref.teacher_forcing_loss(m, src, tgt, label_smoothing=cfg.label_smoothing)  # noqa: E731
    eval_loss = lambda m, src, tgt: ref.teacher_forcing_loss(m, src, tgt, label_smoothing=0.0)  # noqa: E731

    def translate(src_ids, decoder, beam=None, alpha=1.0, max_tokens=2000):
        model.eval()
        if beam is None:
            fn = lambda s: ref.greedy_decode(decoder, s, nmt.max_decode_len(s, cfg))  # noqa: E731
        else:
            fn = lambda s: ref.beam_search(decoder, s, beam, nmt.max_decode_len(s, cfg), alpha=alpha)  # noqa: E731
        start = time.perf_counter()
        hyps, toks = nmt.translate(fn, src_ids, tok, max_tokens=max_tokens // (beam or 1), device=device)
        return hyps, toks, time.perf_counter() - start

    def val_bleu(epoch, record):
        hyps, _, secs = translate(ids["val"][0][: cfg.val_bleu_limit], ref.IncrementalDecoder(model))
        model.train()
        return {"val_bleu": text.bleu(hyps, val.tgt[: cfg.val_bleu_limit]).score, "val_decode_seconds": secs}

    ckpt = out / f"{name}.ckpt.pt"
    history, cpu_seconds = None, []          # process CPU time per epoch: what a quiet machine would need
    if ckpt.exists() and not a.quick:
        blob = torch.load(ckpt, weights_only=False, map_location=device)
        if blob["config"] == asdict(replace(cfg, epochs=blob["config"]["epochs"])):
            model.load_state_dict(blob["model"])
            optimizer.load_state_dict(blob["optimizer"])
            scheduler.load_state_dict(blob["scheduler"])
            history = dl.training.History.from_dict(blob["history"])
            train_batches.epoch = blob["batches_epoch"]
            cpu_seconds = blob.get("cpu_seconds", [])
            torch.set_rng_state(blob["rng"])
            print(f"resumed after epoch {len(history.epochs)}", flush=True)
        else:
            print("checkpoint of another configuration: starting again", flush=True)
    print(f"BPE vocabulary {len(tok)} (EN+DE, training split), {dl.count_parameters(model):,} parameters, "
          f"{len(train):,} pairs, {len(train_batches)} batches of ≤ {cfg.max_tokens} tokens, {device}, {a.threads} thread(s)",
          flush=True)

    def trained_seconds():
        return sum(r.seconds for r in history.epochs) if history else 0.0

    while (history is None or len(history.epochs) < cfg.epochs) and \
            (a.minutes is None or trained_seconds() < 60 * a.minutes):
        cpu_start = time.process_time()
        history = nmt.train_translation(model, train_batches, epochs=1, optimizer=optimizer, scheduler=scheduler,
                                        loss_fn=train_loss, eval_batches=val_batches, eval_loss_fn=eval_loss,
                                        on_epoch=val_bleu, grad_clip=cfg.grad_clip, desc="transformer", history=history)
        cpu_seconds.append(time.process_time() - cpu_start)
        if not a.quick:
            torch.save({"config": asdict(cfg), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history.to_dict(),
                        "batches_epoch": train_batches.epoch, "rng": torch.get_rng_state(), "cpu_seconds": cpu_seconds,
                        "tokenizer": tok.tk.to_str()}, ckpt)

    # decoding: the exponent α on the validation set, then the test set
    model.eval()
    fast = ref.IncrementalDecoder(model)
    n_alpha = len(val) if a.alpha_sentences is None else min(a.alpha_sentences, len(val))
    val_src, val_refs = ids["val"][0][:n_alpha], val.tgt[:n_alpha]
    val_hyps, _, _ = translate(val_src, fast)
    alpha_rows = [{"alpha": None, "beam": 1, "val_bleu": text.bleu(val_hyps, val_refs).score}]
    for alpha in cfg.alphas:
        hyps, _, _ = translate(val_src, fast, beam=cfg.beam_size, alpha=alpha)
        alpha_rows.append({"alpha": alpha, "beam": cfg.beam_size, "val_bleu": text.bleu(hyps, val_refs).score})
    alpha = max((r for r in alpha_rows if r["alpha"] is not None), key=lambda r: r["val_bleu"])["alpha"]

    rows, outputs = [], {}
    greedy_hyps, greedy_toks, secs = translate(ids["test"][0], fast)
    result = text.bleu(greedy_hyps, test.tgt)
    signature = result.signature
    rows.append({"decoder": "greedy", "beam": 1, "bleu": result.score, "length_ratio": nmt.length_ratio(result),
                 "seconds": secs})
    outputs["greedy"] = greedy_hyps
    for beam in (1, 2, 4, 8):
        hyps, toks, secs = translate(ids["test"][0], fast, beam=beam, alpha=alpha)
        result = text.bleu(hyps, test.tgt)
        rows.append({"decoder": f"beam {beam}", "beam": beam, "bleu": result.score,
                     "length_ratio": nmt.length_ratio(result), "seconds": secs})
        outputs[beam] = (hyps, toks)
    beam1_equals_greedy = outputs[1][1] == greedy_toks
    best_beam = max((r for r in rows if r["beam"] > 1), key=lambda r: r["bleu"])
    main_beam = next(r for r in rows if r["decoder"] == f"beam {cfg.beam_size}")

    # the KV cache changes the speed, not the tokens: compare with plain recomputation on 100 sentences
    check_ids = ids["test"][0][:100]
    _, plain_g, plain_g_s = translate(check_ids, model)
    _, cached_g, cached_g_s = translate(check_ids, fast)
    _, plain_b, plain_b_s = translate(check_ids, model, beam=cfg.beam_size, alpha=alpha)
    _, cached_b, cached_b_s = translate(check_ids, fast, beam=cfg.beam_size, alpha=alpha)
    same = {"greedy": sum(x == y for x, y in zip(plain_g, cached_g)),
            f"beam {cfg.beam_size}": sum(x == y for x, y in zip(plain_b, cached_b)), "of": len(check_ids)}
    recompute_seconds = {"greedy": [plain_g_s, cached_g_s], f"beam {cfg.beam_size}": [plain_b_s, cached_b_s]}

    by_length = nmt.bleu_by_length(outputs[cfg.beam_size][0], test.tgt, test.src)
    by_length_greedy = nmt.bleu_by_length(greedy_hyps, test.tgt, test.src)
    src_kv, _ = tok.pad(ids["test"][0][:32])
    lengths = (8, 16) if a.quick else (16, 32, 64, 128)
    kv = ref.generation_times(model, src_kv.to(device), lengths, repeat=1 if a.quick else 3)
    kv64 = next((r for r in kv if r["tokens"] == 64), kv[-1])

    minutes = trained_seconds() / 60
    week5 = json.loads(WEEK5.read_text()) if WEEK5.exists() else None
    met = {"bleu": main_beam["bleu"] >= TARGETS["bleu"], "train_minutes": minutes <= TARGETS["train_minutes"],
           "beam_gain": main_beam["bleu"] >= rows[0]["bleu"] + TARGETS["beam_gain"],
           "kv_speedup": kv64["speedup"] >= TARGETS["kv_speedup"]}
    result = dict(device=str(device), threads=a.threads, torch=torch.__version__, machine=platform.machine(),
                  measured=time.strftime("%Y-%m-%d %H:%M"), quick=a.quick, shortened=shortened, config=asdict(cfg),
                  epochs_trained=len(history.epochs), train_minutes=minutes, vocab=len(tok),
                  train_cpu_minutes_per_epoch=[c / 60 for c in cpu_seconds],
                  parameters=dl.count_parameters(model), signature=signature, alpha=alpha, alpha_search=alpha_rows,
                  alpha_sentences=n_alpha, note=a.note, full_epochs=nmt.PRESETS["full"].epochs,
                  decoding=rows, beam1_equals_greedy=beam1_equals_greedy, cache_vs_recompute_same=same,
                  cache_vs_recompute_seconds=recompute_seconds, by_length_beam=by_length,
                  by_length_greedy=by_length_greedy, kv_cache=kv, targets=TARGETS, met=met,
                  week5_bleu=week5["best_bleu"] if week5 else None, history=history.to_dict()["epochs"],
                  val_bleu=history.steps.get("val_bleu"), command=" ".join(["python", "benchmarks/transformer_bleu.py",
                                                                            *(argv or sys.argv[1:])]))
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    (out / f"{name}.md").write_text(report(result, cfg), encoding="utf-8")
    print(report(result, cfg))
    return 0


def report(r: dict, cfg) -> str:
    yes = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    beam = next(x for x in r["decoding"] if x["decoder"] == f"beam {cfg.beam_size}")
    greedy = r["decoding"][0]
    kv64 = next((x for x in r["kv_cache"] if x["tokens"] == 64), r["kv_cache"][-1])
    lines = ["# Transformer translation, Multi30k EN→DE (week07/transformer_enc_dec, full preset)", "",
             f"device `{r['device']}`, {r['threads']} thread(s), torch {r['torch']}, measured {r['measured']}; "
             f"sacreBLEU `{r['signature']}` on test_2016_flickr ({len(r['by_length_beam']) and sum(x['sentences'] for x in r['by_length_beam'])} sentences), "
             f"detokenised output of a {r['vocab']}-piece joint BPE trained on the training split. "
             f"{r['parameters']:,} parameters (d_model {cfg.d_model}, {cfg.n_layers}+{cfg.n_layers} layers, "
             f"{cfg.n_heads} heads, d_ff {cfg.d_ff}, {'pre' if cfg.norm_first else 'post'}-norm), "
             f"{r['epochs_trained']} epoch(s) in {r['train_minutes']:.1f} min of training (wall clock)"
             + (f"; {sum(r['train_cpu_minutes_per_epoch']):.1f} min of process CPU time"
                if r.get("train_cpu_minutes_per_epoch") else "") + ".", ""]
    if r.get("note"):
        lines += [f"Machine: {r['note']}", ""]
    if r["shortened"]:
        cpu = r.get("train_cpu_minutes_per_epoch") or []
        need = (f" At the measured {sum(cpu) / len(cpu):.1f} min of 1-thread process CPU time per epoch, the full preset "
                f"needs about {r['full_epochs'] * sum(cpu) / len(cpu):.0f} min of CPU time on a quiet machine (1 thread)."
                if cpu else "")
        lines += [f"**Shortened run**: the full preset is {nmt.PRESETS['full'].epochs} epochs; this run trained "
                  f"{r['epochs_trained']}. Command: `{r['command']}`.{need}", ""]
    lines += ["## Targets", "",
              f"- ≥ {r['targets']['bleu']:g} BLEU with beam search (beam {cfg.beam_size}, α = {r['alpha']}): "
              f"{beam['bleu']:.2f} — {yes(r['met']['bleu'])}",
              f"- training ≤ {r['targets']['train_minutes']:g} min on this CPU: {r['train_minutes']:.1f} min for "
              f"{r['epochs_trained']} epoch(s) — {yes(r['met']['train_minutes'])}",
              f"- beam ≥ greedy + {r['targets']['beam_gain']:g}: {beam['bleu']:.2f} vs {greedy['bleu']:.2f} "
              f"({beam['bleu'] - greedy['bleu']:+.2f}) — {yes(r['met']['beam_gain'])}",
              f"- KV cache ≥ {r['targets']['kv_speedup']:g}× at 64 tokens: {kv64['speedup']:.1f}× — "
              f"{yes(r['met']['kv_speedup'])}",
              f"- beam size 1 gives exactly the greedy tokens on the test set: {r['beam1_equals_greedy']}",
              f"- week 5 (BiGRU + attention, greedy): {r['week5_bleu']:.2f} BLEU" if r["week5_bleu"] else "- week 5: no result",
              "", "## Decoding (test set)", "", "| decoder | BLEU | length ratio | seconds |", "|---|---|---|---|"]
    lines += [f"| {x['decoder']} | {x['bleu']:.2f} | {x['length_ratio']:.3f} | {x['seconds']:.1f} |" for x in r["decoding"]]
    lines += ["", f"Length-normalisation exponent chosen on {r.get('alpha_sentences', 'all')} validation sentences: "
              + ", ".join(f"α={x['alpha']}: {x['val_bleu']:.2f}" for x in r["alpha_search"] if x["alpha"] is not None)
              + f" (greedy {r['alpha_search'][0]['val_bleu']:.2f}).",
              f"KV cache vs recomputation on the first test sentences: same tokens for {r['cache_vs_recompute_same']['greedy']} "
              f"(greedy) and {r['cache_vs_recompute_same'][f'beam {cfg.beam_size}']} (beam {cfg.beam_size}) of "
              f"{r['cache_vs_recompute_same']['of']}.",
              "", "## BLEU by source length (words)", "", "| bucket | sentences | beam BLEU | greedy BLEU |", "|---|---|---|---|"]
    greedy_by = {x["length_bucket"]: x for x in r["by_length_greedy"]}
    lines += [f"| {x['length_bucket']} | {x['sentences']} | {x['corpus_bleu']:.2f} | "
              f"{greedy_by[x['length_bucket']]['corpus_bleu']:.2f} |" for x in r["by_length_beam"]]
    lines += ["", "## KV cache (greedy, 32 sentences, every sentence forced to the length)", "",
              "| tokens | recompute s | KV cache s | speed-up |", "|---|---|---|---|"]
    lines += [f"| {x['tokens']} | {x['recompute']:.2f} | {x['kv_cache']:.2f} | {x['speedup']:.1f}× |" for x in r["kv_cache"]]
    lines += ["", "## Training", "", "| epoch | train loss (smoothed) | val loss | val ppl | val BLEU (greedy, first "
              f"{cfg.val_bleu_limit}) | seconds |", "|---|---|---|---|---|---|"]
    import math
    for i, e in enumerate(r["history"]):
        vb = r["val_bleu"][i] if r["val_bleu"] and i < len(r["val_bleu"]) else float("nan")
        lines.append(f"| {e['epoch']} | {e['train_loss']:.3f} | {e['test_loss']:.3f} | {math.exp(e['test_loss']):.2f} | "
                     f"{vb:.2f} | {e['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
