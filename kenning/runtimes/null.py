"""A runtime that runs nothing: the test double for protocols and servers.

It loads any model file that has an I/O specification beside it, checks
that inputs are whole samples of that specification, and answers with zeros
of the output size. Protocol tests and benchmarks use it so they measure the
protocol, not a framework.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

import kenning
from kenning.core.args import Arg
from kenning.core.iospec import IOSpec
from kenning.core.runtime import Runtime
from kenning.utils.errors import ConfigurationError, ModelError


class NullRuntime(Runtime):
    """Answers every input with zero-filled outputs shaped by the I/O specification.

    Parameters
    ----------
    save_model_path : Path
        Where the received model is stored (its content is never read).
    inference_time : float
        Seconds each :meth:`run` sleeps, to stand in for a slow model.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, Path("null-model.bin"), "where the model is stored"),
        Arg("--inference-time", float, 0.0, "seconds each inference pretends to take"),
    )

    framework = "null"
    model_formats = ("onnx", "tvm", "tflite", "torch")

    def __init__(
        self, save_model_path: Path = Path("null-model.bin"), inference_time: float = 0.0
    ) -> None:
        super().__init__(save_model_path)
        self.inference_time = inference_time
        self._input_size = 0
        self._output_size = 0
        self._batch = 0
        self._ran = False
        self._zeros = b""

    def load_model(self, path: Path) -> None:
        """Read the I/O specification beside ``path``.

        Raises
        ------
        ModelError
            If ``path`` or its specification is missing or malformed.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist", path)
        spec = IOSpec.load(path)
        self._input_size = sum(t.sample_size() for t in spec.inputs)
        self._output_size = sum(t.sample_size() for t in spec.outputs)
        if self._input_size == 0:
            raise ModelError(f"{IOSpec.path_for(path)} describes no input bytes", path)
        self.io_spec = spec
        self._batch = 0
        self._ran = False

    def prepare_input(self, data: bytes) -> None:
        """Check that ``data`` holds whole samples.

        Raises
        ------
        ConfigurationError
            If no model is loaded or ``data`` is not a whole number of samples.
        """
        if self.io_spec is None:
            raise ConfigurationError("NullRuntime: no model loaded")
        size = len(data)
        if size == 0 or size % self._input_size:
            raise ConfigurationError(
                f"input of {size} bytes is not a whole number of {self._input_size}-byte samples"
            )
        self._batch = size // self._input_size
        self._ran = False

    def run(self) -> None:
        """Pretend to infer: keep the CPU busy for ``inference_time`` seconds, as a model would.

        Raises
        ------
        ConfigurationError
            If no input was prepared.
        """
        if not self._batch:
            raise ConfigurationError("NullRuntime: no input to process")
        deadline = time.perf_counter() + self.inference_time
        while time.perf_counter() < deadline:  # busy: a known duration, not a scheduler's sleep
            pass
        self._ran = True

    def upload_output(self) -> bytes:
        """Zeros of the output size for the last batch.

        Raises
        ------
        ConfigurationError
            If nothing has run since the last input.
        """
        if not self._ran:
            raise ConfigurationError("NullRuntime: no output, nothing has run")
        size = self._batch * self._output_size
        if len(self._zeros) != size:
            self._zeros = bytes(size)
        return self._zeros

    def get_framework_and_version(self) -> tuple[str, str]:
        return "null", kenning.__version__
