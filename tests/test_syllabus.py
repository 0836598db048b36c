"""syllabus/*.toml maps every COURSE_SPEC requirement of a notebook to the cells that teach it and
the cells that grade it; this keeps the map true."""
import re
import tomllib

import pytest

from conftest import ROOT
from dlcourse_staff import notebooks

FILES = sorted(p for p in (ROOT / "syllabus").glob("*.toml") if p.name != "glossary.toml")
SPEC = ROOT.parent / "shared" / "COURSE_SPEC.md"


def load(path):
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def spec_counts(code):
    """(numbered items, bonus items) of the spec section tagged ``(code)``, if the spec is at hand."""
    if not SPEC.exists():
        return None
    text = SPEC.read_text(encoding="utf-8")
    section = re.search(rf"^## [^\n]*\({re.escape(code)}[^)]*\)\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, f"{code} not in COURSE_SPEC.md"
    body = section.group(1)
    numbered = re.findall(r"(?:^|·)\s*(\d+) ", body.split("Bonus:")[0], re.M)
    bonus = re.findall(r"\bB(\d)\b", body)
    return max(map(int, numbered)), len(set(bonus))


def test_every_source_notebook_has_a_syllabus():
    mapped = {load(f)["notebook"] for f in FILES}
    for nb in (ROOT / "source").glob("*/*.ipynb"):
        assert nb.relative_to(ROOT / "source").as_posix() in mapped, f"no syllabus for {nb}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_syllabus_is_true(path):
    s = load(path)
    nb = notebooks.read(ROOT / "source" / s["notebook"])
    cells = {c.get("id"): c for c in nb.cells}
    code = s["spec"]
    expected = [f"{code}-{i}" for i in range(1, s["items"] + 1)] + [f"{code}-B{i}" for i in range(1, s["bonus"] + 1)]
    items = {k: v for k, v in s.items() if isinstance(v, dict)}
    assert sorted(items) == sorted(expected)
    counts = spec_counts(code)
    if counts is not None:
        assert counts == (s["items"], s["bonus"]), f"COURSE_SPEC lists {counts} items for {code}"
    graded_by_map = set()
    for item_id, item in items.items():
        assert item["teach"], f"{item_id}: no teaching cell"
        for cid in item["teach"] + item["grade"]:
            assert cid in cells, f"{item_id}: cell {cid} is not in {s['notebook']}"
        for cid in item["grade"]:
            m = notebooks.meta(cells[cid])
            assert m.get("grade") or m.get("task"), f"{item_id}: {cid} is not a graded cell"
            graded_by_map.add(cid)
        if "-B" not in item_id:
            assert item["grade"], f"{item_id}: nothing grades it"
    graded = {c.get("id") for c in nb.cells if notebooks.meta(c).get("grade")}
    assert graded - graded_by_map == set(), f"graded cells mapped to no requirement: {graded - graded_by_map}"
