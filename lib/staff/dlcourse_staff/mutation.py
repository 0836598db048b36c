"""Mutation analysis: proof that every autograded check can fail, and on what.

The bank lives in ``tests/mutants/<assignment>_<notebook>.py``; each module defines::

    NOTEBOOK = "week05/resnet_implementation.ipynb"
    ROUND_TRIP = "<name>"            # the mutant the nbgrader round-trip test submits
    MUTANTS = [dict(name=..., cell=<solution grade_id>, why=..., edits=[(old, new), ...]), ...]
    VARIANTS = [dict(name=..., cell=..., why=..., edits=[...]) or dict(..., source="<whole cell>"), ...]

A mutant is a realistic wrong student cell: the reference solution cell with ``old`` replaced by
``new`` (each ``old`` must occur exactly once). A variant is a *correct* student cell written
differently from the reference (einsum for matmul, fused for separate weights, …): every check
must accept it. For every check, :func:`analyse` runs the reference (must pass), the released
stub (must fail), every mutant (which checks kill it) and every variant (which checks reject it).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from . import notebooks


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str
    why: str
    edits: tuple
    source: str | None = None   # a whole replacement cell (variants written from scratch)

    def apply(self, source: str) -> str:
        if self.source is not None:
            return self.source
        for old, new in self.edits:
            count = source.count(old)
            if count != 1:
                raise ValueError(f"mutant {self.name!r}: {old!r} occurs {count} times in cell {self.cell!r}")
            source = source.replace(old, new)
        return source


@dataclass
class Bank:
    notebook: str
    round_trip: str
    mutants: list
    path: Path
    variants: list = field(default_factory=list)

    def get(self, name: str) -> Mutant:
        for m in self.mutants:
            if m.name == name:
                return m
        raise KeyError(name)


def load_bank(path) -> Bank:
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"mutant_bank_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    def build(d):
        return Mutant(name=d["name"], cell=d["cell"], why=d["why"],
                      edits=tuple(tuple(e) for e in d.get("edits", ())), source=d.get("source"))

    mutants = [build(d) for d in module.MUTANTS]
    variants = [build(d) for d in getattr(module, "VARIANTS", [])]
    names = [m.name for m in mutants + variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate mutant/variant names")
    return Bank(notebook=module.NOTEBOOK, round_trip=module.ROUND_TRIP, mutants=mutants, path=path, variants=variants)


def load_banks(folder) -> list[Bank]:
    return [load_bank(p) for p in sorted(Path(folder).glob("*.py")) if not p.name.startswith("_")]


@dataclass
class CheckResult:
    test_id: str
    points: float
    reference: tuple = (False, "")
    stub: tuple = (True, "")
    killed_by: list = field(default_factory=list)


@dataclass
class Analysis:
    notebook: str
    checks: dict
    mutant_kills: dict          # mutant name → [test ids that failed]
    mutants: list
    variant_rejects: dict = field(default_factory=dict)   # variant name → {test id: message}
    variants: list = field(default_factory=list)

    @property
    def survivors(self) -> list[str]:
        return [name for name, kills in self.mutant_kills.items() if not kills]

    @property
    def rejected_variants(self) -> list[str]:
        return [name for name, rejects in self.variant_rejects.items() if rejects]


def analyse(root, bank: Bank) -> Analysis:
    """Run reference, stub and every mutant of ``bank`` through the notebook's hidden checks."""
    root = Path(root)
    source_nb = notebooks.read(root / "source" / bank.notebook)
    release_nb = notebooks.read(root / "release" / bank.notebook)
    cwd = root / "source" / Path(bank.notebook).parent
    reference = notebooks.solution_texts(source_nb)
    stub = notebooks.solution_texts(release_nb)
    checks = {p.test_id: CheckResult(p.test_id, p.points) for p in notebooks.autograded_parts(source_nb)}

    def run(solutions):
        return notebooks.run_harness(notebooks.harness_program(source_nb, solutions), cwd=cwd)

    for test_id, outcome in run(reference).items():
        checks[test_id].reference = outcome
    for test_id, outcome in run(stub).items():
        checks[test_id].stub = outcome
    kills = {}
    for mutant in bank.mutants:
        if mutant.cell not in reference:
            raise ValueError(f"mutant {mutant.name!r}: no solution cell {mutant.cell!r} in {bank.notebook}")
        outcome = run({**reference, mutant.cell: mutant.apply(reference[mutant.cell])})
        kills[mutant.name] = [t for t, (ok, _) in outcome.items() if not ok]
        for test_id in kills[mutant.name]:
            checks[test_id].killed_by.append(mutant.name)
    rejects = {}
    for variant in bank.variants:
        if variant.cell not in reference:
            raise ValueError(f"variant {variant.name!r}: no solution cell {variant.cell!r} in {bank.notebook}")
        outcome = run({**reference, variant.cell: variant.apply(reference[variant.cell])})
        rejects[variant.name] = {t: msg for t, (ok, msg) in outcome.items() if not ok}
        missing = {p.test_id for p in notebooks.autograded_parts(source_nb)} - set(outcome)
        rejects[variant.name].update({t: "not run" for t in missing})
    return Analysis(notebook=bank.notebook, checks=checks, mutant_kills=kills, mutants=bank.mutants,
                    variant_rejects=rejects, variants=bank.variants)


def format_report(analyses) -> str:
    """Every check with its verdicts on reference and stub and the mutants it kills."""
    lines = []
    for a in analyses:
        lines.append(f"== {a.notebook}")
        for c in a.checks.values():
            ref = "pass" if c.reference[0] else f"FAIL ({c.reference[1]})"
            stub = "fail" if not c.stub[0] else "PASSES (stub not caught)"
            lines.append(f"  {c.test_id}  [{c.points:g} pts]  reference: {ref}  stub: {stub}")
            kills = ", ".join(c.killed_by) if c.killed_by else "NONE"
            lines.append(f"      kills {len(c.killed_by)} mutant(s): {kills}")
        lines.append("  mutants (wrong code; each must be killed by its own part's check):")
        for m in a.mutants:
            by = ", ".join(a.mutant_kills[m.name]) or "SURVIVED"
            lines.append(f"    {m.name:<28} {m.why}  → killed by {by}")
        lines.append("  variants (correct code written differently; every check must accept it):")
        for v in a.variants:
            rejected = a.variant_rejects.get(v.name) or {}
            verdict = "accepted" if not rejected else "REJECTED by " + "; ".join(
                f"{t} ({msg[:120]})" for t, msg in rejected.items())
            lines.append(f"    {v.name:<28} {v.why}  → {verdict}")
        if not a.variants:
            lines.append("    (none)")
        lines.append("")
    return "\n".join(lines)
