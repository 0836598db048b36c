"""Real time series that work offline, and the plumbing around forecasting them.

The series come with statsmodels (its data files are installed with the package, so nothing is
downloaded):

* :func:`load_co2` - Mauna Loa atmospheric CO2 (ppm), weekly from March 1958 to December 2001,
  59 weeks missing; monthly by default (mean of the weeks observed in each month; 5 months have
  no observed week at all). Trend plus a yearly cycle: ``period`` 12 (monthly) or 52 (weekly).
* :func:`load_sunspots` - yearly sunspot activity 1700-2008, a roughly 11-year cycle.

Missing values are never dropped silently: the loaders fill them with :func:`fill_missing` and
return a boolean mask of the filled positions, so a notebook can show and discuss them.

The rest is the plumbing every forecasting notebook needs: a time-ordered split
(:func:`time_split`), the two classic baselines (:func:`persistence_forecast`,
:func:`seasonal_naive_forecast`) and error measures (:func:`forecast_errors`,
:func:`errors_by_horizon`). Building input windows and fitting the normalisation are left to the
notebooks, where students write them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..checks import require_choice, require_positive_int

FILL_METHODS = ("linear", "ffill")
CO2_FREQUENCIES = ("monthly", "weekly")


@dataclass
class TimeSeries:
    """A univariate series with its time stamps and the mask of values that were missing.

    ``values`` (T,) float32 has no NaN left; ``missing`` (T,) bool is True where the raw series
    had no observation and ``values`` holds the filled value; ``period`` is the seasonal period
    in steps.
    """

    values: torch.Tensor
    index: pd.DatetimeIndex
    missing: torch.Tensor
    name: str
    unit: str
    period: int

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def to_pandas(self) -> pd.Series:
        return pd.Series(self.values.numpy(), index=self.index, name=self.name)


@dataclass(frozen=True)
class Split:
    """Boundaries of a time-ordered split: train ``[0, train_end)``, validation
    ``[train_end, val_end)``, test ``[val_end, n)``."""

    train_end: int
    val_end: int
    n: int

    @property
    def spans(self) -> dict:
        return {"train": (0, self.train_end), "val": (self.train_end, self.val_end), "test": (self.val_end, self.n)}


def fill_missing(values, method: str = "linear") -> tuple[torch.Tensor, torch.Tensor]:
    """Fill NaNs in a 1-D series and say where they were.

    ``"linear"`` interpolates between the neighbouring observations (it looks at the value after a
    gap, which is fine inside one span of a split but not at the end of a series); ``"ffill"``
    carries the last observation forward and never looks ahead. A gap at the start is filled with
    the first observation in both methods.

    Returns ``(filled (T,) float32, missing (T,) bool)``.
    """
    require_choice(method, FILL_METHODS, "method")
    arr = torch.from_numpy(np.array(values, dtype=np.float64))  # a copy: the caller's array stays as it is
    if arr.dim() != 1:
        raise ValueError(f"values는 1차원 시계열 (T,)이어야 합니다 (받은 모양(shape): {tuple(arr.shape)}).")
    if arr.numel() == 0:
        raise ValueError("values가 비어 있습니다: 값이 하나 이상 있어야 합니다.")
    if torch.isinf(arr).any():
        raise ValueError(f"values에 무한대(inf)가 {int(torch.isinf(arr).sum())}개 있습니다: 결측값은 NaN으로 표시하세요.")
    missing = torch.isnan(arr)
    if bool(missing.all()):
        raise ValueError(f"values의 {arr.numel()}개 값이 모두 NaN입니다: 채울 기준 관측값이 없습니다.")
    series = pd.Series(arr.numpy())
    if method == "linear":
        filled = series.interpolate(method="linear", limit_direction="both")
    else:
        filled = series.ffill().bfill()  # bfill only touches a leading gap
    return torch.tensor(filled.to_numpy(), dtype=torch.float32), missing


def _statsmodels_frame(name: str) -> pd.DataFrame:
    try:
        from statsmodels import datasets
    except ImportError as err:  # pragma: no cover - statsmodels is pinned in requirements.txt
        raise ImportError("statsmodels가 설치되어 있지 않습니다: `pip install -r requirements.txt`로 환경을 만드세요.") from err
    return getattr(datasets, name).load_pandas().data


def load_co2(frequency: str = "monthly", fill: str = "linear") -> TimeSeries:
    """Mauna Loa CO2 (ppm) from statsmodels, with its missing values filled explicitly.

    ``frequency="monthly"``: the mean of the weeks observed in each calendar month (526 months,
    March 1958 - December 2001; months with no observed week are missing, then filled).
    ``frequency="weekly"``: the raw weekly series (2,284 weeks).
    """
    require_choice(frequency, CO2_FREQUENCIES, "frequency")
    require_choice(fill, FILL_METHODS, "fill")
    raw = _statsmodels_frame("co2")["co2"].astype("float64")
    if frequency == "monthly":
        raw = raw.resample("MS").mean()  # NaN weeks are skipped; an empty month stays NaN
        period = 12
    else:
        period = 52
    values, missing = fill_missing(raw.to_numpy(), fill)
    return TimeSeries(values=values, index=pd.DatetimeIndex(raw.index), missing=missing,
                      name=f"co2_{frequency}", unit="ppm", period=period)


def load_sunspots(fill: str = "linear") -> TimeSeries:
    """Yearly sunspot activity 1700-2008 from statsmodels (no gaps; roughly an 11-year cycle)."""
    require_choice(fill, FILL_METHODS, "fill")
    frame = _statsmodels_frame("sunspots")
    index = pd.DatetimeIndex(pd.to_datetime(frame["YEAR"].astype(int).astype(str), format="%Y"))
    values, missing = fill_missing(frame["SUNACTIVITY"].to_numpy(dtype="float64"), fill)
    return TimeSeries(values=values, index=index, missing=missing, name="sunspots", unit="activity", period=11)


def time_split(n: int, train: float = 0.7, val: float = 0.15) -> Split:
    """Split ``n`` time steps in time order: the first ``train`` fraction trains, the next ``val``
    fraction validates, the rest tests. Nothing is shuffled: the future is never seen in training."""
    require_positive_int(n, "n")
    for name, frac in (("train", train), ("val", val)):
        if not (isinstance(frac, (int, float)) and 0 < frac < 1):
            raise ValueError(f"{name} 비율은 0과 1 사이여야 합니다 (받은 값: {frac!r}).")
    if train + val >= 1:
        raise ValueError(f"train + val = {train + val:g}: 테스트 구간이 남도록 1보다 작아야 합니다.")
    train_end = int(round(n * train))
    val_end = int(round(n * (train + val)))
    if not 0 < train_end < val_end < n:
        raise ValueError(f"n={n}이 너무 작아 학습/검증/테스트 구간 중 빈 구간이 생깁니다 "
                         f"(경계: train_end={train_end}, val_end={val_end}).")
    return Split(train_end=train_end, val_end=val_end, n=n)


def _origins(series, origins, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    series = torch.as_tensor(series)
    origins = torch.as_tensor(origins, dtype=torch.long)
    if series.dim() != 1:
        raise ValueError(f"series는 1차원 시계열 (T,)이어야 합니다 (받은 모양(shape): {tuple(series.shape)}).")
    if origins.dim() != 1:
        raise ValueError(f"origins는 1차원 (N,)이어야 합니다 (받은 모양(shape): {tuple(origins.shape)}).")
    require_positive_int(horizon, "horizon")
    return series, origins


def persistence_forecast(series, origins, horizon: int) -> torch.Tensor:
    """Naive (persistence) forecast: the last observed value, ``series[t - 1]``, for every step
    ``t … t + horizon - 1`` of each origin ``t``. Returns (N, horizon)."""
    series, origins = _origins(series, origins, horizon)
    if len(origins) and int(origins.min()) < 1:
        raise ValueError(f"예측 시작점(origin)은 1 이상이어야 합니다: 그 전의 관측값이 필요합니다 (받은 최솟값: {int(origins.min())}).")
    return series[origins - 1][:, None].expand(-1, horizon).clone()


def seasonal_naive_forecast(series, origins, horizon: int, period: int) -> torch.Tensor:
    """Seasonal-naive forecast: the value one season earlier that was already observed at the
    origin, ``series[t + h - period · ceil((h + 1) / period)]`` for h = 0 … horizon − 1.
    Returns (N, horizon)."""
    series, origins = _origins(series, origins, horizon)
    require_positive_int(period, "period")
    if len(origins) and int(origins.min()) < period:
        raise ValueError(f"예측 시작점(origin)은 period={period} 이상이어야 합니다: 한 주기 전의 값이 필요합니다 "
                         f"(받은 최솟값: {int(origins.min())}).")
    h = torch.arange(horizon)
    back = period * torch.div(h + period, period, rounding_mode="floor")  # period · ceil((h + 1) / period)
    return series[origins[:, None] + h - back]


def _pair(pred, target) -> tuple[torch.Tensor, torch.Tensor]:
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    if pred.shape != target.shape:
        raise ValueError(f"예측(pred)과 정답(target)의 모양이 같아야 합니다 (받은 모양: {tuple(pred.shape)}, {tuple(target.shape)}).")
    if pred.numel() == 0:
        raise ValueError("평가할 예측이 없습니다 (pred가 비어 있습니다).")
    if not bool(torch.isfinite(pred).all()):
        raise ValueError("예측(pred)에 NaN이나 inf가 있습니다.")
    return pred, target


def forecast_errors(pred, target) -> dict:
    """RMSE and MAE over all forecasts and steps (same units as the series)."""
    pred, target = _pair(pred, target)
    err = pred - target
    return {"rmse": math.sqrt(float((err ** 2).mean())), "mae": float(err.abs().mean())}


def errors_by_horizon(pred, target) -> np.ndarray:
    """RMSE of each forecast step: (N, H) forecasts → (H,)."""
    pred, target = _pair(pred, target)
    if pred.dim() != 2:
        raise ValueError(f"pred는 (N, H) 2차원이어야 합니다 (받은 모양(shape): {tuple(pred.shape)}).")
    return ((pred - target) ** 2).mean(0).sqrt().numpy()
