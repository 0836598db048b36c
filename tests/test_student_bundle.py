"""The student bundle (`make student-bundle`): what an instructor hands out installs into a fresh
virtual environment and runs a release notebook's setup cell; it holds no instructor code.

The heavy pinned packages (torch, JupyterLab, …) are not downloaded again: the fresh venv sees the
project venv's site-packages as a plain path (no .pth processing, so neither the editable
``dlcourse`` nor ``dlcourse_staff`` of the project is importable there), and the test checks
that they are the versions the bundle's requirements.txt pins. The student wheel itself is
installed for real, with pip, from the bundle."""
from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from dlcourse import student
from dlcourse_staff import bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return bundle.build(ROOT, out)


def test_bundle_holds_what_students_need_and_nothing_else(built):
    names = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
    released = sorted(p.relative_to(ROOT / "release").as_posix() for p in (ROOT / "release").glob("*/*.ipynb"))
    assert [n for n in names if n.endswith(".ipynb")] == released
    assert {"README.md", "requirements.txt"} <= set(names)
    assert any(re.fullmatch(r"dlcourse-[\d.]+-py3-none-any\.whl", n) for n in names)
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in built.rglob("*")
                     if p.is_file() and p.suffix in (".ipynb", ".md", ".txt"))
    for marker in ("dlcourse_staff", "BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "hidden.check"):
        assert marker not in text
    pins = (built / "requirements.txt").read_text()
    assert "torch==" in pins and "nbgrader==" in pins and "jupyterlab==" in pins
    assert not re.search(r"^(pytest|nbval|psycopg|playwright)", pins, re.M)
    with zipfile.ZipFile(built.parent / "student-bundle.zip") as zf:
        assert "student-bundle/README.md" in zf.namelist()


def test_readme_is_korean_and_covers_every_step(built):
    readme = (built / "README.md").read_text(encoding="utf-8")
    for heading in ("설치", "데이터", "열기", "검증 (Validate)", "제출", "예상 실행 시간"):
        assert heading in readme
    for command in ("pip install -r requirements.txt", "python -m dlcourse.student setup", "jupyter lab",
                    "Assignment List", "python -m dlcourse.student zip", "DLCOURSE_DATA_ROOT"):
        assert command in readme, command
    # every notebook has a CPU and a GPU time; measured CPU times are the benchmark's
    for nb in (ROOT / "release").glob("*/*.ipynb"):
        row = next(line for line in readme.splitlines() if f"`{nb.parent.name}/{nb.name}`" in line)
        assert "측정" in row or "추정" in row
    timings = json.loads((ROOT / "benchmarks/results/cpu/lstm_implementation-full/timings.json").read_text())
    row = next(line for line in readme.splitlines() if "`week05/lstm_implementation.ipynb`" in line)
    assert f"약 {round(timings['total_seconds'] / 60)}분 (측정" in row


def test_bundle_installs_in_a_fresh_venv_and_runs_a_setup_cell(built, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    fresh_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     check=True, capture_output=True, text=True).stdout.strip())
    # the heavy dependencies, as a plain path entry: no .pth of the project venv is processed
    (fresh_site / "course_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    wheel = next(built.glob("dlcourse-*.whl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, env=env)
    check = subprocess.run([str(py), "-c", (
        "import importlib.util, importlib.metadata as md, json, sys\n"
        "import dlcourse\n"
        "pins = [l.split('==') for l in open(sys.argv[1]).read().splitlines() if '==' in l and not l.startswith('#')]\n"
        "print(json.dumps({'dlcourse': dlcourse.__file__, 'staff': importlib.util.find_spec('dlcourse_staff') is not None,\n"
        "                  'wrong': [(n, v, md.version(n)) for n, v in pins if md.version(n) != v]}))\n"),
        str(built / "requirements.txt")], check=True, capture_output=True, text=True, env=env)
    info = json.loads(check.stdout)
    assert info["dlcourse"].startswith(str(venv)), info       # the wheel, not the project's lib/
    assert not info["staff"], "the instructor package is importable in the student venv"
    assert not info["wrong"], info["wrong"]
    # the student's JupyterLab configuration
    config = tmp_path / "jupyter-config"
    subprocess.run([str(py), "-m", "dlcourse.student", "setup", "--config-dir", str(config), "--exchange",
                    str(tmp_path / "exchange")], check=True, env=env, capture_output=True)
    page = json.loads((config / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert str(tmp_path / "exchange") in (config / "nbgrader_config.py").read_text()
    # a release notebook's setup cell, run by the fresh venv's Python in the notebook's folder
    nb = nbformat.read(str(built / "week05" / "resnet_implementation.ipynb"), 4)
    setup_cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").endswith("-setup"))
    run_env = dict(env, DLCOURSE_MODE="fast", MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.run([str(py), "-c", setup_cell.source + "\nprint('module:', dl.__file__)"], cwd=built / "week05",
                          env=run_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[dlcourse] 실행 모드(run mode): fast" in proc.stdout
    assert f"module: {venv}" in proc.stdout
