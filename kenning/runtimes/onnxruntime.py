"""Run ONNX models (float or quantised) with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.iospec import IOSpec
from kenning.core.runtime import InferenceError, Runtime
from kenning.utils.errors import ConfigurationError, ModelError
from kenning.utils.imports import require


class ONNXRuntime(Runtime):
    """Runs ``.onnx`` artifacts with ONNX Runtime on the chosen execution providers.

    Parameters
    ----------
    save_model_path : Path
        Where the model received from the host is stored.
    execution_providers : list of str
        ONNX Runtime providers, in order of preference.
    num_threads : int
        Intra-op threads; 0 lets ONNX Runtime choose.
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, Path("model.onnx"), "where the target stores the model"),
        Arg(
            "--execution-providers",
            str,
            ["CPUExecutionProvider"],
            "ONNX Runtime execution providers, preferred first",
            nargs="+",
        ),
        Arg("--num-threads", int, 0, "intra-op threads (0: ONNX Runtime decides)"),
    )

    framework = "onnxruntime"
    model_formats = ("onnx",)

    def __init__(
        self,
        save_model_path: Path = Path("model.onnx"),
        execution_providers: list[str] | None = None,
        num_threads: int = 0,
    ) -> None:
        super().__init__(save_model_path)
        self.execution_providers = list(execution_providers or ["CPUExecutionProvider"])
        self.num_threads = num_threads
        self.session: Any = None
        self._feeds: dict[str, np.ndarray] = {}
        self._outputs: list[np.ndarray] = []

    def load_model(self, path: Path) -> None:
        """Open an ONNX Runtime session on ``path``.

        Raises
        ------
        ConfigurationError
            If an execution provider is not available in this ONNX Runtime build.
        ModelError
            If ``path`` or its I/O specification cannot be loaded.
        """
        ort = require("onnxruntime", "onnxruntime")
        available = ort.get_available_providers()
        unknown = [p for p in self.execution_providers if p not in available]
        if unknown:
            raise ConfigurationError(
                f"--execution-providers: {', '.join(unknown)} not available in this "
                f"onnxruntime build (available: {', '.join(available)})"
            )
        path = Path(path)
        self.io_spec = IOSpec.load(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if self.num_threads:
            options.intra_op_num_threads = self.num_threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=options, providers=self.execution_providers
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime cannot load {path}: {first}", path) from exc

    def prepare_input(self, data: bytes) -> None:
        assert self.io_spec is not None, "load_model() first"
        arrays = self.io_spec.inputs_from_bytes(data)
        self._feeds = {s.name: a for s, a in zip(self.io_spec.inputs, arrays, strict=True)}

    def run(self) -> None:
        try:
            self._outputs = self.session.run(None, self._feeds)
        except Exception as exc:
            raise InferenceError(f"ONNX Runtime inference failed: {exc}") from exc

    def upload_output(self) -> bytes:
        assert self.io_spec is not None, "load_model() first"
        return self.io_spec.outputs_to_bytes(self._outputs)

    def get_framework_and_version(self) -> tuple[str, str]:
        ort = require("onnxruntime", "onnxruntime")
        return "onnxruntime", ort.__version__
