"""What every Keras (TensorFlow backend) model wrapper shares."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.core.model import ModelWrapper
from kenning.utils.errors import ModelError
from kenning.utils.imports import require
from kenning.utils.progress import progress


def keras() -> ModuleType:
    """The keras module (TensorFlow backend), or an error naming the extra."""
    require("tensorflow", "tensorflow")
    return require("keras", "tensorflow")


class TensorFlowWrapper(ModelWrapper):
    """Base of Keras models: loading, saving, ONNX export, inference and training.

    Subclasses implement :meth:`build_model`, leaving a compiled-or-not Keras
    model whose last layer outputs class probabilities in ``self.model``.
    """

    framework = "tensorflow"
    model_format = "keras"
    model_suffixes = (".keras", ".h5")

    def load_model(self, path: Path) -> None:
        k = keras()
        try:
            self.model = k.models.load_model(path, compile=False)
        except Exception as exc:
            raise ModelError(
                f"{path} is not a Keras model file that can be loaded ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})",
                path,
            ) from exc

    def save_model(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)

    def save_to_onnx(self, path: Path) -> None:
        tf = require("tensorflow", "tensorflow")
        tf2onnx = require("tf2onnx", "tensorflow")
        spec = self.get_io_specification().inputs[0]
        signature = [tf.TensorSpec([None, *spec.shape[1:]], tf.float32, name=spec.name)]
        function = tf.function(lambda x: self.model(x, training=False))
        try:
            tf2onnx.convert.from_function(
                function, input_signature=signature, opset=17, output_path=str(path)
            )
        except Exception as exc:
            raise ModelError(f"ONNX export of {self.model_path} failed: {exc}", path) from exc

    def run_inference(self, inputs: Any) -> Any:
        return self.run_outputs(inputs)[self.scored_index()]

    def run_outputs(self, inputs: Any) -> list[np.ndarray]:
        result = self.model(inputs, training=False)
        if isinstance(result, dict):  # a functional model with named outputs
            result = [result[name] for name in self.model.output_names]
        flat = result if isinstance(result, list | tuple) else [result]
        return [np.asarray(t) for t in flat]

    def get_framework_and_version(self) -> tuple[str, str]:
        tf = require("tensorflow", "tensorflow")
        return "tensorflow", tf.__version__

    def get_io_specification(self) -> IOSpec:
        in_shape = [int(d) for d in self.model.inputs[0].shape[1:]]
        outputs = self.model.outputs
        names = (
            ["output"]
            if len(outputs) == 1
            else list(getattr(self.model, "output_names", None) or [])
            or [f"output_{k}" for k in range(len(outputs))]
        )
        return IOSpec(
            inputs=[TensorSpec(name="input", shape=[-1, *in_shape], dtype="float32")],
            outputs=[
                TensorSpec(
                    name=name, shape=[-1, *[int(d) for d in out.shape[1:]]], dtype="float32"
                )
                for name, out in zip(names, outputs, strict=True)
            ],
        )

    def _keras_dataset(self, subset: str, batch_size: int, shuffle: bool) -> Any:
        """The wrapped Dataset's subset as a ``keras.utils.PyDataset``."""
        k = keras()
        assert self.dataset is not None
        dataset = self.dataset
        wrapper = self
        indices = dataset.subset_indices(subset)  # type: ignore[arg-type]

        class _Subset(k.utils.PyDataset):  # type: ignore[name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.order = indices
                self.epoch = 0

            def __len__(self) -> int:
                return math.ceil(len(indices) / batch_size)

            def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
                chunk = self.order[i * batch_size : (i + 1) * batch_size]
                x = dataset.prepare_input_samples([dataset.dataX[j] for j in chunk])
                y = dataset.prepare_output_samples([dataset.dataY[j] for j in chunk])
                return wrapper.preprocess_input(x), y

            def on_epoch_end(self) -> None:
                if shuffle:
                    self.epoch += 1
                    self.order = np.random.default_rng(self.epoch).permutation(indices)

        return _Subset()

    def _refresh_batch_norm(self, batches: Any, limit: int = 64) -> bool:
        """Set trainable batch-norm layers' moving statistics from the final weights.

        Keras keeps moving averages with momentum 0.99: after a short training from scratch
        they are still near their initial values, and the saved model then gives about the
        same output for every input. One pass over (up to ``limit``) training batches, each
        weighted equally, makes them the statistics of the trained network. Returns whether
        the model has any such layer.
        """
        k = keras()
        layers: list[Any] = []

        def walk(layer: Any) -> None:
            if isinstance(layer, k.layers.BatchNormalization) and layer.trainable:
                layers.append(layer)
            for inner in getattr(layer, "layers", []):
                walk(inner)

        walk(self.model)
        if not layers:
            return False
        momenta = [layer.momentum for layer in layers]
        try:
            for number in range(min(len(batches), limit)):
                for layer in layers:
                    layer.momentum = number / (number + 1)  # a running mean of batch statistics
                self.model(batches[number][0], training=True)
        finally:
            for layer, momentum in zip(layers, momenta, strict=True):
                layer.momentum = momentum
        return True

    def train_model(
        self, batch_size: int, learning_rate: float, epochs: int, logdir: Path | None
    ) -> dict[str, float]:
        k = keras()
        k.utils.set_random_seed(12345)
        self.model.compile(
            optimizer=k.optimizers.Adam(learning_rate=learning_rate),
            loss=k.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
        )
        train = self._keras_dataset("train", batch_size, shuffle=True)
        val = self._keras_dataset("validation", batch_size, shuffle=False)
        callbacks: list[Any] = []
        if logdir is not None:
            require("tensorboard", "tensorflow")  # Keras only fails at the first epoch's end
            callbacks.append(k.callbacks.TensorBoard(log_dir=str(logdir)))
        with progress("training", epochs) as advance:

            class _Progress(k.callbacks.Callback):  # type: ignore[name-defined]
                def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                    advance(1)

            callbacks.append(_Progress())
            history = self.model.fit(
                train, validation_data=val, epochs=epochs, verbose=0, callbacks=callbacks
            )
        last = {name: float(values[-1]) for name, values in history.history.items()}
        if self._refresh_batch_norm(self._keras_dataset("train", batch_size, shuffle=False)):
            # the saved model is the refreshed one: report its validation figures
            after = self.model.evaluate(val, verbose=0, return_dict=True)
            last.update(val_loss=float(after["loss"]), val_accuracy=float(after["accuracy"]))
        return {
            "loss": last["loss"],
            "accuracy": last["accuracy"],
            "val_loss": last["val_loss"],
            "val_accuracy": last["val_accuracy"],
        }
