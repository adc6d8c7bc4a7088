"""The C of a firmware model (compiler ``onnx-c``), built for this machine and run in-process.

On a microcontroller board the same C runs inside the firmware, and the host only names the
model (docs/protocol.md, "Models in firmware"); this runtime runs it here, built with the
host's ``cc``, so the generated C can be checked against its ONNX source without a board.
It loads one sample at a time, as the firmware does.
"""

from __future__ import annotations

import ctypes
import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from kenning.core.args import Arg
from kenning.core.firmwaremodel import firmware_model_sha256
from kenning.core.iospec import IOSpec
from kenning.core.runtime import Runtime
from kenning.utils.buildtool import run_build
from kenning.utils.errors import ConfigurationError, MissingToolError

#: seconds the host compiler may take over a model's C
BUILD_TIMEOUT_S = 600.0


class CModelRuntime(Runtime):
    """Runs an ``onnx-c`` model folder's C, compiled here into a shared library.

    Parameters
    ----------
    save_model_path : Path
        The model folder (written by compiler ``onnx-c``).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, help="the onnx-c model folder"),
    )

    framework = "onnx-c"
    model_formats = ("c-model",)

    def __init__(self, save_model_path: Path) -> None:
        super().__init__(save_model_path)
        self._run: Any = None
        self._generator = "unknown"
        self._library: ctypes.CDLL | None = None
        self._input = ctypes.create_string_buffer(0)
        self._output = ctypes.create_string_buffer(0)
        self._ran = False

    def prepare_model(self, model: bytes | None) -> None:
        """Load the folder at ``save_model_path`` (a firmware model is never sent as bytes).

        Raises
        ------
        ConfigurationError
            If model bytes are given: this runtime runs a folder on this machine.
        """
        if model is not None:
            raise ConfigurationError(
                "runtime onnx-c is built into a microcontroller's firmware: it does not "
                "receive models (bench it on an mcu board, or in-process on this host)"
            )
        self.load_model(self.save_model_path)

    def load_model(self, path: Path) -> None:
        """Compile the folder's C with ``cc`` (once per content) and load it.

        Raises
        ------
        ModelError
            If ``path`` is not an onnx-c folder or its C does not build.
        MissingToolError
            If there is no C compiler.
        """
        folder = Path(path)
        sha = firmware_model_sha256(folder)
        spec = IOSpec.load(folder)
        compiler = shutil.which("cc")
        if compiler is None:
            raise MissingToolError("cc", "apt-get install gcc")
        library = folder / f".host-{sha[:12]}.so"
        if not library.is_file():
            sources = sorted(str(p) for p in folder.glob("*.c"))
            command = [compiler, "-shared", "-fPIC", "-O2", "-I", str(folder), *sources]
            command += ["-o", str(library), "-lm"]
            run_build(command, f"cc building the C of {folder}", folder, BUILD_TIMEOUT_S)
        self._library = ctypes.CDLL(str(library))
        self._run = self._library.kenning_model_run
        self._run.restype = None
        self._run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        inputs = sum(t.sample_size() for t in spec.inputs)
        outputs = sum(t.sample_size() for t in spec.outputs)
        self._input = ctypes.create_string_buffer(inputs)
        self._output = ctypes.create_string_buffer(outputs)
        self.io_spec = spec
        self._ran = False
        summary = json.loads((folder / "model.json").read_text())
        self._generator = f"emx-onnx-cgen {summary.get('emx_onnx_cgen_version', 'unknown')}"

    def prepare_input(self, data: bytes) -> None:
        """Take one sample's bytes.

        Raises
        ------
        ConfigurationError
            If no model is loaded, or ``data`` is not exactly one sample.
        """
        if self._run is None:
            raise ConfigurationError("no model loaded: load_model() first")
        if len(data) != len(self._input):
            raise ConfigurationError(
                f"input of {len(data)} bytes is not one {len(self._input)}-byte sample "
                "(an onnx-c model takes one sample at a time)"
            )
        ctypes.memmove(self._input, bytes(data), len(data))
        self._ran = False

    def run(self) -> None:
        """Run the model's C on the stored sample."""
        if self._run is None:
            raise ConfigurationError("no model loaded: load_model() first")
        self._run(self._input, self._output)
        self._ran = True

    def upload_output(self) -> bytes:
        """The output bytes of the last run.

        Raises
        ------
        ConfigurationError
            If nothing ran yet.
        """
        if not self._ran:
            raise ConfigurationError("no output: run() first")
        return self._output.raw

    def get_framework_and_version(self) -> tuple[str, str]:
        """``onnx-c`` and what generated the loaded model's C (as the firmware reports it)."""
        return "onnx-c", self._generator
