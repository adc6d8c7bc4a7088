"""The TFLite interpreter this environment has (LiteRT, tflite_runtime or tf.lite).

:func:`tflite_io_spec` reads a loaded flatbuffer's inputs and outputs, for the compiler and
the ``.tflite`` model wrapper alike.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from kenning.core.iospec import IOSpec, TensorSpec
from kenning.utils.errors import MissingDependencyError


@dataclass(frozen=True)
class TFLiteBackend:
    """The interpreter implementation found in this environment."""

    name: str
    version: str
    interpreter: Any
    load_delegate: Any
    resolver_types: Any = None  # the OpResolverType enum, when the backend has one


def tflite_backend() -> TFLiteBackend:
    """ai_edge_litert, else tflite_runtime, else tf.lite.

    Raises
    ------
    MissingDependencyError
        If none of them is installed.
    """
    for package, module in (
        ("ai_edge_litert", "ai_edge_litert.interpreter"),
        ("tflite_runtime", "tflite_runtime.interpreter"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        version = getattr(importlib.import_module(package), "__version__", "")
        if not version:
            from importlib.metadata import version as dist_version

            version = dist_version(package.replace("_", "-"))
        resolvers = getattr(mod, "OpResolverType", None)
        return TFLiteBackend(package, version, mod.Interpreter, mod.load_delegate, resolvers)
    try:
        tf = importlib.import_module("tensorflow")
    except ImportError as exc:
        raise MissingDependencyError("ai_edge_litert", "tflite") from exc
    return TFLiteBackend(
        "tensorflow.lite",
        tf.__version__,
        tf.lite.Interpreter,
        tf.lite.experimental.load_delegate,
        tf.lite.experimental.OpResolverType,
    )


def tflite_io_spec(interpreter: Any, source: IOSpec | None = None) -> IOSpec:
    """Inputs and outputs of a loaded flatbuffer (names, shapes, dtypes, int8 quantisation).

    The first dimension is the free batch (``-1``) where ``source`` (the model the
    flatbuffer was converted from) has one, or everywhere when there is no ``source``.
    """

    def tensors(details: list[dict[str, Any]], specs: list[TensorSpec] | None) -> list[TensorSpec]:
        out = []
        for i, d in enumerate(details):
            shape = [int(s) for s in d.get("shape_signature", d["shape"])]
            if specs is None:  # a flatbuffer on its own: its first dimension is the batch
                shape = [-1, *shape[1:]]
            elif i < len(specs) and specs[i].shape[:1] == [-1] and shape:
                shape[0] = -1
            scale, zero = d["quantization"]
            dtype = np.dtype(d["dtype"]).name
            quantised = scale != 0.0 and dtype in ("int8", "uint8")
            out.append(
                TensorSpec(
                    name=d["name"],
                    shape=shape,
                    dtype=dtype,
                    scale=float(scale) if quantised else None,
                    zero_point=int(zero) if quantised else None,
                )
            )
        return out

    return IOSpec(
        inputs=tensors(interpreter.get_input_details(), source.inputs if source else None),
        outputs=tensors(interpreter.get_output_details(), source.outputs if source else None),
    )
