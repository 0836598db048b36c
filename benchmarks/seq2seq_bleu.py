"""Full-mode quality of week05/attention_mechanisms.ipynb: sacreBLEU EN→DE on Multi30k test_2016_flickr.

Trains the notebook's main model — bidirectional GRU encoder, attention decoder with the general
(Luong) score, teacher forcing, greedy decoding — with the reference modules
(lib/staff/dlcourse_staff/solutions/w05_attention.py), the notebook's tokenisation and vocabulary, and
the ``full`` preset of the notebook (emb 256, 256 per encoder direction, decoder 256, batch 128,
Adam 1e-3, dropout 0.3, label smoothing 0.1, min_freq 2, all 29,000 training pairs). After every
epoch it decodes the whole test set greedily and scores the detokenised output with sacreBLEU.
Target: ≥ 20 BLEU.

    python benchmarks/seq2seq_bleu.py                      # all epochs; resumes from its checkpoint
    python benchmarks/seq2seq_bleu.py --minutes 60         # stop after the epoch that ends past 60 min
    python benchmarks/seq2seq_bleu.py --quick              # 300 pairs, 1 epoch: a smoke run

Results: benchmarks/results/<device>/seq2seq_bleu.{json,md}; the checkpoint (not committed) sits
beside them as seq2seq_bleu.ckpt.pt.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

import dlcourse as dl
from dlcourse import text
from dlcourse_staff.solutions import w05_attention as ref

ROOT = Path(__file__).resolve().parents[1]
TARGET_BLEU = 20.0


class Seq2Seq(nn.Module):
    # The notebook's wrapper: forward = teacher-forced training; greedy_decode = inference.
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, src, src_lens, tgt_in, teacher_forcing=True):
        memory, mask, hidden = self.encoder(src, src_lens)
        return self.decoder(tgt_in, memory, mask, hidden, teacher_forcing)

    @torch.no_grad()
    def greedy_decode(self, src, src_lens, max_len):
        start = torch.full((src.shape[0], max_len), text.SOS_ID, dtype=torch.long, device=src.device)
        logits, weights = self.forward(src, src_lens, start, teacher_forcing=False)
        return logits.argmax(dim=-1), weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--minutes", type=float, default=None, help="stop after the epoch that ends past this")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads")
    ap.add_argument("--quick", action="store_true", help="300 pairs, 1 epoch, small model (smoke run)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the results")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    device = torch.device(a.device)
    out = a.out or ROOT / "benchmarks" / "results" / device.type
    out.mkdir(parents=True, exist_ok=True)
    name = "seq2seq_bleu_quick" if a.quick else "seq2seq_bleu"
    limit, epochs = (300, 1) if a.quick else (None, a.epochs)
    emb = enc = dec = 32 if a.quick else 256

    t0 = time.time()
    train, val, test = (dl.data.load_multi30k(s, limit=limit) for s in ("train", "val", "test"))
    tok = lambda xs: [text.tokenize(x) for x in xs]  # noqa: E731
    src_train, tgt_train = tok(train.src), tok(train.tgt)
    src_vocab, tgt_vocab = text.Vocab.build(src_train, min_freq=2), text.Vocab.build(tgt_train, min_freq=2)
    train_batches = text.TranslationBatches([src_vocab.encode(t, eos=True) for t in src_train],
                                            [tgt_vocab.encode(t) for t in tgt_train], 128, shuffle=True, seed=0,
                                            device=device)
    val_batches = text.TranslationBatches([src_vocab.encode(t, eos=True) for t in tok(val.src)],
                                          [tgt_vocab.encode(t) for t in tok(val.tgt)], 256, device=device)
    test_src = [src_vocab.encode(t, eos=True) for t in tok(test.src)]

    attention = ref.GeneralAttention(dec, 2 * enc)
    model = Seq2Seq(ref.Encoder(len(src_vocab), emb, enc, dec, 0.3),
                    ref.AttnDecoder(len(tgt_vocab), emb, dec, 2 * enc, attention, 0.3)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def translate() -> list[str]:
        model.eval()
        hyps = [""] * len(test_src)
        for batch in text.TranslationBatches(test_src, [[]] * len(test_src), 256, device=device):
            ids, _ = model.greedy_decode(batch.src, batch.src_lens, max_len=int(batch.src_lens.max()) * 2 + 5)
            for i, row in zip(batch.index.tolist(), ids.tolist()):
                hyps[i] = text.detokenize(tgt_vocab.decode(row))
        return hyps

    log, ckpt, history_note = [], out / f"{name}.ckpt.pt", ""
    if ckpt.exists() and not a.quick:
        blob = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        log, train_batches.epoch = blob["log"], blob["batches_epoch"]
        torch.set_rng_state(blob["rng"])
        history_note = blob.get("resumed_from", "")
        print(f"resumed after epoch {len(log)}", flush=True)
    print(f"vocab EN {len(src_vocab)} / DE {len(tgt_vocab)}, {dl.count_parameters(model):,} parameters, "
          f"{len(train):,} training pairs on {device}", flush=True)
    signature = ""
    for epoch in range(len(log) + 1, epochs + 1):
        history = text.fit_seq2seq(model, train_batches, epochs=1, optimizer=optimizer, eval_batches=val_batches,
                                   loss_fn=lambda m, b: text.default_seq2seq_loss(m, b, 0.1), desc=f"epoch {epoch}")
        record = history.epochs[0]
        start = time.time()
        hyps = translate()
        bleu = text.bleu(hyps, test.tgt)
        signature = bleu.signature
        log.append(dict(epoch=epoch, train_loss=record.train_loss, val_loss=record.test_loss, bleu=bleu.score,
                        train_seconds=record.seconds, decode_seconds=time.time() - start))
        print(json.dumps(log[-1]), f"\n  {hyps[0]} | {test.tgt[0]}", flush=True)
        if not a.quick:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "log": log,
                        "batches_epoch": train_batches.epoch, "rng": torch.get_rng_state(),
                        "resumed_from": history_note}, ckpt)
        if a.minutes is not None and time.time() - t0 > a.minutes * 60:
            break

    best = max(log, key=lambda r: r["bleu"])
    first_ok = next((r for r in log if r["bleu"] >= TARGET_BLEU), None)
    total = sum(r["train_seconds"] for r in log)
    result = dict(device=str(device), threads=a.threads, torch=torch.__version__, machine=platform.machine(),
                  measured=time.strftime("%Y-%m-%d %H:%M"), quick=a.quick, target_bleu=TARGET_BLEU,
                  met=bool(first_ok), best_bleu=best["bleu"], best_epoch=best["epoch"],
                  first_epoch_at_target=first_ok["epoch"] if first_ok else None,
                  train_seconds=total, signature=signature, history=history_note, log=log)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    lines = [f"# Seq2seq with attention, Multi30k EN→DE (week05/attention_mechanisms, full preset)", "",
             f"device `{device}`, {a.threads} thread(s), torch {torch.__version__}, measured {result['measured']}. "
             f"sacreBLEU `{signature}` on test_2016_flickr (1,000 sentences), greedy decoding.", "",
             f"Target ≥ {TARGET_BLEU:g} BLEU: **{'met' if first_ok else 'not met'}**"
             + (f" after epoch {first_ok['epoch']}" if first_ok else "")
             + f"; best {best['bleu']:.2f} after epoch {best['epoch']}; {total / 60:.0f} min of training."
             + (f" Earlier epochs: {history_note}." if history_note else ""), "",
             "| epoch | train loss | val loss | test BLEU | train s | decode s |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['epoch']} | {r['train_loss']:.3f} | {r['val_loss']:.3f} | {r['bleu']:.2f} | "
              f"{r['train_seconds']:.0f} | {r['decode_seconds']:.0f} |" for r in log]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if first_ok or a.quick else 1


if __name__ == "__main__":
    sys.exit(main())
