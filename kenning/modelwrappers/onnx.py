"""A model that is already an ONNX file: compile it further without its training framework.

The ONNX file must have its I/O specification beside it, as
:class:`kenning.compilers.onnx.ONNXCompiler` writes it. This is how the
toolchain hands a model from a training image to a compile image that has no
TensorFlow or PyTorch.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.utils.imports import require


class ONNXModel(ModelWrapper):
    """An exported ``.onnx`` model with its ``.iospec.json``.

    Inputs in NHWC from a dataset are transposed to NCHW when the model takes NCHW.
    """

    framework = "onnx"
    model_format = "onnx"
    model_suffixes = (".onnx",)

    def load_model(self, path: Path) -> None:
        self.io_spec = IOSpec.load(path)
        self.model = path

    def get_io_specification(self) -> IOSpec:
        return self.io_spec

    def get_framework_and_version(self) -> tuple[str, str]:
        try:
            return "onnx", metadata.version("onnx")
        except metadata.PackageNotFoundError:
            return "onnx", "unknown"

    def save_model(self, path: Path) -> None:
        if Path(path) != self.model_path:
            shutil.copyfile(self.model_path, path)
            self.io_spec.save(path)

    def save_to_onnx(self, path: Path) -> None:
        self.save_model(path)

    def preprocess_input(self, inputs: np.ndarray) -> Any:
        wanted = tuple(self.io_spec.inputs[0].shape[1:])
        if inputs.ndim == 4 and tuple(inputs.shape[1:]) != wanted:
            nchw = np.transpose(inputs, (0, 3, 1, 2))
            if tuple(nchw.shape[1:]) == wanted:
                return np.ascontiguousarray(nchw)
        return inputs

    def run_inference(self, inputs: Any) -> Any:
        if not hasattr(self, "_session"):
            ort = require("onnxruntime", "onnxruntime")
            self._session = ort.InferenceSession(str(self.model_path))
        name = self._session.get_inputs()[0].name
        return self._session.run(None, {name: np.asarray(inputs, dtype=np.float32)})[0]
