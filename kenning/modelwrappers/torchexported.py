"""A PyTorch exported program (``torch.export.save``, ``.pt2``), taken as it is.

Inputs and outputs (names, shapes, dtypes) are read from the program's graph; a dimension
the program left free is the batch when it is the first, anything else needs an
``.iospec.json`` beside the file. It runs in PyTorch for the reference, deploys as it is with
the ``pytorch`` runtime, and exports to ONNX (``onnx`` in a chain) for the other compilers.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec, as_tensors, to_model_layout
from kenning.core.model import ModelWrapper
from kenning.frameworks.torchexport import load_program
from kenning.utils.errors import ModelError
from kenning.utils.imports import require


class TorchExportedModel(ModelWrapper):
    """A ``torch.export`` program file."""

    framework = "torch"
    model_format = "torch-exported"
    model_suffixes = (".pt2",)

    def load_model(self, path: Path) -> None:
        self.program = load_program(path)
        self.model = self.program.module()
        if IOSpec.path_for(path).is_file():
            self._spec = IOSpec.load(path)
        else:
            self._spec = program_io_spec(self.program, path)

    def get_io_specification(self) -> IOSpec:
        return self._spec

    def get_framework_and_version(self) -> tuple[str, str]:
        try:
            return "torch", metadata.version("torch")
        except metadata.PackageNotFoundError:
            return "torch", "unknown"

    def preprocess_input(self, inputs: Any) -> Any:
        return to_model_layout(inputs, self._spec)

    def run_inference(self, inputs: Any) -> Any:
        return self.run_outputs(inputs)[self.scored_index()]

    def run_outputs(self, inputs: Any) -> list[np.ndarray]:
        torch = require("torch", "torch")
        pairs = zip(as_tensors(inputs), self._spec.inputs, strict=True)
        tensors = [torch.from_numpy(np.array(a, dtype=s.dtype)) for a, s in pairs]
        with torch.inference_mode():
            result = self.model(*tensors)
        flat = result if isinstance(result, list | tuple) else [result]
        return [t.numpy() for t in flat]

    def save_model(self, path: Path) -> None:
        torch = require("torch", "torch")
        torch.export.save(self.program, str(path))

    def save_to_onnx(self, path: Path) -> None:
        torch = require("torch", "torch")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(self.program, (), str(path), dynamo=True, verbose=False)
        except Exception as exc:  # the exporter raises many kinds; one error names the model
            raise ModelError(f"ONNX export of {self.model_path} failed: {exc}", path) from exc


def program_io_spec(program: Any, path: Path) -> IOSpec:
    """Inputs and outputs of an exported program, read from its graph.

    Raises
    ------
    ModelError
        If a dimension other than the first is free (an ``.iospec.json`` must say it).
    """
    signature = program.graph_signature
    nodes = {node.name: node for node in program.graph.nodes}

    def spec(name: str, value: Any) -> TensorSpec:
        dims = [int(d) if isinstance(d, int) else -1 for d in value.shape]
        if -1 in dims[1:]:
            raise ModelError(
                f"{path}: tensor '{name}' has a free dimension after the first ({dims}); "
                f"write its shape in {IOSpec.path_for(path)}",
                path,
            )
        dtype = str(value.dtype).removeprefix("torch.")
        return TensorSpec(name=name, shape=dims or [1], dtype=dtype)

    inputs = [spec(name, nodes[name].meta["val"]) for name in signature.user_inputs]
    output_node = next(node for node in program.graph.nodes if node.op == "output")
    values = output_node.args[0]
    values = values if isinstance(values, list | tuple) else [values]
    outputs = [
        spec(name, node.meta["val"])
        for name, node in zip(signature.user_outputs, values, strict=True)
    ]
    return IOSpec(inputs=inputs, outputs=outputs)
