"""Run TVM Relax artifacts (``.so``, or ``.tar`` linked on load) with TVM's runtime.

Only TVM's runtime library is needed (``TVM_USE_RUNTIME_LIB=1`` or no
compiler library present): the artifact is loaded with
``tvm.runtime.load_module`` and run by ``tvm.runtime.vm.VirtualMachine``.
Artifacts are compiled for a static batch, which they report through a
``kenning_batch`` function; other batch sizes are split into chunks of that
size and the last chunk is padded.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kenning.core.args import Arg
from kenning.core.iospec import IOSpec
from kenning.core.runtime import InferenceError, Runtime
from kenning.utils.elfcheck import check_elf
from kenning.utils.errors import ModelError
from kenning.utils.imports import require

BATCH_FUNCTION = "kenning_batch"


class TVMRuntime(Runtime):
    """Runs TVM Relax virtual-machine artifacts on the CPU.

    Parameters
    ----------
    save_model_path : Path
        Where the model received from the host is stored (``.so`` or ``.tar``).
    num_threads : int
        TVM thread-pool size; 0 keeps TVM's default (one per physical core).
    """

    arguments_structure: ClassVar[tuple[Arg, ...]] = (
        Arg("--save-model-path", Path, Path("model.so"), "where the target stores the model"),
        Arg("--num-threads", int, 0, "TVM threads (0: TVM decides)"),
    )

    framework = "tvm"
    model_formats = ("tvm",)

    def __init__(self, save_model_path: Path = Path("model.so"), num_threads: int = 0) -> None:
        super().__init__(save_model_path)
        self.num_threads = num_threads
        self.vm: Any = None
        self.batch = 1
        self._inputs: list[np.ndarray] = []
        self._outputs: list[np.ndarray] = []
        self._main: Any = None
        self._buffers: dict[int, tuple[np.ndarray, Any]] = {}

    def load_model(self, path: Path) -> None:
        """Load the library at ``path`` (linking a ``.tar`` first) into a virtual machine.

        Raises
        ------
        ModelError
            If ``path`` is not a TVM Relax library or lacks its I/O specification.
        """
        tvm = require("tvm", "tvm")
        vm_module = require("tvm.runtime.vm", "tvm")
        path = Path(path)
        self.io_spec = IOSpec.load(path)
        self._buffers = {}
        if path.suffix == ".so":  # a library cut short would kill this process with SIGBUS
            check_elf(path)
        if self.num_threads:
            configure = tvm.get_global_func("runtime.config_threadpool", allow_missing=True)
            if configure is not None:
                configure(1, self.num_threads)
        # A library loaded twice from one path is the same library (the dynamic loader keeps
        # the first): load a private copy, so every upload runs the model that was sent.
        private = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}")
        try:
            shutil.copyfile(path, private)
            library = tvm.runtime.load_module(str(private))
            self.vm = vm_module.VirtualMachine(library, tvm.cpu())
            self._main = self.vm["main"]
        except Exception as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path} is not a TVM Relax library that loads: {first}", path
            ) from exc
        finally:
            private.unlink(missing_ok=True)  # the loaded mapping stays valid
        try:
            self.batch = int(self.vm[BATCH_FUNCTION]()[0])
        except (AttributeError, RuntimeError, ValueError):
            # not compiled by kenning: assume the batch is free
            self.batch = 0

    def prepare_input(self, data: bytes) -> None:
        assert self.io_spec is not None, "load_model() first"
        self._inputs = self.io_spec.inputs_from_bytes(data)

    def _staging(self, index: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A 64-byte aligned input buffer shared with TVM (no copy per call)."""
        held = self._buffers.get(index)
        if held is None or held[0].shape != shape or held[0].dtype != dtype:
            tvm = require("tvm", "tvm")
            size = int(np.prod(shape)) * dtype.itemsize
            raw = np.empty(size + 64, np.uint8)
            start = -raw.ctypes.data % 64  # TVM kernels require 64-byte aligned tensors
            array = raw[start : start + size].view(dtype).reshape(shape)
            held = (array, tvm.runtime.from_dlpack(array))
            self._buffers[index] = held
        return held[0]

    def _call(self, arrays: list[np.ndarray], step: int) -> list[np.ndarray]:
        """Run one chunk of at most ``step`` samples; outputs are views of TVM's memory."""
        count = len(arrays[0])
        for index, array in enumerate(arrays):
            staging = self._staging(index, (step, *array.shape[1:]), array.dtype)
            staging[:count] = array
            staging[count:] = 0
        result = self._main(*(self._buffers[i][1] for i in range(len(arrays))))
        items = [result] if hasattr(result, "__dlpack__") else list(result)
        return [np.from_dlpack(item)[:count] for item in items]

    def run(self) -> None:
        total = len(self._inputs[0])
        step = self.batch or total
        chunks = []
        try:
            for start in range(0, total, step):
                outputs = self._call([a[start : start + step] for a in self._inputs], step)
                # TVM may reuse its output memory on the next call: keep copies
                chunks.append(outputs if step >= total else [o.copy() for o in outputs])
        except (RuntimeError, ValueError, TypeError) as exc:
            raise InferenceError(f"TVM inference failed: {exc}") from exc
        if len(chunks) == 1:
            self._outputs = chunks[0]
        else:
            self._outputs = [np.concatenate(parts) for parts in zip(*chunks, strict=True)]

    def upload_output(self) -> bytes:
        assert self.io_spec is not None, "load_model() first"
        return self.io_spec.outputs_to_bytes(self._outputs)

    def get_framework_and_version(self) -> tuple[str, str]:
        tvm = require("tvm", "tvm")
        return "tvm", tvm.__version__
