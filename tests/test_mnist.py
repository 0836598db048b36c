"""MNIST loader: the official test set (IDX) and the 5,000-image training subset, the IDX
checks, per-class subsets and the missing-data message."""
import gzip
import hashlib

import numpy as np
import pytest

from conftest import data_root
from dlcourse.data import DataNotFound, load_mnist, mnist, read_idx


@pytest.fixture
def needs_mnist():
    root = data_root()
    names = [f"{n}.gz" for n in mnist.TEST_FILES.values()] + [mnist.TRAIN_FILE]
    missing = [n for n in names if not (root / "mnist" / n).exists()]
    if missing:
        pytest.skip(f"MNIST is not under the data root {root} (missing {missing[0]})")
    return root


def test_official_test_set_and_training_subset(needs_mnist):
    test = load_mnist("test")
    assert test.images.shape == (10000, 28, 28) and test.images.dtype == np.uint8
    assert test.labels.dtype == np.int64 and len(test) == mnist.MNIST_SIZES["test"]
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]       # the published first labels
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train = load_mnist("train")
    assert train.images.shape == (5000, 28, 28) and len(train) == mnist.MNIST_SIZES["train"]
    assert np.bincount(train.labels).tolist() == [500] * 10
    assert 0 < train.images.mean() < 255 and train.images.max() == 255
    seen = {hashlib.md5(img.tobytes()).hexdigest() for img in test.images}
    assert not any(hashlib.md5(img.tobytes()).hexdigest() in seen for img in train.images), "train and test overlap"


def test_per_class_subsets_are_balanced_and_in_file_order(needs_mnist):
    small = load_mnist("test", per_class=7)
    assert np.bincount(small.labels).tolist() == [7] * 10
    full = load_mnist("test")
    first_sevens = np.flatnonzero(full.labels == 7)[:7]
    assert np.array_equal(small.images[small.labels == 7], full.images[first_sevens])
    with pytest.raises(ValueError, match="per_class"):
        load_mnist("train", per_class=0)
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_mnist("validation")


def _write_idx(path, magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as fh:
        fh.write(header + payload)


def test_idx_reader_checks_magic_and_length(tmp_path):
    good = tmp_path / "images.gz"
    _write_idx(good, 0x803, (2, 2, 3), bytes(range(12)))
    assert read_idx(good, "images").tolist() == [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]
    short = tmp_path / "short.gz"
    _write_idx(short, 0x803, (2, 2, 3), bytes(range(10)))
    with pytest.raises(ValueError, match="잘렸거나"):
        read_idx(short, "images")
    with pytest.raises(ValueError, match="매직 넘버"):
        read_idx(good, "labels")
    raw = tmp_path / "labels"
    raw.write_bytes((0x801).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 3]))
    assert read_idx(raw, "labels").tolist() == [1, 2, 3]   # uncompressed files work too


def test_missing_data_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(DataNotFound) as err:
        load_mnist("test")
    msg = str(err.value)
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in msg and "DLCOURSE_DATA_ROOT" in msg
    with pytest.raises(DataNotFound, match="mnist_train_5000.npz"):
        load_mnist("train")


def test_a_bad_training_file_is_reported(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / mnist.TRAIN_FILE, images=np.zeros((3, 28, 28), np.uint8), labels=np.array([1, 2]))
    monkeypatch.setenv("DLCOURSE_DATA_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="수가 다릅니다"):
        load_mnist("train")
    np.savez(tmp_path / "mnist" / mnist.TRAIN_FILE, pixels=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="'images'"):
        load_mnist("train")
