"""The ModelWrapper interface: one model, its framework, its I/O and its training.

Framework-common code lives in :mod:`kenning.modelwrappers.frameworks`;
reference implementations are
:class:`kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN` and
:class:`kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec, TensorSpec, as_tensors
from kenning.utils.errors import ConfigurationError, ModelError


class ModelWrapper(ArgumentsHandler):
    """Base class of model wrappers.

    Parameters
    ----------
    model_path : Path
        Where the model is loaded from (``from_file``) or saved to.
    dataset : Dataset, optional
        The dataset the model works on; gives class count and input shape.
    from_file : bool
        Load ``model_path`` in :meth:`prepare_model` instead of building a new model.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--model-path", Path, help="the trained model file"),
    )

    #: name of the framework's Python module, e.g. ``"torch"``
    framework: ClassVar[str] = ""
    #: format of the saved model as compilers know it (``"keras"``, ``"torch"``)
    model_format: ClassVar[str] = ""
    #: model file suffixes this wrapper reads and writes, preferred first
    model_suffixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model_path: Path, dataset: Dataset | None, from_file: bool = True) -> None:
        self.model_path = Path(model_path)
        self.dataset = dataset
        self.from_file = from_file
        self.model: Any = None

    # -- hooks -------------------------------------------------------------
    def build_model(self) -> None:
        """Create a new, untrained model in ``self.model``."""
        raise NotImplementedError

    def load_model(self, path: Path) -> None:
        """Load ``self.model`` from ``path``; raise :class:`ModelError` if it is not one."""
        raise NotImplementedError

    def save_model(self, path: Path) -> None:
        """Save ``self.model`` to ``path``."""
        raise NotImplementedError

    def save_to_onnx(self, path: Path) -> None:
        """Export the model to ONNX at ``path``."""
        raise NotImplementedError

    def run_inference(self, inputs: Any) -> Any:
        """Run the framework model on preprocessed inputs."""
        raise NotImplementedError

    def get_framework_and_version(self) -> tuple[str, str]:
        """The framework's name and version, e.g. ``("torch", "2.13.0")``."""
        raise NotImplementedError

    def train_model(
        self, batch_size: int, learning_rate: float, epochs: int, logdir: Path | None
    ) -> dict[str, float]:
        """Train on the dataset's train split; return final metrics (``val_accuracy``, ...)."""
        raise NotImplementedError

    def get_io_specification(self) -> IOSpec:
        """Names, shapes and dtypes of the model's inputs and outputs."""
        raise NotImplementedError

    def preprocess_input(self, inputs: np.ndarray) -> Any:
        """Model-specific conversion of the dataset's batch (e.g. NHWC -> NCHW)."""
        return inputs

    def postprocess_outputs(self, outputs: Any) -> np.ndarray:
        """Model-specific conversion of raw outputs into per-class scores."""
        return np.asarray(outputs)

    # -- provided ------------------------------------------------------------
    def prepare_model(self) -> None:
        """Load the model from ``model_path``, or build a new one when not ``from_file``.

        Raises
        ------
        ModelError
            If the file is missing or not a model this wrapper can read.
        """
        if not self.from_file:
            self.build_model()
            return
        if not self.model_path.is_file():
            raise ModelError(
                f"model file {self.model_path} does not exist; train one with "
                "kenning.scenarios.model_training or pass the right --model-path",
                self.model_path,
            )
        if self.model_suffixes and self.model_path.suffix not in self.model_suffixes:
            raise ModelError(
                f"{self.model_path} is not a {type(self).__name__} model "
                f"(expected a {' or '.join(self.model_suffixes)} file)",
                self.model_path,
            )
        self.load_model(self.model_path)

    def check_save_path(self, path: Path) -> None:
        """Refuse, before any training, a path this wrapper cannot save to.

        Raises
        ------
        ModelError
            If the suffix is not one of :attr:`model_suffixes`.
        """
        if self.model_suffixes and Path(path).suffix not in self.model_suffixes:
            raise ModelError(
                f"{type(self).__name__} saves {' or '.join(self.model_suffixes)} files, "
                f"not {path}; give --model-path a {self.model_suffixes[0]} name",
                Path(path),
            )

    def save_model_atomically(self, path: Path) -> None:
        """Save to a temporary file beside ``path``, then rename: an old model survives failure.

        Raises
        ------
        ModelError
            If saving fails (``path`` is left as it was).
        """
        path = Path(path)
        partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        try:
            self.save_model(partial)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def infer(self, inputs: np.ndarray) -> np.ndarray:
        """Preprocess, run and postprocess one batch of dataset inputs."""
        return self.postprocess_outputs(self.run_inference(self.preprocess_input(inputs)))

    def check_inputs(self) -> None:
        """Refuse, before any compiling or measuring, data the model cannot take.

        One dataset sample, preprocessed, must give one array per model input, each of the
        input's shape (a free dimension takes any size).

        Raises
        ------
        ConfigurationError
            Naming the input, both shapes and what to change.
        """
        if self.dataset is None or not len(self.dataset):
            return
        specs = self.get_io_specification().inputs
        samples = as_tensors(
            self.preprocess_input(self.dataset.prepare_input_samples(self.dataset.dataX[:1]))
        )
        if len(samples) != len(specs):
            raise ConfigurationError(
                f"the model takes {len(specs)} inputs ({', '.join(s.name for s in specs)}); "
                f"{type(self.dataset).__name__} gives {len(samples)} per sample"
            )
        for spec, sample in zip(specs, samples, strict=True):
            self._check_shape(spec, sample)

    def _check_shape(self, spec: TensorSpec, sample: np.ndarray) -> None:
        wanted, given = spec.shape[1:], list(sample.shape[1:])
        fits = len(wanted) == len(given) and all(
            w in (-1, g) for w, g in zip(wanted, given, strict=True)
        )
        if not fits:
            raise ConfigurationError(
                f"input shape mismatch: {type(self.dataset).__name__} gives samples of shape "
                f"{tuple(given)} (after {type(self).__name__}'s preprocessing); the model's "
                f"input '{spec.name}' takes {tuple(wanted)}: change the data's preprocessing "
                "(e.g. resize, layout) or the model"
            )

    def convert_input_to_bytes(self, inputs: np.ndarray) -> bytes:
        """Serialise preprocessed inputs for the protocol."""
        return self.get_io_specification().inputs_to_bytes([inputs])

    def convert_output_from_bytes(self, data: bytes) -> np.ndarray:
        """Deserialise the first output tensor received through the protocol."""
        return self.get_io_specification().outputs_from_bytes(data)[0]
