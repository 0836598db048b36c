"""Data loaders for the course's real data sets (offline first)."""
from ._common import DataNotFound
from .air_quality import AIR_QUALITY_COLUMNS, AIR_QUALITY_STATIONS, drop_missing, load_air_quality, missing_summary
from .examples import spread_examples
from .cifar10 import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, ImageSet, TensorBatches, load_cifar10, normalize
from .mnist import MNIST_SIZES, DigitSet, load_mnist, read_idx
from .multi30k import MULTI30K_FILES, MULTI30K_SIZES, TranslationPairs, load_multi30k
from .nsmc import NSMC_CLASSES, NSMC_FILES, NSMC_SIZES, Reviews, load_nsmc
from .shakespeare import CharCorpus, CharVocab, char_corpus, load_shakespeare, load_shakespeare_text
from .timeseries import Split, TimeSeries, errors_by_horizon, fill_missing, forecast_errors, load_co2, load_sunspots, persistence_forecast, seasonal_naive_forecast, time_split  # noqa: E501

__all__ = [
    "DataNotFound", "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "ImageSet", "TensorBatches",
    "load_cifar10", "normalize",
    "AIR_QUALITY_COLUMNS", "AIR_QUALITY_STATIONS", "drop_missing", "load_air_quality", "missing_summary",
    "MNIST_SIZES", "DigitSet", "load_mnist", "read_idx",

    "NSMC_CLASSES", "NSMC_FILES", "NSMC_SIZES", "Reviews", "load_nsmc",
    "CharCorpus", "CharVocab", "char_corpus", "load_shakespeare", "load_shakespeare_text",
    "spread_examples",
]
