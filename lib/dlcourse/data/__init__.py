"""Data loaders for the course's real data sets (offline first)."""
from ._common import DataNotFound
from .cifar10 import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, ImageSet, TensorBatches, load_cifar10, normalize

__all__ = [
    "DataNotFound", "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "ImageSet", "TensorBatches",
    "load_cifar10", "normalize",
]
