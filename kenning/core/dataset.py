"""The Dataset interface: samples, preprocessing, splits, batching and evaluation.

Reference implementations: :class:`kenning.datasets.digits.DigitsDataset`
(bundled data) and :class:`kenning.datasets.pet_dataset.PetDataset` (download).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from kenning.core.args import Arg, ArgumentsHandler
from kenning.utils.errors import ConfigurationError, DatasetError

Subset = Literal["train", "validation", "all"]


class Dataset(ArgumentsHandler):
    """Base class of datasets.

    Subclasses fill ``self.dataX`` (sample references, e.g. file paths or
    indices) and ``self.dataY`` (class indices) in :meth:`prepare`, and turn
    references into arrays in :meth:`prepare_input_samples`.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--dataset-root", Path, help="folder that holds (or will hold) the dataset files"),
        Arg("--download-dataset", bool, help="download the dataset into --dataset-root first"),
        Arg("--inference-batch-size", int, 1, "samples per inference call", param="batch_size"),
        Arg("--validation-fraction", float, 0.25, "part of the samples held out for validation"),
        Arg("--split-seed", int, 12345, "seed of the train/validation split"),
    )

    #: what the data scores: ``classification``, ``regression`` or ``detection`` (labels are
    #: boxes, the scored output decoded rows ``x1, y1, x2, y2, score, class``)
    task: ClassVar[str] = "classification"

    def __init__(
        self,
        dataset_root: Path | None,
        batch_size: int = 1,
        download_dataset: bool = False,
        validation_fraction: float = 0.25,
        split_seed: int = 12345,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"--inference-batch-size must be >= 1, got {batch_size}")
        if not 0.0 < validation_fraction < 1.0:
            raise ConfigurationError(
                f"--validation-fraction must be between 0 and 1, got {validation_fraction}"
            )
        if split_seed < 0:
            raise ConfigurationError(f"--split-seed must be >= 0, got {split_seed}")
        self.root = Path(dataset_root) if dataset_root is not None else None
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.split_seed = split_seed
        self.dataX: list[Any] = []
        self.dataY: list[int] = []
        if download_dataset:
            self.download_dataset()
        self.prepare()
        if not self.dataX:
            raise DatasetError(f"{type(self).__name__} found no samples in {self.root}", self.root)

    # -- hooks -------------------------------------------------------------
    def prepare(self) -> None:
        """Fill ``dataX`` and ``dataY``; raise :class:`DatasetError` if files are missing."""
        raise NotImplementedError

    def download_dataset(self) -> None:
        """Fetch the dataset files into ``self.root``."""
        raise ConfigurationError(f"{type(self).__name__} has nothing to download")

    def prepare_input_samples(self, samples: list[Any]) -> np.ndarray:
        """Turn sample references into one input batch (NHWC float32 for images)."""
        return np.asarray(samples, dtype=np.float32)

    def prepare_output_samples(self, samples: list[int]) -> np.ndarray:
        """Turn labels into the array predictions are compared with."""
        return np.asarray(samples, dtype=np.int64)

    def get_class_names(self) -> list[str]:
        """Names of the classes, indexed by class id."""
        raise NotImplementedError

    def input_shape(self) -> tuple[int, ...]:
        """Shape of one preprocessed input sample (no batch dimension)."""
        return tuple(self.prepare_input_samples(self.dataX[:1]).shape[1:])

    # -- provided ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.dataX)

    def order_inputs(self, names: Sequence[str]) -> None:
        """Give a model's inputs in its order (``names``), where the data names its inputs.

        The default does nothing: a dataset of one input, or of unnamed inputs, gives them in
        the model's order.
        """
        del names

    @property
    def classes_are_names(self) -> bool:
        """Whether classes are named (folders, a fixed list) rather than model class indices.

        Named classes must be exactly the model's; index labels may use fewer of its classes.
        """
        return True

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.get_class_names())

    def split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Train and validation indices: stratified, reproducible from ``split_seed``."""
        rng = np.random.default_rng(self.split_seed)
        labels = np.asarray(self.dataY)
        train, val = [], []
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            n_val = max(1, round(len(idx) * self.validation_fraction)) if len(idx) > 1 else 0
            val.append(idx[:n_val])
            train.append(idx[n_val:])
        return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))

    def subset_indices(self, subset: Subset) -> np.ndarray:
        """Indices of ``"train"``, ``"validation"`` or ``"all"`` samples."""
        if subset == "all":
            return np.arange(len(self))
        train, val = self.split_indices()
        return train if subset == "train" else val

    def iter_batches(
        self,
        subset: Subset = "validation",
        batch_size: int | None = None,
        shuffle_seed: int | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(indices, inputs, labels)`` batches of a subset.

        Parameters
        ----------
        subset : {"train", "validation", "all"}
            Which samples.
        batch_size : int, optional
            Defaults to ``--inference-batch-size``.
        shuffle_seed : int, optional
            Shuffle the order with this seed (for training).
        """
        idx = self.subset_indices(subset)
        if shuffle_seed is not None:
            idx = np.random.default_rng(shuffle_seed).permutation(idx)
        size = batch_size or self.batch_size
        for start in range(0, len(idx), size):
            chunk = idx[start : start + size]
            yield (
                chunk,
                self.prepare_input_samples([self.dataX[i] for i in chunk]),
                self.prepare_output_samples([self.dataY[i] for i in chunk]),
            )

    def load_subset(self, subset: Subset) -> tuple[np.ndarray, np.ndarray]:
        """All inputs and labels of a subset as two arrays (for small datasets)."""
        idx = self.subset_indices(subset)
        return (
            self.prepare_input_samples([self.dataX[i] for i in idx]),
            self.prepare_output_samples([self.dataY[i] for i in idx]),
        )

    def evaluate(self, outputs: np.ndarray, k: int = 5) -> np.ndarray:
        """Top-``k`` class indices per sample, best first, from scores or probabilities."""
        scores = np.asarray(outputs).reshape(len(outputs), -1)
        k = min(k, scores.shape[1])
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
