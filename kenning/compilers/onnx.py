"""Export Keras and PyTorch models to ONNX.

The export itself is the model wrapper's ``save_to_onnx`` (it knows its
framework's working route); this compiler checks the result, makes it one
self-contained file and writes the I/O specification taken from the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from kenning.core.args import Arg
from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.frameworks.onnx import load_onnx, onnx_io_spec, save_onnx
from kenning.utils.imports import require


class ONNXCompiler(ModelCompiler):
    """Exports a model to a checked, self-contained ONNX file."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the .onnx file is written"),
    )

    framework = "onnx"
    input_formats = ("onnx",)
    output_format = "onnx"

    def compile_wrapper(self, model: ModelWrapper) -> IOSpec:
        """Export ``model`` straight to ``compiled_model_path`` and check it.

        Raises
        ------
        ModelError
            If the export fails or gives an invalid ONNX file.
        """
        self.input_transform = model.preprocess_input
        self.compiled_model_path.parent.mkdir(parents=True, exist_ok=True)
        model.save_to_onnx(self.compiled_model_path)
        return self.compile(self.compiled_model_path, model.get_io_specification())

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Check an ONNX file and copy it to ``compiled_model_path`` with its specification.

        Raises
        ------
        ModelError
            If ``input_model_path`` is not a valid ONNX model.
        """
        model = load_onnx(input_model_path)
        save_onnx(model, self.compiled_model_path)
        spec = onnx_io_spec(model, io_spec, Path(input_model_path))
        spec.save(self.compiled_model_path)
        return spec

    def get_framework_and_version(self) -> tuple[str, str]:
        onnx = require("onnx", "onnxruntime")
        return "onnx", onnx.__version__
