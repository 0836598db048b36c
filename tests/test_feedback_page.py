"""The feedback page (nbgrader generate_feedback with the course's exporter and ScrubFeedback):
MathJax inlined (works offline), long lines wrap, tracebacks keep the student's frames and the
Korean message only, and no absolute path of the grader's machine appears."""
import os
import re
import runpy

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from traitlets.config import Config

from conftest import ROOT
from dlcourse_staff import nbgrader_ext
from dlcourse_staff.nbgrader_ext import FeedbackExporter, ScrubFeedback, relative_paths

LONG = "[1.1 기본 잔차 블록 (BasicBlock)] 출력이(가) 기대값과 다릅니다: " + "아주 긴 설명 " * 40


def _page(nb):
    import nbgrader

    config = runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})["c"]
    config.HTMLExporter.extra_template_paths = [os.path.join(
        os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "static", "node_modules", "bootstrap",
        "dist", "css")]
    exporter = FeedbackExporter(config=config)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor, enabled=True)
    exporter.register_preprocessor(ScrubFeedback(config=config), enabled=True)
    html, _ = exporter.from_notebook_node(nb, resources={"nbgrader": {"notebook": "nb", "score": 1, "max_score": 2,
                                                                      "late_penalty": 0}})
    return html


def test_feedback_page_is_offline_wrapped_and_shows_the_students_line():
    checks_py = os.path.join(str(ROOT), "lib", "dlcourse", "checks.py")
    frames = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
              "Cell In[4], line 2\n      1 x = 1\n----> 2 dl.assert_close(block(x), torch.relu(x))",
              f"File {checks_py}:80, in assert_close(actual, expected)\n     78 a = 1\n---> 80 raise CheckFailed(msg)",
              "File /usr/lib/python3.11/contextlib.py:158, in _GeneratorContextManager.__exit__\n",
              f"CheckFailed: {LONG}"]
    stream = f"[dlcourse] 데이터 위치(data root): {ROOT.parent / 'shared' / 'data'} (있음)\n"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("$$ H_{\\text{out}} = \\left\\lfloor \\frac{H + 2p - k}{s} \\right\\rfloor + 1 $$"),
        nbformat.v4.new_code_cell("dl.assert_close(...)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=stream),
            nbformat.v4.new_output("error", ename="CheckFailed", evalue=LONG, traceback=frames)])])
    for i, cell in enumerate(nb.cells):
        cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False, "grade_id": f"cell-{i}"}
    html = _page(nb)
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html), "the page loads something from the net"
    assert "ajax/libs/mathjax" not in html
    assert "window.MathJax" in html and "tex-svg" not in html.split("<script>")[0]
    assert "white-space: pre-wrap" in html
    assert "Cell In[4], line 2" in html and "dl.assert_close(block(x), torch.relu(x))" in html
    assert "checks.py" not in html and "contextlib" not in html          # helper frames hidden
    assert str(ROOT) not in html and str(ROOT.parent) not in html          # no absolute path
    assert "아주 긴 설명" in html


def test_relative_paths():
    assert relative_paths(f"File {ROOT}/lib/dlcourse/checks.py:46") == "File dlcourse/checks.py:46"
    assert relative_paths("/root/.pyenv/versions/3.11.7/lib/python3.11/contextlib.py") == "python3.11/contextlib.py"
    assert str(ROOT) not in relative_paths(f"saved to {ROOT}/source/week05/checkpoints/a.pt")
    assert nbgrader_ext.mathjax_script().count("<\\/") > 0 and "</script" not in nbgrader_ext.mathjax_script()
