"""What a student's Validate says (real ``nbgrader validate``, the same Validator as JupyterLab's
Validate button, in a throw-away course copy): every unfinished or failing code part by its
heading and every unanswered written question, in Korean; a complete notebook passes; a week-5
notebook validates within 30 s of CPU (grade mode; only the cells grading runs are executed)."""
from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, copy_course
from dlcourse import validation
from dlcourse_staff import course, mutation, notebooks

pytestmark = pytest.mark.slow

WEEK5 = sorted(p.relative_to(ROOT / "source").as_posix() for p in (ROOT / "source" / "week05").glob("*.ipynb"))
BANKS = {b.notebook: b for b in mutation.load_banks(ROOT / "tests" / "mutants")}
RESNET = "week05/resnet_implementation.ipynb"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("validate"), WEEK5)
    env = course.jupyter_env(root)
    out = {}
    for rel in WEEK5:
        source_nb, release_nb = notebooks.read(root / "source" / rel), notebooks.read(root / "release" / rel)
        subs = {"complete": notebooks.fill_release(release_nb, source_nb)}
        if rel == RESNET:
            bank = BANKS[rel]
            m = bank.get(bank.round_trip)
            subs["blank"] = release_nb
            subs["partial"] = notebooks.fill_release(
                release_nb, source_nb, {m.cell: m.apply(notebooks.solution_texts(source_nb)[m.cell])}, answers=False)
            out[(rel, "mutant")] = m.cell
        for kind, nb in subs.items():
            folder = root / "work" / kind / Path(rel).parent
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / Path(rel).name
            nbformat.write(nb, str(path))
            cpu, wall = _children_cpu(), time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=300)
            out[(rel, kind)] = dict(text=proc.stdout, rc=proc.returncode, err=proc.stderr,
                                    wall=time.perf_counter() - wall, cpu=_children_cpu() - cpu)
            print(f"\n--- nbgrader validate, {kind} {rel}: {out[(rel, kind)]['wall']:.1f}s wall, "
                  f"{out[(rel, kind)]['cpu']:.1f}s CPU\n{proc.stdout}")
    return out


def _parts(rel):
    nb = notebooks.read(ROOT / "source" / rel)
    labels = validation.part_labels(nb)
    code = {notebooks.grade_id(c): labels[i] for i, c in enumerate(nb.cells) if validation.is_test_cell(c)}
    written = {notebooks.grade_id(c): labels[i] for i, c in enumerate(nb.cells)
               if notebooks.meta(c).get("grade") and c.cell_type == "markdown"}
    return code, written


def test_blank_names_every_part_and_question_in_korean(validated):
    text = validated[(RESNET, "blank")]["text"]
    code, written = _parts(RESNET)
    assert text.startswith("검증 실패"), text[:300]
    assert f"{len(code) + len(written)}개" in text.splitlines()[0]
    for gid, label in {**code, **written}.items():
        assert f"✗ {label}" in text, f"{gid} ({label}) not named:\n{text}"
    assert text.count("아직 구현되지 않았습니다") == len(code)
    assert text.count("아직 답을 쓰지 않았습니다") == len(written)
    # the student's own line, never a helper's file or an absolute path
    assert "raise NotImplementedError()" in text
    assert "checks.py" not in text and "contextlib" not in text and str(ROOT) not in text
    assert not re.search(r"VALIDATION FAILED ON \d+ CELL", text) and "The following cell failed" not in text


def test_partial_names_only_the_wrong_part(validated):
    text = validated[(RESNET, "partial")]["text"]
    code, written = _parts(RESNET)
    wrong = validated[(RESNET, "mutant")] + "-test"
    for gid, label in code.items():
        assert (f"✗ {label}" in text) == (gid == wrong), f"{gid}: {label}\n{text}"
    assert all(f"✗ {label}" in text for label in written.values())
    failing = text.split(f"✗ {code[wrong]}", 1)[1].split("=====", 1)[0]
    assert "CheckFailed" in failing and "위치 (where): Cell In[" in failing and "--->" in failing


@pytest.mark.parametrize("rel", WEEK5)
def test_complete_notebook_passes_within_30_seconds(validated, rel):
    result = validated[(rel, "complete")]
    assert result["rc"] == 0 and result["text"].startswith("검증 통과"), result["text"][:3000] + result["err"][-2000:]
    # 30 s on a machine of its own; the CPU time is what the machine's load cannot inflate
    assert result["cpu"] <= 30, f"validate took {result['cpu']:.1f}s of CPU ({result['wall']:.1f}s wall)"
