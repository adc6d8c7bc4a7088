"""An artifact compiled earlier (e.g. in a compile image): checked and loaded, not compiled.

``inference_tester`` always takes a compiler; when the artifact was built by another step
(``invoke compile`` runs the compile in its pinned image), this one stands in: it checks
that ``--compiled-model-path`` and its I/O specification exist and reports the compiler
that made the artifact, read from ``<artifact>.provenance.json`` when that file is there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec
from kenning.core.model import ModelWrapper
from kenning.utils.errors import ModelError


class PrecompiledModel(ModelCompiler):
    """Uses the artifact at ``--compiled-model-path`` as it is.

    Parameters
    ----------
    dataset : Dataset, optional
        Unused (kept for the common constructor).
    compiled_model_path : Path
        The existing artifact; ``<artifact>.iospec.json`` must be beside it.
    """

    framework: ClassVar[str] = ""
    input_formats: ClassVar[tuple[str, ...]] = ("keras", "torch", "onnx", "tflite")
    output_format = ""

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Check the artifact and return its I/O specification.

        Raises
        ------
        ModelError
            If the artifact or its specification is missing.
        """
        folder_model = (self.compiled_model_path / "model.json").is_file()  # onnx-c's
        if not self.compiled_model_path.is_file() and not folder_model:
            raise ModelError(
                f"{self.compiled_model_path} does not exist: compile it first "
                "(e.g. `invoke compile`), or pass the real compiler instead of 'precompiled'",
                self.compiled_model_path,
            )
        as_given = Path(input_model_path).resolve() == self.compiled_model_path.resolve()
        if as_given and not IOSpec.path_for(self.compiled_model_path).is_file():
            return io_spec  # the model file deploys as it is: its wrapper read the spec from it
        return IOSpec.load(self.compiled_model_path)

    def compile_wrapper(self, model: ModelWrapper) -> IOSpec:
        """Skip exporting ``model``: the artifact already exists."""
        self.input_transform = model.preprocess_input
        return self.compile(model.model_path, model.get_io_specification())

    def get_framework_and_version(self) -> tuple[str, str]:
        """The compiler recorded beside the artifact, or ``("precompiled", "unknown")``."""
        record = self.compiled_model_path.with_name(
            self.compiled_model_path.name + ".provenance.json"
        )
        try:
            steps = json.loads(record.read_text())
            command = steps[-1]["command"]
            compiler = command[command.index("kenning.scenarios.model_compilation") + 2]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return "precompiled", "unknown"
        return f"precompiled ({compiler})", str(steps[-1].get("kenning_version", "unknown"))
