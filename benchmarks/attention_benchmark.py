"""Benchmark of the week-6 reference attention (naive vs chunked vs F.scaled_dot_product_attention).

It measures the targets of the self-attention notebook's reference solution
(lib/staff/dlcourse_staff/solutions/w06_self_attention.py):

* chunked attention at T = 4096, d = 64: peak extra memory <= 1/8 of naive attention's, and time
  within 2x of naive attention's (CPU);
* no NaN or inf in any numerical-stability case (large logits, fully masked rows, fp16/bf16, autocast,
  gradients);
* naive attention's time exponent, fitted on a log-log scale, within 1.7-2.3.

It also records the ratio to F.scaled_dot_product_attention, the batched-vs-loop speed-up and the
throughput against batch size. Results go to benchmarks/results/<device>/attention_benchmark.{json,md}.

    python benchmarks/attention_benchmark.py                  # CPU, one thread, the real sizes (~1 min)
    python benchmarks/attention_benchmark.py --device cuda    # the GPU figure set, where a GPU exists
    python benchmarks/attention_benchmark.py --quick --out /tmp/bench   # tiny sizes, a smoke run

This is a benchmark, not a test: the test suite only smoke-runs --quick (tests/test_bench.py).
``--check`` makes the exit status 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dlcourse import bench
from dlcourse_staff.solutions import w06_self_attention as ref

ROOT = Path(__file__).resolve().parents[1]

SIZES = {
    # The exponent is fitted from T = 1024 up: from there on the (T, T) fp32 scores (4 MiB and more) no
    # longer fit a typical L2 cache, so every size runs in the same, memory-bound regime. The fit over
    # all sizes is reported too; it also sees per-call overheads and the step out of the cache.
    "full": dict(seq_lens=(256, 512, 1024, 2048, 4096), fit_from=1024, target_len=4096, d=64, chunk=512,
                 rounds=7, batch_sizes=(1, 2, 4, 8, 16), batch_len=512, heads=4, loop=((8, 8, 128), (16, 8, 32))),
    "quick": dict(seq_lens=(32, 64, 128), fit_from=32, target_len=128, d=16, chunk=16,
                  rounds=2, batch_sizes=(1, 2), batch_len=32, heads=2, loop=((2, 2, 16),)),
}
TARGETS = {"memory_ratio_max": 1 / 8, "time_ratio_max": 2.0, "exponent_range": (1.7, 2.3)}


def qkv(batch, heads, length, dim, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, length, dim, generator=g).to(device) for _ in range(3)]


CLOCK = {"name": "wall"}  # set by main(): "cpu" for single-threaded CPU runs


def interleaved_best(fns: dict, rounds: int, device) -> dict:
    """Best time of each function, measuring them in turn each round, so that a burst of load
    from other processes hits every method alike instead of one."""
    for fn in fns.values():
        fn()  # warm-up: first-call allocations and kernel selection
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            timing = bench.measure_time(fn, repeat=1, warmup=0, device=device, clock=CLOCK["name"])
            best[name] = min(best[name], timing.best)
    return best


def methods(chunk: int) -> dict:
    return {
        "naive": lambda q, k, v: ref.naive_attention(q, k, v)[0],
        "chunked": lambda q, k, v: ref.chunked_attention(q, k, v, q_chunk=chunk, k_chunk=chunk),
        "F.sdpa": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    }


def stability_cases(device) -> list[dict]:
    """Every case must come out finite; the error column is against float64 where one exists."""
    g = torch.Generator().manual_seed(1)
    s = torch.randn(4, 6, 33, generator=g)
    keep = torch.rand(4, 6, 33, generator=g) < 0.5
    keep[:, 2] = False                                  # fully masked rows
    additive = torch.zeros(6, 33)
    additive[3] = float("-inf")
    q, k, v = (torch.randn(2, 3, 40, 16, generator=g).to(device) for _ in range(3))
    pad = ref.padding_mask(torch.tensor([40, 0], device=device), 40)  # sequence 1 is empty
    causal = ref.causal_mask(40, device=device)

    def exact_softmax(x, mask=None):
        x = x.double()
        if mask is not None:
            x = x.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else x + mask.double()
        return torch.softmax(x, -1).nan_to_num(0.0)

    def grads(fn):
        leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
        fn(*leaves).square().sum().backward()
        return torch.cat([t.grad.flatten() for t in leaves])

    cases = {
        "softmax, scores x1e3": (lambda: ref.stable_masked_softmax(s * 1e3), lambda: exact_softmax(s * 1e3)),
        "softmax, scores -1e4": (lambda: ref.stable_masked_softmax(s - 1e4), lambda: exact_softmax(s - 1e4)),
        "softmax, fully masked rows (bool)": (lambda: ref.stable_masked_softmax(s, keep), lambda: exact_softmax(s, keep)),
        "softmax, fully masked row (additive -inf)": (lambda: ref.stable_masked_softmax(s, additive),
                                                      lambda: exact_softmax(s, additive)),
        "softmax, float16 x1e2": (lambda: ref.stable_masked_softmax((s * 1e2).half()),
                                  lambda: exact_softmax((s * 1e2).half())),
        "softmax, bfloat16 x1e3": (lambda: ref.stable_masked_softmax((s * 1e3).bfloat16()),
                                   lambda: exact_softmax((s * 1e3).bfloat16())),
        "naive attention, q x1e3": (lambda: ref.naive_attention(q * 1e3, k, v)[0],
                                    lambda: F.scaled_dot_product_attention(q.double() * 1e3, k.double(), v.double())),
        "naive attention, padding (empty sequence) & causal": (
            lambda: ref.naive_attention(q, k, v, ref.combine_masks(pad, causal))[0],
            lambda: F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=ref.combine_masks(pad, causal))),
        "chunked attention, q x1e3": (lambda: ref.chunked_attention(q * 1e3, k, v, q_chunk=16, k_chunk=8),
                                      lambda: F.scaled_dot_product_attention(q.double() * 1e3, k.double(), v.double())),
        "chunked attention, padding (empty sequence) & causal": (
            lambda: ref.chunked_attention(q, k, v, ref.combine_masks(pad, causal), q_chunk=16, k_chunk=8),
            lambda: F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=ref.combine_masks(pad, causal))),
        "gradients, naive, padding & causal": (
            lambda: grads(lambda a, b, c: ref.naive_attention(a, b, c, ref.combine_masks(pad, causal))[0]), None),
        "gradients, chunked, padding & causal": (
            lambda: grads(lambda a, b, c: ref.chunked_attention(a, b, c, ref.combine_masks(pad, causal),
                                                                 q_chunk=16, k_chunk=8)), None),
    }
    autocast_dtypes = [torch.bfloat16] + ([torch.float16] if device.type == "cuda" else [])
    for dtype in autocast_dtypes:
        def amp(dtype=dtype):
            with torch.autocast(device.type, dtype=dtype):
                return ref.naive_attention(q * 30, k, v, causal)[0]
        cases[f"naive attention under {str(dtype).split('.')[-1]} autocast, q x30"] = (
            amp, lambda: F.scaled_dot_product_attention(q.double() * 30, k.double(), v.double(), is_causal=True))
    rows = []
    for name, (run, exact) in cases.items():
        out = run()
        finite = bool(torch.isfinite(out).all())
        error = None
        if exact is not None and finite:
            error = float((out.double() - exact().to(out.device)).abs().max())
        rows.append({"case": name, "finite": finite, "max_abs_error": error})
    return rows


def batched_vs_loop(b: int, h: int, length: int, device, rounds: int) -> dict:
    width = 32
    dim = h * width
    g = torch.Generator().manual_seed(3)
    x = torch.randn(b, length, dim, generator=g).to(device)
    w_qkv = (torch.randn(3 * dim, dim, generator=g) / dim ** 0.5).to(device)
    w_out = (torch.randn(dim, dim, generator=g) / dim ** 0.5).to(device)

    def loop():
        q, k, v = (x @ w_qkv.T).chunk(3, dim=-1)
        out = torch.empty_like(x)
        for i in range(b):
            for j in range(h):
                cols = slice(j * width, (j + 1) * width)
                out[i, :, cols] = ref.naive_attention(q[i, :, cols], k[i, :, cols], v[i, :, cols])[0]
        return out @ w_out.T

    with torch.no_grad():
        best = interleaved_best({"loop": loop, "batched": lambda: ref.multihead_self_attention(x, w_qkv, w_out, h)},
                                rounds, device)
    return {"B": b, "H": h, "T": length, "loop_ms": 1e3 * best["loop"], "batched_ms": 1e3 * best["batched"],
            "speedup": best["loop"] / best["batched"]}


def run(device: torch.device, sizes: dict) -> dict:
    d, chunk, rounds = sizes["d"], sizes["chunk"], sizes["rounds"]
    fns = methods(chunk)
    result = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "python": platform.python_version(), "machine": platform.machine(), "sizes": sizes}

    # 1. time and memory against T, (1, 1, T, d): the targets' shape
    rows = []
    with torch.no_grad():
        for length in sizes["seq_lens"]:
            q, k, v = qkv(1, 1, length, d, device, seed=length)
            best = interleaved_best({name: (lambda fn=fn: fn(q, k, v)) for name, fn in fns.items()}, rounds, device)
            peaks = {name: bench.peak_memory(lambda fn=fn: fn(q, k, v), device=device) for name, fn in fns.items()}
            rows.append({"T": length, **{f"{n}_ms": 1e3 * t for n, t in best.items()},
                         **{f"{n}_MiB": p / 2 ** 20 for n, p in peaks.items()}})
    result["sweep"] = rows
    fit_rows = [r for r in rows if r["T"] >= sizes["fit_from"]]
    result["time_exponent"] = {
        name: bench.fit_power_law([r["T"] for r in fit_rows], [r[f"{name}_ms"] for r in fit_rows]).exponent
        for name in fns}
    result["time_exponent_all_T"] = {
        name: bench.fit_power_law([r["T"] for r in rows], [r[f"{name}_ms"] for r in rows]).exponent for name in fns}
    result["memory_exponent"] = {
        name: bench.fit_power_law([r["T"] for r in rows], [max(r[f"{name}_MiB"], 1e-6) for r in rows]).exponent
        for name in fns}
    at = next(r for r in rows if r["T"] == sizes["target_len"])
    result["at_target"] = {
        "T": at["T"], "d": d, "chunk": chunk,
        "naive_ms": at["naive_ms"], "chunked_ms": at["chunked_ms"], "sdpa_ms": at["F.sdpa_ms"],
        "naive_MiB": at["naive_MiB"], "chunked_MiB": at["chunked_MiB"], "sdpa_MiB": at["F.sdpa_MiB"],
        "chunked_over_naive_memory": at["chunked_MiB"] / at["naive_MiB"],
        "chunked_over_naive_time": at["chunked_ms"] / at["naive_ms"],
        "naive_over_sdpa_time": at["naive_ms"] / at["F.sdpa_ms"],
        "chunked_over_sdpa_time": at["chunked_ms"] / at["F.sdpa_ms"],
    }

    # 2. numerical stability
    result["stability"] = stability_cases(device)

    # 3. batched multi-head attention vs a loop over (batch, head), head width 32
    result["batched_vs_loop"] = [batched_vs_loop(b, h, length, device, rounds) for b, h, length in sizes["loop"]]

    # 4. throughput against batch size
    rows = []
    with torch.no_grad():
        for batch in sizes["batch_sizes"]:
            q, k, v = qkv(batch, sizes["heads"], sizes["batch_len"], d, device, seed=batch)
            best = interleaved_best({name: (lambda fn=fn: fn(q, k, v)) for name, fn in fns.items()}, rounds, device)
            rows.append({"B": batch, **{f"{n}_tokens_per_s": batch * sizes["batch_len"] / t for n, t in best.items()}})
    result["throughput"] = rows

    low, high = TARGETS["exponent_range"]
    result["targets"] = {
        "chunked peak memory <= 1/8 of naive": at["chunked_MiB"] <= TARGETS["memory_ratio_max"] * at["naive_MiB"],
        "chunked time <= 2x naive": at["chunked_ms"] <= TARGETS["time_ratio_max"] * at["naive_ms"],
        "no NaN/inf in any stability case": all(r["finite"] for r in result["stability"]),
        f"naive time exponent in [{low}, {high}]": low <= result["time_exponent"]["naive"] <= high,
    }
    return result


def markdown(result: dict) -> str:
    at = result["at_target"]
    lines = [
        "# Attention benchmark (week 6 reference solution)",
        "",
        f"device `{result['device']}`, torch {result['torch']}, {result['threads']} thread(s), "
        f"{result['machine']}, measured {result['measured_at']} in {result['seconds']:.0f} s. "
        f"Times are the best of {result['sizes']['rounds']} interleaved rounds of the {result['clock']} clock"
        + (" (process CPU time: one thread, so other programs' load on a shared machine does not count)"
           if result["clock"] == "cpu" else "")
        + "; memory is the peak extra memory of one forward call "
        "(CPU: profiler memory accounting; CUDA: max_memory_allocated).",
        "",
        "## Targets",
        "",
        "| target | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else '**no**'} |" for name, ok in result["targets"].items()],
        "",
        f"At T = {at['T']}, d = {at['d']} (B = H = 1, chunk {at['chunk']}x{at['chunk']}): naive {at['naive_ms']:.1f} ms / "
        f"{at['naive_MiB']:.1f} MiB, chunked {at['chunked_ms']:.1f} ms / {at['chunked_MiB']:.2f} MiB, "
        f"F.sdpa {at['sdpa_ms']:.1f} ms / {at['sdpa_MiB']:.2f} MiB. Chunked/naive: memory {at['chunked_over_naive_memory']:.3f}, "
        f"time {at['chunked_over_naive_time']:.2f}. Naive/F.sdpa time {at['naive_over_sdpa_time']:.2f}.",
        "",
        "Fitted time exponents, T >= {0} (the sizes whose T x T scores are out of the L2 cache): ".format(
            result["sizes"]["fit_from"])
        + ", ".join(f"{n} {k:.2f}" for n, k in result["time_exponent"].items())
        + "; over all T: " + ", ".join(f"{n} {k:.2f}" for n, k in result["time_exponent_all_T"].items())
        + ". Memory exponents: " + ", ".join(f"{n} {k:.2f}" for n, k in result["memory_exponent"].items()) + ".",
        "",
        "## Time and peak memory against T",
        "",
        "| T | naive ms | chunked ms | F.sdpa ms | naive MiB | chunked MiB | F.sdpa MiB |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['T']} | {r['naive_ms']:.2f} | {r['chunked_ms']:.2f} | {r['F.sdpa_ms']:.2f} | {r['naive_MiB']:.2f} | "
          f"{r['chunked_MiB']:.2f} | {r['F.sdpa_MiB']:.2f} |" for r in result["sweep"]],
        "",
        "## Numerical stability",
        "",
        "| case | finite | max abs error vs float64 |",
        "|---|---|---|",
        *[f"| {r['case']} | {'yes' if r['finite'] else '**no**'} | "
          f"{'-' if r['max_abs_error'] is None else format(r['max_abs_error'], '.2e')} |" for r in result["stability"]],
        "",
        "## Batched multi-head attention vs a loop over (batch, head)",
        "",
        "| B | H | T | loop ms | batched ms | speed-up |",
        "|---|---|---|---|---|---|",
        *["| {B} | {H} | {T} | {loop_ms:.2f} | {batched_ms:.2f} | {speedup:.1f}x |".format(**r)
          for r in result["batched_vs_loop"]],
        "",
        "## Throughput against batch size (tokens/s, T = {0}, H = {1})".format(result["sizes"]["batch_len"],
                                                                               result["sizes"]["heads"]),
        "",
        "| B | naive | chunked | F.sdpa |",
        "|---|---|---|---|",
        *[f"| {r['B']} | {r['naive_tokens_per_s']:,.0f} | {r['chunked_tokens_per_s']:,.0f} | "
          f"{r['F.sdpa_tokens_per_s']:,.0f} |" for r in result["throughput"]],
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1, as in the notebook's CI)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/<device>)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument("--clock", choices=["auto", "wall", "cpu"], default="auto",
                        help="auto: CPU time for one-thread CPU runs, wall time otherwise")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA를 찾을 수 없습니다: --device cpu로 실행하세요.")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    CLOCK["name"] = args.clock if args.clock != "auto" else (
        "cpu" if device.type == "cpu" and args.threads == 1 else "wall")
    if CLOCK["name"] == "cpu" and device.type == "cuda":
        parser.error("--clock cpu는 GPU 시간을 재지 못합니다: --clock wall을 쓰세요.")
    out = args.out or ROOT / "benchmarks" / "results" / ("quick" if args.quick else args.device)
    start = time.perf_counter()
    result = run(device, SIZES["quick" if args.quick else "full"])
    result["seconds"] = time.perf_counter() - start
    result["clock"] = CLOCK["name"]
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "attention_benchmark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "attention_benchmark.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"written to {out}")
    return 0 if (all(result["targets"].values()) or not args.check) else 1


if __name__ == "__main__":
    sys.exit(main())
