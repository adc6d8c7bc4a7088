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

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.core.model import ModelWrapper
from kenning.utils.errors import ModelError
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
        self.io_spec = IOSpec.load(path) if spec_path.is_file() else onnx_io_spec(path)
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
        spec = self.io_spec.inputs[0]
        name = self._session.get_inputs()[0].name
        return self._session.run(None, {name: np.asarray(inputs, dtype=spec.dtype)})[0]


def onnx_io_spec(path: Path) -> IOSpec:
    """Inputs and outputs of an ONNX file, read from its graph.

    Raises
    ------
    ModelError
        If the file is not ONNX, or a dimension other than the first is free (then an
        ``.iospec.json`` beside the file must say it).
    """
    onnx = require("onnx", "onnxruntime")
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError, ValueError... for a file that is not one
        raise ModelError(f"{path} is not an ONNX model ({type(exc).__name__}: {exc})",
                         path) from exc  # fmt: skip
    weights = {item.name for item in graph.initializer}

    def tensors(values: Any) -> list[TensorSpec]:
        specs = []
        for value in values:
            if value.name in weights:
                continue
            kind = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in kind.shape.dim]
            if any(d <= 0 for d in dims[1:]):
                raise ModelError(
                    f"{path}: tensor '{value.name}' has a free dimension after the first "
                    f"({dims}); write its shape in {IOSpec.path_for(path)}", path)  # fmt: skip
            dtype = onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type)
            specs.append(TensorSpec(name=value.name, shape=[-1 if d <= 0 else d for d in dims]
                                    or [1], dtype=np.dtype(dtype).name))  # fmt: skip
        return specs

    return IOSpec(inputs=tensors(graph.input), outputs=tensors(graph.output))
