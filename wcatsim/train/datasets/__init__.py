"""Datasets: the embedded digits, MNIST / Fashion-MNIST / CIFAR-10 from local folders, image folders
(streamed), synthetic sets."""

# loader first: it imports the format files in the order of DATASET_NAMES (each registers itself)
from . import loader as _loader  # noqa: F401
from .bundle import DatasetBundle, ImageTensorDataset
from .imagefolder import ImageFileDataset
from .loader import DATASET_NAMES, load_dataset
from .streaming import EvalImages, LazyImages, stratified_subset

__all__ = [
    "DATASET_NAMES",
    "DatasetBundle",
    "EvalImages",
    "ImageFileDataset",
    "ImageTensorDataset",
    "LazyImages",
    "load_dataset",
    "stratified_subset",
]
