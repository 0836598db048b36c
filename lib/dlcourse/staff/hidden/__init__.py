"""Hidden checks, one per autograded test cell, looked up by the cell's grade_id.

A hidden test cell is a single call::

    from dlcourse.staff import hidden; hidden.check("w05-basic-block-test", BasicBlock)

Every module of this package registers its checks with ``@register("<grade_id>")`` when it is
imported; all of them are imported here, so adding a notebook's checks is adding a module.
"""
import importlib
import pkgutil

from ._registry import check, register, registered

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["check", "register", "registered"]
