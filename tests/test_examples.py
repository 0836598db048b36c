"""Examples shown in the notebooks are drawn across classes (seeded), even from a data set sorted
by class such as the CIFAR-10 test set."""
import pytest
import torch

from dlcourse.data import spread_examples


def test_first_examples_cover_every_class_of_a_sorted_set():
    labels = torch.arange(10).repeat_interleave(100)          # sorted by class, like the CIFAR-10 test set
    picked = spread_examples(labels, 12, seed=0)
    assert len(set(picked.tolist())) == 12
    assert set(labels[picked[:10]].tolist()) == set(range(10))
    assert torch.equal(picked, spread_examples(labels, 12, seed=0))
    assert not torch.equal(picked, spread_examples(labels, 12, seed=1))
    counts = torch.bincount(labels[spread_examples(labels, 256, seed=3)], minlength=10)
    assert counts.max() - counts.min() <= 1                    # a balanced pool


def test_uneven_classes_and_bad_input():
    labels = torch.tensor([0] * 5 + [1] * 1 + [2] * 2)
    picked = spread_examples(labels, 8, seed=0)
    assert sorted(picked.tolist()) == list(range(8))
    with pytest.raises(ValueError, match="8개뿐"):
        spread_examples(labels, 9)
    with pytest.raises(ValueError, match="정수 클래스"):
        spread_examples(torch.rand(5), 2)


def test_cifar10_test_examples_vary(needs_cifar):
    from dlcourse.data import load_cifar10

    test = load_cifar10("test")
    assert test.labels[:256].unique().tolist() == [0]         # the reason: the set is sorted by class
    picked = spread_examples(test.labels, 12, seed=42)
    assert len(test.labels[picked].unique()) == 10
