"""Handwritten digits bundled with scikit-learn: the offline default dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.dataset import Dataset


class DigitsDataset(Dataset):
    """scikit-learn's 1,797 8x8 grey digits, 10 classes; nothing to download.

    Inputs are float32 NHWC batches of shape ``(N, 8, 8, 1)`` scaled to [0, 1].
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--dataset-root", Path, None, "unused: the data ships with scikit-learn"),
    )

    def prepare(self) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        self._images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
        self.dataX = list(range(len(self._images)))
        self.dataY = [int(t) for t in digits.target]

    def prepare_input_samples(self, samples: list[Any]) -> np.ndarray:
        return self._images[np.asarray(samples, dtype=np.int64)]

    def get_class_names(self) -> list[str]:
        return [str(i) for i in range(10)]
