"""dl.bench measures what it claims: peak memory from the allocator's own records, wall times,
power-law exponents; and the week-6 benchmark script runs end to end on tiny sizes."""
import json
import time

import numpy as np
import pytest
import torch

import dlcourse as dl
from conftest import run_benchmark
from dlcourse import bench

MiB = 2 ** 20


def test_peak_memory_counts_tensors_alive_at_the_same_time():
    def two_at_once():
        a = torch.ones(MiB // 4)          # 1 MiB of float32
        b = torch.ones(2 * MiB // 4)      # 2 MiB while a is still alive
        return a.sum() + b.sum()

    def one_after_another():
        for _ in range(3):
            a = torch.ones(MiB // 4)      # 1 MiB, freed before the next one
            del a

    peak = bench.peak_memory(two_at_once)
    assert 3 * MiB <= peak < 3 * MiB + 64 * 1024
    peak = bench.peak_memory(one_after_another)
    assert MiB <= peak < MiB + 64 * 1024


def test_peak_memory_is_extra_memory_and_counts_the_result():
    big = torch.ones(4 * MiB // 4)        # allocated before: not counted, even when fn frees a view of it
    peak = bench.peak_memory(lambda: big[: MiB // 4].clone())
    assert MiB <= peak < MiB + 64 * 1024
    assert bench.peak_memory(lambda: None) == 0


def test_peak_memory_sees_quadratic_attention_scores():
    q = torch.randn(1, 1, 512, 16)
    scores = bench.peak_memory(lambda: q @ q.transpose(-2, -1))      # (512, 512) float32 = 1 MiB
    assert MiB <= scores < 1.1 * MiB


def test_peak_memory_keeps_the_profiler_banner_off_stderr(capfd):
    bench.peak_memory(lambda: torch.ones(10))
    assert capfd.readouterr().err == ""


def test_peak_memory_passes_errors_through():
    def broken():
        raise ZeroDivisionError("inside")
    with pytest.raises(ZeroDivisionError, match="inside"):
        bench.peak_memory(broken)
    assert bench.peak_memory(lambda: torch.ones(MiB // 4)) >= MiB   # the profiler was stopped


def test_peak_memory_rejects_unsupported_devices():
    with pytest.raises(ValueError, match="cpu.*cuda"):
        bench.peak_memory(lambda: None, device="meta")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_peak_memory_on_cuda():
    peak = bench.peak_memory(lambda: torch.ones(MiB // 4, device="cuda"), device="cuda")
    assert MiB <= peak < 2 * MiB


def test_peak_from_trace_replays_allocations_in_order():
    assert bench.peak_from_trace([4, 8, -4, 2, -8]) == 12
    assert bench.peak_from_trace([-5, 3]) == 0
    assert bench.peak_from_trace([]) == 0


def test_measure_time_repeats_and_reports_best_and_median():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.01 if len(calls) != 3 else 0.05)   # one slow call: the median ignores it

    timing = bench.measure_time(work, repeat=5, warmup=2)
    assert len(calls) == 7 and len(timing.times) == 5
    assert 0.009 <= timing.best <= timing.median < 0.03
    with pytest.raises(ValueError, match="repeat"):
        bench.measure_time(work, repeat=0)


def test_measure_time_cpu_clock_ignores_waiting():
    wall = bench.measure_time(lambda: time.sleep(0.02), repeat=2, warmup=0)
    cpu = bench.measure_time(lambda: time.sleep(0.02), repeat=2, warmup=0, clock="cpu")
    assert wall.best >= 0.019 and cpu.best < 0.01
    busy = bench.measure_time(lambda: sum(range(200_000)), repeat=2, warmup=0, clock="cpu")
    assert busy.best > 0
    with pytest.raises(ValueError, match="clock"):
        bench.measure_time(lambda: None, clock="gpu")


def test_fit_power_law_recovers_exponent_and_coefficient():
    x = np.array([128, 256, 512, 1024, 2048])
    fit = bench.fit_power_law(x, 3e-6 * x ** 2.0)
    assert fit.exponent == pytest.approx(2.0) and fit.coefficient == pytest.approx(3e-6) and fit.r2 == pytest.approx(1.0)
    noisy = 5.0 * x ** 1.0 * np.exp(np.random.default_rng(0).normal(0, 0.05, len(x)))
    fit = bench.fit_power_law(x, noisy)
    assert fit.exponent == pytest.approx(1.0, abs=0.1) and 0.9 < fit.r2 <= 1.0
    assert fit(1000.0) == pytest.approx(fit.coefficient * 1000.0 ** fit.exponent)


@pytest.mark.parametrize("x, y, match", [([1.0], [1.0], "두 개 이상"), ([1, 2], [1, 0], "양수"),
                                         ([1, 2, 3], [1, 2], "길이"), ([2, 2], [1, 3], "두 개 이상")])
def test_fit_power_law_explains_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        bench.fit_power_law(x, y)


def test_format_bytes():
    assert bench.format_bytes(512) == "512 B"
    assert bench.format_bytes(1536) == "1.50 KiB"
    assert bench.format_bytes(3 * MiB) == "3.00 MiB"
    assert dl.bench is bench




def test_attention_benchmark_script_quick(tmp_path):
    """A smoke run on tiny sizes: the script runs, writes its files, and every stability case is
    finite. (The speed and memory targets are measured by a real run, not here.)"""
    assert run_benchmark("attention_benchmark", "--quick", "--out", str(tmp_path)) == 0
    result = json.loads((tmp_path / "attention_benchmark.json").read_text(encoding="utf-8"))
    assert {"sweep", "time_exponent", "at_target", "stability", "batched_vs_loop", "throughput", "targets"} <= set(result)
    assert result["targets"]["no NaN/inf in any stability case"]
    assert result["at_target"]["chunked_MiB"] < result["at_target"]["naive_MiB"]
    assert "## Targets" in (tmp_path / "attention_benchmark.md").read_text(encoding="utf-8")


def test_seq2seq_bleu_script_quick(tmp_path, needs_multi30k):
    """A smoke run of the full-mode BLEU benchmark on 300 real Multi30k pairs: it trains, decodes,
    scores with sacreBLEU and writes its files. (The ≥ 20 BLEU target is measured by a real run.)"""
    assert run_benchmark("seq2seq_bleu", "--quick", "--out", str(tmp_path)) == 0
    result = json.loads((tmp_path / "seq2seq_bleu_quick.json").read_text(encoding="utf-8"))
    assert result["quick"] and len(result["log"]) == 1 and 0 <= result["best_bleu"] <= 100
    assert "version:2.6.0" in result["signature"]
    assert "| epoch |" in (tmp_path / "seq2seq_bleu_quick.md").read_text(encoding="utf-8")
