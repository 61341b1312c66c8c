"""Datasets: the embedded digits, MNIST / Fashion-MNIST / CIFAR-10 from local folders, synthetic sets."""

from .bundle import DatasetBundle, ImageTensorDataset
from .loader import DATASET_NAMES, load_dataset

__all__ = ["DATASET_NAMES", "DatasetBundle", "ImageTensorDataset", "load_dataset"]
