"""Hidden checks, one per autograded test cell, looked up by the cell's grade_id.

A hidden test cell is a single call::

    from dlcourse_staff import hidden; hidden.check("w05-basic-block-test", BasicBlock)

In the instructor's kernel that line runs the check in-process. When a submission is graded the
line never runs in the student's kernel: the grader reads the grade_id and the names from it and
runs the check in its own process against the kernel (see :mod:`dlcourse_staff.probe`).

Every module of this package registers its checks with ``@register("<grade_id>")`` when it is
imported; all of them are imported here, so adding a notebook's checks is adding a module.
"""
import importlib
import pkgutil

from ._registry import Verdict, check, grade, register, registered, run

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Verdict", "check", "grade", "register", "registered", "run"]
