"""One environment, two spellings: requirements.txt (pip) and environment.yml (conda) pin the same
packages, and what is installed is what they pin. CI runs the README's test command."""
import re
from importlib import metadata

import pytest
import yaml

from conftest import ROOT


def pins_from_requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def pins_from_environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for item in pip:
        if item.startswith("-e"):
            continue
        name, version = item.split("==")
        pins[name.lower()] = version
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    return pins, python


def test_pip_and_conda_pin_the_same_packages():
    pip_pins = pins_from_requirements()
    conda_pins, python = pins_from_environment()
    assert conda_pins == pip_pins
    assert python == ["python=3.11"]
    assert pip_pins["torch"] == "2.14.1" and pip_pins["torchvision"] == "0.29.1"


def test_installed_versions_are_the_pinned_ones():
    for name, version in pins_from_requirements().items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^\s*make test\s*$", readme, re.M)
    assert command, "README must give `make test` as the test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


@pytest.mark.parametrize("present", [(), ("chromium", "fc-list-ko")])
def test_ci_installs_the_browser_tests_packages_only_when_missing(tmp_path, present):
    """.ci/run on a machine without chromium and a Korean font asks apt-get for both (as root);
    where they are there it asks for nothing. Every outside command is a stub on PATH."""
    import os
    import shutil
    import subprocess

    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("date", "dirname", "ls", "grep", "cat"):
        os.symlink(shutil.which(tool), stubs / tool)
    log = tmp_path / "calls"
    scripts = {"id": "echo 0", "make": f'echo "make $*" >> {log}', "initdb": "true",
               "apt-get": f'echo "apt-get $*" >> {log}',
               "fc-list": "echo 'NotoSansCJK.ttc: Noto Sans CJK KR'" if "fc-list-ko" in present else "true"}
    if "chromium" in present:
        scripts["chromium"] = "true"
    for name, body in scripts.items():
        (stubs / name).write_text(f"#!/bin/bash\n{body}\n")
        (stubs / name).chmod(0o755)
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    out = subprocess.run(["/bin/bash", str(repo / ".ci" / "run")], env={"PATH": str(stubs)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    calls = log.read_text().splitlines()
    assert calls[-1] == "make test"
    installs = [c for c in calls if c.startswith("apt-get") and "install" in c]
    if present:
        assert not installs, calls
    else:
        assert len(installs) == 1 and {"chromium", "fonts-noto-cjk"} <= set(installs[0].split()), calls
