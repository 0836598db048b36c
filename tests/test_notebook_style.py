"""House rules of every source notebook (see README, 'Writing a notebook')."""
import re
import runpy

import pytest

from conftest import ROOT, SOURCE_NOTEBOOKS
from dlcourse_staff import notebooks

SPEC_POINTS = {  # COURSE_SPEC.md
    "week05/resnet_implementation.ipynb": 25,
    "week05/lstm_implementation.ipynb": 25,
    "week05/attention_mechanisms.ipynb": 20,
    "week06/self_attention_optimized.ipynb": 30,
    "week06/multihead_analysis.ipynb": 30,
    "week07/positional_encoding_comparison.ipynb": 25,
    "week07/transformer_enc_dec.ipynb": 25,
    "week08/midterm_transformer.ipynb": 100,
    "week03/foundations.ipynb": 25,

    "week08/gpt_generation_lab.ipynb": 20,        # practice lab: a fixed total of small autograded checks
}
HEADING_POINTS = re.compile(r"^(#{2,3}) .*—\s*(\d+(?:\.\d+)?)점\s*$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def nbgrader_config():
    from traitlets.config import Config
    return runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})


def load(rel):
    return notebooks.read(ROOT / "source" / rel)


@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_no_outputs_in_source(rel):
    for cell in load(rel).cells:
        assert not cell.get("outputs") and not cell.get("execution_count"), f"{rel}: strip outputs"


def test_setup_cell_is_the_same_everywhere():
    setups = {rel: notebooks.setup_cell(load(rel)).source for rel in SOURCE_NOTEBOOKS}
    first = next(iter(setups.values()))
    assert "import dlcourse as dl" in first and "dl.setup(seed=" in first
    for rel, text in setups.items():
        assert text == first, f"{rel}: setup cell differs from {SOURCE_NOTEBOOKS[0]}"


def test_grade_ids_readable_and_unique_across_the_course():
    owner = {}
    for rel in SOURCE_NOTEBOOKS:
        for cell in load(rel).cells:
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]{5,}", cell.get("id", "")), f"{rel}: cell id {cell.get('id')!r}"
            gid = notebooks.grade_id(cell)
            if gid:
                assert re.fullmatch(r"w\d\d-[a-z0-9-]+", gid), f"{rel}: grade_id {gid!r} is not readable"
                assert gid not in owner, f"grade_id {gid} in {rel} and {owner.get(gid)}"
                owner[gid] = rel


@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_autograded_parts_follow_the_convention(rel):
    nb = load(rel)
    cells = notebooks.by_grade_id(nb)
    order = [notebooks.grade_id(c) for c in nb.cells]
    for part in notebooks.autograded_parts(nb):
        assert part.solution_id in cells, f"{part.test_id} has no solution cell {part.solution_id}"
        assert order.index(part.solution_id) < order.index(part.test_id)
        hidden = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cells[part.test_id].source, re.S)
        assert hidden, f"{part.test_id}: no hidden region"
        lines = [l for l in hidden.group(1).splitlines() if l.strip()]
        assert len(lines) == 1 and f'hidden.check("{part.test_id}"' in lines[0], \
            f"{part.test_id}: the hidden region must be one hidden.check call with its own grade_id"


@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_points_match_spec_and_headings(rel):
    nb = load(rel)
    total = 0.0
    open_heads = {}  # level → [stated, summed, text]

    def close(levels):
        for level in levels:
            if level in open_heads:
                stated, summed, text = open_heads.pop(level)
                assert abs(stated - summed) < 1e-9, f"{rel}: heading '{text}' says {stated:g}점, its cells hold {summed:g}"

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = re.match(r"^(#{1,3}) ", line)
                if not m:
                    continue
                level = len(m.group(1))
                close([l for l in (3, 2) if l >= level])
                hp = HEADING_POINTS.match(line)
                if hp:
                    open_heads[level] = [float(hp.group(2)), 0.0, line]
        m = notebooks.meta(cell)
        if m.get("grade") or m.get("task"):
            points = float(m.get("points", 0))
            total += points
            assert open_heads, f"{rel}: graded cell {m.get('grade_id')} is under no heading that states points"
            for head in open_heads.values():
                head[1] += points
    close([3, 2])
    if rel in SPEC_POINTS:
        assert total == SPEC_POINTS[rel], f"{rel}: {total:g} points, the spec says {SPEC_POINTS[rel]}"


@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_prose_is_korean_and_deliverable_folders_are_ignored(rel):
    nb = load(rel)
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert sum(bool(HANGUL.search(t)) for t in md) >= 0.9 * len(md), f"{rel}: markdown should be Korean"
    ignored = nbgrader_config()["DELIVERABLE_DIRS"]
    for cell in nb.cells:
        for name in re.findall(r'ctx\.outdir\("([^"]+)"\)', cell.source):
            assert name in ignored, f"{rel}: nbgrader_config.py does not ignore the output folder {name!r}"


@pytest.mark.parametrize("rel", SOURCE_NOTEBOOKS)
def test_no_notebook_reads_environment_variables(rel):
    for cell in load(rel).cells:
        if cell.cell_type == "code":
            assert "os.environ" not in cell.source and "getenv" not in cell.source, \
                f"{rel}: ask ctx (dl.setup) for the run mode instead of reading the environment"
