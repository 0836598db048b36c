"""Model inspection helpers: hooks leave no trace, FLOPs follow the formula, timings are positive."""
import pytest
import torch
from torch import nn

from dlcourse import inspect


def test_capture_outputs_returns_each_layer_and_removes_hooks():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = torch.randn(5, 4)
    outs = inspect.capture_outputs(model, {"fc1": model[0], "act": model[1]}, x)
    assert torch.allclose(outs["act"], torch.relu(model[0](x)))
    assert not model[0]._forward_hooks and not model[1]._forward_hooks
    with pytest.raises(ValueError, match="비어"):
        inspect.capture_outputs(model, {}, x)


def test_count_flops_of_a_linear_layer():
    assert inspect.count_flops(nn.Linear(8, 5, bias=False), torch.zeros(3, 8)) == 2 * 3 * 8 * 5


def test_time_call_is_a_positive_median():
    assert inspect.time_call(lambda: sum(range(1000)), repeat=3) > 0
