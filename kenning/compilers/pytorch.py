"""Export PyTorch models with ``torch.export`` for the PyTorch runtime.

A wrapper's ``.pth`` is a ``state_dict``: it needs the wrapper's code to be
rebuilt. The exported program (``.pt2``) carries graph and weights, so the
runtime loads it with nothing but torch, and loading it runs no pickled code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

from kenning.core.args import Arg
from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.frameworks.torchexport import load_program
from kenning.utils.errors import ConfigurationError, ModelError
from kenning.utils.imports import require


class PyTorchCompiler(ModelCompiler):
    """Exports a PyTorch model to a self-contained ``torch.export`` program (``.pt2``)."""

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the .pt2 program is written"),
    )

    framework = "torch"
    input_formats = ("torch", "torch-exported")
    output_format = "torch-exported"

    def compile_wrapper(self, model: ModelWrapper) -> IOSpec:
        """Export the wrapper's module with a free batch dimension.

        Raises
        ------
        ConfigurationError
            If the wrapper is not a PyTorch model.
        ModelError
            If ``torch.export`` cannot trace the module.
        """
        if model.model_format == "torch-exported":  # already a program: check and copy it
            self.input_transform = model.preprocess_input
            return self.compile(model.model_path, model.get_io_specification())
        if model.model_format != "torch":
            raise ConfigurationError(
                f"PyTorchCompiler takes torch models; {type(model).__name__} is a "
                f"{model.model_format} model"
            )
        torch = require("torch", "torch")
        self.input_transform = model.preprocess_input
        spec = model.get_io_specification()
        # batch 2: torch.export specialises a dimension it sees as 1
        examples = tuple(
            torch.zeros(s.concrete_shape(2), dtype=getattr(torch, s.dtype)) for s in spec.inputs
        )
        batch = torch.export.Dim("batch", min=1, max=1 << 16)
        out = self.compiled_model_path
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            program = torch.export.export(
                model.model.eval(), examples, dynamic_shapes=tuple({0: batch} for _ in examples)
            )
            torch.export.save(program, str(out))
        except Exception as exc:
            raise ModelError(f"torch.export failed on {model.model_path}: {exc}", out) from exc
        spec.save(out)
        return spec

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Check an existing ``.pt2`` program and copy it beside its specification.

        Raises
        ------
        ModelError
            If the input is not a ``torch.export`` program.
        """
        load_program(input_model_path)
        out = self.compiled_model_path
        out.parent.mkdir(parents=True, exist_ok=True)
        if Path(input_model_path).resolve() != out.resolve():
            shutil.copyfile(input_model_path, out)
        io_spec.save(out)
        return io_spec

    def get_framework_and_version(self) -> tuple[str, str]:
        torch = require("torch", "torch")
        return "torch", torch.__version__
