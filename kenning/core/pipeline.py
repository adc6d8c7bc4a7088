"""Compile a model and run the artifact on the host: the library behind host-only runs.

``inference_tester`` without a protocol and ``bench/compilers.py`` both go
through here, so preprocessing happens in exactly one place: the runtime is
fed ``model.preprocess_input(x)`` (e.g. NHWC -> NCHW for PyTorch models, the
layout the compiled artifact takes) and its dequantised outputs go through
``model.postprocess_outputs``. Over a protocol, the host does the same two
steps around the network exchange.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kenning.core.benchmark import Outcome
from kenning.core.compiler import ModelCompiler
from kenning.core.iospec import IOSpec
from kenning.core.measurements import collector
from kenning.core.model import ModelWrapper
from kenning.core.runtime import Runtime


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

    def infer(batch: np.ndarray) -> np.ndarray:
        outputs = runtime.infer([np.asarray(model.preprocess_input(batch))])
        return model.postprocess_outputs(outputs[0])

    return infer


def host_outcome(model: ModelWrapper, runtime: Runtime) -> Callable[[np.ndarray], Outcome]:
    """:func:`host_infer` shaped for :func:`kenning.core.benchmark.run_benchmark`."""
    infer = host_infer(model, runtime)
    return lambda batch: Outcome(infer(batch))
