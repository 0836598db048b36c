"""Run modes, seeding, device choice and deliverable folders."""
import pytest
import torch

import dlcourse as dl
from dlcourse import runtime


def test_grade_mode_wins_over_everything(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    assert runtime.run_mode() == "grade"
    assert runtime.select_device() == torch.device("cpu")
    assert runtime.is_offline()


@pytest.mark.parametrize("value, mode", [("fast", "fast"), ("FAST", "fast"), ("full", "full"), ("", "full")])
def test_mode_setting(monkeypatch, value, mode):
    monkeypatch.setenv("DLCOURSE_MODE", value)
    assert runtime.run_mode() == mode


def test_unknown_mode_is_explained(monkeypatch):
    monkeypatch.setenv("DLCOURSE_MODE", "turbo")
    with pytest.raises(ValueError, match="DLCOURSE_MODE.*'turbo'"):
        runtime.run_mode()


def test_offline_setting(monkeypatch):
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    assert runtime.is_offline()
    monkeypatch.setenv("DLCOURSE_OFFLINE", "0")
    assert not runtime.is_offline()


def test_pick_by_mode():
    ctx = runtime.Context(mode="grade", seed=0, device=torch.device("cpu"), data_root=runtime.data_root())
    assert ctx.pick(full=30, fast=2) == 2
    assert ctx.pick(full=30, fast=2, grade=1) == 1
    assert runtime.Context("full", 0, torch.device("cpu"), runtime.data_root()).pick(full=30, fast=2) == 30


def test_outdir_is_created_next_to_the_notebook(tmp_path):
    ctx = runtime.Context("fast", 0, torch.device("cpu"), tmp_path, notebook_dir=tmp_path)
    assert ctx.outdir("performance_analysis") == tmp_path / "performance_analysis"
    assert (tmp_path / "performance_analysis").is_dir()
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="출력 폴더"):
            ctx.outdir(bad)


def test_setup_seeds_and_reports(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_MODE", "fast")
    ctx = dl.setup(seed=7)
    a = torch.rand(3)
    dl.setup(seed=7)
    assert torch.equal(a, torch.rand(3))
    out = capsys.readouterr().out
    assert "실행 모드(run mode): fast" in out and "데이터 위치(data root)" in out and "장치(device)" in out
    assert ctx.mode == "fast" and ctx.seed == 7


def test_bad_seed_is_explained():
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)
