"""A model that is already an ONNX file: compile it further without its training framework.

Its inputs and outputs are read from the graph (a free first dimension is the batch); an
``.iospec.json`` beside the file, as :class:`kenning.compilers.onnx.ONNXCompiler` writes it,
takes precedence, and is needed only where the graph cannot tell (other free dimensions).
This is how the toolchain hands a model from a training image to a compile image that has
no TensorFlow or PyTorch, and how a user's own ``.onnx`` file enters a scenario.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, as_tensors, to_model_layout
from kenning.core.model import ModelWrapper
from kenning.frameworks.onnx import load_onnx, onnx_io_spec
from kenning.utils.imports import require


class ONNXModel(ModelWrapper):
    """An exported ``.onnx`` model with its ``.iospec.json``.

    Inputs in NHWC from a dataset are transposed to NCHW when the model takes NCHW.
    """

    framework = "onnx"
    model_format = "onnx"
    model_suffixes = (".onnx",)

    def load_model(self, path: Path) -> None:
        spec_path = IOSpec.path_for(path)
        self.io_spec = (
            IOSpec.load(path) if spec_path.is_file() else onnx_io_spec(load_onnx(path), None, path)
        )
        self.model = path

    def get_io_specification(self) -> IOSpec:
        return self.io_spec

    def get_framework_and_version(self) -> tuple[str, str]:
        """ONNX Runtime runs the reference (not the ``onnx`` package, which only reads it)."""
        try:
            return "onnxruntime", metadata.version("onnxruntime")
        except metadata.PackageNotFoundError:
            return "onnxruntime", "unknown"

    def save_model(self, path: Path) -> None:
        if Path(path) != self.model_path:
            shutil.copyfile(self.model_path, path)
            self.io_spec.save(path)

    def save_to_onnx(self, path: Path) -> None:
        self.save_model(path)

    def preprocess_input(self, inputs: Any) -> Any:
        return to_model_layout(inputs, self.io_spec)

    def run_inference(self, inputs: Any) -> Any:
        return self.run_outputs(inputs)[self.scored_index()]

    def run_outputs(self, inputs: Any) -> list[np.ndarray]:
        if not hasattr(self, "_session"):
            ort = require("onnxruntime", "onnxruntime")
            self._session = ort.InferenceSession(str(self.model_path))
        feeds = {
            given.name: np.asarray(array, dtype=spec.dtype)
            for given, spec, array in zip(
                self._session.get_inputs(), self.io_spec.inputs, as_tensors(inputs), strict=True
            )
        }
        return [np.asarray(o) for o in self._session.run(None, feeds)]
