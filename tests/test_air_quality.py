"""Beijing air-quality loader: the real files (time index, missing values kept), the missing-data
message, drop_missing and missing_summary."""
import gzip

import numpy as np
import pandas as pd
import pytest

from conftest import data_root
from dlcourse.data import DataNotFound, air_quality, drop_missing, load_air_quality, missing_summary


@pytest.fixture
def needs_air_quality():
    root = data_root()
    names = [f"{air_quality.FILE_PATTERN.format(station=s)}.gz" for s in air_quality.AIR_QUALITY_STATIONS]
    missing = [n for n in names if not (root / "air_quality" / n).exists()]
    if missing:
        pytest.skip(f"the air-quality data is not under the data root {root} (missing {missing[0]})")
    return root


def test_every_station_is_hourly_in_time_order_with_its_missing_values(needs_air_quality):
    for station in air_quality.AIR_QUALITY_STATIONS:
        frame = load_air_quality(station)
        assert len(frame) == air_quality.HOURS and tuple(frame.columns) == air_quality.AIR_QUALITY_COLUMNS
        assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "time"
        assert frame.index[0] == pd.Timestamp("2013-03-01 00:00") and frame.index[-1] == pd.Timestamp("2017-02-28 23:00")
        assert (frame.index.to_series().diff().iloc[1:] == pd.Timedelta(hours=1)).all(), f"{station}: not one row per hour"
        assert all(frame[c].dtype == np.float64 for c in air_quality.NUMERIC_COLUMNS)
        assert frame.attrs["station"] == station
        # the data has real gaps: PM2.5 and PM10 are missing for a few percent of the hours
        assert 0 < frame["PM2.5"].isna().mean() < 0.05 and 0 < frame["PM10"].isna().mean() < 0.05


def test_first_rows_and_the_blank_field_of_the_published_file(needs_air_quality):
    frame = load_air_quality("Aotizhongxin")
    first = frame.iloc[0]
    assert (first["PM2.5"], first["PM10"], first["TEMP"], first["wd"]) == (4.0, 4.0, -0.7, "NNW")
    # 2013-03-04 02:00 has a blank SO2 field (not "NA"): it is missing, the rest of the row is kept
    row = frame.loc["2013-03-04 02:00"]
    assert np.isnan(row["SO2"]) and row["PM2.5"] == 34.0 and row["PM10"] == 62.0
    summary = missing_summary(frame)
    assert summary.loc["PM2.5", "count"] == int(frame["PM2.5"].isna().sum())
    assert summary["count"].is_monotonic_decreasing
    assert summary.loc["PM10", "percent"] == pytest.approx(100 * frame["PM10"].isna().mean(), abs=0.01)


def test_drop_missing_keeps_order_and_only_looks_at_the_named_columns(needs_air_quality):
    frame = load_air_quality("Dongsi")
    kept = drop_missing(frame, ["PM2.5", "PM10"])
    assert not kept[["PM2.5", "PM10"]].isna().any().any()
    assert len(kept) == int((frame["PM2.5"].notna() & frame["PM10"].notna()).sum())
    assert kept.index.is_monotonic_increasing
    assert kept["O3"].isna().any()                      # other columns may still be missing
    assert frame["PM2.5"].isna().any()                  # the input is unchanged
    assert len(drop_missing(frame, "PM10")) == int(frame["PM10"].notna().sum())


def test_bad_arguments_are_explained(needs_air_quality):
    frame = load_air_quality("Dongsi")
    with pytest.raises(ValueError, match="없는 열"):
        drop_missing(frame, ["PM2.5", "PM25"])
    with pytest.raises(ValueError, match="비어"):
        drop_missing(frame, [])
    with pytest.raises(ValueError, match="station"):
        load_air_quality("Beijing")
    with pytest.raises(ValueError, match="DataFrame"):
        missing_summary(frame.to_numpy())


def test_missing_data_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(DataNotFound) as err:
        load_air_quality("Tiantan")
    msg = str(err.value)
    assert str(tmp_path / "air_quality" / "PRSA_Data_Tiantan_20130301-20170228.csv.gz") in msg
    assert "UCI" in msg and "DLCOURSE_DATA_ROOT" in msg and "찾을 수 없습니다" in msg


def test_a_corrupt_numeric_field_is_reported(tmp_path, monkeypatch):
    folder = tmp_path / "air_quality"
    folder.mkdir()
    header = '"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","PRES","DEWP","RAIN","wd","WSPM","station"\n'
    rows = ['1,2013,3,1,0,4,4,4,7,300,77,-0.7,1023,-18.8,0,"NNW",4.4,"Tiantan"\n',
            '2,2013,3,1,1,NA,oops,4,7,300,77,-1.1,1023.2,-18.2,0,"N",4.7,"Tiantan"\n']
    with gzip.open(folder / "PRSA_Data_Tiantan_20130301-20170228.csv.gz", "wt") as fh:
        fh.write(header + "".join(rows))
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="숫자가 아닌 값"):
        load_air_quality("Tiantan")
    with gzip.open(folder / "PRSA_Data_Tiantan_20130301-20170228.csv.gz", "wt") as fh:
        fh.write(header + rows[0] + rows[1].replace("oops", "NA"))
    frame = load_air_quality("Tiantan")
    assert len(frame) == 2 and frame["PM2.5"].isna().tolist() == [False, True]
