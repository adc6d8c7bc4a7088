"""The Keras twin of the shapes detector: the same head, trained the same way, for TFLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.dataset import Subset
from kenning.core.iospec import IOSpec, TensorSpec
from kenning.modelwrappers.detection.centernet import decode, encode_targets
from kenning.modelwrappers.detection.pytorch_shapes import PRIOR_BIAS, STRIDE
from kenning.modelwrappers.frameworks.tensorflow import TensorFlowWrapper, keras
from kenning.utils.progress import progress


def centernet_loss(classes: int) -> Any:
    """The focal, offset and size losses of the PyTorch twin, in ``keras.ops`` (NHWC)."""
    ops = keras().ops

    def loss(target: Any, head: Any) -> Any:
        heat = ops.clip(ops.sigmoid(head[..., :classes]), 1e-4, 1 - 1e-4)
        truth, mask = target[..., :classes], target[..., classes + 4 : classes + 5]
        centre = ops.cast(truth >= 0.999, "float32")
        count = ops.maximum(ops.sum(centre), 1.0)
        focal = centre * (1 - heat) ** 2 * ops.log(heat) + (1 - centre) * (
            1 - truth
        ) ** 4 * heat**2 * ops.log(1 - heat)
        logits, offset = head[..., classes : classes + 2], target[..., classes : classes + 2]
        bce = ops.maximum(logits, 0) - logits * offset + ops.log1p(ops.exp(-ops.abs(logits)))
        size = ops.abs(head[..., classes + 2 : classes + 4] - target[..., classes + 2 :][..., :2])
        box = ops.sum(bce, axis=-1, keepdims=True) + ops.sum(size, axis=-1, keepdims=True)
        return -ops.sum(focal) / count + ops.sum(box * mask) / count

    return loss


class TensorFlowShapesDetector(TensorFlowWrapper):
    """Five convolutions to a stride-4 head, as :class:`PyTorchShapesDetector`, in NHWC.

    Its one output, ``head``, is ``(N, H / 4, W / 4, classes + 4)``; the host decodes it.
    """

    def build_model(self) -> None:
        assert self.dataset is not None, "building the model needs the dataset"
        k = keras()
        k.utils.set_random_seed(12345)
        layers, classes = k.layers, self.dataset.num_classes
        x = inputs = k.Input(shape=self.dataset.input_shape(), name="input")
        for filters, stride in ((16, 1), (32, 2), (48, 2), (48, 1), (48, 1)):
            x = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        bias = np.concatenate([np.full(classes, PRIOR_BIAS), np.zeros(4)]).astype(np.float32)
        out = layers.Conv2D(classes + 4, 1, bias_initializer=k.initializers.Constant(bias))(x)
        self.model = k.Model(inputs, out, name="shapes_detector")

    def get_io_specification(self) -> IOSpec:
        spec = super().get_io_specification()
        return IOSpec(
            inputs=spec.inputs,
            outputs=[TensorSpec(name="head", shape=spec.outputs[0].shape, dtype="float32")],
        )

    def postprocess_outputs(self, outputs: Any) -> np.ndarray:
        return decode(np.asarray(outputs, dtype=np.float32), STRIDE)

    def train_model(
        self, batch_size: int, learning_rate: float, epochs: int, logdir: Path | None
    ) -> dict[str, float]:
        k = keras()
        assert self.dataset is not None, "training needs a dataset"
        k.utils.set_random_seed(12345)
        classes = self.dataset.num_classes
        grid = self.dataset.input_shape()[0] // STRIDE
        self.model.compile(
            optimizer=k.optimizers.Adam(learning_rate=learning_rate), loss=centernet_loss(classes)
        )

        def batches(subset: Subset, seed: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
            assert self.dataset is not None
            return [
                (x, encode_targets(list(y), grid, STRIDE, classes))
                for _, x, y in self.dataset.iter_batches(subset, batch_size, seed)
            ]

        validation = batches("validation", None)
        metrics: dict[str, float] = {}
        with progress("training", epochs) as advance:
            for epoch in range(epochs):
                train = batches("train", epoch)
                losses = [float(self.model.train_on_batch(x, y)) for x, y in train]
                val = [float(self.model.test_on_batch(x, y)) for x, y in validation]
                metrics = {"loss": float(np.mean(losses)), "val_loss": float(np.mean(val))}
                advance(1)
        self._refresh_batch_norm(batches("train", None))
        return metrics
