"""nbgrader settings of the course "Phase 2 — 딥러닝 심화와 트랜스포머".

Paths are relative to this file's folder, so the same file serves the repository and the
temporary course copies that the tests build.
"""
import importlib.util
import os
import pathlib
import re
import sys

c = get_config()  # noqa: F821 (provided by nbgrader)

# nbgrader loads the course's plug-ins from dlcourse_staff; the dlcourse package itself imports
# torch, matplotlib, … on import (seconds per nbgrader run) and nbgrader needs none of it. In an
# nbgrader process the package is registered without running its __init__ (its submodules still
# import normally); notebooks' kernels are other processes and import it in full.
if "dlcourse" not in sys.modules:
    _spec = importlib.util.find_spec("dlcourse")
    if _spec is not None and _spec.submodule_search_locations:
        sys.modules["dlcourse"] = importlib.util.module_from_spec(_spec)

c.CourseDirectory.course_id = "phase2-dl"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Hand-out and hand-in. (1) nbgrader's exchange: `nbgrader release_assignment week05` puts the
# release there, students fetch and submit in JupyterLab's Assignment List, `nbgrader collect
# week05` brings the submissions into submitted/, `nbgrader release_feedback week05` sends the
# feedback back. On a shared server set DLCOURSE_EXCHANGE=/srv/nbgrader/exchange (the path the
# student bundle's setup names); the default is a folder of this course, for one machine.
c.Exchange.root = os.environ.get("DLCOURSE_EXCHANGE") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                       "exchange")
# (2) Without a shared file system: students hand in `<student>_<assignment>.zip` (python -m
# dlcourse.student zip week05 --student ID); put the zips in downloaded/week05/archive/ and run
# `nbgrader zip_collect week05`.
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r".*[/\\](?P<student_id>[^/\\]+)_week\d+[^/\\]*[/\\](?:.*[/\\])?(?P<file_id>[^/\\]+\.ipynb)$")
# The gradebook: SQLite next to this file (parallel graders wait up to 120 s for its lock), or a
# shared database named by DLCOURSE_DB_URL, e.g. postgresql://grader@db-host/phase2.
c.CourseDirectory.db_url = os.environ.get("DLCOURSE_DB_URL") or \
    f"sqlite:///{os.path.join(c.CourseDirectory.root, 'gradebook.db')}?timeout=120"

# Folders a notebook writes next to itself when run (its deliverables, via ctx.outdir("..."),
# and checkpoints) never travel from source/ into release/ or over a student's submission.
_HERE = pathlib.Path(__file__).resolve().parent
DELIVERABLE_DIRS = sorted({"checkpoints"} | {
    name for nb in _HERE.glob("source/*/*.ipynb")
    for name in re.findall(r'ctx\.outdir\(\\"([^"\\]+)\\"\)', nb.read_text(encoding="utf-8"))
})
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", *DELIVERABLE_DIRS,
]

# What students see where a solution was.
c.ClearSolutions.code_stub = {
    "python": "# 여기에 코드를 작성하세요 (YOUR CODE HERE)\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "여기에 답을 작성하세요 (YOUR ANSWER HERE)"

# Validate (`nbgrader validate` and JupyterLab's Validate button): run only what grading runs (the
# code cells up to the last autograded test cell), name every unfinished or failing part by its
# heading, in Korean (dlcourse.validation; the student bundle's nbgrader_config.py does the same).
from dlcourse import validation as _validation  # noqa: E402 (no torch: a light module)

_validation.install(c)

# Grading: every cell must finish within the limit; a deleted test cell is restored, not lost.
c.Execute.timeout = 60
c.OverwriteCells.add_missing_cells = True
# Student code runs in a limited, sandboxed kernel (dlcourse_staff.sandbox: Landlock + seccomp);
# the hidden checks run in the grader's process and ask that kernel for plain results
# (dlcourse_staff.probe), so no code of the notebook shares a process with the checks, the
# reference or the verdict. Only the cells up to the last autograded test cell are executed;
# the cells after it keep the student's own outputs. A kernel that hangs or dies stops only its
# own notebook, whose cells not run score 0, and the grading report says why.
c.Autograde.sanitize_preprocessors = [
    "dlcourse_staff.nbgrader_ext.ClearGradedOutputs",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "dlcourse_staff.nbgrader_ext.RestoreCells",  # OverwriteCells whose add_missing_cells works here
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "dlcourse_staff.nbgrader_ext.GradeExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GradeExecute.notebook_timeout = 600
c.GradeExecute.check_timeout = 120   # one test cell's hidden check, its probes included
c.GradeExecute.memory_limit_mb = 4096

# Feedback shows pass/fail and the Korean message of each check, never the hidden checks'
# source or the frames of dlcourse_staff.
# The page works offline (MathJax inlined, no CDN) and wraps long lines; tracebacks of non-graded
# cells keep the student's own frames only, and no absolute path of this machine appears.
import nbgrader as _nbgrader  # noqa: E402

c.GenerateFeedback.exporter_class = "dlcourse_staff.nbgrader_ext.FeedbackExporter"
c.FeedbackExporter.template_name = "dlcourse_feedback"
c.FeedbackExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(importlib.util.find_spec("dlcourse_staff").origin), "templates"),
    os.path.join(os.path.dirname(_nbgrader.__file__), "server_extensions", "formgrader", "templates"),
]
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "dlcourse_staff.nbgrader_ext.ScrubFeedback",
]
