"""Run ``torch.export`` programs (``.pt2``, from PyTorchCompiler) with PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.iospec import IOSpec
from kenning.core.runtime import InferenceError, Runtime
from kenning.frameworks.torchexport import load_program
from kenning.utils.imports import require


class PyTorchRuntime(Runtime):
    """Runs exported PyTorch programs on the CPU.

    Parameters
    ----------
    save_model_path : Path
        Where the model received from the host is stored.
    num_threads : int
        Intra-op threads; 0 keeps PyTorch's default.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, Path("model.pt2"), "where the target stores the model"),
        Arg("--num-threads", int, 0, "intra-op threads (0: PyTorch decides)"),
    )

    framework = "torch"
    model_formats = ("torch-exported",)

    def __init__(self, save_model_path: Path = Path("model.pt2"), num_threads: int = 0) -> None:
        super().__init__(save_model_path)
        self.num_threads = num_threads
        self.module: Any = None
        self._inputs: list[Any] = []
        self._outputs: list[np.ndarray] = []

    def load_model(self, path: Path) -> None:
        """Load the exported program at ``path``.

        Raises
        ------
        ModelError
            If ``path`` is not a ``torch.export`` program or lacks its I/O specification.
        """
        torch = require("torch", "torch")
        path = Path(path)
        self.io_spec = IOSpec.load(path)
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        self.module = load_program(path).module()

    def prepare_input(self, data: bytes) -> None:
        torch = require("torch", "torch")
        assert self.io_spec is not None, "load_model() first"
        # frombuffer views are read-only; torch wants writable memory
        self._inputs = [torch.from_numpy(a.copy()) for a in self.io_spec.inputs_from_bytes(data)]

    def run(self) -> None:
        torch = require("torch", "torch")
        try:
            with torch.inference_mode():
                result = self.module(*self._inputs)
        except (RuntimeError, ValueError, TypeError, AssertionError) as exc:
            raise InferenceError(f"PyTorch inference failed: {exc}") from exc
        items = result if isinstance(result, list | tuple) else [result]
        self._outputs = [t.numpy() for t in items]

    def upload_output(self) -> bytes:
        assert self.io_spec is not None, "load_model() first"
        return self.io_spec.outputs_to_bytes(self._outputs)

    def get_framework_and_version(self) -> tuple[str, str]:
        torch = require("torch", "torch")
        return "torch", torch.__version__
