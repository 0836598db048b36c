"""Measuring code: time, peak memory and power-law fits.

* :func:`measure_time` - median and best time of ``fn()``: wall-clock time, with CUDA synchronised
  around every call so that queued kernels are counted, or the process's CPU time (single-threaded
  CPU work on a shared machine: other programs' load does not count).
* :func:`peak_memory` - the most memory ``fn()`` holds at one moment, above what was allocated
  when it started. On CPU this replays torch's profiler memory accounting (every allocation and
  free of the CPU allocator, in order); on CUDA it reads the caching allocator's
  ``max_memory_allocated``.
* :func:`fit_power_law` - ``y ≈ c · x^k`` fitted by least squares on a log-log scale (the exponent
  ``k`` of a time or memory curve: about 2 for naive attention).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

MEMORY_EVENT = "[memory]"
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Timing:
    """Times of repeated calls in seconds (wall-clock or CPU time, see measure_time)."""

    median: float
    best: float
    times: list = field(default_factory=list)


@dataclass(frozen=True)
class PowerLaw:
    """``y ≈ coefficient · x ** exponent``; ``r2`` is the fit's R² on the log-log scale."""

    exponent: float
    coefficient: float
    r2: float

    def __call__(self, x):
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent


def _device(device) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_time(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1, device=None,
                 clock: str = "wall") -> Timing:
    """Call ``fn()`` ``warmup`` times unmeasured, then ``repeat`` times measured.

    The median resists a stray slow call (another process, a page fault); ``best`` is the
    least disturbed run. ``device`` decides what is synchronised (CUDA kernels run
    asynchronously, so an unsynchronised timer would only see the launch). ``clock="cpu"``
    measures this process's CPU time instead of wall time: right for single-threaded CPU work on
    a busy machine, wrong for GPUs and for several threads (their CPU times add up).
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat은 1 이상의 정수여야 합니다 (받은 값: {repeat!r}).")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup은 0 이상의 정수여야 합니다 (받은 값: {warmup!r}).")
    if clock not in CLOCKS:
        raise ValueError(f"clock은 'wall' 또는 'cpu'여야 합니다 (받은 값: {clock!r}).")
    now = CLOCKS[clock]
    device = _device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        _sync(device)
        start = now()
        fn()
        _sync(device)
        times.append(now() - start)
    ordered = sorted(times)
    return Timing(median=float(np.median(ordered)), best=ordered[0], times=times)


@contextlib.contextmanager
def _quiet_stderr_fd():
    """Send file descriptor 2 into a pipe for a moment: the profiler's C++ backend prints
    start/stop banners there that no Python setting turns off. The pipe is never read and its
    write end does not block, so a long message is dropped rather than stalling the profiler.
    Python-level errors are unaffected (they are raised, not printed)."""
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
    except OSError:  # Windows before Python 3.12: a blocking pipe still holds a short banner
        pass
    os.dup2(write_end, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        for fd in (saved, read_end, write_end):
            os.close(fd)


def _cpu_allocation_trace(fn: Callable[[], object]) -> list[int]:
    """Signed sizes (bytes) of the CPU allocator's allocations (+) and frees (-) during ``fn()``,
    in the order they happened."""
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr_fd():
        prof.__enter__()
    try:
        fn()
    finally:
        with _quiet_stderr_fd():
            prof.__exit__(None, None, None)
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        raise RuntimeError("이 PyTorch 버전의 프로파일러(profiler)는 메모리 기록을 돌려주지 않습니다.")
    events = [(e.start_ns(), i, e.nbytes()) for i, e in enumerate(results.events())
              if e.name() == MEMORY_EVENT and str(e.device_type()).endswith("CPU")]
    return [nbytes for _, _, nbytes in sorted(events)]


def peak_from_trace(trace: Sequence[int]) -> int:
    """Highest running total of a signed allocation trace, counted from 0 (never below 0)."""
    level = peak = 0
    for nbytes in trace:
        level += nbytes
        peak = max(peak, level)
    return int(peak)


def peak_memory(fn: Callable[[], object], *, device=None) -> int:
    """Peak extra memory of ``fn()`` in bytes: the highest amount allocated at once during the
    call, above the amount allocated when it started. What ``fn`` returns is counted while it
    is alive; its reference is dropped before this function returns.

    CPU: torch's profiler memory accounting (``profile_memory=True``), replayed in order.
    CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.
    """
    device = _device(device)
    if device.type == "cpu":
        return peak_from_trace(_cpu_allocation_trace(fn))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del out
        return int(max(peak, 0))
    raise ValueError(f"peak_memory는 'cpu'와 'cuda' 장치만 잴 수 있습니다 (받은 장치: {device}).")


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """Least-squares line through ``(log x, log y)``: ``log y = log c + k · log x``.

    The slope ``k`` is the growth exponent (time ∝ T^k); R² says how straight the log-log curve
    is - small sizes dominated by fixed per-call costs bend it.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"x와 y는 길이가 같은 1차원 수열이어야 합니다 (받은 모양(shape): {xs.shape}, {ys.shape}).")
    if len(xs) < 2 or len(np.unique(xs)) < 2:
        raise ValueError(f"거듭제곱 법칙을 맞추려면 서로 다른 x가 두 개 이상 필요합니다 (받은 x: {xs.tolist()}).")
    if (xs <= 0).any() or (ys <= 0).any() or not np.isfinite(xs).all() or not np.isfinite(ys).all():
        raise ValueError("로그-로그 맞춤에는 유한한 양수 x, y만 쓸 수 있습니다.")
    lx, ly = np.log(xs), np.log(ys)
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (intercept + slope * lx)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1.0 - float((residual ** 2).sum() / total) if total > 0 else 1.0
    return PowerLaw(exponent=float(slope), coefficient=float(np.exp(intercept)), r2=r2)


def format_bytes(nbytes: float) -> str:
    """``1536`` → ``'1.50 KiB'``: binary units, three significant digits."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"
