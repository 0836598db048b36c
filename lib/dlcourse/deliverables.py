"""Project deliverables from a notebook: a technical report (HTML) and a slide deck (reveal.js).

* report: the notebook itself, exported with ``jupyter nbconvert --to html`` (code, outputs,
  figures and the written answers as they are in the file: save the notebook after running it).
* slides: a second notebook built from the cells tagged ``slides`` (in notebook order), each
  markdown cell that starts with a heading opening a new slide, code cells shown with their
  outputs; the one cell tagged ``demo`` gets a slide of its own titled "시연 (Demo)". That
  notebook is then rendered with ``jupyter nbconvert --to slides`` (reveal.js).

    python -m dlcourse.deliverables midterm_transformer.ipynb        # → report/, presentation/

Tags are set in JupyterLab (property inspector → Cell Tags) or in the cell metadata ``tags``.
"""
from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

SLIDES_TAG = "slides"
DEMO_TAG = "demo"


def _nbformat():
    import nbformat
    return nbformat


def build_slides_notebook(notebook, out) -> Path:
    """Write the slides notebook (cells tagged ``slides``/``demo``, with reveal.js slide types)."""
    nbformat = _nbformat()
    notebook, out = Path(notebook), Path(out)
    nb = nbformat.read(str(notebook), as_version=4)
    cells, demos = [], 0
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if not tags & {SLIDES_TAG, DEMO_TAG}:
            continue
        new = copy.deepcopy(cell)
        new.metadata.pop("nbgrader", None)
        if DEMO_TAG in tags:
            demos += 1
            cells.append(nbformat.v4.new_markdown_cell("## 시연 (Demo)\n\n아래 셀을 발표 중에 직접 실행합니다.",
                                                       metadata={"slideshow": {"slide_type": "slide"}}))
            new.metadata["slideshow"] = {"slide_type": "fragment"}
        elif new.cell_type == "markdown" and new.source.lstrip().startswith("#"):
            new.metadata["slideshow"] = {"slide_type": "slide"}
        else:
            new.metadata["slideshow"] = {"slide_type": "fragment" if new.cell_type == "code" else "subslide"}
        cells.append(new)
    if not cells:
        raise ValueError(f"{notebook}: '{SLIDES_TAG}' 태그가 붙은 셀이 없습니다 (발표 자료를 만들 셀에 태그를 붙이세요).")
    if demos != 1:
        raise ValueError(f"{notebook}: '{DEMO_TAG}' 태그가 붙은 셀은 정확히 하나여야 합니다 (받은 수: {demos}).")
    deck = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(nb.metadata))
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(deck, str(out))
    return out


def _nbconvert(notebook: Path, to: str, outdir: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", to, "--output-dir", str(outdir), str(notebook)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter nbconvert --to {to} 실패:\n{proc.stderr[-3000:]}")
    suffix = ".slides.html" if to == "slides" else ".html"
    return outdir / (notebook.stem + suffix)


def export_report(notebook, outdir) -> Path:
    """``jupyter nbconvert --to html`` of the notebook into ``outdir``; returns the HTML path."""
    return _nbconvert(Path(notebook), "html", Path(outdir))


def export_slides(notebook, outdir) -> tuple[Path, Path]:
    """The slides notebook ``<stem>_slides.ipynb`` and its reveal.js deck ``<stem>_slides.slides.html``."""
    outdir = Path(outdir)
    deck = build_slides_notebook(notebook, outdir / f"{Path(notebook).stem}_slides.ipynb")
    return deck, _nbconvert(deck, "slides", outdir)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="보고서(HTML)와 발표 자료(reveal.js)를 노트북에서 만듭니다.")
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--report-dir", type=Path, default=None, help="기본값: 노트북 옆의 report/")
    ap.add_argument("--slides-dir", type=Path, default=None, help="기본값: 노트북 옆의 presentation/")
    a = ap.parse_args(argv)
    report = export_report(a.notebook, a.report_dir or a.notebook.parent / "report")
    deck, slides = export_slides(a.notebook, a.slides_dir or a.notebook.parent / "presentation")
    print(f"보고서 (report): {report}\n발표 노트북 (slides notebook): {deck}\n발표 자료 (slides): {slides}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
