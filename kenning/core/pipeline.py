"""Compile a model and run the artifact on the host: the library behind host-only runs.

``inference_tester`` without a protocol and ``bench/compilers.py`` both go
through here, so preprocessing happens in exactly one place: the runtime is
fed ``model.preprocess_input(x)`` (e.g. NHWC -> NCHW for PyTorch models, the
layout the compiled artifact takes) and its dequantised outputs go through
``model.postprocess_outputs``. Over a protocol, the host does the same two
steps around the network exchange.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kenning.core.benchmark import Outcome
from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec, as_tensors
from kenning.core.measurements import collector
from kenning.core.model import ModelWrapper
from kenning.core.runtime import Runtime
from kenning.utils.errors import ConfigurationError


def compile_and_load(model: ModelWrapper, compiler: ModelCompiler, runtime: Runtime) -> IOSpec:
    """Compile a prepared model wrapper and load the artifact into ``runtime``.

    Compile and load times go to the process-wide measurements
    (``compile_s``, ``runtime_load_s``).

    Returns
    -------
    IOSpec
        The artifact's I/O specification.

    Raises
    ------
    KenningError
        Whatever the compiler or runtime raises (bad model, option or target).
    """
    with collector.timed("compile_s"):
        spec = compiler.compile_wrapper(model)
    with collector.timed("runtime_load_s"):
        runtime.load_model(compiler.compiled_model_path)
    return spec


def host_infer(model: ModelWrapper, runtime: Runtime) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a dataset batch to class scores through a loaded runtime."""
    scored = model.scored_index()

    def infer(batch: np.ndarray) -> np.ndarray:
        outputs = runtime.infer(as_tensors(model.preprocess_input(batch)))
        return model.postprocess_outputs(outputs[scored])

    return infer


def host_outcome(model: ModelWrapper, runtime: Runtime) -> Callable[[np.ndarray], Outcome]:
    """One batch through a loaded runtime, each figure timed on its own.

    ``inference`` is ``runtime.run()`` alone, as the server times it on a target (the same
    code path); the input and output conversions around it count only in ``end_to_end``.
    """
    if runtime.io_spec is None:
        raise ConfigurationError(f"{type(runtime).__name__}: load_model() before inference")
    spec = runtime.io_spec
    scored = model.scored_index()

    def infer(batch: np.ndarray) -> Outcome:
        t0 = time.perf_counter()
        inputs = as_tensors(model.preprocess_input(batch))
        t1 = time.perf_counter()
        runtime.prepare_input(spec.inputs_to_bytes(inputs))
        t2 = time.perf_counter()
        runtime.run()
        t3 = time.perf_counter()
        outputs = spec.outputs_from_bytes(runtime.upload_output())
        t4 = time.perf_counter()
        scores = model.postprocess_outputs(outputs[scored])
        t5 = time.perf_counter()
        return Outcome(
            scores,
            inference_s=t3 - t2,
            preprocess_s=t1 - t0,
            postprocess_s=t5 - t4,
            end_to_end_s=t5 - t0,
            tensors=outputs,
        )

    return infer


class LocalSession:
    """The in-process twin of :class:`kenning.runtimeprotocols.session.RemoteSession`.

    Compiles the model, loads the artifact into ``runtime`` on entering, and times the same
    figures in :meth:`infer` (through :func:`host_outcome`).
    """

    def __init__(self, model: ModelWrapper, compiler: ModelCompiler, runtime: Runtime) -> None:
        self.model = model
        self.compiler = compiler
        self._runtime = runtime
        self.spec: IOSpec | None = None
        self._infer: Callable[[np.ndarray], Outcome] | None = None

    def __enter__(self) -> LocalSession:
        self.spec = compile_and_load(self.model, self.compiler, self._runtime)
        self._infer = host_outcome(self.model, self._runtime)
        return self

    def __exit__(self, *exc: object) -> None:
        self._infer = None

    @property
    def runtime(self) -> tuple[str, str]:
        """The runtime's name and version."""
        return self._runtime.get_framework_and_version()

    def infer(self, batch: np.ndarray) -> Outcome:
        """One batch through the loaded runtime."""
        if self._infer is None:
            raise ConfigurationError("LocalSession: use it in a `with` block")
        return self._infer(batch)

    def measurements(self) -> dict[str, Any]:
        """Nothing beyond what the recorder collects (in-process)."""
        return {}
