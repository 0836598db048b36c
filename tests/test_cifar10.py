"""CIFAR-10 loader: the real archive, the uint8 cache, torchvision's format, and missing data."""
import pickle

import numpy as np
import pytest
import torch

from dlcourse.data import cifar10
from dlcourse.data import DataNotFound, TensorBatches, load_cifar10, normalize


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache folder and no in-process memo."""
    monkeypatch.setenv("DLCOURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cifar10, "_MEMO", {})
    return tmp_path


@pytest.mark.slow
def test_real_archive_decodes_into_a_reusable_cache(needs_cifar, fresh, monkeypatch):
    train = load_cifar10("train")
    test = load_cifar10("test")
    assert train.images.shape == (50000, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(train.labels).tolist() == [5000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    cache = fresh / "cache" / cifar10.CACHE_NAME
    assert cache.exists()
    # Second load: from the cache, without touching the archive.
    monkeypatch.setattr(cifar10, "_MEMO", {})
    monkeypatch.setattr(cifar10, "_build", lambda root: pytest.fail("cache was not used"))
    again = load_cifar10("test")
    assert torch.equal(again.images, test.images)


@pytest.mark.slow
def test_balanced_subsets_come_from_the_same_order(needs_cifar):
    full = load_cifar10("test")
    sub = load_cifar10("test", per_class=3)
    assert sub.images.shape == (30, 3, 32, 32)
    assert torch.bincount(sub.labels).tolist() == [3] * 10
    first_cat = torch.nonzero(full.labels == 3).flatten()[:3]
    assert torch.equal(sub.images[sub.labels == 3], full.images[first_cat])


def _write_batches(folder, n_per_batch=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(n_per_batch)]
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": data, "labels": labels}, fh)
    return names


def test_torchvision_batches_format(fresh, monkeypatch):
    root = fresh / "data"
    _write_batches(root / "cifar10" / "cifar-10-batches-py")
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(root))
    train, test = load_cifar10("train"), load_cifar10("test")
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (4, 3, 32, 32)
    with open(root / "cifar10" / "cifar-10-batches-py" / "test_batch", "rb") as fh:
        raw = pickle.load(fh)
    assert torch.equal(test.images[1], torch.from_numpy(raw["data"][1].reshape(3, 32, 32)))
    assert test.labels.tolist() == raw["labels"]


def test_missing_data_says_what_to_put_where(fresh, monkeypatch):
    root = fresh / "empty"
    root.mkdir()
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(root))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # never wait on the network in a test
    with pytest.raises(DataNotFound) as err:
        load_cifar10("train")
    msg = str(err.value)
    assert str(root / "cifar10" / "cifar10-jpg.tar.gz") in msg
    assert "cifar-10-batches-py" in msg and "DLCOURSE_DATA_ROOT" in msg
    assert not (fresh / "cache" / cifar10.CACHE_NAME).exists()


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="'train', 'test'.*'validation'"):
        load_cifar10("validation")
    with pytest.raises(ValueError, match="per_class"):
        load_cifar10("train", per_class=0)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*\(3, 32, 32\)"):
        normalize(torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_tensor_batches_shuffle_augment_and_drop_last():
    data = cifar10.ImageSet(images=torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8),
                            labels=torch.arange(10))
    seen = []
    batches = TensorBatches(data, 4, shuffle=True, drop_last=True, augment=lambda x: x * 0 + 1.0)
    assert len(batches) == 2
    for x, y in batches:
        assert x.shape == (4, 3, 8, 8) and torch.all(x == 1.0)
        seen += y.tolist()
    assert len(set(seen)) == 8
    plain = TensorBatches(data, 4, shuffle=False)
    assert len(plain) == 3
    x, y = next(iter(plain))
    assert y.tolist() == [0, 1, 2, 3]
    assert torch.allclose(x, normalize(data.images[:4]))
