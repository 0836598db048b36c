"""Hidden checks, one per autograded test cell, looked up by the cell's grade_id.

A hidden test cell is a single call::

    from dlcourse.staff import hidden; hidden.check("w05-basic-block-test", BasicBlock)
"""
from ._registry import check, registered

# Importing the modules registers their checks.
from . import w05_resnet  # noqa: E402,F401

__all__ = ["check", "registered"]
