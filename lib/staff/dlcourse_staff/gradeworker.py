"""One student's grading in one process: ``nbgrader autograde``, then ``generate_feedback``.

:mod:`dlcourse_staff.classgrade` runs this file as a script, once per student, so that a
student whose grading hangs or crashes can be stopped without touching the others::

    python gradeworker.py ROOT ASSIGNMENT STUDENT [--no-feedback] [--set Class.trait=JSON ...]

It loads the course's ``nbgrader_config.py`` as the ``nbgrader`` command does, applies the
``--set`` overrides (limits, the report folder) and calls nbgrader's Python API. Doing both
steps in one interpreter saves a second start of nbgrader per student. Exit status: 0 done,
3 autograde failed, 4 feedback failed (nbgrader's log is on stdout either way).
"""
from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__" and sys.path and \
        os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # this file's folder is the instructor package, not a place for top-level modules


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    root, assignment, student = args[:3]
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    feedback = "--no-feedback" not in argv
    os.chdir(root)

    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, trait = key.partition(".")
        config[section][trait] = json.loads(value)

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.autograde(assignment, student, force=True, create=True)
    print(result.get("log", ""), flush=True)
    if not result.get("success"):
        print(result.get("error", ""), flush=True)
        return 3
    if feedback:
        result = api.generate_feedback(assignment, student, force=True)
        print(result.get("log", ""), flush=True)
        if not result.get("success"):
            print(result.get("error", ""), flush=True)
            return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
