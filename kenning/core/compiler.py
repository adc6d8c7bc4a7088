"""The ModelCompiler interface: optimise and compile a model for a target.

Implementations live in :mod:`kenning.compilers`; each writes the compiled
artifact and an :class:`~kenning.core.iospec.IOSpec` beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from kenning.core.args import Arg, ArgumentsHandler
from kenning.core.dataset import Dataset
from kenning.core.iospec import IOSpec


class ModelCompiler(ArgumentsHandler):
    """Base class of compilers.

    Parameters
    ----------
    dataset : Dataset, optional
        Calibration data for quantising compilers.
    compiled_model_path : Path
        Where the compiled artifact is written.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--compiled-model-path", Path, help="where the compiled model is written"),
    )

    #: name of the compiler's framework module, e.g. ``"tvm"``
    framework: ClassVar[str] = ""

    def __init__(self, dataset: Dataset | None, compiled_model_path: Path) -> None:
        self.dataset = dataset
        self.compiled_model_path = Path(compiled_model_path)

    def compile(self, input_model_path: Path, io_spec: IOSpec) -> IOSpec:
        """Compile ``input_model_path`` to ``compiled_model_path``.

        Parameters
        ----------
        input_model_path : Path
            The model file as its wrapper saved it.
        io_spec : IOSpec
            The source model's inputs and outputs.

        Returns
        -------
        IOSpec
            The compiled artifact's inputs and outputs, also saved beside it.
        """
        raise NotImplementedError

    def get_framework_and_version(self) -> tuple[str, str]:
        """The compiler's name and version."""
        raise NotImplementedError
