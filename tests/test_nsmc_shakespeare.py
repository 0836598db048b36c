"""The week-8 loaders on the real files: NSMC (with its seeded validation split) and Tiny Shakespeare
(characters); a clear Korean error when a file is missing."""
import pytest
import torch

import dlcourse as dl
from conftest import data_root


@pytest.fixture
def needs_nsmc():
    root = data_root()
    if not all((root / "nsmc" / f"ratings_{s}.tsv.gz").exists() for s in ("train", "test")):
        pytest.skip(f"NSMC is not under the data root {root}")
    return root


@pytest.fixture
def needs_shakespeare():
    root = data_root()
    if not (root / "tinyshakespeare" / "input.txt.gz").exists():
        pytest.skip(f"Tiny Shakespeare is not under the data root {root}")
    return root


def test_nsmc_sizes_balance_and_disjoint_validation(needs_nsmc):
    train, val, test = (dl.data.load_nsmc(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (135_000, 15_000, 50_000)
    for part in (train, val, test):
        assert part.labels.dtype == torch.long and set(part.labels.tolist()) == {0, 1}
        assert abs(part.labels.float().mean().item() - 0.5) < 0.01
        assert all(isinstance(t, str) for t in part.texts[:100])
    assert abs(val.labels.float().mean().item() - train.labels.float().mean().item()) < 0.001   # stratified
    assert not set(train.ids) & set(val.ids)
    assert len(set(train.ids) | set(val.ids)) == 150_000
    assert "영화" in " ".join(train.texts[:200])


def test_nsmc_split_is_seeded(needs_nsmc):
    a, b = dl.data.load_nsmc("val", seed=0), dl.data.load_nsmc("val", seed=0)
    c = dl.data.load_nsmc("val", seed=1)
    assert a.ids == b.ids and a.ids != c.ids
    small = dl.data.load_nsmc("val", val_size=1000, seed=3)
    assert len(small) == 1000 and len(dl.data.load_nsmc("train", val_size=1000, seed=3)) == 149_000


def test_nsmc_subsets(needs_nsmc):
    part = dl.data.load_nsmc("train", per_class=50)
    assert len(part) == 100 and int(part.labels.sum()) == 50
    assert len(dl.data.load_nsmc("test", limit=7)) == 7
    sub = part.subset([3, 1])
    assert sub.texts == [part.texts[3], part.texts[1]] and sub.labels.tolist() == part.labels[[3, 1]].tolist()
    with pytest.raises(ValueError, match="split"):
        dl.data.load_nsmc("dev")
    with pytest.raises(ValueError, match="val_size"):
        dl.data.load_nsmc("val", val_size=0)


def test_shakespeare_characters(needs_shakespeare):
    corpus = dl.data.load_shakespeare()
    assert len(corpus.text) == dl.data.shakespeare.SHAKESPEARE_CHARS
    assert len(corpus.vocab) == 65
    assert len(corpus.train) + len(corpus.val) == len(corpus.text)
    assert len(corpus.train) == int(0.9 * len(corpus.text))
    assert corpus.vocab.decode(corpus.train[:14]) == "First Citizen:"
    assert torch.equal(corpus.vocab.encode("First"), corpus.train[:5])
    assert len(dl.data.load_shakespeare(limit=1000).text) == 1000


def test_char_corpus_on_korean_text():
    corpus = dl.data.char_corpus("재밌다\n안 재밌다\n" * 10, val_fraction=0.2)
    assert corpus.vocab.decode(corpus.vocab.encode("안 재밌다")) == "안 재밌다"
    with pytest.raises(ValueError, match="어휘에 없는 문자"):
        corpus.vocab.encode("영화")
    with pytest.raises(ValueError, match="val_fraction"):
        dl.data.char_corpus("abc", val_fraction=1.0)


def test_missing_files_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(dl.data.DataNotFound, match="NSMC 데이터를 찾을 수 없습니다") as err:
        dl.data.load_nsmc("train")
    assert str(tmp_path / "nsmc" / "ratings_train.tsv.gz") in str(err.value)
    with pytest.raises(dl.data.DataNotFound, match="Tiny Shakespeare 데이터를 찾을 수 없습니다") as err:
        dl.data.load_shakespeare()
    assert str(tmp_path / "tinyshakespeare" / "input.txt.gz") in str(err.value)


def test_nsmc_rejects_a_malformed_file(tmp_path, monkeypatch):
    import gzip
    (tmp_path / "nsmc").mkdir()
    with gzip.open(tmp_path / "nsmc" / "ratings_test.tsv.gz", "wt", encoding="utf-8") as fh:
        fh.write("id\tdocument\tlabel\n1\t좋다\t1\n2\t별로\tpositive\n")
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="3번째 줄"):
        dl.data.load_nsmc("test")
