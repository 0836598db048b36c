"""The reference solutions in the lib are, definition for definition, the source notebooks'
solution cells (markers removed): same names, signatures, docstrings and code."""
import ast
import importlib
import pkgutil

import pytest

from conftest import ROOT
from dlcourse_staff import notebooks, solutions

MODULES = [importlib.import_module(f"{solutions.__name__}.{m.name}") for m in pkgutil.iter_modules(solutions.__path__)]


def _defs(tree):
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_solution_cells_equal_reference_module(module):
    nb = notebooks.read(ROOT / "source" / module.NOTEBOOK)
    reference = _defs(ast.parse(open(module.__file__, encoding="utf-8").read()))
    seen = set()
    for gid, source in notebooks.solution_texts(nb).items():
        cell_defs = _defs(ast.parse(notebooks.strip_solution_markers(source)))
        assert cell_defs, f"{gid}: no function or class"
        for name, node in cell_defs.items():
            assert name in reference, f"{gid}: {name} is not in {module.__name__}"
            assert ast.dump(node) == ast.dump(reference[name]), f"{gid}: {name} differs from {module.__name__}.{name}"
            seen.add(name)
    assert seen, f"{module.NOTEBOOK}: no autograded solution cells"
