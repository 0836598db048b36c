"""Week-8 helpers: padded batches, metrics, baselines, the transformer helpers, and the
deliverables (an HTML report and a reveal.js deck rendered from the source notebook)."""
import json

import pytest
import torch

import dlcourse as dl
from conftest import ROOT, run_benchmark
from dlcourse import textclf, transformer


def test_scores_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score
    g = torch.Generator().manual_seed(0)
    y, p = torch.randint(0, 3, (200,), generator=g), torch.randint(0, 3, (200,), generator=g)
    s = textclf.scores(y, p)
    assert s["accuracy"] == pytest.approx(100 * accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(100 * f1_score(y, p, average="macro"))
    with pytest.raises(ValueError, match="길이"):
        textclf.scores(y, p[:3])


def test_token_batches_cover_every_text_once_and_pad():
    ids = [[5] * n for n in (3, 1, 7, 2, 5)]
    batches = textclf.TokenBatches(ids, [0, 1, 0, 1, 1], 2, shuffle=True, seed=1)
    seen = []
    for x, y in batches:
        assert x.dtype == torch.long and x.shape[0] == y.shape[0] <= 2
        seen += [int((row != 0).sum()) for row in x]
    assert sorted(seen) == [1, 2, 3, 5, 7]
    assert [x.shape for x, _ in batches] != [] and batches.epoch == 2


def test_predict_keeps_the_order():
    class Count(torch.nn.Module):
        def forward(self, x):
            n = (x != 0).sum(1).float()
            return torch.stack([n, -n], 1)
    ids = [[1] * n for n in (4, 1, 3)]
    probs = textclf.predict(Count(), ids, batch_size=2)
    assert probs[:, 0].argsort().tolist() == [1, 2, 0]


def test_lstm_classifier_ignores_padding():
    torch.manual_seed(0)
    m = textclf.LSTMClassifier(20, 2, emb_dim=8, hidden=8).eval()
    x = torch.tensor([[4, 5, 6, 0], [7, 8, 9, 10]])
    assert torch.allclose(m(x), m(torch.nn.functional.pad(x, (0, 3))), atol=1e-6)


def test_attention_gru_shapes():
    m = textclf.AttentionGRU(15, 17, emb=8, hidden=8).eval()
    src, lens = torch.tensor([[4, 5, 2, 0], [6, 7, 8, 2]]), torch.tensor([3, 4])
    assert m(src, lens, torch.tensor([[1, 4], [1, 5]])).shape == (2, 2, 17)
    assert m.greedy(src, lens, 5).shape == (2, 5)


def test_tfidf_baseline_learns_a_toy_task():
    texts = ["재밌다 최고", "최고 재밌다", "정말 재밌다", "별로 지루", "지루 별로다", "정말 별로"] * 5
    labels = [1, 1, 1, 0, 0, 0] * 5
    model = textclf.tfidf_logreg(texts, labels, min_df=1)
    assert model.predict(["재밌다"]).tolist() == [1] and model.predict(["지루"]).tolist() == [0]


def test_transformer_helpers_match_torch_modules():
    from dlcourse_staff.solutions import w08_midterm as ref
    torch.manual_seed(0)
    assert transformer.padding_mask(torch.tensor([[3, 0]])).tolist() == [[[True, False]]]
    assert transformer.causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    block = ref.DecoderBlock(8, 2, 16, 0.0).eval()
    layer = torch.nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True).eval()
    layer.load_state_dict(transformer.block_to_torch(block))
    x, mem = torch.randn(2, 4, 8), torch.randn(2, 5, 8)
    assert torch.allclose(block(x, mem, transformer.causal_mask(4)),
                          layer(x, mem, tgt_mask=~transformer.causal_mask(4)), atol=1e-5)


def test_deliverables_render_report_and_slides_from_the_source_notebook(tmp_path):
    from dlcourse import deliverables
    nb = ROOT / "source" / "week08" / "midterm_transformer.ipynb"
    report = deliverables.export_report(nb, tmp_path / "report")
    html = report.read_text(encoding="utf-8")
    assert report.name == "midterm_transformer.html" and "트랜스포머 처음부터 구현하기" in html
    deck, slides = deliverables.export_slides(nb, tmp_path / "presentation")
    cells = json.loads(deck.read_text(encoding="utf-8"))["cells"]
    demo = [c for c in cells if "demo" in c["metadata"].get("tags", [])]
    assert len(demo) == 1 and "predict_review" in "".join(demo[0]["source"])
    assert all("nbgrader" not in c["metadata"] for c in cells)
    assert any("시연 (Demo)" in "".join(c["source"]) for c in cells)
    text = slides.read_text(encoding="utf-8")
    assert slides.name.endswith(".slides.html") and "reveal" in text.lower() and "시연 (Demo)" in text


def test_slides_need_exactly_one_demo_cell(tmp_path):
    import nbformat
    from dlcourse import deliverables
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 제목", metadata={"tags": ["slides"]})])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(ValueError, match="demo"):
        deliverables.build_slides_notebook(path, tmp_path / "deck.ipynb")


def test_nsmc_benchmark_script_quick(tmp_path):
    """A smoke run of benchmarks/nsmc_transformer.py on 2,000 real reviews per split: all three models
    train and are scored, and the results are written. (The ≥ 85 % target is measured by a real run.)"""
    root = dl.runtime.data_root()
    if not (root / "nsmc" / "ratings_train.tsv.gz").exists():
        pytest.skip(f"NSMC is not under the data root {root}")
    assert run_benchmark("nsmc_transformer", "--quick", "--out", str(tmp_path)) == 0
    result = json.loads((tmp_path / "nsmc_transformer_quick.json").read_text(encoding="utf-8"))
    assert result["quick"] and set(result["models"]) == {"TF-IDF + logistic regression", "transformer (encoder-only)",
                                                          "BiLSTM (week 5)"}
    for scores in result["models"].values():
        assert 0 <= scores["test"]["accuracy"] <= 100 and 0 <= scores["test"]["macro_f1"] <= 100
    assert "QUICK smoke run" in (tmp_path / "nsmc_transformer_quick.md").read_text(encoding="utf-8")
