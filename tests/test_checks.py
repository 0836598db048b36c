"""Check helpers fail by assertion with messages that say what differs."""
import pytest
import torch

import dlcourse as dl
from dlcourse import checks


def test_assert_close_names_the_worst_element():
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[1, 2] = 0.5
    with pytest.raises(dl.CheckFailed, match=r"1/6개 원소.*위치 \(1, 2\).*실제 0.5.*기대 0"):
        dl.assert_close(actual, expected, name="출력")
    dl.assert_close(expected + 1e-7, expected)


def test_assert_close_reports_shape_and_nan():
    with pytest.raises(dl.CheckFailed, match=r"기대 \(2, 3\), 실제 \(3, 2\)"):
        dl.assert_close(torch.zeros(3, 2), torch.zeros(2, 3))
    with pytest.raises(dl.CheckFailed, match="NaN"):
        dl.assert_close(torch.tensor([float("nan")]), torch.tensor([0.0]))


def test_check_failed_is_an_assertion_error():
    assert issubclass(dl.CheckFailed, AssertionError)


def test_assert_shape_with_wildcards():
    dl.assert_shape(torch.zeros(4, 3), (None, 3))
    with pytest.raises(dl.CheckFailed, match=r"기대 \(\*, 4\), 실제 \(4, 3\)"):
        dl.assert_shape(torch.zeros(4, 3), (None, 4), "x")
    with pytest.raises(dl.CheckFailed, match="torch.Tensor"):
        dl.assert_shape([1, 2], (2,))


class WrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # should be 2x


def test_gradient_check_catches_a_wrong_backward():
    x = torch.randn(5)
    dl.check_gradients(lambda t: (t * t).sum(), x)
    with pytest.raises(dl.CheckFailed, match="자동 미분 vs 수치 미분"):
        dl.check_gradients(lambda t: WrongSquare.apply(t).sum(), x)


def test_input_validation_helpers_raise_value_errors():
    with pytest.raises(ValueError, match=r"4차원.*\(2, 3\)"):
        checks.require_ndim(torch.zeros(2, 3), 4, "x")
    with pytest.raises(ValueError, match="양의 정수"):
        checks.require_positive_int(0, "batch_size")
    with pytest.raises(ValueError, match="'train', 'test'"):
        checks.require_choice("tran", ("train", "test"), "split")
