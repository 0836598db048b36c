"""A long-lived grading worker: nbgrader and the hidden checks are imported once, then students
are graded one after another.

:mod:`dlcourse_staff.classgrade` starts one worker per ``--workers`` slot::

    python -m dlcourse_staff.gradeworker ROOT ASSIGNMENT --result-fd N [--set Class.trait=JSON ...]

and sends it jobs on stdin, one JSON line each::

    {"op": "grade", "student": "s01", "report_dir": "/tmp/…/s01", "log": "/tmp/…/s01.log"}
    {"op": "feedback", "student": "s01", "log": "/tmp/…/s01.feedback.log"}

After each job it writes one JSON line to the result pipe: ``{"op", "student", "rc", "seconds"}``
(rc 0 done, 3 autograde failed, 4 feedback failed). A worker that hangs or dies is killed and
replaced by the class grader; its student is reported as failed, the others go on.
"""
from __future__ import annotations

import json
import os
import sys
import time


def _quiet_jsonschema() -> None:
    """nbformat validates with jsonschema, whose optional RFC 3987 parser costs a second or two
    to import and is not needed for notebooks' schema."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    root, assignment = args[:2]
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    result_fd = int(argv[argv.index("--result-fd") + 1])
    os.chdir(root)
    _quiet_jsonschema()

    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    base = Config()
    base.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, trait = key.partition(".")
        base[section][trait] = json.loads(value)

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from . import hidden  # noqa: F401 - import the checks (and torch) once, not per student

    out = os.fdopen(result_fd, "w", buffering=1)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        start = time.perf_counter()
        config = Config()
        config.merge(base)
        if job.get("report_dir"):
            config["GradeExecute"]["report_dir"] = job["report_dir"]
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        if job["op"] == "grade":
            result = api.autograde(assignment, job["student"], force=True, create=True)
            rc = 0 if result.get("success") else 3
        else:
            result = api.generate_feedback(assignment, job["student"], force=True)
            rc = 0 if result.get("success") else 4
        if job.get("log"):
            with open(job["log"], "w", encoding="utf-8") as log:
                log.write(result.get("log", "") or "")
                if result.get("error"):
                    log.write("\n" + str(result["error"]))
        out.write(json.dumps({"op": job["op"], "student": job["student"], "rc": rc,
                              "seconds": round(time.perf_counter() - start, 3)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
