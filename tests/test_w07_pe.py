"""week07/positional_encoding_comparison: the notebook's given code is the code the benchmark runs,
the position-encoding interface does nothing by itself, and the length benchmark runs end to end."""
import ast
import json

import pytest
import torch

import dlcourse as dl
from conftest import ROOT, run_benchmark
from dlcourse_staff import notebooks
from dlcourse_staff.solutions import w07_pe as ref

NB = ROOT / "source" / ref.NOTEBOOK
GIVEN = {  # locked cell -> the definitions it shares with the reference module
    "w07-pe-model": ["SelfAttention", "Block", "TinyTransformer"],
    "w07-pe-lm-helpers": ["LMConfig", "token_stream", "make_windows", "random_windows", "warmup_cosine", "train_lm"],
    "w07-pe-zoo": ["make_encoding"],
}


def _defs(source):
    return {n.name: ast.dump(n) for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("cell_id", sorted(GIVEN))
def test_given_cells_equal_the_module_the_benchmark_uses(cell_id):
    cells = notebooks.by_grade_id(notebooks.read(NB))
    assert notebooks.meta(cells[cell_id]).get("locked"), f"{cell_id} must be a locked (given) cell"
    in_cell = _defs(cells[cell_id].source)
    in_module = _defs(open(ref.__file__, encoding="utf-8").read())
    for name in GIVEN[cell_id]:
        assert in_cell.get(name) == in_module[name], f"{cell_id}: {name} differs from {ref.__name__}.{name}"


def test_zoo_names_match():
    cells = notebooks.by_grade_id(notebooks.read(NB))
    namespace = {}
    tree = ast.parse(cells["w07-pe-zoo"].source)
    first = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "ENCODING_NAMES")
    exec(compile(ast.Module([first], []), "zoo", "exec"), namespace)
    assert namespace["ENCODING_NAMES"] == ref.ENCODING_NAMES


def test_position_encoding_base_changes_nothing():
    pe = dl.posenc.PositionEncoding()
    x, q = torch.randn(2, 5, 8), torch.randn(2, 2, 5, 4)
    positions = torch.arange(5)
    assert pe.embed(x, positions) is x
    assert pe.qkv(q, q, q, positions) == (q, q, q)
    assert pe.bias(positions) is None and pe.max_len is None
    assert not list(pe.parameters())


def test_every_encoding_is_a_drop_in_and_relative_ones_ignore_a_shift():
    ids = torch.randint(0, 30, (2, 9))
    for name in ref.ENCODING_NAMES:
        torch.manual_seed(0)
        model = ref.TinyTransformer(30, ref.make_encoding(name, 16, 2, 64), d_model=16, num_heads=2).double().eval()
        for p in model.position.parameters():
            torch.nn.init.normal_(p)
        with torch.no_grad():
            out, shifted = model(ids), model(ids, start=40)
        assert out.shape == (2, 9, 30)
        moved = float((out - shifted).abs().max())
        if name in ("NoPE", "T5 bias", "RoPE", "ALiBi"):
            assert moved < 1e-10, name
        else:
            assert moved > 1e-3, name
    with pytest.raises(ValueError, match="알 수 없는"):
        ref.make_encoding("xpos", 16, 2, 64)


def test_bucket_function_rejects_an_empty_log_range():
    with pytest.raises(ValueError, match="max_distance"):
        ref.relative_position_bucket(torch.arange(5), bidirectional=False, num_buckets=32, max_distance=16)


def test_windows_cover_the_stream_without_overlap():
    stream = torch.arange(23)
    w = ref.make_windows(stream, 5)
    assert w.shape == (4, 6) and w[1, 0] == 5 and torch.equal(w[:, 1:].flatten(), torch.arange(1, 21))
    with pytest.raises(ValueError):
        ref.make_windows(stream[:3], 5)


@pytest.mark.slow
def test_length_benchmark_script_quick(tmp_path, needs_multi30k):
    """A smoke run of benchmarks/pe_length_generalization.py on 2,000 real captions: it trains the six
    encodings for a few steps, evaluates at L, 2L, 4L and writes its files."""
    assert run_benchmark("pe_length_generalization", "--quick", "--out", str(tmp_path)) == 0
    result = json.loads((tmp_path / "pe_length_generalization_quick.json").read_text(encoding="utf-8"))
    assert set(result["results"]) == set(ref.ENCODING_NAMES)
    assert result["results"]["learned"]["ppl_2L"] is None and result["results"]["ALiBi"]["ppl_4L"] > 1
    assert "| encoding |" in (tmp_path / "pe_length_generalization_quick.md").read_text(encoding="utf-8")
    assert (tmp_path / "pe_length_generalization_quick_per_position.csv").exists()
