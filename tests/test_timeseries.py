"""Time-series plumbing: the offline statsmodels series, explicit missing values, the time-ordered
split, the two baselines and the error measures (fast, no network)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dlcourse.data import (Split, TimeSeries, errors_by_horizon, fill_missing, forecast_errors, load_co2,
                           load_sunspots, persistence_forecast, seasonal_naive_forecast, time_split)


# --- loaders ------------------------------------------------------------------------------------
def test_monthly_co2_is_the_mean_of_observed_weeks_with_gaps_filled_and_marked():
    series = load_co2()
    assert isinstance(series, TimeSeries)
    assert len(series) == 526 and series.period == 12 and series.unit == "ppm"
    assert series.values.dtype == torch.float32 and series.missing.dtype == torch.bool
    assert series.index[0] == pd.Timestamp("1958-03-01") and series.index[-1] == pd.Timestamp("2001-12-01")
    assert bool(torch.isfinite(series.values).all())
    filled = [f"{series.index[i]:%Y-%m}" for i in torch.nonzero(series.missing).flatten().tolist()]
    assert filled == ["1958-06", "1958-10", "1964-02", "1964-03", "1964-04"]
    # A month's value is the mean of the weeks observed in it (statsmodels' raw weekly data).
    from statsmodels.datasets import co2
    raw = co2.load_pandas().data["co2"]
    may_1958 = raw["1958-05-01":"1958-05-31"].mean()
    assert math.isclose(float(series.values[2]), may_1958, rel_tol=1e-6)
    # The 1964 gap (Feb-Apr) is a straight line between January and May.
    jan, feb, mar, apr, may = (float(series.values[i]) for i in range(70, 75))
    assert series.index[70] == pd.Timestamp("1964-01-01")
    assert np.allclose([feb, mar, apr], np.linspace(jan, may, 5)[1:4], atol=1e-4)


def test_weekly_co2_and_forward_fill():
    weekly = load_co2(frequency="weekly", fill="ffill")
    assert len(weekly) == 2284 and weekly.period == 52 and int(weekly.missing.sum()) == 59
    first_gap = int(torch.nonzero(weekly.missing).flatten()[0])
    assert first_gap > 0 and float(weekly.values[first_gap]) == float(weekly.values[first_gap - 1])
    assert pd.Series(weekly.values.numpy(), index=weekly.index).equals(weekly.to_pandas().rename(None))


def test_sunspots_yearly():
    sun = load_sunspots()
    assert len(sun) == 309 and sun.period == 11 and not bool(sun.missing.any())
    assert sun.index[0].year == 1700 and sun.index[-1].year == 2008


@pytest.mark.parametrize("kwargs, words", [
    (dict(frequency="daily"), "frequency"),
    (dict(fill="mean"), "fill"),
])
def test_loader_rejects_unknown_options(kwargs, words):
    with pytest.raises(ValueError, match=words):
        load_co2(**kwargs)


# --- missing values ---------------------------------------------------------------------------------
def test_fill_missing_linear_and_ffill_and_the_mask():
    values = [float("nan"), 1.0, float("nan"), float("nan"), 4.0, float("nan")]
    filled, mask = fill_missing(values, "linear")
    assert mask.tolist() == [True, False, True, True, False, True]
    assert filled.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    filled, _ = fill_missing(values, "ffill")
    assert filled.tolist() == [1.0, 1.0, 1.0, 1.0, 4.0, 4.0]  # never looks ahead (except a leading gap)


def test_fill_missing_does_not_touch_its_input():
    values = np.array([1.0, np.nan, 3.0])
    fill_missing(values)
    assert np.isnan(values[1])


@pytest.mark.parametrize("values, words", [
    ([[1.0, 2.0]], "1차원"),
    ([], "비어"),
    ([float("nan")] * 3, "모두 NaN"),
    ([1.0, float("inf")], "무한대"),
])
def test_fill_missing_errors_are_korean_and_name_the_problem(values, words):
    with pytest.raises(ValueError, match=words):
        fill_missing(values)


# --- split --------------------------------------------------------------------------------------------
def test_time_split_is_ordered_and_covers_everything():
    split = time_split(526)
    assert split == Split(train_end=368, val_end=447, n=526)
    spans = split.spans
    assert spans["train"][0] == 0 and spans["train"][1] == spans["val"][0]
    assert spans["val"][1] == spans["test"][0] and spans["test"][1] == 526


@pytest.mark.parametrize("n, kwargs, words", [
    (0, {}, "양의 정수"),
    (100, dict(train=1.2), "train"),
    (100, dict(val=0.0), "val"),
    (100, dict(train=0.6, val=0.4), "테스트 구간"),
    (3, dict(train=0.5, val=0.4), "빈 구간"),
])
def test_time_split_rejects_bad_input(n, kwargs, words):
    with pytest.raises(ValueError, match=words):
        time_split(n, **kwargs)


# --- baselines and errors --------------------------------------------------------------------------------
def test_persistence_repeats_the_last_observation():
    series = torch.arange(20.0)
    pred = persistence_forecast(series, torch.tensor([5, 9]), horizon=3)
    assert pred.tolist() == [[4.0, 4.0, 4.0], [8.0, 8.0, 8.0]]


def test_seasonal_naive_uses_only_values_observed_at_the_origin():
    series = torch.arange(100.0)
    origins = torch.tensor([30, 41])
    pred = seasonal_naive_forecast(series, origins, horizon=15, period=12)
    h = torch.arange(15)
    # steps 0..11 come from one period back, steps 12..14 from two periods back
    expected = origins[:, None] + h - torch.where(h < 12, 12, 24)
    assert torch.equal(pred, expected.float())
    assert bool((pred < origins[:, None]).all()), "a seasonal-naive forecast must not read the future"


def test_seasonal_naive_is_perfect_on_a_pure_cycle():
    t = torch.arange(60.0)
    series = torch.sin(2 * math.pi * t / 12)
    origins = torch.arange(12, 48)
    truth = series[origins[:, None] + torch.arange(12)]
    assert forecast_errors(seasonal_naive_forecast(series, origins, 12, 12), truth)["rmse"] < 1e-6


@pytest.mark.parametrize("call, words", [
    (lambda: persistence_forecast(torch.arange(5.0), torch.tensor([0]), 2), "1 이상"),
    (lambda: seasonal_naive_forecast(torch.arange(30.0), torch.tensor([5]), 2, 12), "period=12"),
    (lambda: seasonal_naive_forecast(torch.ones(3, 3), torch.tensor([1]), 2, 1), "1차원"),
    (lambda: persistence_forecast(torch.arange(5.0), torch.tensor([2]), 0), "horizon"),
])
def test_baselines_reject_bad_input(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_forecast_errors_and_errors_by_horizon():
    pred = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    truth = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    e = forecast_errors(pred, truth)
    assert math.isclose(e["rmse"], math.sqrt((0 + 4 + 0 + 16) / 4))
    assert math.isclose(e["mae"], (0 + 2 + 0 + 4) / 4)
    assert np.allclose(errors_by_horizon(pred, truth), [0.0, math.sqrt((4 + 16) / 2)])


@pytest.mark.parametrize("pred, truth, words", [
    (torch.zeros(2, 3), torch.zeros(3, 2), "모양"),
    (torch.zeros(0, 2), torch.zeros(0, 2), "비어"),
    (torch.tensor([[float("nan")]]), torch.zeros(1, 1), "NaN"),
])
def test_forecast_errors_reject_bad_input(pred, truth, words):
    with pytest.raises(ValueError, match=words):
        forecast_errors(pred, truth)
