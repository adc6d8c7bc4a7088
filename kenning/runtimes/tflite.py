"""Run ``.tflite`` models with LiteRT (ai_edge_litert), tflite_runtime or tf.lite.

The interpreter is taken from the first of those that imports, so a board
needs only the small LiteRT wheel; delegates (e.g. ``libedgetpu.so.1`` for
Coral) come from ``--delegates-list``.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.iospec import IOSpec
from kenning.core.runtime import InferenceError, Runtime
from kenning.frameworks.tflite import tflite_backend
from kenning.utils.errors import ConfigurationError, ModelError


class TFLiteRuntime(Runtime):
    """Runs TFLite models, optionally through delegates.

    Parameters
    ----------
    save_model_path : Path
        Where the model received from the host is stored.
    delegates_list : list of str
        Delegate libraries to load, e.g. ``libedgetpu.so.1``.
    num_threads : int
        Interpreter threads; 0 lets the interpreter choose.
    no_default_delegates : bool
        Run the interpreter's built-in kernels instead of its default delegate (XNNPACK).
        XNNPACK's int8 kernels compute wrong results under qemu-user emulation (7.2).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, Path("model.tflite"), "where the target stores the model"),
        Arg("--delegates-list", str, [], "TFLite delegate libraries to load", nargs="*"),
        Arg("--num-threads", int, 0, "interpreter threads (0: the interpreter decides)"),
        Arg(
            "--no-default-delegates",
            bool,
            False,
            "use the built-in kernels, not the default XNNPACK delegate (needed under qemu)",
        ),
    )

    framework = "tflite"
    model_formats = ("tflite",)

    def __init__(
        self,
        save_model_path: Path = Path("model.tflite"),
        delegates_list: list[str] | None = None,
        num_threads: int = 0,
        no_default_delegates: bool = False,
    ) -> None:
        super().__init__(save_model_path)
        self.no_default_delegates = no_default_delegates
        self.delegates_list = list(delegates_list or [])
        self.num_threads = num_threads
        self.interpreter: Any = None
        self._inputs: list[int] = []
        self._outputs: list[int] = []

    def check_ready(self) -> None:
        """Load every ``--delegates-list`` library now, so a missing one stops the server at start.

        Raises
        ------
        ConfigurationError
            If a delegate library cannot be loaded (or the TFLite runtime is missing).
        """
        self._delegates(tflite_backend())

    def _delegates(self, backend: Any) -> list[Any]:
        delegates = []
        for library in self.delegates_list:
            try:
                # LiteRT's Delegate raises again in __del__ when the library is missing;
                # loading it first turns that case into one clean error
                ctypes.CDLL(library)
                delegates.append(backend.load_delegate(library))
            except (ValueError, OSError, RuntimeError) as exc:
                raise ConfigurationError(
                    f"--delegates-list: cannot load TFLite delegate {library}: {exc}"
                ) from exc
        return delegates

    def load_model(self, path: Path) -> None:
        """Create an interpreter for ``path`` with the configured delegates.

        Raises
        ------
        ConfigurationError
            If a delegate library cannot be loaded.
        ModelError
            If ``path`` is not a TFLite model or lacks its I/O specification.
        """
        backend = tflite_backend()
        path = Path(path)
        self.io_spec = IOSpec.load(path)
        delegates = self._delegates(backend)
        options: dict[str, Any] = {}
        if self.no_default_delegates and backend.resolver_types is not None:
            options["experimental_op_resolver_type"] = (
                backend.resolver_types.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        try:
            self.interpreter = backend.interpreter(
                model_path=str(path),
                experimental_delegates=delegates or None,
                num_threads=self.num_threads or None,
                **options,
            )
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{path} is not a TFLite model that can be loaded: {exc}", path
            ) from exc
        self._inputs = self._indices(
            self.interpreter.get_input_details(), self.io_spec.inputs, path
        )
        self._outputs = self._indices(
            self.interpreter.get_output_details(), self.io_spec.outputs, path
        )

    @staticmethod
    def _indices(details: list[dict[str, Any]], specs: list[Any], path: Path) -> list[int]:
        by_name = {d["name"]: d["index"] for d in details}
        missing = [s.name for s in specs if s.name not in by_name]
        if missing or len(specs) != len(details):
            raise ModelError(
                f"{path} does not match its I/O specification (tensors {missing or 'count'})",
                path,
            )
        return [by_name[s.name] for s in specs]

    def prepare_input(self, data: bytes) -> None:
        assert self.io_spec is not None, "load_model() first"
        arrays = self.io_spec.inputs_from_bytes(data)
        details = {d["index"]: d for d in self.interpreter.get_input_details()}
        resized = False
        for index, array in zip(self._inputs, arrays, strict=True):
            if tuple(details[index]["shape"]) != array.shape:
                self.interpreter.resize_tensor_input(index, array.shape)
                resized = True
        if resized:
            self.interpreter.allocate_tensors()
        for index, array in zip(self._inputs, arrays, strict=True):
            self.interpreter.set_tensor(index, array)

    def run(self) -> None:
        try:
            self.interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise InferenceError(f"TFLite inference failed: {exc}") from exc

    def upload_output(self) -> bytes:
        assert self.io_spec is not None, "load_model() first"
        outputs = [np.asarray(self.interpreter.get_tensor(i)) for i in self._outputs]
        return self.io_spec.outputs_to_bytes(outputs)

    def get_framework_and_version(self) -> tuple[str, str]:
        backend = tflite_backend()
        return backend.name, backend.version
