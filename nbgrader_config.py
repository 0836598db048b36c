"""nbgrader settings of the course "Phase 2 — 딥러닝 심화와 트랜스포머".

Paths are relative to this file's folder, so the same file serves the repository and the
temporary course copies that the tests build.
"""
import os
import pathlib
import re

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "phase2-dl"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

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

# Grading: every cell must finish within the limit; a deleted test cell is restored, not lost.
c.Execute.timeout = 60
c.OverwriteCells.add_missing_cells = True

# Feedback shows pass/fail and the Korean message of each check, never the hidden checks'
# source or the frames of dlcourse.staff.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "dlcourse.staff.nbgrader_ext.ScrubFeedback",
]
