"""The TFLite interpreter this environment has: LiteRT, tflite_runtime or tf.lite."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

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
