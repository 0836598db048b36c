"""Every autograded check passes on the reference, fails on the released stub, and kills at least
one realistic wrong implementation from the bank (tests/mutants/); no mutant survives."""
import pytest

from conftest import ROOT, SOURCE_NOTEBOOKS
from dlcourse_staff import mutation, notebooks

BANKS = mutation.load_banks(ROOT / "tests" / "mutants")
_cache = {}


def analysis(bank):
    if bank.notebook not in _cache:
        _cache[bank.notebook] = mutation.analyse(ROOT, bank)
    return _cache[bank.notebook]


def test_every_autograded_notebook_has_a_bank():
    banked = {b.notebook for b in BANKS}
    for rel in SOURCE_NOTEBOOKS:
        if notebooks.autograded_parts(notebooks.read(ROOT / "source" / rel)):
            assert rel in banked, f"{rel} has autograded checks but no tests/mutants bank"


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.notebook)
def test_mutants_apply_to_the_reference(bank):
    reference = notebooks.solution_texts(notebooks.read(ROOT / "source" / bank.notebook))
    for m in bank.mutants:
        assert m.cell in reference, f"{m.name}: unknown cell {m.cell}"
        assert m.apply(reference[m.cell]) != reference[m.cell]
    bank.get(bank.round_trip)


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.notebook)
def test_each_check_passes_reference_fails_stub_and_kills_a_mutant(bank):
    a = analysis(bank)
    assert a.checks, f"{bank.notebook}: no checks"
    for c in a.checks.values():
        assert c.reference[0], f"{c.test_id} fails on the reference: {c.reference[1]}"
        assert not c.stub[0], f"{c.test_id} passes on the released stub"
        assert c.killed_by, f"{c.test_id} kills no mutant"


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.notebook)
def test_no_mutant_survives_and_each_costs_only_its_own_part(bank):
    a = analysis(bank)
    assert not a.survivors, f"surviving mutants: {a.survivors}"
    for m in bank.mutants:
        assert a.mutant_kills[m.name] == [f"{m.cell}-test"], \
            f"{m.name} (in {m.cell}) fails {a.mutant_kills[m.name]}: a wrong part must cost that part only"


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.notebook)
def test_report_lists_every_check_and_mutant(bank):
    text = mutation.format_report([analysis(bank)])
    for c in analysis(bank).checks:
        assert c in text
    for m in bank.mutants:
        assert m.name in text
    assert "SURVIVED" not in text and "NONE" not in text


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: b.notebook)
def test_correct_variants_are_accepted(bank):
    """Correct code written differently from the reference gets full marks from every check."""
    a = analysis(bank)
    assert not a.rejected_variants, {v: a.variant_rejects[v] for v in a.rejected_variants}
    text = mutation.format_report([a])
    for v in bank.variants:
        assert v.name in text


def test_every_bank_has_variants():
    for bank in BANKS:
        assert bank.variants, f"{bank.notebook}: no correct variants in its bank (VARIANTS)"
