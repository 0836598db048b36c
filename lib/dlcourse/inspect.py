"""Looking inside models: captured activations, FLOPs, parameter counts, timings."""
from __future__ import annotations

import time
from typing import Callable, Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def capture_outputs(model: nn.Module, modules: Mapping[str, nn.Module], x: torch.Tensor) -> dict:
    """Run ``model(x)`` once and return the output of each named submodule (detached, on CPU)."""
    if not modules:
        raise ValueError("캡처할 모듈(modules)이 비어 있습니다.")
    outputs, handles = {}, []
    for name, module in modules.items():
        def hook(_m, _inp, out, name=name):
            outputs[name] = out.detach().cpu()
        handles.append(module.register_forward_hook(hook))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return outputs


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """Floating-point operations of one forward pass (a multiply-add counts as 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())


def time_call(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds (synchronising CUDA around each call)."""
    def sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
