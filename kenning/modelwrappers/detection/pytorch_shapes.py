"""A small anchor-free (CenterNet-style) PyTorch detector for the generated shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.modelwrappers.detection.centernet import decode, encode_targets
from kenning.modelwrappers.frameworks.pytorch import PyTorchWrapper
from kenning.utils.imports import require
from kenning.utils.progress import progress

#: input pixels per cell of the head
STRIDE = 4
#: the heatmap logits' initial bias: a score of 0.1 everywhere, so training starts stable
PRIOR_BIAS = -2.19


def centernet_loss(torch: Any, head: Any, target: Any, classes: int) -> Any:
    """Focal loss on the heatmaps, offset and size losses at centre cells (NCHW tensors)."""
    heat = torch.sigmoid(head[:, :classes]).clamp(1e-4, 1 - 1e-4)
    truth, mask = target[:, :classes], target[:, classes + 4 : classes + 5]
    centre = (truth >= 0.999).float()
    count = centre.sum().clamp(min=1.0)
    focal = centre * (1 - heat) ** 2 * torch.log(heat) + (1 - centre) * (
        1 - truth
    ) ** 4 * heat**2 * torch.log(1 - heat)
    offset = torch.nn.functional.binary_cross_entropy_with_logits(
        head[:, classes : classes + 2], target[:, classes : classes + 2], reduction="none"
    )
    size = (head[:, classes + 2 : classes + 4] - target[:, classes + 2 : classes + 4]).abs()
    return -focal.sum() / count + ((offset + size) * mask).sum() / count


class PyTorchShapesDetector(PyTorchWrapper):
    """Five convolutions to a stride-4 head: per cell a heatmap per class and a box.

    Its one output, ``head``, is NCHW ``(N, classes + 4, H / 4, W / 4)``; the host decodes
    it (:func:`kenning.modelwrappers.detection.centernet.decode`) into detection rows.
    """

    def create_module(self) -> Any:
        assert self.dataset is not None, "building the model needs the dataset"
        nn = require("torch.nn", "torch")
        _, _, c = self.dataset.input_shape()
        classes = self.dataset.num_classes

        def block(cin: int, cout: int, stride: int = 1) -> list[Any]:
            return [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU()]

        out = nn.Conv2d(48, classes + 4, 1)
        with require("torch", "torch").no_grad():
            out.bias[:classes].fill_(PRIOR_BIAS)
        layers = [*block(c, 16), *block(16, 32, 2), *block(32, 48, 2), *block(48, 48)]
        return nn.Sequential(*layers, *block(48, 48), out)

    def get_io_specification(self) -> IOSpec:
        assert self.dataset is not None, "the I/O specification needs the dataset"
        h, w, c = self.dataset.input_shape()
        head = [-1, self.dataset.num_classes + 4, h // STRIDE, w // STRIDE]
        return IOSpec(
            inputs=[TensorSpec(name="input", shape=[-1, c, h, w], dtype="float32")],
            outputs=[TensorSpec(name="head", shape=head, dtype="float32")],
        )

    def postprocess_outputs(self, outputs: Any) -> np.ndarray:
        head = np.asarray(outputs, dtype=np.float32)
        return decode(np.transpose(head, (0, 2, 3, 1)), STRIDE)

    def train_model(
        self, batch_size: int, learning_rate: float, epochs: int, logdir: Path | None
    ) -> dict[str, float]:
        torch = require("torch", "torch")
        assert self.dataset is not None, "training needs a dataset"
        torch.manual_seed(12345)
        classes = self.dataset.num_classes
        grid = self.dataset.input_shape()[0] // STRIDE

        def loss_of(x: np.ndarray, y: np.ndarray) -> Any:
            target = np.transpose(encode_targets(list(y), grid, STRIDE, classes), (0, 3, 1, 2))
            head = self.model(torch.from_numpy(self.preprocess_input(x)))
            return centernet_loss(torch, head, torch.from_numpy(target), classes), len(x)

        optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate)
        metrics: dict[str, float] = {}
        with progress("training", epochs) as advance:
            for epoch in range(epochs):
                self.model.train()
                total, seen = 0.0, 0
                for _, x, y in self.dataset.iter_batches("train", batch_size, shuffle_seed=epoch):
                    optimizer.zero_grad()
                    loss, n = loss_of(x, y)
                    loss.backward()
                    optimizer.step()
                    total, seen = total + float(loss.detach()) * n, seen + n
                self.model.eval()
                val, count = 0.0, 0
                with torch.inference_mode():
                    for _, x, y in self.dataset.iter_batches("validation", 256):
                        loss, n = loss_of(x, y)
                        val, count = val + float(loss) * n, count + n
                metrics = {"loss": total / seen, "val_loss": val / count}
                advance(1)
        self.model.eval()
        return metrics
