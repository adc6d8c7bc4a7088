"""What every PyTorch model wrapper shares.

Models are saved as a ``state_dict`` (``.pth``) and loaded with
``weights_only=True``, so loading a model file never runs code from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.core.model import ModelWrapper
from kenning.utils.errors import ModelError
from kenning.utils.imports import require
from kenning.utils.progress import progress


class PyTorchWrapper(ModelWrapper):
    """Base of PyTorch models.

    Subclasses implement :meth:`create_module`, returning an ``nn.Module``
    that maps NCHW float32 inputs to class logits.
    """

    framework = "torch"
    model_format = "torch"
    model_suffixes = (".pth", ".pt")

    def create_module(self) -> Any:
        """A new ``torch.nn.Module`` with this wrapper's architecture."""
        raise NotImplementedError

    def build_model(self) -> None:
        torch = require("torch", "torch")
        torch.manual_seed(12345)
        self.model = self.create_module()
        self.model.eval()

    def load_model(self, path: Path) -> None:
        torch = require("torch", "torch")
        self.build_model()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path} is not a {type(self).__name__} state_dict that can be loaded ({first})",
                path,
            ) from exc
        self.model.eval()

    def save_model(self, path: Path) -> None:
        torch = require("torch", "torch")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), path)

    def save_to_onnx(self, path: Path) -> None:
        torch = require("torch", "torch")
        require("onnxscript", "torch")
        spec = self.get_io_specification()
        example = torch.zeros(spec.inputs[0].concrete_shape(1), dtype=torch.float32)
        batch = torch.export.Dim("batch", min=1, max=4096)
        try:
            torch.onnx.export(
                self.model,
                (example,),
                str(path),
                input_names=[spec.inputs[0].name],
                output_names=[spec.outputs[0].name],
                dynamic_shapes=({0: batch},),
                external_data=False,
                dynamo=True,
                verbose=False,
            )
        except Exception as exc:
            raise ModelError(f"ONNX export of {self.model_path} failed: {exc}", path) from exc

    def preprocess_input(self, inputs: np.ndarray) -> Any:
        # datasets give NHWC; PyTorch convolutions take NCHW
        return np.ascontiguousarray(np.transpose(inputs, (0, 3, 1, 2)))

    def postprocess_outputs(self, outputs: Any) -> np.ndarray:
        logits = np.asarray(outputs, dtype=np.float32)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def run_inference(self, inputs: Any) -> Any:
        torch = require("torch", "torch")
        with torch.inference_mode():
            return self.model(torch.from_numpy(inputs)).numpy()

    def get_framework_and_version(self) -> tuple[str, str]:
        torch = require("torch", "torch")
        return "torch", torch.__version__

    def get_io_specification(self) -> IOSpec:
        assert self.dataset is not None, "the I/O specification needs the dataset"
        h, w, c = self.dataset.input_shape()
        return IOSpec(
            inputs=[TensorSpec(name="input", shape=[-1, c, h, w], dtype="float32")],
            outputs=[
                TensorSpec(name="output", shape=[-1, self.dataset.num_classes], dtype="float32")
            ],
        )

    def _evaluate(self, torch: Any, loss_fn: Any) -> tuple[float, float]:
        assert self.dataset is not None
        self.model.eval()
        losses, correct, count = 0.0, 0, 0
        with torch.inference_mode():
            for _, x, y in self.dataset.iter_batches("validation", batch_size=256):
                logits = self.model(torch.from_numpy(self.preprocess_input(x)))
                target = torch.from_numpy(y)
                losses += float(loss_fn(logits, target)) * len(y)
                correct += int((logits.argmax(1) == target).sum())
                count += len(y)
        return losses / count, correct / count

    def train_model(
        self, batch_size: int, learning_rate: float, epochs: int, logdir: Path | None
    ) -> dict[str, float]:
        torch = require("torch", "torch")
        assert self.dataset is not None, "training needs a dataset"
        torch.manual_seed(12345)
        writer = None
        if logdir is not None:
            tb = require("torch.utils.tensorboard", "torch")
            writer = tb.SummaryWriter(log_dir=str(logdir))
        optimizer = torch.optim.Adam(self.model.parameters(), lr=learning_rate)
        loss_fn = torch.nn.CrossEntropyLoss()
        metrics: dict[str, float] = {}
        with progress("training", epochs) as advance:
            for epoch in range(epochs):
                self.model.train()
                total, correct, seen = 0.0, 0, 0
                for _, x, y in self.dataset.iter_batches("train", batch_size, shuffle_seed=epoch):
                    target = torch.from_numpy(y)
                    optimizer.zero_grad()
                    logits = self.model(torch.from_numpy(self.preprocess_input(x)))
                    loss = loss_fn(logits, target)
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * len(y)
                    correct += int((logits.argmax(1) == target).sum())
                    seen += len(y)
                val_loss, val_acc = self._evaluate(torch, loss_fn)
                metrics = {
                    "loss": total / seen,
                    "accuracy": correct / seen,
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                }
                if writer is not None:
                    for name, value in metrics.items():
                        writer.add_scalar(name, value, epoch)
                advance(1)
        if writer is not None:
            writer.close()
        self.model.eval()
        return metrics
