"""The ModelWrapper interface: one model, its framework, its I/O and its training.

Framework-common code lives in :mod:`kenning.modelwrappers.frameworks`;
reference implementations are
:class:`kenning.modelwrappers.classification.pytorch_digits.PyTorchDigitsCNN` and
:class:`kenning.modelwrappers.classification.tensorflow_digits.TensorFlowDigitsCNN`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.dataset import Dataset
from kenning.core.inputcheck import check_cast, check_shape
from kenning.core.iospec import IOSpec, as_tensors
from kenning.utils.errors import ConfigurationError, ModelError

M = TypeVar("M", bound="ModelWrapper")


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
        Arg(
            "--scored-output",
            str,
            None,
            "the output accuracy and metrics use, by name or position (default: the first)",
        ),
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
        #: the output the dataset scores, by name or position (``None``: the first)
        self.scored_output: str | None = None

    @classmethod
    def from_argparse(cls: type[M], args: argparse.Namespace, *posargs: Any, **extra: Any) -> M:
        """Build the wrapper from parsed flags; ``--scored-output`` is kept on the instance."""
        params = cls.params_from_namespace(args)
        scored = params.pop("scored_output", None)
        model = cls(*posargs, **{**params, **extra})
        model.scored_output = scored
        return model

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
        """Run the framework model on preprocessed inputs; return the scored output."""
        raise NotImplementedError

    def run_outputs(self, inputs: Any) -> list[np.ndarray]:
        """Run the framework model; return every output, in the I/O specification's order.

        Wrappers of models with several outputs override this (and :meth:`run_inference`
        returns ``self.run_outputs(inputs)[self.scored_index()]``).
        """
        return [np.asarray(self.run_inference(inputs))]

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

    def scored_index(self) -> int:
        """Position of the scored output among the model's outputs.

        Raises
        ------
        ConfigurationError
            If ``--scored-output`` names no output of the model.
        """
        if self.scored_output is None:
            return 0
        names = [s.name for s in self.get_io_specification().outputs]
        given = self.scored_output
        if given in names:
            return names.index(given)
        if given.isdigit() and int(given) < len(names):
            return int(given)
        raise ConfigurationError(
            f"--scored-output {given}: the model has no such output; its outputs are "
            f"{', '.join(f'{k}: {n}' for k, n in enumerate(names))} (give a name or a position)"
        )

    def check_outputs(self) -> None:
        """Refuse, before any compiling or measuring, a scored output the data cannot score.

        A classification dataset scores a one-value-per-class output: fewer values than the
        dataset has classes would fail only at the end; more are refused too when the
        dataset's classes are names (class folders) rather than the model's class indices.

        Raises
        ------
        ConfigurationError
            Naming both numbers and what to change.
        """
        index = self.scored_index()
        if self.dataset is None or self.dataset.task != "classification":
            return
        spec = self.get_io_specification().outputs[index]
        values = [d for d in spec.shape[1:] if d != 1]
        classes = self.dataset.num_classes
        if len(values) != 1 or values[0] <= 0:
            return
        if values[0] < classes or (values[0] > classes and self.dataset.classes_are_names):
            raise ConfigurationError(
                f"the model's output '{spec.name}' scores {values[0]} classes and "
                f"{type(self.dataset).__name__} has {classes}: map the data's classes to the "
                "model's (`labels: {FOLDER: INDEX}` in the scenario's dataset, "
                "--class-indices), score another output (`scored: true` in the model's "
                "`outputs:`, --scored-output), or give float targets for a regression"
            )

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
        self.dataset.order_inputs([s.name for s in specs])
        samples = as_tensors(
            self.preprocess_input(self.dataset.prepare_input_samples(self.dataset.dataX[:1]))
        )
        if len(samples) != len(specs):
            raise ConfigurationError(
                f"the model takes {len(specs)} inputs ({', '.join(s.name for s in specs)}); "
                f"{type(self.dataset).__name__} gives {len(samples)} per sample"
            )
        where = (type(self.dataset).__name__, type(self).__name__)
        for spec, sample in zip(specs, samples, strict=True):
            check_shape(spec, np.asarray(sample), *where)
            check_cast(spec, np.asarray(sample), *where)

    def convert_input_to_bytes(self, inputs: np.ndarray) -> bytes:
        """Serialise preprocessed inputs for the protocol."""
        return self.get_io_specification().inputs_to_bytes([inputs])

    def convert_output_from_bytes(self, data: bytes) -> np.ndarray:
        """Deserialise the first output tensor received through the protocol."""
        return self.get_io_specification().outputs_from_bytes(data)[0]
