"""Beijing Multi-Site Air-Quality data (Zhang et al., 2017; UCI Machine Learning Repository, CC BY 4.0).

Hourly measurements from March 2013 to February 2017 (35,064 hours) at 12 stations, one file a
station: ``<data_root>/air_quality/PRSA_Data_<station>_20130301-20170228.csv.gz`` (an
uncompressed ``.csv`` works too). Columns: PM2.5, PM10, SO2, NO2, CO, O3 (µg/m³), TEMP (°C),
PRES (hPa), DEWP (dew point, °C), RAIN (mm), wd (wind direction), WSPM (wind speed, m/s).

Missing values (written ``NA``, and one blank field) stay ``NaN``: nothing is filled or dropped
silently. :func:`missing_summary` counts them, :func:`drop_missing` drops the rows that lack any
of the columns a model needs. Rows come back in time order with a ``DatetimeIndex``, so a
time-ordered split is a slice.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import runtime
from ._common import DataNotFound, first_existing

AIR_QUALITY_STATIONS = ("Aotizhongxin", "Changping", "Dingling", "Dongsi", "Guanyuan", "Gucheng", "Huairou",
                        "Nongzhanguan", "Shunyi", "Tiantan", "Wanliu", "Wanshouxigong")
AIR_QUALITY_COLUMNS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "wd", "WSPM")
NUMERIC_COLUMNS = tuple(c for c in AIR_QUALITY_COLUMNS if c != "wd")
HOURS = 35064
FILE_PATTERN = "PRSA_Data_{station}_20130301-20170228.csv"
SOURCE_URL = "https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data"


def _candidates(root: Path, station: str):
    name = FILE_PATTERN.format(station=station)
    return [root / "air_quality" / f"{name}.gz", root / "air_quality" / name, root / f"{name}.gz"]


def _missing_message(root: Path, station: str) -> str:
    return (
        f"대기질 데이터(air quality) 파일을 찾을 수 없습니다: 관측소 {station}.\n"
        f"다음 위치에 파일을 두세요:\n     {_candidates(root, station)[0]}\n"
        f"  (관측소마다 파일 하나: {FILE_PATTERN.format(station='<관측소>')}.gz, 관측소 12곳)\n"
        f"  원본(canonical source): UCI Machine Learning Repository, Beijing Multi-Site Air-Quality Data\n"
        f"  ({SOURCE_URL}, CC BY 4.0).\n"
        f"데이터 위치(data root)는 환경 변수 {runtime.ENV_DATA_ROOT}로 바꿀 수 있습니다 (현재: {root})."
    )


def load_air_quality(station: str = "Aotizhongxin") -> pd.DataFrame:
    """One station's hourly data: a DataFrame indexed by time (``DatetimeIndex`` named ``time``,
    hourly, in order) with the columns of :data:`AIR_QUALITY_COLUMNS`; missing values are NaN.

    ``frame.attrs`` holds ``station`` and ``source`` (the file read).
    """
    if station not in AIR_QUALITY_STATIONS:
        options = ", ".join(AIR_QUALITY_STATIONS)
        raise ValueError(f"station은 {options} 중 하나여야 합니다 (받은 값: {station!r}).")
    root = runtime.data_root()
    path = first_existing(_candidates(root, station))
    if path is None:
        raise DataNotFound(_missing_message(root, station))
    dtypes = {c: "float64" for c in NUMERIC_COLUMNS}
    try:
        # "NA" marks a missing value; a blank field (there is one) is missing too.
        raw = pd.read_csv(path, skipinitialspace=True, na_values=["NA", ""], keep_default_na=False,
                          dtype={**dtypes, "wd": "string", "station": "string"})
    except (ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"{path}를 읽을 수 없습니다: 숫자 열에 숫자가 아닌 값이 있거나 파일이 손상되었습니다 ({err}).") from err
    missing_cols = [c for c in ("year", "month", "day", "hour", *AIR_QUALITY_COLUMNS) if c not in raw.columns]
    if missing_cols:
        raise ValueError(f"{path}에 열 {missing_cols}이(가) 없습니다: 원본 PRSA 파일인지 확인하세요.")
    index = pd.DatetimeIndex(pd.to_datetime(raw[["year", "month", "day", "hour"]]), name="time")
    frame = raw.loc[:, list(AIR_QUALITY_COLUMNS)].set_axis(index)
    frame = frame.sort_index()
    if frame.index.has_duplicates:
        raise ValueError(f"{path}에 같은 시각의 행이 여러 번 있습니다.")
    frame.attrs.update(station=station, source=str(path))
    return frame


def missing_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values per column: ``count`` and ``percent`` of the rows, largest first."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame은 pandas DataFrame이어야 합니다 (받은 타입: {type(frame).__name__}).")
    counts = frame.isna().sum()
    table = pd.DataFrame({"count": counts.astype(int),
                          "percent": (100.0 * counts / max(len(frame), 1)).round(2)})
    return table.sort_values("count", ascending=False, kind="stable")


def drop_missing(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """The rows of ``frame`` that have a value in every one of ``columns`` (``DataFrame.dropna``
    with ``subset``), in their original order; ``frame`` itself is not changed.

    Only the named columns count: a model of PM2.5 from PM10 keeps an hour whose O3 is missing.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame은 pandas DataFrame이어야 합니다 (받은 타입: {type(frame).__name__}).")
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise ValueError("columns가 비어 있습니다: 값이 있어야 하는 열을 하나 이상 주세요.")
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise ValueError(f"frame에 없는 열입니다: {unknown} (있는 열: {list(frame.columns)}).")
    return frame.dropna(subset=columns)
