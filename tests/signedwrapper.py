"""A model wrapper whose preprocessing maps inputs to [-1, 1], as MobileNetV2's does."""

from __future__ import annotations

from typing import Any

import numpy as np

from kenning.modelwrappers.classification.pytorch_digits import PyTorchDigitsCNN


class SignedDigitsCNN(PyTorchDigitsCNN):
    """The digits CNN on inputs mapped from [0, 1] to [-1, 1]."""

    def preprocess_input(self, inputs: np.ndarray) -> Any:
        return super().preprocess_input(inputs) * np.float32(2.0) - np.float32(1.0)
